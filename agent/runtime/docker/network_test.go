package docker_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"baigo.dev/bai/agent/runtime"
	"baigo.dev/bai/agent/runtime/docker"
	"baigo.dev/bai/common/errdefs"
)

// TestCreateNetwork: no network by default; a networked container joins
// the session network with its sysctls, and is not made at all while the
// network is not isolated (never Docker's default bridge).
func TestCreateNetwork(t *testing.T) {
	t.Parallel()
	refused := errors.New("this agent cannot isolate networked sessions: no iptables")
	sysctls := map[string]string{"net.ipv6.conf.all.disable_ipv6": "1"}
	tests := []struct {
		name     string
		net      *docker.SessionNetwork
		network  bool
		wantMode string
		wantErr  string
	}{
		{"no network", nil, false, "none", ""},
		{"no network, session network set", &docker.SessionNetwork{Name: "bai-sessions", Ready: func(context.Context) error { return refused }}, false, "none", ""},
		{"networked", &docker.SessionNetwork{Name: "bai-sessions", Ready: func(context.Context) error { return nil }, Sysctls: sysctls}, true, "bai-sessions", ""},
		{"networked, not isolated", &docker.SessionNetwork{Name: "bai-sessions", Ready: func(context.Context) error { return refused }}, true, "", "no iptables"},
		{"networked, no session network", nil, true, "", "cannot isolate networked sessions"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &createRecorder{}
			rt := docker.New(rec, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if tt.net != nil {
				rt.SetSessionNetwork(*tt.net)
			}
			_, err := rt.Create(t.Context(), runtime.Spec{Name: "bai-net", Image: "bai/python:3.11-debian", Network: tt.network})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || rec.hc != nil {
					t.Fatalf("err = %v, container made: %v", err, rec.hc != nil)
				}
				if tt.net == nil && !errors.Is(err, errdefs.ErrUnavailable) {
					t.Fatalf("err = %v, want ErrUnavailable", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := string(rec.hc.NetworkMode); got != tt.wantMode {
				t.Fatalf("network mode %q, want %q", got, tt.wantMode)
			}
			if tt.network && rec.hc.Sysctls["net.ipv6.conf.all.disable_ipv6"] != "1" {
				t.Fatalf("sysctls = %v", rec.hc.Sysctls)
			}
			if !tt.network && len(rec.hc.Sysctls) != 0 {
				t.Fatalf("sysctls without network: %v", rec.hc.Sysctls)
			}
		})
	}
}
