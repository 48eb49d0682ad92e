package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/spf13/cobra"
)

func (a *app) terminalCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "terminal SESSION",
		Short: "Open a shell in a session on a pseudo-terminal",
		Long: "Opens the manager's pty stream to SESSION (the image's terminal app, started on demand) " +
			"and joins it to this terminal: stdin goes in raw mode, so keys such as Ctrl-C reach " +
			"the remote shell, and window size changes follow. Exiting the shell ends the command. " +
			"When stdin is not a terminal, it is piped to the shell as typed input and the " +
			"shell's output (with its echo and prompts) is copied to stdout; end of input sends " +
			"Ctrl-D, which ends a shell that waits at its prompt.",
		Example: "  bai terminal mysession\n  printf 'echo hi; exit\\n' | bai terminal mysession",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return a.fail(err)
			}
			ctx := cmd.Context()
			tc, err := c.Terminal(ctx, args[0])
			if err != nil {
				return a.fail(err)
			}
			defer tc.Close()
			stop := context.AfterFunc(ctx, func() { _ = tc.Close() })
			defer stop()

			if tty, ok := a.stdin.(*os.File); ok {
				if restore, ok := makeRaw(tty); ok {
					defer restore()
					follow := func() {
						if cols, rows, ok := termSize(tty); ok {
							_ = tc.Resize(cols, rows)
						}
					}
					follow()
					stopResize := onResize(follow)
					go func() { _, _ = io.Copy(tc, tty) }()
					_, err := io.Copy(a.stdout, tc)
					stopResize()
					restore() // before any message, so it prints as usual
					return a.terminalEnd(ctx, err)
				}
			}
			go func() {
				if _, err := io.Copy(tc, a.stdin); err == nil {
					_, _ = tc.Write([]byte{4}) // end of input: Ctrl-D, as a terminal would send
				}
			}()
			_, err = io.Copy(a.stdout, tc)
			return a.terminalEnd(ctx, err)
		},
	}
}

// terminalEnd turns how the output copy ended into the command's result:
// the shell exiting (io.Copy's nil) is success.
func (a *app) terminalEnd(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return &ExitError{Code: ExitInterrupted, Err: ctx.Err()}
	case err != nil && !errors.Is(err, net.ErrClosed):
		return a.fail(fmt.Errorf("terminal: %w", err))
	}
	return nil
}
