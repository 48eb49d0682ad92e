package netguard_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/network"

	"baigo.dev/bai/agent/netguard"
	"baigo.dev/bai/common/errdefs"
)

// fakeNetworks stands in for the engine's network API.
type fakeNetworks struct {
	nets    map[string]network.Inspect
	created []network.CreateOptions
}

func (f *fakeNetworks) NetworkInspect(_ context.Context, name string, _ network.InspectOptions) (network.Inspect, error) {
	n, ok := f.nets[name]
	if !ok {
		return network.Inspect{}, cerrdefs.ErrNotFound
	}
	return n, nil
}

func (f *fakeNetworks) NetworkCreate(_ context.Context, name string, o network.CreateOptions) (network.CreateResponse, error) {
	f.created = append(f.created, o)
	f.nets[name] = network.Inspect{Name: name, Driver: o.Driver, Options: o.Options, EnableIPv6: o.EnableIPv6 != nil && *o.EnableIPv6,
		IPAM: network.IPAM{Config: []network.IPAMConfig{{Subnet: "172.30.0.0/16", Gateway: "172.30.0.1"}}}}
	return network.CreateResponse{ID: "n1"}, nil
}

func TestEnsureNetwork(t *testing.T) {
	t.Parallel()
	good := map[string]string{"com.docker.network.bridge.enable_icc": "false", "com.docker.network.bridge.name": "bai-br0"}
	tests := []struct {
		name     string
		existing *network.Inspect
		wantErr  string
	}{
		{"made when missing", nil, ""},
		{"an existing good one is kept", &network.Inspect{Driver: "bridge", Options: good}, ""},
		{"icc on", &network.Inspect{Driver: "bridge", Options: map[string]string{"com.docker.network.bridge.name": "bai-br0"}}, "talk to each other"},
		{"other bridge", &network.Inspect{Driver: "bridge", Options: map[string]string{"com.docker.network.bridge.enable_icc": "false", "com.docker.network.bridge.name": "br-x"}}, `its bridge is "br-x"`},
		{"ipv6", &network.Inspect{Driver: "bridge", Options: good, EnableIPv6: true}, "has IPv6"},
		{"internal", &network.Inspect{Driver: "bridge", Options: good, Internal: true}, "internal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeNetworks{nets: map[string]network.Inspect{}}
			if tt.existing != nil {
				n := *tt.existing
				n.IPAM.Config = []network.IPAMConfig{{Gateway: "172.30.0.1"}}
				f.nets["bai-sessions"] = n
			}
			gw, err := netguard.EnsureNetwork(context.Background(), f, "bai-sessions", "bai-br0")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "docker network rm bai-sessions") {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || gw != "172.30.0.1" {
				t.Fatalf("gateway %q, err %v", gw, err)
			}
			if tt.existing != nil && len(f.created) > 0 {
				t.Fatal("made a network that existed")
			}
			if tt.existing == nil {
				o := f.created[0]
				if o.Driver != "bridge" || o.Options["com.docker.network.bridge.enable_icc"] != "false" ||
					o.Options["com.docker.network.bridge.name"] != "bai-br0" || o.EnableIPv6 == nil || *o.EnableIPv6 {
					t.Fatalf("created with %+v", o)
				}
			}
		})
	}
}

func TestReadyRefusesWithReason(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := netguard.Config{Network: "bai-sessions", Bridge: "bai-br0", ManagerURLs: "http://203.0.113.7:8081"}
	g := netguard.NewWith(cfg, &fakeNetworks{nets: map[string]network.Inspect{}}, nil,
		func() error { return errors.New("the agent does not run as root") }, log)
	err := g.Ready(context.Background())
	if err == nil || !errors.Is(err, errdefs.ErrUnavailable) ||
		!strings.HasPrefix(err.Error(), "this agent cannot isolate networked sessions: the agent does not run as root; ask the operator") {
		t.Fatalf("err = %v", err)
	}

	// With a working host, Ready makes the network and the rules,
	// manager address included.
	f := &fakeIptables{chains: map[string][]string{"INPUT": nil, "DOCKER-USER": {"-j RETURN"}}}
	g = netguard.NewWith(cfg, &fakeNetworks{nets: map[string]network.Inspect{}}, f.run, func() error { return nil }, log)
	if err := g.Ready(context.Background()); err != nil {
		t.Fatal(err)
	}
	if g.Gateway() != "172.30.0.1" || !strings.Contains(strings.Join(f.chains["DOCKER-USER"], "\n"), "-d 203.0.113.7/32 -j DROP") {
		t.Fatalf("gateway %q, DOCKER-USER:\n%s", g.Gateway(), strings.Join(f.chains["DOCKER-USER"], "\n"))
	}
}
