package agent_test

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"baigo.dev/bai/common/aproto"
)

// metricValue returns the sample of one series of a Prometheus text answer
// (labels as the text format sorts them), or -1 when it is absent.
func metricValue(body, series string) float64 {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			if v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64); err == nil {
				return v
			}
		}
	}
	return -1
}

func TestAgentMetrics(t *testing.T) {
	fm := newFakeManager(t)
	cfg := baseConfig(t, fm, "process", shortTempDir(t))
	mport, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	cfg.MetricsListen = mport
	a, _ := startAgent(t, cfg)

	// The control port serves the metrics only with the cluster secret,
	// like everything there.
	if code := call(t, a, "GET", "/metrics", "", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("GET /metrics on the control port without the secret = %d, want 401", code)
	}
	if code := call(t, a, "GET", "/metrics", secret, nil, nil); code != http.StatusOK {
		t.Errorf("GET /metrics on the control port with the secret = %d", code)
	}
	// The separate metrics listener serves them to anyone (Prometheus),
	// and nothing else.
	scrape := func(method string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+mport+"/metrics", nil)
		resp, err := http.DefaultClient.Do(req) // no cluster secret
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := scrape("GET")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics = %d: %s", code, body)
	}
	if v := metricValue(body, `bai_agent_capacity{slot="cpu"}`); v <= 0 {
		t.Errorf("cpu capacity = %v", v)
	}
	if v := metricValue(body, `bai_agent_occupied{slot="cpu"}`); v != 0 {
		t.Errorf("cpu occupied without kernels = %v", v)
	}
	if v := metricValue(body, `bai_agent_containers`); v != 0 {
		t.Errorf("containers = %v", v)
	}
	if code, _ := scrape("POST"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics on the metrics listener = %d, want 405", code)
	}
	if resp, err := http.Get("http://" + mport + "/v1/health"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("control route on the metrics listener = %d, want 404", resp.StatusCode)
		}
	}

	id, sessionID := uuid.NewString(), uuid.NewString()
	var info aproto.KernelInfo
	if code := call(t, a, "POST", "/v1/kernels", secret, aproto.CreateKernel{
		KernelID: id, SessionID: sessionID, SessionName: "metrics-secret-name", OwnerAccessKey: "AKIAMETRICSOWNER",
		Image: "bai/python:3.11-debian", RuntimeType: "python", RuntimePath: "/usr/bin/python3",
		Resources: map[string]float64{"cpu": 1, "mem": 256 << 20},
	}, &info); code != http.StatusOK {
		t.Fatalf("create: %d", code)
	}
	t.Cleanup(func() { call(t, a, "DELETE", "/v1/kernels/"+id, secret, nil, nil) })

	_, body = scrape("GET")
	for _, c := range []struct {
		series string
		want   float64
	}{
		{`bai_agent_occupied{slot="cpu"}`, 1},
		{`bai_agent_occupied{slot="mem"}`, 256 << 20},
		{`bai_agent_containers`, 1},
	} {
		if got := metricValue(body, c.series); got != c.want {
			t.Errorf("%s = %v, want %v", c.series, got, c.want)
		}
	}
	if v := metricValue(body, `bai_agent_kernel_memory_bytes{kernel_id="`+id+`"}`); v <= 0 {
		t.Errorf("kernel memory = %v\n%s", v, body)
	}
	if v := metricValue(body, `bai_agent_kernel_cpu_seconds_total{kernel_id="`+id+`"}`); v < 0 {
		t.Errorf("kernel cpu = %v", v)
	}
	for _, leak := range []string{sessionID, "metrics-secret-name", "AKIAMETRICSOWNER", secret} {
		if strings.Contains(body, leak) {
			t.Errorf("metrics carry %q", leak)
		}
	}

	// The heartbeats carry the same statistics for the manager.
	waitFor(t, "a heartbeat with the kernel's stats", func() bool {
		hb, _ := fm.lastHeartbeat()
		for _, k := range hb.Kernels {
			if k.KernelID == id && k.Stats["mem"] != nil && k.Stats["cpu_used"] != nil {
				return true
			}
		}
		return false
	})
}

// freePort returns a free loopback address.
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
