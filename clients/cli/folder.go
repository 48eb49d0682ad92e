package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	client "baigo.dev/bai/clients/go"
)

// folderCommand is `bai folder`: virtual folders that outlive sessions.
func (a *app) folderCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "folder",
		Short: "Manage virtual folders (storage mounted into sessions at /home/work/NAME)",
	}
	simple := func(use, short string, n int, run func(c *client.Client, cmd *cobra.Command, args []string) error) *cobra.Command {
		return &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(n), RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return a.fail(err)
			}
			if err := run(c, cmd, args); err != nil {
				return a.fail(err)
			}
			return nil
		}}
	}
	cmd.AddCommand(
		simple("create NAME", "Create a folder", 1, func(c *client.Client, cmd *cobra.Command, args []string) error {
			f, err := c.CreateFolder(cmd.Context(), args[0])
			if err == nil {
				fmt.Fprintf(a.stdout, "created folder %s (%s)\n", f.Name, f.ID)
			}
			return err
		}),
		simple("ls", "List your folders and those shared with you", 0, func(c *client.Client, cmd *cobra.Command, args []string) error {
			fs, err := c.ListFolders(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tPERM\tOWNER\tCREATED")
			for _, f := range fs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", f.Name, f.Permission, f.Owner, f.CreatedAt.Local().Format("2006-01-02 15:04"))
			}
			return tw.Flush()
		}),
		simple("rm NAME", "Delete a folder you own, with all its files", 1, func(c *client.Client, cmd *cobra.Command, args []string) error {
			return c.DeleteFolder(cmd.Context(), args[0])
		}),
		simple("rename NAME NEW_NAME", "Rename a folder you own", 2, func(c *client.Client, cmd *cobra.Command, args []string) error {
			return c.RenameFolder(cmd.Context(), args[0], args[1])
		}),
		simple("mkdir NAME DIR", "Make a directory (and its parents) in a folder", 2, func(c *client.Client, cmd *cobra.Command, args []string) error {
			return c.FolderMkdir(cmd.Context(), args[0], args[1])
		}),
		a.folderFiles(), a.folderUpload(), a.folderDownload(), a.folderInvite(),
		simple("invitations", "List folder invitations waiting for you", 0, func(c *client.Client, cmd *cobra.Command, args []string) error {
			invs, err := c.FolderInvitations(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tFOLDER\tPERM\tFROM")
			for _, i := range invs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", i.ID, i.VFolder, i.Permission, i.Inviter)
			}
			return tw.Flush()
		}),
		simple("accept INVITATION_ID", "Accept a folder invitation", 1, func(c *client.Client, cmd *cobra.Command, args []string) error {
			return c.AcceptFolderInvitation(cmd.Context(), args[0])
		}),
		simple("decline INVITATION_ID", "Decline a folder invitation", 1, func(c *client.Client, cmd *cobra.Command, args []string) error {
			return c.DeclineFolderInvitation(cmd.Context(), args[0])
		}),
	)
	return cmd
}

func (a *app) folderFiles() *cobra.Command {
	return &cobra.Command{
		Use:   "files NAME [DIR]",
		Short: "List a directory of a folder",
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
			fs, err := c.FolderFiles(cmd.Context(), args[0], dir)
			if err != nil {
				return a.fail(err)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "MODE\tSIZE\tMODIFIED\tNAME")
			for _, f := range fs {
				name := f.Name
				if f.Type == "dir" {
					name += "/"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", f.Mode, f.Size, f.Modified.Local().Format("2006-01-02 15:04:05"), name)
			}
			return tw.Flush()
		},
	}
}

// progressPrinter reports upload progress on stderr at most a few times a
// second, and once at the end.
func (a *app) progressPrinter(quiet bool) client.Progress {
	if quiet {
		return nil
	}
	var last time.Time
	return func(sent, total int64) {
		if sent < total && time.Since(last) < 200*time.Millisecond {
			return
		}
		last = time.Now()
		pct := 100.0
		if total > 0 {
			pct = float64(sent) * 100 / float64(total)
		}
		fmt.Fprintf(a.stderr, "\ruploading: %d / %d bytes (%.0f%%)", sent, total, pct)
		if sent >= total {
			fmt.Fprintln(a.stderr)
		}
	}
}

func (a *app) folderUpload() *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "upload NAME FILE...",
		Short: "Upload local files or directories into a folder, with progress",
		Long: `Upload local files or directories into a folder. Relative paths are kept
("data/x.csv" lands at data/x.csv in the folder); a directory is uploaded with
everything below it. A file is visible only once complete, and one that would
exceed the quota is not written at all.`,
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
			if err := c.FolderUpload(cmd.Context(), args[0], files, a.progressPrinter(quiet)); err != nil {
				return a.fail(err)
			}
			for _, f := range files {
				fmt.Fprintf(a.stderr, "uploaded %s (%d bytes)\n", f.Name, f.Size)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "do not print progress")
	return cmd
}

func (a *app) folderDownload() *cobra.Command {
	var dest string
	cmd := &cobra.Command{
		Use:   "download NAME FILE",
		Short: "Download one file of a folder",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return a.fail(err)
			}
			out := dest
			if out == "" {
				out = filepath.Base(args[1])
			}
			// Written beside the target and renamed, so a failed download
			// leaves no truncated file under the final name.
			tmp, err := os.CreateTemp(filepath.Dir(out), ".bai-download-*")
			if err != nil {
				return a.fail(err)
			}
			defer os.Remove(tmp.Name())
			n, err := c.FolderDownload(cmd.Context(), args[0], args[1], tmp)
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = os.Rename(tmp.Name(), out)
			}
			if err != nil {
				return a.fail(err)
			}
			fmt.Fprintf(a.stderr, "downloaded %s (%d bytes)\n", out, n)
			return nil
		},
	}
	cmd.Flags().StringVarP(&dest, "output", "o", "", "local file to write (default: the file's base name in the current directory)")
	return cmd
}

func (a *app) folderInvite() *cobra.Command {
	var perm string
	cmd := &cobra.Command{
		Use:   "invite NAME INVITEE",
		Short: "Share a folder you own with another user (access key or email)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return a.fail(err)
			}
			inv, err := c.InviteToFolder(cmd.Context(), args[0], args[1], perm)
			if err != nil {
				return a.fail(err)
			}
			fmt.Fprintf(a.stdout, "invited %s to %s (%s); invitation %s\n", inv.Invitee, inv.VFolder, inv.Permission, inv.ID)
			return nil
		},
	}
	cmd.Flags().StringVar(&perm, "perm", "ro", "permission: ro (read-only) or rw (read-write)")
	return cmd
}
