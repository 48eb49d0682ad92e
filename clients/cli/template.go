package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"baigo.dev/bai/common/apitypes"
)

func (a *app) templateCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "template",
		Aliases: []string{"templates"},
		Short:   "Manage session templates (stored create requests)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(a.templateCreate(), a.templateLs(), a.templateGet(), a.templateRm())
	return cmd
}

// readTemplateFile reads a template file: either {"name", "template"} or a
// bare create request body, which is then named by --name or the file.
func (a *app) readTemplateFile(path, name string) (apitypes.SessionTemplateRequest, error) {
	var req apitypes.SessionTemplateRequest
	var data []byte
	var err error
	if path == "-" {
		data, err = io.ReadAll(a.stdin)
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return req, err
	}
	var body map[string]any
	if err := json.Unmarshal(data, &body); err != nil {
		return req, fmt.Errorf("%s: not a JSON object: %v", path, err)
	}
	if tpl, ok := body["template"].(map[string]any); ok {
		req.Template = tpl
		req.Name, _ = body["name"].(string)
	} else {
		req.Template = body
	}
	if name != "" {
		req.Name = name
	}
	if req.Name == "" && path == "-" {
		return req, errors.New("a template read from stdin needs --name or a \"name\" key")
	}
	if req.Name == "" {
		req.Name = strings.TrimSuffix(path[strings.LastIndex(path, "/")+1:], ".json")
	}
	return req, nil
}

func (a *app) templateCreate() *cobra.Command {
	var file, name string
	cmd := &cobra.Command{
		Use:   "create -f FILE.json",
		Short: "Store a session template from a JSON file (\"-\": stdin)",
		Long: `Store a session template. FILE holds a create request body
({"image": "python", "config": {...}, "bootstrap_script": "..."}), or
{"name": ..., "template": {...}}. The template is named by --name, the file's
"name", or the file name. Prints the new template's id.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				return a.usageError(cmd, errors.New("-f FILE is required"))
			}
			req, err := a.readTemplateFile(file, name)
			if err != nil {
				return a.fail(err)
			}
			c, err := a.client()
			if err != nil {
				return a.fail(err)
			}
			t, err := c.CreateSessionTemplate(cmd.Context(), req)
			if err != nil {
				return a.fail(err)
			}
			fmt.Fprintln(a.stdout, t.ID)
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "template JSON file (\"-\": stdin)")
	cmd.Flags().StringVar(&name, "name", "", "template name")
	return cmd
}

func (a *app) templateLs() *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List your session templates",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return a.fail(err)
			}
			items, err := c.ListSessionTemplates(cmd.Context())
			if err != nil {
				return a.fail(err)
			}
			if len(items) == 0 {
				fmt.Fprintln(a.stderr, "no session templates; store one with `bai template create -f FILE.json`")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tIMAGE\tMODIFIED")
			for _, t := range items {
				img, _ := t.Template["image"].(string)
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Name, img, t.Modified.UTC().Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
}

func (a *app) templateGet() *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Print a session template as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return a.fail(err)
			}
			t, err := c.GetSessionTemplate(cmd.Context(), args[0])
			if err != nil {
				return a.fail(err)
			}
			enc := json.NewEncoder(a.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(t)
		},
	}
}

func (a *app) templateRm() *cobra.Command {
	return &cobra.Command{
		Use:     "rm ID...",
		Aliases: []string{"delete"},
		Short:   "Delete session templates",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return a.fail(err)
			}
			var failed error
			for _, id := range args {
				if err := c.DeleteSessionTemplate(cmd.Context(), id); err != nil {
					fmt.Fprintf(a.stderr, "bai: %s\n", Describe(err))
					failed = errors.Join(failed, err)
					continue
				}
				fmt.Fprintf(a.stdout, "removed %s\n", id)
			}
			if failed != nil {
				return &ExitError{Code: ExitFailure, Err: failed}
			}
			return nil
		},
	}
}

// sessionCreate is `bai session create --template ID`: a session from a
// stored template, with a few common overrides.
func (a *app) sessionCreate() *cobra.Command {
	var tpl, name string
	var env []string
	cmd := &cobra.Command{
		Use:   "create --template ID [--name NAME] [-e K=V]...",
		Short: "Create a session from a session template",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tpl == "" {
				return a.usageError(cmd, errors.New("--template ID is required"))
			}
			over := apitypes.CreateSession{Name: name}
			if len(env) > 0 {
				over.Config = &apitypes.CreateConfig{Environ: map[string]string{}}
				for _, kv := range env {
					k, v, ok := strings.Cut(kv, "=")
					if !ok || k == "" {
						return a.usageError(cmd, fmt.Errorf("-e %q: want K=V", kv))
					}
					over.Config.Environ[k] = v
				}
			}
			c, err := a.client()
			if err != nil {
				return a.fail(err)
			}
			res, err := c.CreateSessionFromTemplate(cmd.Context(), tpl, over)
			if err != nil {
				return a.fail(err)
			}
			fmt.Fprintf(a.stdout, "%s\t%s\t%s\n", res.SessionName, res.SessionID, res.Status)
			if res.Status == "ERROR" {
				fmt.Fprintf(a.stderr, "bai: session %s failed to start: %s\n", res.SessionName, res.StatusInfo)
				return &ExitError{Code: ExitFailure, Err: errors.New(res.StatusInfo)}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&tpl, "template", "", "session template id")
	cmd.Flags().StringVar(&name, "name", "", "session name (default: the template's, or a generated one)")
	cmd.Flags().StringArrayVarP(&env, "env", "e", nil, "environment variable K=V (replaces the template's config.environ; repeatable)")
	return cmd
}
