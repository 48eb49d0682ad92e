package netguard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/network"

	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/types"
)

// Docker's bridge driver options netguard sets and checks.
const (
	optICC    = "com.docker.network.bridge.enable_icc"
	optBridge = "com.docker.network.bridge.name"
)

// NetworkClient is the part of the Docker engine API the guard uses.
type NetworkClient interface {
	NetworkInspect(ctx context.Context, networkID string, options network.InspectOptions) (network.Inspect, error)
	NetworkCreate(ctx context.Context, name string, options network.CreateOptions) (network.CreateResponse, error)
}

// Config configures a Guard.
type Config struct {
	Network     string // Docker network of networked sessions, e.g. bai-sessions
	Bridge      string // its bridge interface, e.g. bai-br0
	ManagerURLs string // the agent's --manager, comma-separated
	// ResolvConf is the resolver file Docker reads (default /etc/resolv.conf;
	// when that names only loopback resolvers, systemd-resolved's
	// /run/systemd/resolve/resolv.conf is read too, as Docker does).
	ResolvConf string
}

// Guard installs and re-checks the isolation of networked sessions.
type Guard struct {
	cfg      Config
	cli      NetworkClient
	ipt      Iptables
	log      *slog.Logger
	resolver *net.Resolver
	// preflight says why this host cannot isolate (not root, no iptables);
	// nil when it can.
	preflight func() error

	mu        sync.Mutex
	managers  []netip.Addr // last resolved, kept when a later lookup fails
	gateway   string
	installed bool // the rules were in place once
}

// New makes a guard that runs the host's iptables.
func New(cfg Config, cli NetworkClient, log *slog.Logger) *Guard {
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = "/etc/resolv.conf"
	}
	g := &Guard{cfg: cfg, cli: cli, log: log, resolver: net.DefaultResolver}
	path, lookErr := exec.LookPath("iptables")
	g.preflight = func() error {
		if os.Geteuid() != 0 {
			return errors.New("the agent does not run as root, so it cannot install iptables rules")
		}
		if lookErr != nil {
			return errors.New("iptables is not installed (no iptables in PATH)")
		}
		return nil
	}
	g.ipt = func(ctx context.Context, args ...string) error {
		cmd := exec.CommandContext(ctx, path, append([]string{"-w", "10"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return &iptablesError{code: ee.ExitCode(), msg: strings.TrimSpace(string(out))}
			}
			return fmt.Errorf("iptables: %w", err)
		}
		return nil
	}
	return g
}

// NewWith makes a guard on a stand-in iptables and host checks, for tests.
func NewWith(cfg Config, cli NetworkClient, ipt Iptables, preflight func() error, log *slog.Logger) *Guard {
	g := New(cfg, cli, log)
	g.ipt, g.preflight = ipt, preflight
	return g
}

type iptablesError struct {
	code int
	msg  string
}

func (e *iptablesError) Error() string {
	return fmt.Sprintf("iptables exited with %d: %s", e.code, e.msg)
}

func (e *iptablesError) ExitCode() int { return e.code }

// Ready makes sure the network exists as it must and the rules are in
// place (re-adding any that went missing, e.g. after a firewall reload).
// Its error is meant for the session's owner: it says that this agent
// cannot isolate networked sessions, why, and what to do.
func (g *Guard) Ready(ctx context.Context) error {
	if err := g.ensure(ctx); err != nil {
		return fmt.Errorf("this agent cannot isolate networked sessions: %v; ask the operator to fix that (see \"Sessions with network\" in docs/security.md), or create the session without network: %w",
			err, errdefs.ErrUnavailable)
	}
	return nil
}

// Watch re-checks the network and the rules every interval until ctx is
// done, so that rules a firewall reload flushed come back while networked
// sessions run, not only at the next networked kernel. It logs when the
// isolation breaks and when it is back.
func (g *Guard) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	broken := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, interval)
		err := g.ensure(cctx)
		cancel()
		switch {
		case err != nil && !broken && ctx.Err() == nil:
			g.log.Warn("networked sessions are not isolated any more; new ones are refused until this is fixed", "reason", err.Error())
			broken = true
		case err == nil && broken:
			g.log.Info("networked sessions are isolated again")
			broken = false
		}
	}
}

// Gateway returns the session network's gateway address once Ready
// succeeded.
func (g *Guard) Gateway() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.gateway
}

// Sysctls are the settings every networked container gets: no IPv6 at all
// (the network has none; this also removes the link-local addresses over
// which a container could reach the host's dual-stack listeners).
func (g *Guard) Sysctls() map[string]string {
	if _, err := os.Stat("/proc/sys/net/ipv6"); err != nil {
		return nil // IPv6 is off on this host
	}
	return map[string]string{
		"net.ipv6.conf.all.disable_ipv6":     "1",
		"net.ipv6.conf.default.disable_ipv6": "1",
	}
}

func (g *Guard) ensure(ctx context.Context) error {
	if err := g.preflight(); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	gw, err := EnsureNetwork(ctx, g.cli, g.cfg.Network, g.cfg.Bridge)
	if err != nil {
		return err
	}
	g.gateway = gw
	hosts, err := ManagerHosts(g.cfg.ManagerURLs)
	if err != nil {
		return err
	}
	managers, err := Resolve(ctx, g.resolver, hosts)
	switch {
	case err != nil && g.managers == nil:
		return err
	case err != nil:
		g.log.Warn("cannot resolve the manager; keeping its last known addresses", "err", err)
	default:
		g.managers = managers
	}
	rules := Rules(Params{Bridge: g.cfg.Bridge, Managers: g.managers, Nameservers: g.nameservers()})
	added, err := Apply(ctx, g.ipt, rules)
	if err != nil {
		if strings.Contains(err.Error(), "DOCKER-USER") && strings.Contains(err.Error(), "No chain") {
			err = fmt.Errorf("%w (is dockerd running with --iptables=false?)", err)
		}
		return err
	}
	if added > 0 && g.installed {
		g.log.Warn("isolation rules of networked sessions had gone (a firewall reload?); put back", "rules", added)
	}
	g.installed = true
	// Belt and braces to the containers' own sysctls: no IPv6 address on
	// the host's side of the bridge either.
	_ = os.WriteFile(filepath.Join("/proc/sys/net/ipv6/conf", g.cfg.Bridge, "disable_ipv6"), []byte("1"), 0o644)
	return nil
}

func (g *Guard) nameservers() []netip.Addr {
	b, _ := os.ReadFile(g.cfg.ResolvConf)
	ns := Nameservers(b)
	if len(ns) == 0 {
		b, _ = os.ReadFile("/run/systemd/resolve/resolv.conf")
		ns = Nameservers(b)
	}
	return ns
}

// EnsureNetwork makes the session network when it does not exist (a
// bridge named bridge, no traffic between its containers, no IPv6) and
// checks an existing one has those settings. It returns the gateway.
func EnsureNetwork(ctx context.Context, cli NetworkClient, name, bridge string) (string, error) {
	n, err := cli.NetworkInspect(ctx, name, network.InspectOptions{})
	if cerrdefs.IsNotFound(err) {
		no := false
		_, err = cli.NetworkCreate(ctx, name, network.CreateOptions{
			Driver:     "bridge",
			EnableIPv6: &no,
			Options:    map[string]string{optICC: "false", optBridge: bridge},
			Labels:     map[string]string{types.LabelOwner: types.OwnerValue},
		})
		if err != nil && !cerrdefs.IsConflict(err) { // another agent made it meanwhile
			return "", fmt.Errorf("create docker network %s: %w", name, err)
		}
		n, err = cli.NetworkInspect(ctx, name, network.InspectOptions{})
	}
	if err != nil {
		return "", fmt.Errorf("inspect docker network %s: %w", name, err)
	}
	if why := checkNetwork(n, bridge); why != "" {
		return "", fmt.Errorf("docker network %s exists but %s; remove it (docker network rm %s) or name another with --session-network", name, why, name)
	}
	for _, c := range n.IPAM.Config {
		if a, err := netip.ParseAddr(c.Gateway); err == nil && a.Is4() {
			return c.Gateway, nil
		}
	}
	return "", nil
}

// checkNetwork says what is wrong with an existing session network.
func checkNetwork(n network.Inspect, bridge string) string {
	var why []string
	if n.Driver != "bridge" {
		why = append(why, fmt.Sprintf("uses the %s driver, not bridge", n.Driver))
	}
	if n.Options[optICC] != "false" {
		why = append(why, "lets its containers talk to each other ("+optICC+" is not false)")
	}
	if n.Options[optBridge] != bridge {
		why = append(why, fmt.Sprintf("its bridge is %q, not %q", n.Options[optBridge], bridge))
	}
	if n.EnableIPv6 {
		why = append(why, "has IPv6")
	}
	if n.Internal {
		why = append(why, "is internal (no internet)")
	}
	return strings.Join(why, ", ")
}
