package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"baigo.dev/bai/agent"
	agentconfig "baigo.dev/bai/agent/config"
	"baigo.dev/bai/backend/config"
	"baigo.dev/bai/backend/server"
	"baigo.dev/bai/common/resource"
	"baigo.dev/bai/web"
)

type serverFlags struct {
	dataDir, listen, db, secretFile string
	vfolderRoot                     string
	agentTimeout, cullInterval      time.Duration
	web                             webFlags
}

// webFlags configure the browser app's sign-in (docs/web.md).
type webFlags struct {
	sessionIdle, sessionLifetime time.Duration
	publicURL                    string
	loginFailures                int
	trustedProxies               []string
	oidcIssuer, oidcClientID     string
	oidcSecretFile               string
	oidcRedirect, oidcName       string
	oidcScopes                   []string
	oidcRoleClaim                string
	oidcSuperadmin, oidcAdmin    []string
}

func (w *webFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.DurationVar(&w.sessionIdle, "session-idle", 12*time.Hour, "end a browser session of the web app after this long without a request")
	fl.DurationVar(&w.sessionLifetime, "session-lifetime", 7*24*time.Hour, "end every browser session this long after sign-in")
	fl.StringVar(&w.publicURL, "public-url", os.Getenv("BAI_PUBLIC_URL"), "the web app's address as browsers see it (https://bai.example.com) when a proxy in front terminates TLS: an accepted Origin, Secure cookies, the default OIDC redirect base")
	fl.IntVar(&w.loginFailures, "login-failures", 10, "failed keypair sign-ins a client address may make per minute before it gets 429")
	fl.StringSliceVar(&w.trustedProxies, "trusted-proxies", splitList(os.Getenv("BAI_TRUSTED_PROXIES")), "reverse proxies (addresses or CIDR prefixes, comma-separated) whose X-Forwarded-For names the client that sign-in limits count by (default: none; the TCP peer is the client)")
	fl.StringVar(&w.oidcIssuer, "oidc-issuer", os.Getenv("BAI_OIDC_ISSUER"), "OpenID Connect issuer URL; set to offer sign-in through that provider (empty: keypair sign-in only)")
	fl.StringVar(&w.oidcClientID, "oidc-client-id", os.Getenv("BAI_OIDC_CLIENT_ID"), "client id registered with the OIDC provider")
	fl.StringVar(&w.oidcSecretFile, "oidc-client-secret-file", os.Getenv("BAI_OIDC_CLIENT_SECRET_FILE"), "file holding the OIDC client secret (or set BAI_OIDC_CLIENT_SECRET; neither: a public client, PKCE only)")
	fl.StringVar(&w.oidcRedirect, "oidc-redirect-url", os.Getenv("BAI_OIDC_REDIRECT_URL"), "callback URL registered with the provider (default: the public URL, or the request's scheme and host, + /auth/oidc/callback)")
	fl.StringVar(&w.oidcName, "oidc-name", envOr("BAI_OIDC_NAME", "single sign-on"), "provider name on the sign-in button")
	fl.StringSliceVar(&w.oidcScopes, "oidc-scopes", []string{"openid", "email", "profile"}, "scopes to request (comma-separated)")
	fl.StringVar(&w.oidcRoleClaim, "oidc-role-claim", os.Getenv("BAI_OIDC_ROLE_CLAIM"), "ID token or userinfo claim (string or list; dots reach nested claims, e.g. realm_access.roles) whose values set the role at every sign-in (empty: roles are managed in bai)")
	fl.StringSliceVar(&w.oidcSuperadmin, "oidc-superadmin-values", nil, "role-claim values that make a superadmin (comma-separated)")
	fl.StringSliceVar(&w.oidcAdmin, "oidc-admin-values", nil, "role-claim values that make an admin (comma-separated)")
}

// config builds the Web settings; the client secret is read from its file
// or the environment, never taken from the command line, where other users
// of the host could read it.
func (w *webFlags) config() (config.Web, error) {
	c := config.Web{SessionIdle: w.sessionIdle, SessionLifetime: w.sessionLifetime, PublicURL: w.publicURL, LoginFailures: w.loginFailures,
		OIDC: config.OIDC{Issuer: w.oidcIssuer, ClientID: w.oidcClientID, RedirectURL: w.oidcRedirect, Name: w.oidcName,
			Scopes: w.oidcScopes, RoleClaim: w.oidcRoleClaim, SuperadminValues: w.oidcSuperadmin, AdminValues: w.oidcAdmin}}
	if w.sessionIdle <= 0 || w.sessionLifetime <= 0 {
		return c, errors.New("--session-idle and --session-lifetime must be positive")
	}
	for _, p := range w.trustedProxies {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			a, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return c, fmt.Errorf("--trusted-proxies: %q is neither an address nor a CIDR prefix (like 10.0.0.5 or 10.0.0.0/8)", p)
			}
			a = a.Unmap()
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, pfx.Masked())
	}
	if w.publicURL != "" {
		if u, err := url.Parse(w.publicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, fmt.Errorf("--public-url %q must be an http(s) URL like https://bai.example.com", w.publicURL)
		}
	}
	if w.oidcIssuer == "" {
		return c, nil
	}
	if w.oidcClientID == "" {
		return c, errors.New("--oidc-issuer needs --oidc-client-id")
	}
	if w.oidcSecretFile != "" {
		b, err := os.ReadFile(w.oidcSecretFile)
		if err != nil {
			return c, fmt.Errorf("--oidc-client-secret-file: %w", err)
		}
		c.OIDC.ClientSecret = strings.TrimSpace(string(b))
	} else {
		c.OIDC.ClientSecret = os.Getenv("BAI_OIDC_CLIENT_SECRET")
	}
	return c, nil
}

func (f *serverFlags) add(cmd *cobra.Command, listenDefault string) {
	cmd.Flags().StringVar(&f.dataDir, "data-dir", envOr("BAI_DATA_DIR", ".data"), "directory for the SQLite database, secrets and kernel scratch space")
	cmd.Flags().StringVar(&f.listen, "listen", envOr("BAI_LISTEN", listenDefault), "API listen address")
	cmd.Flags().StringVar(&f.db, "db", os.Getenv("BAI_DATABASE_URL"), "database: a postgres:// URL, or empty for SQLite in the data directory")
	cmd.Flags().StringVar(&f.secretFile, "cluster-secret-file", os.Getenv("BAI_CLUSTER_SECRET_FILE"), "file holding the secret shared by the manager and its agents (default: DATA_DIR/cluster-secret, created when missing)")
	cmd.Flags().StringVar(&f.vfolderRoot, "vfolder-root", os.Getenv("BAI_VFOLDER_ROOT"), "directory holding the virtual folders (default: DATA_DIR/vfolders); agents mount from the same path, so use a shared file system such as NFS when agents run on several hosts")
	cmd.Flags().DurationVar(&f.agentTimeout, "agent-timeout", 15*time.Second, "mark an agent LOST (and its sessions ERROR) after this long without a heartbeat")
	cmd.Flags().DurationVar(&f.cullInterval, "cull-interval", 5*time.Second, "how often idle, over-age and overdue sessions are looked for")
	f.web.add(cmd)
}

func (f *serverFlags) secret() (string, error) {
	p := f.secretFile
	if p == "" {
		p = filepath.Join(f.dataDir, "cluster-secret")
	}
	return server.LoadOrCreateSecret(p)
}

func startManager(ctx context.Context, f *serverFlags, log *slog.Logger) (*server.Server, error) {
	if err := os.MkdirAll(f.dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	sec, err := f.secret()
	if err != nil {
		return nil, fmt.Errorf("cluster secret: %w", err)
	}
	webCfg, err := f.web.config()
	if err != nil {
		return nil, err
	}
	cfg := config.Config{ListenAddr: f.listen, DatabaseURL: f.db, DataDir: f.dataDir, ClusterSecret: sec, Version: version, VFolderRoot: f.vfolderRoot,
		AgentTimeout: f.agentTimeout, CullInterval: f.cullInterval, Web: webCfg}
	return server.New(ctx, cfg, log)
}

func managerCmd(ctx context.Context, newLog func() *slog.Logger) *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "manager",
		Short: "Run the manager and API gateway",
		RunE: func(cmd *cobra.Command, args []string) error {
			log := newLog()
			startDebugServer(log)
			srv, err := startManager(ctx, &f, log)
			if err != nil {
				return err
			}
			creds, created, err := srv.Bootstrap(ctx)
			if err != nil {
				return err
			}
			if created {
				if err := writeCredentials(f.dataDir, creds); err != nil {
					return err
				}
				printCredentials(cmd, creds, f.dataDir)
			}
			return srv.Run(ctx)
		},
	}
	f.add(cmd, "127.0.0.1:8081")
	return cmd
}

type agentFlags struct {
	listen, manager, runner, runtime, id, sg string
	kernelLib                                string
	fakeGPUs                                 string
	heartbeat                                time.Duration
	overcommit                               float64
	maxCPU                                   float64
	maxMem                                   string
	metricsListen                            string
	minFreeDisk                              string
	scratchSize                              string
	sessionNetwork, sessionBridge            string
	jail                                     string
}

func (a *agentFlags) add(cmd *cobra.Command, withManager bool, overcommit float64) {
	cmd.Flags().Float64Var(&a.overcommit, "cpu-overcommit", overcommit, "multiply the cpu capacity offered to sessions (kernel cpu limits are quotas, so sessions can share cores)")
	cmd.Flags().StringVar(&a.listen, "agent-listen", envOr("BAI_AGENT_LISTEN", "127.0.0.1:6001"), "agent control listen address (reachable by the manager only)")
	if withManager {
		cmd.Flags().StringVar(&a.manager, "manager", envOr("BAI_MANAGER_URL", "http://127.0.0.1:8081"), "manager URL; several replicas comma-separated (the agent fails over between them)")
	}
	cmd.Flags().StringVar(&a.runner, "runner", os.Getenv("BAI_RUNNER"), "path of the static bai-runner binary (default: beside this binary)")
	cmd.Flags().StringVar(&a.kernelLib, "kernel-lib", os.Getenv("BAI_KERNEL_LIB"), "directory mounted read-only at /opt/bai/lib in kernels: libbaihook.so and python/ (default: kernel-lib beside this binary; missing: a warning, kernels run without it)")
	cmd.Flags().StringVar(&a.runtime, "runtime", envOr("BAI_RUNTIME", "docker"), "container runtime: docker, or process (no isolation; for tests)")
	cmd.Flags().StringVar(&a.id, "agent-id", os.Getenv("BAI_AGENT_ID"), "agent id (default: generated once and kept in the data directory)")
	cmd.Flags().StringVar(&a.sg, "scaling-group", "default", "scaling group of this agent")
	cmd.Flags().DurationVar(&a.heartbeat, "heartbeat", 3*time.Second, "heartbeat interval")
	cmd.Flags().StringVar(&a.minFreeDisk, "min-free-disk", "1g", "free space the data directory needs; below it the agent reports itself unhealthy and gets no new sessions")
	cmd.Flags().StringVar(&a.metricsListen, "metrics-listen", os.Getenv("BAI_AGENT_METRICS_LISTEN"), "also serve GET /metrics without authentication on this address, for Prometheus (the control port serves it only with the cluster secret)")
	cmd.Flags().Float64Var(&a.maxCPU, "max-cpu", 0, "offer at most this many cpu slots to sessions (0: what the host has)")
	cmd.Flags().StringVar(&a.maxMem, "max-mem", "", "offer at most this much memory to sessions, e.g. 8g (empty: what the host has)")
	cmd.Flags().StringVar(&a.scratchSize, "scratch-size", "10GiB", "cap of each session's /home/work, a loop-mounted ext4 image (needs root; without it the agent warns and leaves scratch uncapped); 0: no cap")
	cmd.Flags().StringVar(&a.sessionNetwork, "session-network", agentconfig.DefaultSessionNetwork, "docker network that sessions with network join (made when missing: no traffic between its containers, no IPv6)")
	cmd.Flags().StringVar(&a.sessionBridge, "session-bridge", agentconfig.DefaultSessionBridge, "bridge interface of --session-network, which the agent's iptables rules keep off the host and private networks")
	cmd.Flags().StringVar(&a.jail, "jail", os.Getenv("BAI_JAIL"), "how user code runs under bai-jail (kernel-lib/bai-jail): enforce, watch (log what enforce would refuse), noop (no filter, for comparison) or off (default: enforce with the docker runtime, off with process)")
	cmd.Flags().StringVar(&a.fakeGPUs, "fake-gpus", os.Getenv("BAI_FAKE_GPUS"), "offer made-up GPUs instead of those NVML finds, for tests: COUNT[:MODEL[:MEMORY]], e.g. 2 or '2:NVIDIA H100 80GB HBM3:80GiB' (kernels see them as CUDA_VISIBLE_DEVICES only)")
}

func (a *agentFlags) config(dataDir, managerURL, secret string) (agent.Config, error) {
	runner, kernelLib := a.runner, a.kernelLib
	if runner == "" || kernelLib == "" {
		exe, err := os.Executable()
		if err != nil {
			return agent.Config{}, err
		}
		if runner == "" {
			runner = filepath.Join(filepath.Dir(exe), "bai-runner")
		}
		if kernelLib == "" {
			kernelLib = filepath.Join(filepath.Dir(exe), "kernel-lib")
		}
	}
	kernelLib, err := filepath.Abs(kernelLib)
	if err != nil {
		return agent.Config{}, err
	}
	abs, err := filepath.Abs(runner)
	if err != nil {
		return agent.Config{}, err
	}
	if _, err := os.Stat(abs); err != nil {
		return agent.Config{}, fmt.Errorf("runner binary %s not found (build it with `make build`, or pass --runner): %w", abs, err)
	}
	dd, err := filepath.Abs(dataDir)
	if err != nil {
		return agent.Config{}, err
	}
	minFree, err := resource.ParseBytes(a.minFreeDisk)
	if err != nil {
		return agent.Config{}, fmt.Errorf("--min-free-disk: %w", err)
	}
	var maxMem int64
	if a.maxMem != "" {
		if maxMem, err = resource.ParseBytes(a.maxMem); err != nil {
			return agent.Config{}, fmt.Errorf("--max-mem: %w", err)
		}
	}
	scratch, err := agentconfig.ParseScratchSize(a.scratchSize)
	if err != nil {
		return agent.Config{}, fmt.Errorf("--scratch-size: %w", err)
	}
	return agent.Config{ID: a.id, ListenAddr: a.listen, ManagerURL: managerURL, ClusterSecret: secret,
		DataDir: dd, RunnerPath: abs, KernelLibDir: kernelLib, Runtime: a.runtime, HeartbeatInterval: a.heartbeat, ScalingGroup: a.sg, CPUOvercommit: a.overcommit, FakeGPUs: a.fakeGPUs,
		MaxCPU: a.maxCPU, MaxMem: maxMem, MetricsListen: a.metricsListen, MinFreeDisk: minFree,
		ScratchSize: scratch, SessionNetwork: a.sessionNetwork, SessionBridge: a.sessionBridge, JailMode: a.jail}, nil
}

func agentCmd(ctx context.Context, newLog func() *slog.Logger) *cobra.Command {
	var f serverFlags
	var a agentFlags
	var probe bool
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run an agent that hosts kernel containers for a manager",
		RunE: func(cmd *cobra.Command, args []string) error {
			if probe {
				return probeGPUs(cmd.OutOrStdout(), a.fakeGPUs)
			}
			sec, err := f.secret()
			if err != nil {
				return fmt.Errorf("cluster secret: %w", err)
			}
			cfg, err := a.config(f.dataDir, a.manager, sec)
			if err != nil {
				return err
			}
			ag, err := agent.New(cfg, newLog())
			if err != nil {
				return err
			}
			return ag.Run(ctx)
		},
	}
	cmd.Flags().StringVar(&f.dataDir, "data-dir", envOr("BAI_DATA_DIR", ".data/agent"), "directory for kernel scratch space and the agent id")
	cmd.Flags().StringVar(&f.secretFile, "cluster-secret-file", os.Getenv("BAI_CLUSTER_SECRET_FILE"), "file holding the manager's cluster secret (default: DATA_DIR/cluster-secret)")
	a.add(cmd, true, 1)
	cmd.Flags().BoolVar(&probe, "probe", false, "print the GPUs this agent would offer (or why there are none) and exit")
	return cmd
}

func devCmd(ctx context.Context, newLog func() *slog.Logger) *cobra.Command {
	var f serverFlags
	var a agentFlags
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a manager and one agent in one process on embedded defaults (SQLite, local Docker)",
		RunE: func(cmd *cobra.Command, args []string) error {
			log := newLog()
			srv, err := startManager(ctx, &f, log)
			if err != nil {
				return err
			}
			sec, _ := f.secret()
			acfg, err := a.config(f.dataDir, srv.URL(), sec)
			if err != nil {
				return err
			}
			ag, err := agent.New(acfg, log.With("component", "agent"))
			if err != nil {
				return err
			}
			creds, _, err := srv.Bootstrap(ctx)
			if err != nil {
				return err
			}
			// credentials.json appearing means "ready" (to people and to
			// scripts): it is written once the agent has registered and
			// its images are known, so the first `bai run` finds them.
			_ = os.Remove(filepath.Join(f.dataDir, "credentials.json"))
			errc := make(chan error, 2)
			go func() { errc <- srv.Run(ctx) }()
			go func() { errc <- ag.Run(ctx) }()
			if !waitImages(ctx, srv, 60*time.Second) {
				log.Warn("the agent has reported no kernel images yet; build them with `make images`")
			}
			if err := writeCredentials(f.dataDir, creds); err != nil {
				return err
			}
			printCredentials(cmd, creds, f.dataDir)
			err = <-errc
			if err2 := <-errc; err == nil || errors.Is(err, context.Canceled) {
				err = err2
			}
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		},
	}
	f.add(cmd, "127.0.0.1:8081")
	a.add(cmd, false, 4) // a developer machine runs several small sessions at once
	return cmd
}

// waitImages waits until an agent has reported kernel images (or limit).
func waitImages(ctx context.Context, srv *server.Server, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if imgs, err := srv.Sessions.Images(ctx); err == nil && len(imgs) > 0 {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func writeCredentials(dataDir string, c server.Credentials) error {
	b, _ := json.MarshalIndent(c, "", "  ")
	return os.WriteFile(filepath.Join(dataDir, "credentials.json"), append(b, '\n'), 0o600)
}

// printCredentials prints how to connect. The secret key itself is printed
// only to a terminal (a person at `make run`); where the output goes to a
// file, a pipe or a log collector, it says where the key is instead, so no
// log ever holds it.
func printCredentials(cmd *cobra.Command, c server.Credentials, dataDir string) {
	w := cmd.OutOrStdout()
	path := filepath.Join(dataDir, "credentials.json")
	secretLine := fmt.Sprintf("  secret key:    %s\n  (also saved in %s, readable by you only)", c.SecretKey, path)
	secretEnv := c.SecretKey
	if !isTerminal(w) {
		secretLine = fmt.Sprintf("  secret key in: %s (readable by you only; not printed, as this output is not a terminal)", path)
		secretEnv = fmt.Sprintf(`$(sed -n 's/.*"secretKey": *"\([^"]*\)".*/\1/p' %s)`, path)
	}
	webLine := fmt.Sprintf("  web app:       %s/ (open it in a browser; sign in with this access key and secret key)", c.Endpoint)
	if _, built := web.Dist(); !built {
		webLine = "  web app:       not in this binary (built without the webui tag: run make build)"
	}
	fmt.Fprintf(w, `
bai is up.
%[5]s
  API endpoint:  %[1]s
  access key:    %[2]s
%[3]s

Try it from another terminal:
  export BACKEND_ENDPOINT=%[1]s BACKEND_ACCESS_KEY=%[2]s BACKEND_SECRET_KEY=%[4]s
  ./bin/bai run python -c 'print(1+1)'
  ./bin/bai session ls
  ./bin/bai images

`, c.Endpoint, c.AccessKey, secretLine, secretEnv, webLine)
}

// isTerminal reports whether w is a terminal (as golang.org/x/term does on
// Linux: the terminal ioctl answers; /dev/null, files and pipes do not).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// splitList splits a comma-separated environment value; "" is no items.
func splitList(v string) []string {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	return strings.Split(v, ",")
}
