package runner

import (
	"encoding/json"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"baigo.dev/bai/common/kproto"
)

// TestServiceLifecycle drives start-service, get-apps and shutdown-service
// on the runner with the terminal app (no container needed).
func TestServiceLifecycle(t *testing.T) {
	t.Parallel()
	r := &runner{cfg: Config{WorkDir: t.TempDir()}, log: slog.New(slog.DiscardHandler)}
	t.Cleanup(r.closeServices)
	port := freePort(t)
	req := func(app string, port int) []byte {
		b, _ := json.Marshal(kproto.StartService{App: app, Protocol: "http", Port: port})
		return b
	}
	listening := func() bool {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	}

	if res := r.startService(req("terminal", port)); res.Status != "started" || res.Port != port {
		t.Fatalf("start: %+v", res)
	}
	if !listening() {
		t.Fatal("terminal not listening after start-service")
	}
	if res := r.startService(req("terminal", port)); res.Status != "started" {
		t.Fatalf("start again: %+v", res)
	}
	if got := r.runningApps().Running; !slices.Equal(got, []string{"terminal"}) {
		t.Errorf("get-apps = %v", got)
	}
	if res := r.shutdownService(req("terminal", 0)); res.Status != "stopped" {
		t.Fatalf("shutdown: %+v", res)
	}
	if listening() {
		t.Error("terminal still listening after shutdown-service")
	}
	if got := r.runningApps().Running; len(got) != 0 {
		t.Errorf("get-apps after shutdown = %v", got)
	}
	// Idempotent, and an unknown app or a bad payload fails clearly.
	if res := r.shutdownService(req("terminal", 0)); res.Status != "stopped" {
		t.Errorf("second shutdown: %+v", res)
	}
	if res := r.shutdownService(req("nope", 0)); res.Status != "failed" || res.Error == "" {
		t.Errorf("unknown app: %+v", res)
	}
	if res := r.shutdownService([]byte("{")); res.Status != "failed" {
		t.Errorf("bad payload: %+v", res)
	}
	// It can be started again after a shutdown.
	if res := r.startService(req("terminal", port)); res.Status != "started" || !listening() {
		t.Fatalf("restart: %+v", res)
	}
}

// freePort returns a loopback TCP port that was free a moment ago (the
// apps under test listen on the port they are given).
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
