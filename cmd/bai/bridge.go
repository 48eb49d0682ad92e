package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/integrations/bridge"
)

// bridgeCmd is `bai bridge`: the process editor extensions spawn.
func bridgeCmd(ctx context.Context, newLog func() *slog.Logger) *cobra.Command {
	var prefix string
	cmd := &cobra.Command{
		Use:   "bridge",
		Short: "Run code for editors: newline-delimited JSON requests on stdin, events on stdout",
		Long: `Run code for editors (the VSCode and Atom extensions spawn this).

Requests arrive on stdin and events leave on stdout, one JSON object per
line; the protocol is described in docs/integrations.md ("bai bridge").
The manager and keypair come from BACKEND_ENDPOINT, BACKEND_ACCESS_KEY and
BACKEND_SECRET_KEY. One session per language is kept while the bridge
runs; all of them are destroyed on {"op":"shutdown"}, at the end of stdin,
or on SIGTERM. Diagnostics go to stderr.`,
		Example: `  echo '{"id":"1","op":"run","lang":"python","code":"print(1+1)"}' | bai bridge`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// An editor that quits closes our stdout: writing an event then
			// must fail, not kill the process before it destroyed its sessions.
			signal.Ignore(syscall.SIGPIPE)
			cfg, err := client.ConfigFromEnv(os.Getenv)
			if err == nil {
				cfg.UserAgent = "bai-bridge/" + version
				var c *client.Client
				if c, err = client.New(cfg); err == nil {
					b := bridge.New(bridge.Options{API: c, Log: newLog().With("component", "bridge"), Version: version, SessionPrefix: prefix})
					return b.Serve(ctx, os.Stdin, os.Stdout)
				}
			}
			// Say it on stdout too: an editor reads events there, not stderr.
			line, _ := json.Marshal(bridge.Event{Type: bridge.EvError, Message: err.Error()})
			fmt.Fprintf(os.Stdout, "%s\n", line)
			return err
		},
	}
	cmd.Flags().StringVar(&prefix, "session-prefix", "bridge", "start of the names of the sessions the bridge makes")
	return cmd
}
