package cli_test

import (
	"context"
	"strings"
	"testing"

	"baigo.dev/bai/clients/go/clienttest"
	"baigo.dev/bai/common/apitypes"
)

func TestSessionInfoStats(t *testing.T) {
	t.Parallel()
	srv := clienttest.New(t)
	srv.AddSession(apitypes.SessionInfo{SessionID: "00000000-0000-4000-8000-0000000000a1", SessionName: "busy", Status: "RUNNING",
		LastStat: map[string]any{"cpu_used": 12345.6, "mem": 67108864.0, "mem_max": 100663296.0,
			"net_rx_bytes": 0.0, "net_tx_bytes": 1536.0, "io_read_bytes": 512.0, "io_write_bytes": 4194304.0, "pids": 3.0}})
	srv.AddSession(apitypes.SessionInfo{SessionID: "00000000-0000-4000-8000-0000000000a2", SessionName: "local", Status: "RUNNING",
		LastStat: map[string]any{"cpu_used": 850.0, "mem": 1572864.0, "io_read_bytes": 0.0, "io_write_bytes": 0.0}})
	srv.AddSession(apitypes.SessionInfo{SessionID: "00000000-0000-4000-8000-0000000000a3", SessionName: "fresh", Status: "PENDING"})

	tests := []struct {
		name    string
		want    []string
		notWant []string
	}{
		{"busy", []string{"cpu time:", "12.35s", "memory:", "64.0 MiB (peak 96.0 MiB)", "network:", "rx 0 B, tx 1.5 KiB",
			"disk io:", "read 512 B, write 4.0 MiB"}, nil},
		{"local", []string{"cpu time:", "850ms", "memory:", "1.5 MiB", "disk io:", "read 0 B, write 0 B"}, []string{"network:", "peak"}},
		{"fresh", nil, []string{"cpu time:", "memory:", "network:", "disk io:"}},
	}
	for _, tt := range tests {
		r := bai(context.Background(), srv.Env(), "", "session", "info", tt.name)
		if r.code != 0 {
			t.Fatalf("%s: exit code %d (stderr %q)", tt.name, r.code, r.stderr)
		}
		for _, w := range tt.want {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("%s: stdout %q lacks %q", tt.name, r.stdout, w)
			}
		}
		for _, w := range tt.notWant {
			if strings.Contains(r.stdout, w) {
				t.Errorf("%s: stdout %q has %q", tt.name, r.stdout, w)
			}
		}
	}
}
