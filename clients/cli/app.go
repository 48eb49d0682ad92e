package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/spf13/cobra"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/common/apitypes"
)

func (a *app) appCommand() *cobra.Command {
	var bind string
	var stop, noToken bool
	cmd := &cobra.Command{
		Use:   "app SESSION APP",
		Short: "Open a local port that forwards to an app in a session (e.g. terminal)",
		Long: "Starts APP in SESSION if it is not running (the apps are those the image declares " +
			"in its ai.backend.service-ports label), listens on --bind, and forwards every " +
			"connection to the app through the manager's tcpproxy stream until interrupted.\n\n" +
			"For an http app the printed URL carries a secret (bai_token): opening it sets a cookie " +
			"for this port, and requests without that cookie get 403 and never reach the session, " +
			"so other users of this machine and other web pages cannot use the app.",
		Example: "  bai app mysession jupyter --bind 127.0.0.1:8080\n  bai app mysession jupyter --stop",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return a.fail(err)
			}
			ctx := cmd.Context()
			sess, name := args[0], args[1]
			if stop {
				if err := c.ShutdownService(ctx, sess, name); err != nil {
					return a.fail(err)
				}
				fmt.Fprintf(a.stdout, "app %s of session %s stopped\n", name, sess)
				return nil
			}
			res, err := c.StartService(ctx, sess, apitypes.StartService{App: name})
			if err != nil {
				return a.fail(err)
			}
			ln, err := net.Listen("tcp", bind)
			if err != nil {
				return a.fail(fmt.Errorf("listen on %s: %w", bind, err))
			}
			defer ln.Close()
			var gate *appGate
			if res.Protocol == "http" && !noToken {
				if gate, err = newAppGate(ln.Addr().(*net.TCPAddr).Port); err != nil {
					return a.fail(err)
				}
				fmt.Fprintf(a.stdout, "app %s of session %s: open http://%s/?%s=%s\n", res.App, sess, ln.Addr(), tokenParam, gate.token)
			} else {
				scheme := "tcp"
				if res.Protocol == "http" {
					scheme = "http"
				}
				fmt.Fprintf(a.stdout, "app %s of session %s: open %s://%s/\n", res.App, sess, scheme, ln.Addr())
				fmt.Fprintf(a.stderr, "bai: anyone who can reach %s reaches the app without a login\n", ln.Addr())
			}
			stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
			defer stop()
			var wg sync.WaitGroup
			defer wg.Wait()
			for {
				conn, err := ln.Accept()
				if err != nil {
					if ctx.Err() != nil {
						return nil
					}
					return a.fail(fmt.Errorf("accept on %s: %w", bind, err))
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					a.forward(ctx, c, sess, name, conn, gate)
				}()
			}
		},
	}
	cmd.Flags().BoolVar(&noToken, "no-token", false, "do not guard an http app's local port with the secret URL (anyone who can reach the port reaches the app)")
	cmd.Flags().BoolVar(&stop, "stop", false, "stop the app in the session (shutdown-service) instead of forwarding to it")
	cmd.Flags().StringVar(&bind, "bind", "127.0.0.1:8080", "local address to listen on (HOST:PORT; port 0 picks a free one)")
	return cmd
}

// forward joins one local connection to a new tcpproxy stream.
func (a *app) forward(ctx context.Context, c *client.Client, sess, name string, conn net.Conn, gate *appGate) {
	defer conn.Close()
	if gate != nil {
		_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		br := bufio.NewReader(conn)
		head := gate.admit(conn, br)
		if head == nil {
			return
		}
		_ = conn.SetReadDeadline(time.Time{})
		conn = &gatedConn{Conn: conn, r: io.MultiReader(bytes.NewReader(head), br)}
	}
	remote, err := c.DialApp(ctx, sess, name)
	if err != nil {
		fmt.Fprintf(a.stderr, "bai: %s\n", Describe(err))
		return
	}
	defer remote.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.Close(); _ = remote.Close() })
	defer stop()
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(remote, conn)
		// The local side stopped sending; the WebSocket has no half-close,
		// so give the app's reply a chance only through the other copy.
		done <- struct{}{}
	}()
	go func() {
		_, err := io.Copy(conn, remote)
		if err != nil && !errors.Is(err, net.ErrClosed) && ctx.Err() == nil {
			fmt.Fprintf(a.stderr, "bai: app connection: %v\n", err)
		}
		done <- struct{}{}
	}()
	<-done
}
