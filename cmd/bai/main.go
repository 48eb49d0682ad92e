// Command bai is the one binary of the system: `bai manager`, `bai agent`,
// `bai dev` (both in one process on embedded defaults) and the client CLI
// (`bai run`, `bai session ...`).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"baigo.dev/bai/clients/cli"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := &cobra.Command{
		Use:           "bai",
		Short:         "bai runs code in sandboxed sessions (a Backend.AI-compatible manager, agent and CLI)",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	var logLevel string
	root.PersistentFlags().StringVar(&logLevel, "log-level", envOr("BAI_LOG_LEVEL", "info"), "log level for servers: debug, info, warn, error")
	newLog := func() *slog.Logger {
		var lv slog.Level
		_ = lv.UnmarshalText([]byte(strings.ToUpper(logLevel)))
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
	}
	root.AddCommand(managerCmd(ctx, newLog), agentCmd(ctx, newLog), devCmd(ctx, newLog), gatewayCmd(ctx, newLog))
	root.AddCommand(cli.Commands(os.Getenv, os.Stdin, os.Stdout, os.Stderr)...)
	root.AddCommand(bridgeCmd(ctx, newLog))
	root.AddCommand(jupyterCmd(ctx, newLog))
	if err := root.ExecuteContext(ctx); err != nil {
		var ee *cli.ExitError
		if !errors.As(err, &ee) { // the client commands print their own errors
			fmt.Fprintln(os.Stderr, "bai:", err)
		}
		os.Exit(cli.ExitCode(err))
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
