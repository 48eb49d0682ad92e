package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"baigo.dev/bai/clients/cli"
	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/integrations/jupyter"
)

// parentPoll is how often the kernel checks that the process that started
// it (the Jupyter server) is still there.
const parentPoll = 2 * time.Second

func jupyterCmd(ctx context.Context, newLog func() *slog.Logger) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "jupyter",
		Short: "Use bai images as Jupyter kernels",
		Long: `Use bai images as Jupyter kernels.

'bai jupyter install' writes one Jupyter kernelspec per image the manager
offers; Jupyter then starts 'bai jupyter kernel' for a notebook of that
kind, which runs the notebook's code in a bai session of the image.`,
	}
	cmd.AddCommand(jupyterInstallCmd(ctx), jupyterKernelCmd(ctx, newLog))
	return cmd
}

func jupyterInstallCmd(ctx context.Context) *cobra.Command {
	var (
		user, withKeys bool
		prefix, names  string
		images         []string
	)
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install a Jupyter kernelspec for each image of the manager",
		Long: `Install a Jupyter kernelspec for each image of the manager.

The images come from the manager at BACKEND_ENDPOINT (GET /images, signed
with BACKEND_ACCESS_KEY / BACKEND_SECRET_KEY). Each kernelspec is named
after its image (bai-python, bai-c, ...; --name-prefix changes "bai-") and
runs this bai binary as the kernel.

The kernels read BACKEND_ENDPOINT, BACKEND_ACCESS_KEY and BACKEND_SECRET_KEY
from the environment Jupyter starts them in. With --with-keys the three are
written into each kernelspec instead (its kernel.json is then readable by
you only), for Jupyter servers started without them.

Kernelspecs go to your Jupyter data directory (--user, the default:
$JUPYTER_DATA_DIR, else ~/.local/share/jupyter on Linux), or with --prefix
DIR to DIR/share/jupyter/kernels, which Jupyter finds when DIR is its
sys.prefix or DIR/share/jupyter is in JUPYTER_PATH.`,
		Example: `  bai jupyter install
  bai jupyter install --image python --image c
  bai jupyter install --prefix /tmp/jk && JUPYTER_PATH=/tmp/jk/share/jupyter jupyter kernelspec list`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if user && prefix != "" {
				return errors.New("give --user or --prefix, not both")
			}
			cfg, err := client.ConfigFromEnv(os.Getenv)
			if err != nil {
				return errors.New(cli.Describe(err))
			}
			c, err := client.New(cfg)
			if err != nil {
				return errors.New(cli.Describe(err))
			}
			all, err := c.Images(ctx)
			if err != nil {
				return errors.New(cli.Describe(err))
			}
			dir := filepath.Join(prefix, "share", "jupyter", "kernels")
			if prefix == "" {
				if dir, err = userKernelsDir(); err != nil {
					return err
				}
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find the bai binary: %w", err)
			}
			opts := jupyter.InstallOptions{Dir: dir, NamePrefix: names, Executable: exe, Images: images}
			if withKeys {
				opts.Env = map[string]string{client.EnvEndpoint: c.Endpoint(), client.EnvAccessKey: cfg.AccessKey, client.EnvSecretKey: cfg.SecretKey}
			}
			done, err := jupyter.Install(all, opts)
			out := cmd.OutOrStdout()
			for _, in := range done {
				fmt.Fprintf(out, "installed %s: %s\n  %s\n", in.Name, in.Spec.DisplayName, in.Path)
			}
			if err != nil {
				return errors.New(cli.Describe(err))
			}
			if withKeys {
				fmt.Fprintln(out, "the kernelspecs hold your secret key (readable by you only)")
			} else {
				fmt.Fprintf(out, "the kernels read %s, %s and %s from the environment Jupyter runs them in\n", client.EnvEndpoint, client.EnvAccessKey, client.EnvSecretKey)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&user, "user", false, "install into your Jupyter data directory (the default)")
	cmd.Flags().StringVar(&prefix, "prefix", "", "install into `DIR`/share/jupyter/kernels")
	cmd.Flags().StringVar(&names, "name-prefix", "bai-", "start of every kernel name")
	cmd.Flags().BoolVar(&withKeys, "with-keys", false, "store the endpoint and keypair in the kernelspecs (files mode 0600)")
	cmd.Flags().StringArrayVar(&images, "image", nil, "install only this image (name or alias; repeatable)")
	return cmd
}

// userKernelsDir is where `jupyter kernelspec install --user` writes:
// JUPYTER_DATA_DIR, else the platform's per-user Jupyter data directory.
func userKernelsDir() (string, error) {
	if d := os.Getenv("JUPYTER_DATA_DIR"); d != "" {
		return filepath.Join(d, "kernels"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find your Jupyter data directory (set JUPYTER_DATA_DIR or use --prefix): %w", err)
	}
	switch runtime.GOOS {
	case "darwin":
		return filepath.Join(home, "Library", "Jupyter", "kernels"), nil
	case "windows":
		if d := os.Getenv("APPDATA"); d != "" {
			return filepath.Join(d, "jupyter", "kernels"), nil
		}
	}
	data := os.Getenv("XDG_DATA_HOME")
	if data == "" {
		data = filepath.Join(home, ".local", "share")
	}
	return filepath.Join(data, "jupyter", "kernels"), nil
}

func jupyterKernelCmd(ctx context.Context, newLog func() *slog.Logger) *cobra.Command {
	var image, connFile string
	cmd := &cobra.Command{
		Use:   "kernel --image IMAGE --connection-file FILE",
		Short: "Run a Jupyter kernel backed by a bai session (started by Jupyter)",
		Long: `Run a Jupyter kernel backed by a bai session.

Jupyter starts this command from a kernelspec written by 'bai jupyter
install'; it is not meant to be run by hand. It binds the channels named
in the connection file, creates a session of IMAGE on the manager at
BACKEND_ENDPOINT, runs every cell there, and destroys the session when
Jupyter shuts the kernel down (or on SIGTERM, or when Jupyter goes away).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ci, err := jupyter.ReadConnectionFile(connFile)
			if err != nil {
				return err
			}
			log := newLog().With("component", "jupyter-kernel")
			kc := jupyter.Config{Conn: ci, KernelID: kernelID(connFile), Image: image, Log: log, Version: version}
			// Without a usable keypair the kernel still starts, so that the
			// notebook shows why nothing runs instead of a dead kernel.
			if cfg, err := client.ConfigFromEnv(os.Getenv); err != nil {
				kc.APIErr = err
			} else if c, err := client.New(client.Config{Endpoint: cfg.Endpoint, AccessKey: cfg.AccessKey, SecretKey: cfg.SecretKey, UserAgent: "bai-jupyter-kernel"}); err != nil {
				kc.APIErr = err
			} else {
				kc.API = c
			}
			k, err := jupyter.New(kc)
			if err != nil {
				return err
			}
			runCtx, cancel := context.WithCancelCause(ctx)
			defer cancel(nil)
			go watchParent(runCtx, cancel)
			return k.Run(runCtx)
		},
	}
	cmd.Flags().StringVar(&image, "image", "", "image of the session (name, alias or docker reference)")
	cmd.Flags().StringVar(&connFile, "connection-file", "", "the connection file Jupyter wrote")
	_ = cmd.MarkFlagRequired("image")
	_ = cmd.MarkFlagRequired("connection-file")
	return cmd
}

// kernelID takes the kernel id from a connection file named as Jupyter
// names them (kernel-<id>.json); "" (a random one) otherwise.
func kernelID(connFile string) string {
	base := filepath.Base(connFile)
	if !strings.HasPrefix(base, "kernel-") || !strings.HasSuffix(base, ".json") {
		return ""
	}
	return strings.TrimSuffix(strings.TrimPrefix(base, "kernel-"), ".json")
}

// watchParent cancels ctx when the process that started the kernel exits
// (we are re-parented then), so a killed Jupyter server does not leave the
// session running until it idles out.
func watchParent(ctx context.Context, cancel context.CancelCauseFunc) {
	ppid := os.Getppid()
	t := time.NewTicker(parentPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if os.Getppid() != ppid {
				cancel(errors.New("the process that started the kernel exited"))
				return
			}
		}
	}
}
