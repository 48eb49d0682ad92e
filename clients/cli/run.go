package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/types"
)

// cleanupTimeout bounds the interrupt and destroy calls made after the run.
const cleanupTimeout = 30 * time.Second

type runFlags struct {
	code  string
	keep  bool
	name  string
	env   []string
	build string
	exec  string
	// mediaDir, when set, is where media output is saved.
	mediaDir string
}

func (a *app) runCommand() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run LANG_OR_IMAGE [FILE|DIR...]",
		Short: "Run code in a new session and print its output",
		Long: `Run code in a new session and print its output.

The code comes from -c or from local files (their content is sent as code;
"-" reads stdin). The session is created from the image or alias
(python, c, ...), the code runs in query mode with its output streamed as it
arrives, and the session is destroyed afterwards unless --keep is given.
When the program reads input, a line is read from stdin. The command exits
with the program's exit code.

With --build or --exec, several files or a directory, the run is a batch:
the files are uploaded into /home/work (relative paths kept; a directory's
contents land directly in /home/work), then the build command runs, then
the exec command ("*", the default of both, picks the language's usual
build — make when there is a Makefile — and run commands). The command
exits with the exit code of the step that failed.

With --media-dir DIR, media output is saved in DIR as it arrives:
images, SVG, HTML and text as media-N.png (.jpg, .gif, .svg, .html, .txt),
and each animated drawing (application/x-bai-drawing, one per canvas)
as drawing-N.svg once the run ends, rendered as an SVG that plays the
drawing without JavaScript. The path of each file is printed on stderr.`,
		Example: `  bai run python -c 'print(1+1)'
  bai run python script.py
  bai run --keep --name mysess python -c 'x = 1'
  bai run c main.c util.c
  bai run c ./project --build 'make' --exec './main'
  bai run --media-dir out python plot.py`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.run(cmd.Context(), args[0], args[1:], f)
		},
	}
	cmd.Flags().StringVarP(&f.code, "code", "c", "", "code to run")
	cmd.Flags().BoolVar(&f.keep, "keep", false, "keep the session after the run")
	cmd.Flags().StringVar(&f.name, "name", "", "session name (default: a generated one)")
	cmd.Flags().StringArrayVarP(&f.env, "env", "e", nil, "environment variable K=V for the session (repeatable)")
	cmd.Flags().StringVar(&f.build, "build", "", "batch build command (\"*\": the language's default)")
	cmd.Flags().StringVar(&f.exec, "exec", "", "batch exec command (\"*\": the language's default)")
	cmd.Flags().StringVar(&f.mediaDir, "media-dir", "", "save media output (images, SVG, HTML, drawings) as files in this directory")
	return cmd
}

// codes gathers the code to run: -c, or the content of each file.
func (a *app) codes(files []string, f runFlags) ([]string, error) {
	if f.code != "" && len(files) > 0 {
		return nil, fmt.Errorf("give either -c CODE or FILE, not both: %w", errdefs.ErrInvalidArgument)
	}
	if f.code != "" {
		return []string{f.code}, nil
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("nothing to run: give code with -c CODE or a FILE: %w", errdefs.ErrInvalidArgument)
	}
	var out []string
	for _, name := range files {
		var data []byte
		var err error
		if name == "-" {
			data, err = io.ReadAll(a.reader())
		} else {
			data, err = os.ReadFile(name)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		out = append(out, string(data))
	}
	return out, nil
}

func (a *app) run(parent context.Context, image string, files []string, f runFlags) error {
	if parent == nil {
		parent = context.Background()
	}
	var codes []string
	var uploads []client.UploadFile
	batch, err := isBatch(files, f)
	if err != nil {
		return a.fail(err)
	}
	if batch {
		uploads, err = client.CollectUploads(files, true)
	} else {
		codes, err = a.codes(files, f)
	}
	if err != nil {
		return a.fail(err)
	}
	environ := map[string]string{}
	for _, kv := range f.env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return a.fail(fmt.Errorf("--env %q must look like KEY=VALUE: %w", kv, errdefs.ErrInvalidArgument))
		}
		environ[k] = v
	}
	h := &streamHandler{a: a}
	if f.mediaDir != "" {
		if h.media, err = newMediaSaver(f.mediaDir, a.stderr); err != nil {
			return a.fail(err)
		}
	}
	c, err := a.client()
	if err != nil {
		return a.fail(err)
	}
	name := f.name
	if name == "" {
		name = "run-" + client.NewRunID()
	}

	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()

	req := apitypes.CreateSession{Image: image, Name: name, Type: "interactive"}
	if len(environ) > 0 {
		req.Config = &apitypes.CreateConfig{Environ: environ}
	}
	created, err := c.CreateSession(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			stop() // a second Ctrl-C now kills the process
			return a.interrupted(parent, c, "", false)
		}
		return a.fail(err)
	}
	if created.SessionName != "" {
		name = created.SessionName
	}
	// Only a session this run created is destroyed; a reused one was kept
	// by someone on purpose.
	destroy := created.Created && !f.keep

	var code int
	var runErr error
	if batch {
		code, runErr = a.runBatch(ctx, c, name, created.Status, uploads, f, h)
	} else {
		code, runErr = a.runAll(ctx, c, name, created.Status, codes, h)
	}
	h.endLine()
	if h.media != nil {
		h.media.finish()
	}
	if ctx.Err() != nil {
		stop() // a second Ctrl-C now kills the process
		return a.interrupted(parent, c, name, destroy)
	}
	if destroy {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(parent), cleanupTimeout)
		if _, err := c.DestroySession(cctx, name, false); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			fmt.Fprintf(a.stderr, "bai: %s\n", Describe(err))
		}
		cancel()
	} else if f.keep {
		fmt.Fprintf(a.stderr, "bai: session %s kept; remove it with `bai session rm %s`\n", name, name)
	}
	var te *client.ExecTimeoutError
	switch {
	case errors.As(runErr, &te):
		fmt.Fprintln(a.stderr, "bai: the run exceeded the session's execution time limit")
		return &ExitError{Code: ExitTimeout, Err: runErr}
	case runErr != nil:
		return a.fail(runErr)
	case code != 0:
		return &ExitError{Code: code}
	}
	return nil
}

// runAll waits for the session to run, then runs each code in turn,
// stopping at the first non-zero exit code.
func (a *app) runAll(ctx context.Context, c *client.Client, name, status string, codes []string, h *streamHandler) (int, error) {
	if err := waitRunning(ctx, c, name, status, a.stderr); err != nil {
		return -1, err
	}
	for _, code := range codes {
		exit, err := c.RunCode(ctx, name, client.ModeQuery, code, nil, h)
		if err != nil || exit != 0 {
			return exit, err
		}
	}
	return 0, nil
}

// waitRunning polls the session until it is RUNNING or has failed, telling
// the user once why it waits (e.g. no free resources).
func waitRunning(ctx context.Context, c *client.Client, name, status string, stderr io.Writer) error {
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	said := ""
	for {
		switch types.SessionStatus(status) {
		case types.StatusRunning, "":
			return nil
		case types.StatusError, types.StatusCancelled, types.StatusTerminated, types.StatusTerminating:
			return fmt.Errorf("session %s is %s: %w", name, status, errdefs.ErrUnavailable)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		info, err := c.GetSession(ctx, name)
		if err != nil {
			return err
		}
		status = info.Status
		if status == string(types.StatusPending) && info.StatusInfo != "" && info.StatusInfo != said {
			said = info.StatusInfo
			fmt.Fprintf(stderr, "bai: session %s is PENDING: %s (Ctrl-C to give up)\n", name, said)
		}
		if types.SessionStatus(status).Final() && info.StatusInfo != "" {
			return fmt.Errorf("session %s is %s (%s): %w", name, status, info.StatusInfo, errdefs.ErrUnavailable)
		}
	}
}

// interrupted cleans up after Ctrl-C: interrupt the code, then destroy the
// session when this run owns it.
func (a *app) interrupted(parent context.Context, c *client.Client, name string, destroy bool) error {
	fmt.Fprintln(a.stderr, "bai: interrupted")
	if name != "" {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), cleanupTimeout)
		defer cancel()
		if err := c.Interrupt(ctx, name); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			fmt.Fprintf(a.stderr, "bai: %s\n", Describe(err))
		}
		if destroy {
			if _, err := c.DestroySession(ctx, name, false); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
				fmt.Fprintf(a.stderr, "bai: %s\n", Describe(err))
			}
		}
	}
	return &ExitError{Code: ExitInterrupted, Err: context.Canceled}
}

// streamHandler prints console items as they arrive and answers input
// requests from stdin.
type streamHandler struct {
	a *app
	// open is true when the last text printed did not end a line.
	open bool
	// media saves media items when --media-dir is given.
	media *mediaSaver
}

// endLine ends an unfinished output line (on stderr, so stdout stays the
// program's own) before the CLI prints its notes.
func (h *streamHandler) endLine() {
	if h.open {
		fmt.Fprintln(h.a.stderr)
		h.open = false
	}
}

func (h *streamHandler) OnConsole(it client.ConsoleItem) {
	switch it.Type {
	case "stdout", "stderr":
		w := h.a.stdout
		if it.Type == "stderr" {
			w = h.a.stderr
		}
		if it.Text != "" {
			io.WriteString(w, it.Text)
			h.open = !strings.HasSuffix(it.Text, "\n")
		}
		return
	}
	h.endLine()
	saved := ""
	if h.media != nil && (it.Type == "media" || it.Type == "html") {
		if saved = h.media.save(it); saved != "" {
			saved = " " + saved
		}
	}
	switch it.Type {
	case "media":
		if it.MIME == "text/plain" && len(it.Text) <= 500 {
			// Short notes, such as the manager's on an SVG it dropped.
			fmt.Fprintf(h.a.stderr, "[media text/plain] %s%s\n", strings.TrimSuffix(it.Text, "\n"), saved)
			break
		}
		fmt.Fprintf(h.a.stderr, "[media %s, %d bytes]%s\n", it.MIME, len(it.Text), saved)
	case "html":
		fmt.Fprintf(h.a.stderr, "[html, %d bytes]%s\n", len(it.Text), saved)
	case "log":
		level := ""
		if d, ok := it.Raw.([]any); ok && len(d) > 0 {
			level, _ = d[0].(string)
		}
		fmt.Fprintf(h.a.stderr, "[log %s] %s\n", level, it.Text)
	}
}

func (h *streamHandler) OnInput(ctx context.Context, req client.InputRequest) (string, error) {
	h.open = false // the user's Enter ends the prompt's line
	type answer struct {
		line string
		err  error
	}
	ch := make(chan answer, 1)
	go func() {
		line, err := h.a.readLine(req.IsPassword)
		ch <- answer{line, err}
	}()
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case ans := <-ch:
		return ans.line, ans.err
	}
}

// isBatch decides between query mode (the files' content is the code) and
// batch mode (the files are uploaded, then built and executed).
func isBatch(files []string, f runFlags) (bool, error) {
	batch := f.build != "" || f.exec != "" || len(files) > 1
	for _, p := range files {
		if p == "-" {
			continue
		}
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			batch = true
		}
	}
	if !batch {
		return false, nil
	}
	if f.code != "" {
		return false, fmt.Errorf("-c CODE runs in query mode; give FILEs for a batch run: %w", errdefs.ErrInvalidArgument)
	}
	if len(files) == 0 {
		return false, fmt.Errorf("a batch run (--build/--exec) needs FILEs or a DIR to upload: %w", errdefs.ErrInvalidArgument)
	}
	for _, p := range files {
		if p == "-" {
			return false, fmt.Errorf("a batch run cannot read a file from stdin (\"-\"): %w", errdefs.ErrInvalidArgument)
		}
	}
	return true, nil
}

// runBatch uploads the files and runs the batch steps, printing each
// step's output as it arrives and noting a failed step on stderr.
func (a *app) runBatch(ctx context.Context, c *client.Client, name, status string, files []client.UploadFile, f runFlags, h *streamHandler) (int, error) {
	if err := waitRunning(ctx, c, name, status, a.stderr); err != nil {
		return -1, err
	}
	if err := c.Upload(ctx, name, files, nil); err != nil {
		return -1, err
	}
	build, exec := f.build, f.exec
	if build == "" {
		build = "*"
	}
	if exec == "" {
		exec = "*"
	}
	opts := map[string]any{"clean": "", "build": build, "exec": exec}
	buildFailed := false
	bh := batchHandler{streamHandler: h, step: func(st string, code int) {
		if st == string(apitypes.RunBuildFinished) && code != 0 {
			buildFailed = true
			h.endLine()
			fmt.Fprintf(a.stderr, "bai: the build failed with exit code %d\n", code)
		}
	}}
	code, err := c.RunCode(ctx, name, client.ModeBatch, "", opts, bh)
	if err == nil && buildFailed && code == 0 {
		code = 1
	}
	return code, err
}

// batchHandler adds step reports to streamHandler.
type batchHandler struct {
	*streamHandler
	step func(status string, exitCode int)
}

// OnStep reports the end of the clean and build steps.
func (b batchHandler) OnStep(status string, exitCode int) { b.step(status, exitCode) }
