package cli

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"baigo.dev/bai/common/apitypes"
)

func (a *app) sessionCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "session",
		Aliases: []string{"sessions"},
		Short:   "List, inspect and remove your sessions",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(a.sessionLs(), a.sessionInfo(), a.sessionRm(), a.sessionLogs(), a.sessionCreate())
	cmd.AddCommand(a.fileCommands()...)
	return cmd
}

func (a *app) sessionLs() *cobra.Command {
	return &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List your sessions",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return a.fail(err)
			}
			items, err := c.ListSessions(cmd.Context())
			if err != nil {
				return a.fail(err)
			}
			if len(items) == 0 {
				fmt.Fprintln(a.stderr, "no sessions; start one with `bai run python -c 'print(1)' --keep`")
				return nil
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tID\tIMAGE\tSTATUS\tAGE")
			for _, s := range items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.SessionName, s.SessionID, s.Image, s.Status, age(s))
			}
			return tw.Flush()
		},
	}
}

func (a *app) sessionInfo() *cobra.Command {
	return &cobra.Command{
		Use:   "info NAME",
		Short: "Show a session's details",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return a.fail(err)
			}
			s, err := c.GetSession(cmd.Context(), args[0])
			if err != nil {
				return a.fail(err)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 1, ' ', 0)
			line := func(k, v string) {
				if v != "" {
					fmt.Fprintf(tw, "%s:\t%s\n", k, v)
				}
			}
			line("name", s.SessionName)
			line("id", s.SessionID)
			line("image", s.Image)
			line("type", s.Type)
			line("status", s.Status)
			line("status info", s.StatusInfo)
			line("owner", s.OwnerAccessKey)
			line("domain", s.Domain)
			line("group", s.Group)
			line("agent", s.Agent)
			if !s.Created.IsZero() {
				line("created", s.Created.UTC().Format(time.RFC3339))
			}
			if s.Terminated != nil {
				line("terminated", s.Terminated.UTC().Format(time.RFC3339))
			}
			line("age", age(*s))
			line("queries executed", fmt.Sprint(s.ExecutionCount))
			line("resource slots", slots(s.ResourceSlots))
			line("occupied slots", slots(s.OccupiedSlots))
			for _, l := range statLines(s.LastStat) {
				line(l[0], l[1])
			}
			return tw.Flush()
		},
	}
}

func (a *app) sessionRm() *cobra.Command {
	var forced bool
	cmd := &cobra.Command{
		Use:     "rm NAME...",
		Aliases: []string{"destroy", "delete"},
		Short:   "Destroy sessions",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return a.fail(err)
			}
			var failed error
			for _, name := range args {
				if _, err := c.DestroySession(cmd.Context(), name, forced); err != nil {
					fmt.Fprintf(a.stderr, "bai: %s\n", Describe(err))
					failed = errors.Join(failed, err)
					continue
				}
				fmt.Fprintf(a.stdout, "removed %s\n", name)
			}
			if failed != nil {
				return &ExitError{Code: ExitFailure, Err: failed}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&forced, "forced", false, "destroy without a graceful shutdown")
	return cmd
}

func (a *app) sessionLogs() *cobra.Command {
	return &cobra.Command{
		Use:   "logs NAME",
		Short: "Print a session's container logs",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return a.fail(err)
			}
			logs, err := c.Logs(cmd.Context(), args[0])
			if err != nil {
				return a.fail(err)
			}
			fmt.Fprint(a.stdout, logs)
			if logs != "" && !strings.HasSuffix(logs, "\n") {
				fmt.Fprintln(a.stdout)
			}
			return nil
		},
	}
}

func (a *app) imagesCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "images",
		Short: "List the kernel images you can run",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client()
			if err != nil {
				return a.fail(err)
			}
			items, err := c.Images(cmd.Context())
			if err != nil {
				return a.fail(err)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tALIASES\tRUNTIME\tMIN RESOURCES")
			for _, im := range items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", im.Name, strings.Join(im.Aliases, ","), im.RuntimeType, slots(im.MinResources))
			}
			return tw.Flush()
		},
	}
}

// slots renders resource slots as sorted k=v pairs.
func slots(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, " ")
}

// age renders how long a session has existed.
func age(s apitypes.SessionInfo) string {
	d := time.Duration(s.Age * float64(time.Second))
	if d <= 0 && !s.Created.IsZero() {
		d = time.Since(s.Created)
	}
	return shortDuration(d)
}

// shortDuration renders d like 42s, 5m3s, 3h12m or 2d4h.
func shortDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}
