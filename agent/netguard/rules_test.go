package netguard_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"baigo.dev/bai/agent/netguard"
)

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func TestRules(t *testing.T) {
	t.Parallel()
	rules := netguard.Rules(netguard.Params{
		Bridge:      "bai-br0",
		Managers:    addrs("203.0.113.7"),
		Nameservers: addrs("10.255.255.53"),
	})
	tag := " -m comment --comment bai-session-isolation"
	want := []string{
		"-A INPUT -i bai-br0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT" + tag,
		"-A INPUT -i bai-br0 -d 10.255.255.53/32 -p udp -m udp --dport 53 -j ACCEPT" + tag,
		"-A INPUT -i bai-br0 -d 10.255.255.53/32 -p tcp -m tcp --dport 53 -j ACCEPT" + tag,
		"-A DOCKER-USER -i bai-br0 -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN" + tag,
		"-A DOCKER-USER -i bai-br0 -d 10.255.255.53/32 -p udp -m udp --dport 53 -j RETURN" + tag,
		"-A DOCKER-USER -i bai-br0 -d 10.255.255.53/32 -p tcp -m tcp --dport 53 -j RETURN" + tag,
		"-A INPUT -i bai-br0 -j DROP" + tag,
		"-A DOCKER-USER -i bai-br0 -d 10.0.0.0/8 -j DROP" + tag,
		"-A DOCKER-USER -i bai-br0 -d 172.16.0.0/12 -j DROP" + tag,
		"-A DOCKER-USER -i bai-br0 -d 192.168.0.0/16 -j DROP" + tag,
		"-A DOCKER-USER -i bai-br0 -d 169.254.0.0/16 -j DROP" + tag,
		"-A DOCKER-USER -i bai-br0 -d 100.64.0.0/10 -j DROP" + tag,
		"-A DOCKER-USER -i bai-br0 -d 127.0.0.0/8 -j DROP" + tag,
		"-A DOCKER-USER -i bai-br0 -d 203.0.113.7/32 -j DROP" + tag,
	}
	var got []string
	for _, r := range rules {
		got = append(got, r.String())
		if r.Allow == strings.Contains(r.String(), "DROP") {
			t.Errorf("Allow=%v for %s", r.Allow, r)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("rules:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// fakeIptables keeps chains as lists of rule specs and answers like
// iptables: -C and -D of a missing rule exit with 1.
type fakeIptables struct {
	chains map[string][]string
	calls  []string
	fail   string // a command prefix that fails with exit code 2
}

type exitErr int

func (e exitErr) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
func (e exitErr) ExitCode() int { return int(e) }

func (f *fakeIptables) run(_ context.Context, args ...string) error {
	line := strings.Join(args, " ")
	f.calls = append(f.calls, line)
	if f.fail != "" && strings.HasPrefix(line, f.fail) {
		return exitErr(2)
	}
	op, chain := args[0], args[1]
	rules, ok := f.chains[chain]
	if !ok {
		return exitErr(1)
	}
	switch op {
	case "-C", "-D":
		spec := strings.Join(args[2:], " ")
		i := slices.Index(rules, spec)
		if i < 0 {
			return exitErr(1)
		}
		if op == "-D" {
			f.chains[chain] = slices.Delete(rules, i, i+1)
		}
	case "-I":
		if args[2] != "1" {
			return exitErr(2)
		}
		f.chains[chain] = slices.Insert(rules, 0, strings.Join(args[3:], " "))
	default:
		return exitErr(2)
	}
	return nil
}

func specs(rules []netguard.Rule, chain string) []string {
	var out []string
	for _, r := range rules {
		if r.Chain == chain {
			out = append(out, strings.Join(r.Spec, " "))
		}
	}
	return out
}

func TestApply(t *testing.T) {
	t.Parallel()
	p := netguard.Params{Bridge: "bai-br0", Managers: addrs("203.0.113.7"), Nameservers: addrs("10.0.0.2")}
	rules := netguard.Rules(p)
	f := &fakeIptables{chains: map[string][]string{
		"INPUT":       {"-i lo -j ACCEPT"},
		"DOCKER-USER": {"-j RETURN"},
	}}
	ctx := context.Background()
	if n, err := netguard.Apply(ctx, f.run, rules); err != nil || n != len(rules) {
		t.Fatalf("added %d of %d rules, err %v", n, len(rules), err)
	}
	// Ours first, in order (allows, then drops), then what was there.
	for chain, rest := range map[string]string{"INPUT": "-i lo -j ACCEPT", "DOCKER-USER": "-j RETURN"} {
		want := append(specs(rules, chain), rest)
		if got := f.chains[chain]; !sameSet(got[:len(got)-1], want[:len(want)-1]) || got[len(got)-1] != rest || !allowsFirst(got) {
			t.Errorf("%s after the first Apply:\n%s", chain, strings.Join(got, "\n"))
		}
	}

	t.Run("again: checks only", func(t *testing.T) {
		before := map[string][]string{"INPUT": slices.Clone(f.chains["INPUT"]), "DOCKER-USER": slices.Clone(f.chains["DOCKER-USER"])}
		f.calls = nil
		if n, err := netguard.Apply(ctx, f.run, rules); err != nil || n != 0 {
			t.Fatalf("added %d, err %v", n, err)
		}
		for _, c := range f.calls {
			if !strings.HasPrefix(c, "-C ") {
				t.Errorf("second Apply changed something: %s", c)
			}
		}
		for chain, rs := range before {
			if !slices.Equal(rs, f.chains[chain]) {
				t.Errorf("%s changed:\n%s", chain, strings.Join(f.chains[chain], "\n"))
			}
		}
	})

	t.Run("a new manager address goes behind the allows", func(t *testing.T) {
		p2 := p
		p2.Managers = addrs("203.0.113.7", "198.51.100.9")
		if n, err := netguard.Apply(ctx, f.run, netguard.Rules(p2)); err != nil || n != 1 {
			t.Fatalf("added %d, err %v", n, err)
		}
		got := f.chains["DOCKER-USER"]
		if !allowsFirst(got) || !slices.Contains(got, "-i bai-br0 -d 198.51.100.9/32 -j DROP -m comment --comment bai-session-isolation") {
			t.Errorf("DOCKER-USER:\n%s", strings.Join(got, "\n"))
		}
		if n := len(got); n != len(specs(netguard.Rules(p2), "DOCKER-USER"))+1 {
			t.Errorf("%d rules, duplicates?\n%s", n, strings.Join(got, "\n"))
		}
	})

	t.Run("a deleted drop comes back", func(t *testing.T) {
		drop := "-i bai-br0 -j DROP -m comment --comment bai-session-isolation"
		f.chains["INPUT"] = slices.DeleteFunc(f.chains["INPUT"], func(s string) bool { return s == drop })
		if n, err := netguard.Apply(ctx, f.run, rules); err != nil || n != 1 {
			t.Fatalf("added %d, err %v", n, err)
		}
		if got := f.chains["INPUT"]; !slices.Contains(got, drop) || !allowsFirst(got) {
			t.Errorf("INPUT:\n%s", strings.Join(got, "\n"))
		}
	})

	t.Run("errors other than a missing rule stop it", func(t *testing.T) {
		bad := &fakeIptables{chains: map[string][]string{"INPUT": nil, "DOCKER-USER": nil}, fail: "-C INPUT"}
		_, err := netguard.Apply(ctx, bad.run, rules)
		var ec netguard.ExitCoder
		if err == nil || !errors.As(err, &ec) || ec.ExitCode() != 2 {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("no DOCKER-USER chain", func(t *testing.T) {
		bad := &fakeIptables{chains: map[string][]string{"INPUT": nil}}
		if _, err := netguard.Apply(ctx, bad.run, rules); err == nil || !strings.Contains(err.Error(), "DOCKER-USER") {
			t.Fatalf("err = %v", err)
		}
	})
}

// allowsFirst reports whether no ACCEPT/RETURN rule of ours follows a DROP.
func allowsFirst(chain []string) bool {
	seenDrop := false
	for _, r := range chain {
		if !strings.Contains(r, netguard.Comment) {
			continue
		}
		if strings.Contains(r, "-j DROP") {
			seenDrop = true
		} else if seenDrop {
			return false
		}
	}
	return true
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestNameservers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, conf string
		want       []string
	}{
		{"private", "nameserver 10.255.255.53\n", []string{"10.255.255.53"}},
		{"loopback and ipv6 skipped", "# x\nnameserver 127.0.0.53\nnameserver ::1\nnameserver 2001:db8::1\noptions edns0\n", nil},
		{"several, deduplicated", "search example\nnameserver 192.168.1.1\nnameserver 8.8.8.8\nnameserver 192.168.1.1\n", []string{"192.168.1.1", "8.8.8.8"}},
		{"garbage", "nameserver\nnameserver not-an-ip\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, a := range netguard.Nameservers([]byte(tt.conf)) {
				got = append(got, a.String())
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestManagerAddresses(t *testing.T) {
	t.Parallel()
	hosts, err := netguard.ManagerHosts("http://10.0.0.5:8081, http://10.0.0.5:8082,https://[2001:db8::1]:443,http://0.0.0.0:8081,http://localhost:1")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"10.0.0.5", "2001:db8::1", "0.0.0.0", "localhost"}; !slices.Equal(hosts, want) {
		t.Fatalf("hosts = %v, want %v", hosts, want)
	}
	got, err := netguard.Resolve(context.Background(), net.DefaultResolver, hosts)
	if err != nil {
		t.Fatal(err)
	}
	// IPv6 and 0.0.0.0 are left out; localhost resolves to 127.0.0.1.
	if s := fmt.Sprint(got); s != "[10.0.0.5 127.0.0.1]" {
		t.Fatalf("addresses = %s", s)
	}
	if _, err := netguard.ManagerHosts("http://"); err == nil {
		t.Fatal("a URL without host was accepted")
	}
}
