// Package netguard keeps the containers of networked sessions to the
// internet: it makes the Docker bridge network they join (no traffic
// between its containers, no IPv6) and installs the host's iptables rules
// that keep them off the host itself (the agent, the manager when it runs
// there, any other service) and off private networks (the manager, other
// hosts, cloud metadata). Sessions without network are not its concern:
// they have no interface but loopback.
//
// The rules, all tagged with the comment bai-session-isolation, for the
// bridge interface BR:
//
//	INPUT        -i BR  ESTABLISHED,RELATED            ACCEPT
//	             -i BR  to a nameserver, port 53       ACCEPT
//	             -i BR                                 DROP
//	DOCKER-USER  -i BR  ESTABLISHED,RELATED            RETURN
//	             -i BR  to a nameserver, port 53       RETURN
//	             -i BR  to 10/8, 172.16/12, 192.168/16,
//	                    169.254/16, 100.64/10, 127/8   DROP
//	             -i BR  to each manager address        DROP
//
// INPUT holds everything a container sends to any address of the host
// (the bridge's gateway, the host's other addresses); DOCKER-USER is where
// Docker lets the FORWARD path be filtered before its own rules. The
// nameserver exceptions are the host's resolvers, to which Docker's
// embedded DNS (in each container's network namespace) forwards queries.
// Rules are inserted at the top of their chain, idempotently, and never
// removed: other agents of the host and live sessions rely on them.
package netguard

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// Comment tags every rule netguard installs.
const Comment = "bai-session-isolation"

// Chains netguard adds rules to.
const (
	ChainInput      = "INPUT"
	ChainDockerUser = "DOCKER-USER"
)

// BlockedRanges are the destinations networked sessions never reach
// through the host's forwarding path: private, shared (CGNAT), link-local
// and loopback IPv4 ranges.
func BlockedRanges() []netip.Prefix {
	return []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"),
		netip.MustParsePrefix("169.254.0.0/16"),
		netip.MustParsePrefix("100.64.0.0/10"),
		netip.MustParsePrefix("127.0.0.0/8"),
	}
}

// Rule is one iptables rule of the filter table.
type Rule struct {
	Chain string
	// Spec is the rule after the chain name: matches, target and the
	// comment, as given to iptables -C, -I and -D.
	Spec []string
	// Allow marks the rules that must come before every drop of their
	// chain (ESTABLISHED, DNS).
	Allow bool
}

// String renders the rule as iptables -S would, roughly.
func (r Rule) String() string { return "-A " + r.Chain + " " + strings.Join(r.Spec, " ") }

// Params are what the rules depend on.
type Params struct {
	Bridge      string       // the session network's bridge interface
	Managers    []netip.Addr // the manager's addresses (IPv4)
	Nameservers []netip.Addr // the host's resolvers (IPv4, not loopback)
}

// Rules returns the rules for p, allows first within each chain.
func Rules(p Params) []Rule {
	tag := []string{"-m", "comment", "--comment", Comment}
	in := func(rest ...string) []string {
		return slices.Concat([]string{"-i", p.Bridge}, rest, tag)
	}
	established := []string{"-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED"}
	var out []Rule
	for _, c := range []struct{ chain, allow string }{{ChainInput, "ACCEPT"}, {ChainDockerUser, "RETURN"}} {
		out = append(out, Rule{Chain: c.chain, Allow: true, Spec: in(slices.Concat(established, []string{"-j", c.allow})...)})
		for _, ns := range p.Nameservers {
			for _, proto := range []string{"udp", "tcp"} {
				out = append(out, Rule{Chain: c.chain, Allow: true,
					Spec: in("-d", host(ns), "-p", proto, "-m", proto, "--dport", "53", "-j", c.allow)})
			}
		}
	}
	out = append(out, Rule{Chain: ChainInput, Spec: in("-j", "DROP")})
	for _, r := range BlockedRanges() {
		out = append(out, Rule{Chain: ChainDockerUser, Spec: in("-d", r.String(), "-j", "DROP")})
	}
	for _, m := range p.Managers {
		out = append(out, Rule{Chain: ChainDockerUser, Spec: in("-d", host(m), "-j", "DROP")})
	}
	return out
}

func host(a netip.Addr) string { return netip.PrefixFrom(a, a.BitLen()).String() }

// ExitCoder is what a failed iptables run returns (*exec.ExitError is one).
type ExitCoder interface{ ExitCode() int }

// Iptables runs iptables with args (after the lock-wait flags). A rule
// that -C does not find fails with exit code 1.
type Iptables func(ctx context.Context, args ...string) error

// Apply makes sure every rule is in place, each in front of its chain's
// other rules, the allows in front of the drops, and returns how many it
// had to add. Rules already there are left alone, so Apply may run at
// every start and before every networked kernel; only when a drop had to
// be added are the allows of its chain moved back in front of it.
func Apply(ctx context.Context, ipt Iptables, rules []Rule) (added int, err error) {
	var chains []string
	for _, r := range rules {
		if !slices.Contains(chains, r.Chain) {
			chains = append(chains, r.Chain)
		}
	}
	for _, chain := range chains {
		var allows, drops []Rule
		for _, r := range rules {
			if r.Chain != chain {
				continue
			}
			if r.Allow {
				allows = append(allows, r)
			} else {
				drops = append(drops, r)
			}
		}
		dropAdded := false
		for _, r := range drops {
			ok, err := exists(ctx, ipt, r)
			if err != nil {
				return added, err
			}
			if !ok {
				if err := ipt(ctx, slices.Concat([]string{"-I", r.Chain, "1"}, r.Spec)...); err != nil {
					return added, fmt.Errorf("add %s: %w", r, err)
				}
				added++
				dropAdded = true
			}
		}
		// Inserted last at the top, the first allow ends up first.
		for i := len(allows) - 1; i >= 0; i-- {
			r := allows[i]
			ok, err := exists(ctx, ipt, r)
			if err != nil {
				return added, err
			}
			if ok && !dropAdded {
				continue
			}
			if ok {
				if err := ipt(ctx, slices.Concat([]string{"-D", r.Chain}, r.Spec)...); err != nil {
					return added, fmt.Errorf("move %s: %w", r, err)
				}
			} else {
				added++
			}
			if err := ipt(ctx, slices.Concat([]string{"-I", r.Chain, "1"}, r.Spec)...); err != nil {
				return added, fmt.Errorf("add %s: %w", r, err)
			}
		}
	}
	return added, nil
}

func exists(ctx context.Context, ipt Iptables, r Rule) (bool, error) {
	err := ipt(ctx, slices.Concat([]string{"-C", r.Chain}, r.Spec)...)
	var ec ExitCoder
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &ec) && ec.ExitCode() == 1:
		return false, nil
	default:
		return false, fmt.Errorf("check %s: %w", r, err)
	}
}

// Nameservers returns the IPv4 resolvers of a resolv.conf, loopback ones
// left out (Docker does not forward to those from a container).
func Nameservers(resolvConf []byte) []netip.Addr {
	var out []netip.Addr
	sc := bufio.NewScanner(bytes.NewReader(resolvConf))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] != "nameserver" {
			continue
		}
		a, err := netip.ParseAddr(f[1])
		if err != nil {
			continue
		}
		a = a.Unmap()
		if a.Is4() && !a.IsLoopback() && !a.IsUnspecified() && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// ManagerHosts returns the host part of each comma-separated manager URL.
func ManagerHosts(urls string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(urls, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		u, err := url.Parse(s)
		if err != nil || u.Hostname() == "" {
			return nil, fmt.Errorf("manager url %q has no host", s)
		}
		if !slices.Contains(out, u.Hostname()) {
			out = append(out, u.Hostname())
		}
	}
	return out, nil
}

// Resolve returns the IPv4 addresses of hosts (names or literals), without
// the unspecified address (a manager listening on 0.0.0.0 is local, and
// INPUT covers it).
func Resolve(ctx context.Context, r *net.Resolver, hosts []string) ([]netip.Addr, error) {
	var out []netip.Addr
	add := func(a netip.Addr) {
		a = a.Unmap()
		if a.Is4() && !a.IsUnspecified() && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	for _, h := range hosts {
		if a, err := netip.ParseAddr(h); err == nil {
			add(a)
			continue
		}
		addrs, err := r.LookupNetIP(ctx, "ip4", h)
		if err != nil {
			return nil, fmt.Errorf("resolve manager host %s: %w", h, err)
		}
		for _, a := range addrs {
			add(a)
		}
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out, nil
}
