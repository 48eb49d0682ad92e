package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/common/errdefs"
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
exceed the quota is not written at all.

Files of 8 MiB and more go through resumable uploads: if the command is
interrupted (Ctrl-C, a crash, a lost network), running the same command again
goes on where the server stopped instead of starting over. The pending uploads
are remembered in the user's cache directory (~/.cache/bai/uploads) and the
server keeps their data for a day.`,
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
			if err := a.uploadToFolder(cmd.Context(), c, args[0], files, a.progressPrinter(quiet)); err != nil {
				if cmd.Context().Err() != nil {
					if !quiet {
						fmt.Fprintln(a.stderr) // end the progress line
					}
					fmt.Fprintln(a.stderr, "bai: upload interrupted; run the same command again to resume the large files")
					return &ExitError{Code: ExitInterrupted, Err: err}
				}
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

// resumableMin is the size from which `bai folder upload` sends a file
// through the resumable protocol; smaller files, cheap to send again, go
// together in multipart requests.
const resumableMin = 8 << 20

// pendingUpload is a resumable upload remembered in the cache directory,
// so that running the same command again resumes it.
type pendingUpload struct {
	state    client.ResumableUpload
	file     string // the state file; "" when it could not be placed
	endpoint string
	local    string
	size     int64
}

// uploadStateFile is the JSON of a state file.
type uploadStateFile struct {
	Endpoint string    `json:"endpoint"`
	Folder   string    `json:"folder"`
	Path     string    `json:"path"`
	Local    string    `json:"local"`
	Size     int64     `json:"size"`
	Token    string    `json:"token"`
	Created  time.Time `json:"created"`
}

// uploadToFolder sends the small files in multipart batches, then each
// large file resumably; progress covers them all.
func (a *app) uploadToFolder(ctx context.Context, c *client.Client, folder string, files []client.UploadFile, progress client.Progress) error {
	var small []client.UploadFile
	var large []*pendingUpload
	var total int64
	for _, f := range files {
		total += f.Size
		if f.Size < resumableMin {
			small = append(small, f)
			continue
		}
		p, err := a.loadPending(ctx, c, folder, f)
		if err != nil {
			return err
		}
		large = append(large, p)
	}
	var done int64
	from := func(base int64) client.Progress {
		if progress == nil {
			return nil
		}
		return func(sent, _ int64) { progress(base+sent, total) }
	}
	if len(small) > 0 {
		if err := c.FolderUpload(ctx, folder, small, from(0)); err != nil {
			return err
		}
		for _, f := range small {
			done += f.Size
		}
	}
	for _, p := range large {
		if err := a.uploadResumable(ctx, c, folder, p, from(done)); err != nil {
			return err
		}
		done += p.size
	}
	return nil
}

// loadPending finds the state file of f's upload and, when there is one,
// asks the server where it stands. A token the server no longer knows is
// dropped with a note.
func (a *app) loadPending(ctx context.Context, c *client.Client, folder string, f client.UploadFile) (*pendingUpload, error) {
	local, err := filepath.Abs(f.Path)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(local)
	if err != nil {
		return nil, err
	}
	p := &pendingUpload{endpoint: c.Endpoint(), local: local, size: fi.Size(), state: client.ResumableUpload{Path: f.Name, Size: fi.Size()}}
	dir, err := a.uploadStateDir()
	if err != nil {
		fmt.Fprintf(a.stderr, "note: %v; an interrupted upload of %s will start over\n", err, f.Name)
		return p, nil
	}
	cfg, _ := client.ConfigFromEnv(a.getenv)
	// Any change of server, keypair, target or local file is another upload.
	sum := sha256.Sum256([]byte(strings.Join([]string{c.Endpoint(), cfg.AccessKey, folder, f.Name, local,
		strconv.FormatInt(fi.Size(), 10), strconv.FormatInt(fi.ModTime().UnixNano(), 10)}, "\x00")))
	p.file = filepath.Join(dir, hex.EncodeToString(sum[:16])+".json")
	b, err := os.ReadFile(p.file)
	if errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	var saved uploadStateFile
	if err == nil {
		err = json.Unmarshal(b, &saved)
	}
	if err != nil || saved.Token == "" {
		os.Remove(p.file) // unreadable: start over
		return p, nil
	}
	st, err := c.FolderUploadStatus(ctx, folder, saved.Token)
	switch {
	case errors.Is(err, errdefs.ErrNotFound):
		fmt.Fprintf(a.stderr, "note: the server no longer holds the interrupted upload of %s (expired or aborted); starting over\n", f.Name)
		os.Remove(p.file)
		return p, nil
	case err != nil:
		return nil, err
	}
	p.state.Token, p.state.Offset = saved.Token, st.Offset
	now := time.Now()
	_ = os.Chtimes(p.file, now, now) // in use: not for pruning
	fmt.Fprintf(a.stderr, "resuming %s at %s of %s\n", f.Name, humanBytes(float64(st.Offset)), humanBytes(float64(st.Size)))
	return p, nil
}

// uploadStateDir is the cache directory of pending uploads, made owner-only.
func (a *app) uploadStateDir() (string, error) {
	// The injected environment first, as os.UserCacheDir reads it on Linux.
	base := a.getenv("XDG_CACHE_HOME")
	if base == "" {
		var err error
		if base, err = os.UserCacheDir(); err != nil {
			return "", fmt.Errorf("no cache directory to remember uploads in: %w", err)
		}
	}
	dir := filepath.Join(base, "bai", "uploads")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("cache directory for uploads: %w", err)
	}
	// A state file nobody resumed for a week names an upload the server
	// has long dropped (a file changed since, or a command never rerun).
	if ents, err := os.ReadDir(dir); err == nil {
		for _, e := range ents {
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > stateMaxAge {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
	return dir, nil
}

// stateMaxAge is how long an unused state file of a pending upload is kept.
const stateMaxAge = 7 * 24 * time.Hour

// uploadResumable sends one large file, remembering its token until it
// has landed.
func (a *app) uploadResumable(ctx context.Context, c *client.Client, folder string, p *pendingUpload, progress client.Progress) error {
	in, err := os.Open(p.local)
	if err != nil {
		return err
	}
	defer in.Close()
	for attempt := 0; ; attempt++ {
		if p.state.Token == "" {
			up, err := c.FolderRequestUpload(ctx, folder, p.state.Path, p.size)
			if err != nil {
				return err
			}
			p.state = *up
			a.saveState(folder, p)
		}
		err = c.FolderUploadResumable(ctx, folder, p.state.Path, in, p.size, &p.state, progress)
		if err == nil {
			if p.file != "" {
				os.Remove(p.file)
			}
			return nil
		}
		// The token went away between our question and the upload (it
		// expired, or someone aborted it): once, start over.
		if attempt == 0 && errors.Is(err, errdefs.ErrNotFound) && p.state.Offset < p.size && ctx.Err() == nil {
			if _, serr := c.FolderUploadStatus(ctx, folder, p.state.Token); errors.Is(serr, errdefs.ErrNotFound) {
				fmt.Fprintf(a.stderr, "\nnote: the server dropped the upload of %s; starting over\n", p.state.Path)
				p.state = client.ResumableUpload{Path: p.state.Path, Size: p.size}
				continue
			}
		}
		return err
	}
}

// saveState writes p's state file (owner-only: it names the keypair's
// files); failing to, the upload goes on without a way to resume.
func (a *app) saveState(folder string, p *pendingUpload) {
	if p.file == "" {
		return
	}
	b, _ := json.Marshal(uploadStateFile{Endpoint: p.endpoint, Folder: folder, Path: p.state.Path, Local: p.local, Size: p.size,
		Token: p.state.Token, Created: time.Now().UTC()})
	tmp := p.file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err == nil {
		err = os.Rename(tmp, p.file)
		if err == nil {
			return
		}
	}
	fmt.Fprintf(a.stderr, "note: cannot remember the upload of %s in %s; an interrupted run will start over\n", p.state.Path, filepath.Dir(p.file))
	p.file = ""
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
