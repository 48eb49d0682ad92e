package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	client "baigo.dev/bai/clients/go"
)

// fileCommands are the session subcommands that move files.
func (a *app) fileCommands() []*cobra.Command {
	return []*cobra.Command{a.sessionUpload(), a.sessionDownload(), a.sessionLsFiles()}
}

func (a *app) sessionUpload() *cobra.Command {
	return &cobra.Command{
		Use:   "upload NAME FILE...",
		Short: "Upload local files or directories into a session's /home/work",
		Long: `Upload local files or directories into a session's /home/work.

Relative paths are kept ("src/main.c" lands in /home/work/src/main.c); a
directory is uploaded with everything below it.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			files, err := client.CollectUploads(args[1:], false)
			if err != nil {
				return a.fail(err)
			}
			c, err := a.client()
			if err != nil {
				return a.fail(err)
			}
			if err := c.Upload(cmd.Context(), args[0], files, nil); err != nil {
				return a.fail(err)
			}
			for _, f := range files {
				fmt.Fprintf(a.stderr, "uploaded %s (%d bytes)\n", f.Name, f.Size)
			}
			return nil
		},
	}
}

func (a *app) sessionDownload() *cobra.Command {
	var dest string
	cmd := &cobra.Command{
		Use:   "download NAME PATH...",
		Short: "Download files or directories of a session's /home/work",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return a.fail(err)
			}
			written, err := c.Download(cmd.Context(), args[0], args[1:], dest)
			for _, w := range written {
				fmt.Fprintf(a.stderr, "downloaded %s\n", w)
			}
			if err != nil {
				return a.fail(err)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&dest, "output", "o", ".", "local directory to write into")
	return cmd
}

func (a *app) sessionLsFiles() *cobra.Command {
	return &cobra.Command{
		Use:   "ls-files NAME [PATH]",
		Short: "List a directory of a session's /home/work",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := ""
			if len(args) == 2 {
				dir = args[1]
			}
			c, err := a.client()
			if err != nil {
				return a.fail(err)
			}
			l, err := c.ListFiles(cmd.Context(), args[0], dir)
			if err != nil {
				return a.fail(err)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "MODE\tSIZE\tMODIFIED\tNAME")
			for _, f := range l.Files {
				name := f.Filename
				if f.Type == "dir" {
					name += "/"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", f.Mode, f.Size, f.Mtime.Local().Format("2006-01-02 15:04:05"), name)
			}
			return tw.Flush()
		},
	}
}
