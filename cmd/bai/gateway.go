package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/integrations/jupytergw"
)

// gatewayCmd is `bai jupyter-gateway`: the Jupyter Kernel Gateway API on
// top of a manager, with the keypair of the BACKEND_* variables.
func gatewayCmd(ctx context.Context, newLog func() *slog.Logger) *cobra.Command {
	var listen, token string
	cmd := &cobra.Command{
		Use:   "jupyter-gateway",
		Short: "Serve the Jupyter Kernel Gateway API; kernels run as sessions of the manager",
		Long: `Serve the Jupyter Kernel Gateway (jupyter_server kernels) REST and WebSocket
API. Jupyter servers started with --gateway-url, and other Jupyter clients,
then run their kernels as bai sessions of the keypair in BACKEND_ENDPOINT,
BACKEND_ACCESS_KEY and BACKEND_SECRET_KEY. Clients authenticate with the
token (Authorization: token <t>, or ?token=<t>); prefer BAI_GATEWAY_TOKEN
to --token, which other users can see in the process list.
Kernels created here are destroyed when the gateway exits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			log := newLog()
			if token == "" {
				// Read here, not as the flag's default, so --help never
				// prints the token.
				token = os.Getenv("BAI_GATEWAY_TOKEN")
			}
			if token == "" {
				return errors.New("a token is required: set BAI_GATEWAY_TOKEN (or --token)")
			}
			cfg, err := client.ConfigFromEnv(os.Getenv)
			if err != nil {
				return err
			}
			cfg.UserAgent = "bai-jupyter-gateway/" + version
			c, err := client.New(cfg)
			if err != nil {
				return err
			}
			// Fail now, with the manager's reason, rather than on the
			// first kernel a user starts.
			checkCtx, cancel := context.WithTimeout(ctx, 15*time.Second)
			_, err = c.Images(checkCtx)
			cancel()
			if err != nil {
				return fmt.Errorf("check the manager and keypair: %w", err)
			}
			gw, err := jupytergw.New(jupytergw.Config{Backend: c, Token: token, Version: version, Log: log})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", listen, err)
			}
			srv := &http.Server{Handler: gw.Handler(), ReadHeaderTimeout: 10 * time.Second}
			served := make(chan error, 1)
			go func() { served <- srv.Serve(ln) }()
			log.Info("jupyter gateway listening", "addr", "http://"+ln.Addr().String(), "manager", c.Endpoint())
			select {
			case err := <-served:
				return fmt.Errorf("serve: %w", err)
			case <-ctx.Done():
			}
			log.Info("jupyter gateway stopping: destroying its kernels")
			stopCtx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			_ = srv.Shutdown(stopCtx)
			return gw.Shutdown(stopCtx)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", envOr("BAI_GATEWAY_LISTEN", "127.0.0.1:8888"), "address to serve the Jupyter API on")
	cmd.Flags().StringVar(&token, "token", "", "token clients must send (default: $BAI_GATEWAY_TOKEN)")
	return cmd
}
