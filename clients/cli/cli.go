// Package cli holds the client commands of the `bai` binary (run, session,
// images). They sit on top of the Go SDK so the CLI exercises the same code
// path as every other Go program talking to the manager, and they live apart
// from cmd/bai so that they can be tested against a fake manager without
// building the binary.
//
// The commands print their own, human-worded errors on stderr and return an
// *ExitError; main only has to turn that into the process exit status:
//
//	root.AddCommand(cli.Commands(os.Getenv, os.Stdin, os.Stdout, os.Stderr)...)
//	if err := root.ExecuteContext(ctx); err != nil {
//		os.Exit(cli.ExitCode(err))
//	}
package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/common/errdefs"
)

// Exit statuses other than the user program's own.
const (
	ExitFailure     = 1   // the command failed; the message is on stderr
	ExitUsage       = 2   // wrong arguments or flags
	ExitTimeout     = 124 // the run exceeded the session's execution time limit
	ExitInterrupted = 130 // Ctrl-C
)

// ExitError carries the exit status a command wants. Its message, if any,
// has already been printed on stderr.
type ExitError struct {
	Code int
	Err  error // what went wrong; nil when the user program chose the status
}

// Error returns the message of the underlying error, or the status.
func (e *ExitError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

// Unwrap returns the underlying error.
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode returns the process exit status for an error returned by a
// command: 0 for nil, the carried status for *ExitError, 1 otherwise.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return ExitFailure
}

// app holds what every command shares.
type app struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer

	inOnce sync.Once
	in     *bufio.Reader
}

// Commands returns the client commands: run, session (ls, info, rm, logs)
// and images. getenv reads BACKEND_ENDPOINT, BACKEND_ACCESS_KEY and
// BACKEND_SECRET_KEY (pass os.Getenv); stdin feeds programs that wait for
// input; the program's output goes to stdout and stderr.
func Commands(getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) []*cobra.Command {
	a := &app{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	cmds := []*cobra.Command{a.runCommand(), a.sessionCommand(), a.imagesCommand(), a.adminCommand(), a.appCommand(), a.folderCommand(), a.templateCommand(), a.terminalCommand()}
	for _, c := range cmds {
		a.setup(c)
	}
	return cmds
}

// setup makes a command and its children print through app and report
// errors themselves.
func (a *app) setup(c *cobra.Command) {
	c.SilenceErrors = true
	c.SilenceUsage = true
	c.SetOut(a.stdout)
	c.SetErr(a.stderr)
	c.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return a.usageError(c, err)
	})
	if c.Args != nil {
		check := c.Args
		c.Args = func(c *cobra.Command, args []string) error {
			if err := check(c, args); err != nil {
				return a.usageError(c, err)
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		a.setup(sub)
	}
}

func (a *app) usageError(c *cobra.Command, err error) error {
	fmt.Fprintf(a.stderr, "%s: %v\nsee `%s --help`\n", c.CommandPath(), err, c.CommandPath())
	return &ExitError{Code: ExitUsage, Err: err}
}

// fail prints err in words a user can act on and returns an *ExitError.
func (a *app) fail(err error) error {
	var ee *ExitError
	if errors.As(err, &ee) {
		return err
	}
	fmt.Fprintf(a.stderr, "bai: %s\n", Describe(err))
	return &ExitError{Code: ExitFailure, Err: err}
}

// Describe words an SDK error for the terminal: it names the setting to fix
// when the manager cannot be reached or refuses the keypair, and otherwise
// keeps the manager's own message (which, for an unknown image, lists the
// available ones).
func Describe(err error) string {
	var ue *client.UnreachableError
	if errors.As(err, &ue) {
		return ue.Error()
	}
	var ae *client.APIError
	if errors.As(err, &ae) && errors.Is(err, errdefs.ErrUnauthenticated) {
		s := "the manager refused the keypair: check " + client.EnvAccessKey + " / " + client.EnvSecretKey
		if ae.Msg != "" {
			s += " (" + ae.Msg + ")"
		}
		return s
	}
	return err.Error()
}

// client builds an SDK client from the environment.
func (a *app) client() (*client.Client, error) {
	cfg, err := client.ConfigFromEnv(a.getenv)
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = "bai-cli"
	return client.New(cfg)
}

// reader returns the shared buffered stdin.
func (a *app) reader() *bufio.Reader {
	a.inOnce.Do(func() { a.in = bufio.NewReader(a.stdin) })
	return a.in
}

// readLine reads one line of stdin without its line ending; hidden turns the
// terminal's echo off while reading when stdin is a terminal.
func (a *app) readLine(hidden bool) (string, error) {
	if hidden {
		if restore, ok := disableEcho(a.stdin); ok {
			defer func() {
				restore()
				fmt.Fprintln(a.stderr)
			}()
		}
	}
	line, err := a.reader().ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return "", fmt.Errorf("the program waits for input but stdin is closed: %w", errdefs.ErrInvalidArgument)
		}
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
