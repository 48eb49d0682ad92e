package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"baigo.dev/bai/agent"
	"baigo.dev/bai/agent/runtime/docker"
	"baigo.dev/bai/common/aproto"
)

const secret = "test-cluster-secret"

var buildRunner = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "bai-agent-test-")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "bai-runner")
	cmd := exec.Command("go", "build", "-o", out, "baigo.dev/bai/cmd/bai-runner")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build runner: %v\n%s", err, b)
	}
	// Docker kernels run user code under bai-jail from the kernel library
	// directory, which sits beside the runner here.
	cmd = exec.Command("go", "build", "-o", filepath.Join(dir, "kernel-lib", "bai-jail"), "baigo.dev/bai/cmd/bai-jail")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build jail: %v\n%s", err, b)
	}
	return out, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if p, err := buildRunner(); err == nil {
		_ = os.RemoveAll(filepath.Dir(p))
	}
	os.Exit(code)
}

// fakeManager stands in for the manager's agent-facing routes.
type fakeManager struct {
	*httptest.Server
	mu         sync.Mutex
	heartbeats []aproto.Heartbeat
	events     []aproto.KernelEvent
	orphans    []string
	refused    int
}

func newFakeManager(t *testing.T) *fakeManager {
	fm := &fakeManager{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /agent/heartbeat", func(w http.ResponseWriter, r *http.Request) {
		if !fm.authorized(w, r) {
			return
		}
		var hb aproto.Heartbeat
		if err := json.NewDecoder(r.Body).Decode(&hb); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fm.mu.Lock()
		fm.heartbeats = append(fm.heartbeats, hb)
		reply := aproto.HeartbeatReply{Orphans: fm.orphans}
		fm.orphans = nil
		fm.mu.Unlock()
		_ = json.NewEncoder(w).Encode(reply)
	})
	mux.HandleFunc("POST /agent/events", func(w http.ResponseWriter, r *http.Request) {
		if !fm.authorized(w, r) {
			return
		}
		var ev aproto.KernelEvent
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fm.mu.Lock()
		fm.events = append(fm.events, ev)
		fm.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	fm.Server = httptest.NewServer(mux)
	t.Cleanup(fm.Close)
	return fm
}

func (fm *fakeManager) authorized(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get(aproto.HeaderClusterSecret) != secret {
		fm.mu.Lock()
		fm.refused++
		fm.mu.Unlock()
		http.Error(w, "bad secret", http.StatusUnauthorized)
		return false
	}
	return true
}

func (fm *fakeManager) lastHeartbeat() (aproto.Heartbeat, int) {
	fm.mu.Lock()
	defer fm.mu.Unlock()
	if len(fm.heartbeats) == 0 {
		return aproto.Heartbeat{}, 0
	}
	return fm.heartbeats[len(fm.heartbeats)-1], len(fm.heartbeats)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func quietLog() *slog.Logger {
	if os.Getenv("BAI_TEST_VERBOSE") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startAgent runs an agent until the test ends (or stop is called).
func startAgent(t *testing.T, cfg agent.Config) (a *agent.Agent, stop func()) {
	t.Helper()
	a, err := agent.New(cfg, quietLog())
	if err != nil {
		t.Fatalf("new agent: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("agent run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return a, stop
}

// call sends a control request and decodes the answer into out.
func call(t *testing.T, a *agent.Agent, method, path, sec string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+a.Addr()+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if sec != "" {
		req.Header.Set(aproto.HeaderClusterSecret, sec)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			t.Errorf("%s %s: error content type %q", method, path, ct)
		}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
	return resp.StatusCode
}

func baseConfig(t *testing.T, fm *fakeManager, runtime, dataDir string) agent.Config {
	runner, err := buildRunner()
	if err != nil {
		t.Fatal(err)
	}
	return agent.Config{
		ListenAddr:        "127.0.0.1:0",
		ManagerURL:        fm.URL,
		ClusterSecret:     secret,
		DataDir:           dataDir,
		RunnerPath:        runner,
		KernelLibDir:      filepath.Join(filepath.Dir(runner), "kernel-lib"),
		Runtime:           runtime,
		HeartbeatInterval: 100 * time.Millisecond,
	}
}

func shortTempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "ba")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func TestAgentProcess(t *testing.T) {
	fm := newFakeManager(t)
	dataDir := shortTempDir(t)
	a, _ := startAgent(t, baseConfig(t, fm, "process", dataDir))

	// The first heartbeat comes at once and describes the host.
	waitFor(t, "first heartbeat", func() bool { _, n := fm.lastHeartbeat(); return n > 0 })
	fm.mu.Lock()
	hb := fm.heartbeats[0]
	fm.mu.Unlock()
	if !hb.First || hb.AgentID != a.ID() || hb.Addr != "http://"+a.Addr() || hb.Capacity["cpu"] <= 0 || hb.Capacity["mem"] <= 0 || hb.ScalingGroup != "default" {
		t.Fatalf("first heartbeat = %+v", hb)
	}
	if len(hb.Images) != 1 || hb.Images[0].Name != "python:3.11-debian" || hb.Images[0].Labels["ai.backend.kernelspec"] != "1" {
		t.Fatalf("images = %+v", hb.Images)
	}
	if b, err := os.ReadFile(filepath.Join(dataDir, "agent-id")); err != nil || strings.TrimSpace(string(b)) != a.ID() {
		t.Fatalf("persisted id = %q, %v", b, err)
	}
	waitFor(t, "more heartbeats", func() bool { hb, n := fm.lastHeartbeat(); return n > 2 && !hb.First })

	t.Run("cluster secret", func(t *testing.T) {
		for _, sec := range []string{"", "wrong", secret + "x"} {
			var p map[string]any
			if code := call(t, a, "GET", "/v1/health", sec, nil, &p); code != http.StatusUnauthorized {
				t.Errorf("secret %q: status %d", sec, code)
			}
			if code := call(t, a, "POST", "/v1/kernels", sec, aproto.CreateKernel{KernelID: "x"}, &p); code != http.StatusUnauthorized || !strings.Contains(fmt.Sprint(p["type"]), "/probs/") {
				t.Errorf("secret %q: create status %d, body %v", sec, code, p)
			}
		}
		if code := call(t, a, "GET", "/v1/health", secret, nil, nil); code != http.StatusOK {
			t.Errorf("health: %d", code)
		}
	})

	t.Run("errors", func(t *testing.T) {
		tests := []struct {
			method, path string
			body         any
			want         int
		}{
			{"POST", "/v1/kernels/" + uuid.NewString() + "/execute", aproto.Execute{Mode: "query", Code: "1"}, http.StatusNotFound},
			{"DELETE", "/v1/kernels/" + uuid.NewString(), nil, http.StatusNotFound},
			{"GET", "/v1/kernels/" + uuid.NewString() + "/logs", nil, http.StatusNotFound},
			{"POST", "/v1/kernels", aproto.CreateKernel{KernelID: "../x", Image: "bai/python:3.11-debian"}, http.StatusBadRequest},
			{"POST", "/v1/kernels", aproto.CreateKernel{KernelID: uuid.NewString(), Image: "bai/nope:1"}, http.StatusNotFound},
		}
		for _, tt := range tests {
			var p map[string]any
			if code := call(t, a, tt.method, tt.path, secret, tt.body, &p); code != tt.want {
				t.Errorf("%s %s: status %d, want %d (%v)", tt.method, tt.path, code, tt.want, p)
			}
		}
	})

	create := func(t *testing.T) string {
		id := uuid.NewString()
		var info aproto.KernelInfo
		if code := call(t, a, "POST", "/v1/kernels", secret, aproto.CreateKernel{
			KernelID: id, SessionID: uuid.NewString(), Image: "bai/python:3.11-debian",
			RuntimeType: "python", RuntimePath: "/usr/bin/python3",
			Resources: map[string]float64{"cpu": 1, "mem": 256 << 20},
		}, &info); code != http.StatusOK || info.KernelID != id || info.ContainerID == "" {
			t.Fatalf("create: %d %+v", code, info)
		}
		return id
	}

	id := create(t)
	t.Run("execute over http", func(t *testing.T) {
		var durs []time.Duration
		for i := 0; i < 200; i++ {
			var res aproto.ExecuteResult
			start := time.Now()
			code := call(t, a, "POST", "/v1/kernels/"+id+"/execute", secret, aproto.Execute{RunID: fmt.Sprint("r", i), Mode: "query", Code: "print(1)"}, &res)
			durs = append(durs, time.Since(start))
			if code != http.StatusOK || res.Status != "finished" || len(res.Console) != 1 || res.Console[0][1] != "1\n" {
				t.Fatalf("execute: %d %+v", code, res)
			}
		}
		slices.Sort(durs)
		t.Logf("process runtime: execute print(1) over the control API: p50 %s, p90 %s", durs[len(durs)/2], durs[len(durs)*9/10])
		var cr aproto.CompleteResult
		if code := call(t, a, "POST", "/v1/kernels/"+id+"/complete", secret, aproto.Complete{Code: "pri"}, &cr); code != http.StatusOK || cr.Result == nil {
			t.Errorf("complete: %d %+v", code, cr)
		}
		if code := call(t, a, "POST", "/v1/kernels/"+id+"/interrupt", secret, nil, nil); code != http.StatusNoContent {
			t.Errorf("interrupt: %d", code)
		}
		var logs aproto.Logs
		if code := call(t, a, "GET", "/v1/kernels/"+id+"/logs", secret, nil, &logs); code != http.StatusOK {
			t.Errorf("logs: %d", code)
		}
		var info aproto.KernelInfo
		if code := call(t, a, "POST", "/v1/kernels/"+id+"/restart", secret, nil, &info); code != http.StatusOK || info.KernelID != id {
			t.Errorf("restart: %d %+v", code, info)
		}
	})

	t.Run("heartbeat lists kernels", func(t *testing.T) {
		waitFor(t, "kernel in heartbeat", func() bool {
			hb, _ := fm.lastHeartbeat()
			return len(hb.Kernels) == 1 && hb.Kernels[0].KernelID == id && hb.Kernels[0].Running
		})
	})

	t.Run("death is pushed", func(t *testing.T) {
		var res aproto.ExecuteResult
		call(t, a, "POST", "/v1/kernels/"+id+"/execute", secret, aproto.Execute{Mode: "query", Code: "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)", FlushTimeout: 100 * time.Millisecond}, &res)
		waitFor(t, "kernel event", func() bool {
			fm.mu.Lock()
			defer fm.mu.Unlock()
			return len(fm.events) == 1 && fm.events[0].KernelID == id && fm.events[0].Kind == aproto.EventKernelDied && fm.events[0].AgentID == a.ID()
		})
		var dr aproto.DestroyResult
		if code := call(t, a, "DELETE", "/v1/kernels/"+id, secret, nil, &dr); code != http.StatusOK || dr.Stats == nil {
			t.Fatalf("destroy: %d %+v", code, dr)
		}
	})

	t.Run("orphans are destroyed", func(t *testing.T) {
		orphan := create(t)
		fm.mu.Lock()
		fm.orphans = []string{orphan}
		fm.mu.Unlock()
		// The container goes first and the kernel's directory right after
		// it, so wait for both.
		waitFor(t, "orphan and its dir gone", func() bool {
			var p map[string]any
			if call(t, a, "GET", "/v1/kernels/"+orphan+"/logs", secret, nil, &p) != http.StatusNotFound {
				return false
			}
			_, err := os.Stat(filepath.Join(dataDir, "kernels", orphan))
			return os.IsNotExist(err)
		})
	})

	fm.mu.Lock()
	refused := fm.refused
	fm.mu.Unlock()
	if refused != 0 {
		t.Errorf("manager refused %d agent requests", refused)
	}
}

func TestAgentManagerDown(t *testing.T) {
	fm := newFakeManager(t)
	cfg := baseConfig(t, fm, "process", shortTempDir(t))
	fm.Close() // nobody listens there any more
	a, stop := startAgent(t, cfg)
	if code := call(t, a, "GET", "/v1/health", secret, nil, nil); code != http.StatusOK {
		t.Fatalf("health while the manager is down: %d", code)
	}
	stop()
}

func TestAgentDockerAdoption(t *testing.T) {
	if _, err := docker.Connect(context.Background()); err != nil {
		t.Skipf("docker engine unreachable: %v", err)
	}
	if err := exec.Command("docker", "image", "inspect", "bai/python:3.11-debian").Run(); err != nil {
		t.Skip("image bai/python:3.11-debian missing (build it with agent/images/build.sh)")
	}
	fm := newFakeManager(t)
	dataDir := shortTempDir(t)
	cfg := baseConfig(t, fm, "docker", dataDir)
	a, stop := startAgent(t, cfg)
	id := uuid.NewString()
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", "bai-"+id[:12]).Run() })
	if code := call(t, a, "POST", "/v1/kernels", secret, aproto.CreateKernel{
		KernelID: id, SessionID: uuid.NewString(), Image: "bai/python:3.11-debian",
		RuntimeType: "python", RuntimePath: "/usr/bin/python3",
		Resources: map[string]float64{"cpu": 1, "mem": 256 << 20},
	}, nil); code != http.StatusOK {
		t.Fatalf("create: %d", code)
	}
	var res aproto.ExecuteResult
	call(t, a, "POST", "/v1/kernels/"+id+"/execute", secret, aproto.Execute{Mode: "query", Code: "w = 'kept'"}, &res)
	firstID := a.ID()
	stop()

	// A new agent over the same data dir adopts the running kernel.
	fm.mu.Lock()
	fm.heartbeats = nil
	fm.mu.Unlock()
	b, _ := startAgent(t, cfg)
	if b.ID() != firstID {
		t.Fatalf("agent id changed: %s → %s", firstID, b.ID())
	}
	waitFor(t, "first heartbeat of the new agent", func() bool { _, n := fm.lastHeartbeat(); return n > 0 })
	fm.mu.Lock()
	hb := fm.heartbeats[0]
	fm.mu.Unlock()
	if !hb.First || len(hb.Kernels) != 1 || hb.Kernels[0].KernelID != id || !hb.Kernels[0].Running {
		t.Fatalf("first heartbeat = %+v", hb)
	}
	if code := call(t, b, "POST", "/v1/kernels/"+id+"/execute", secret, aproto.Execute{Mode: "query", Code: "print(w)"}, &res); code != http.StatusOK || len(res.Console) != 1 || res.Console[0][1] != "kept\n" {
		t.Fatalf("execute after adoption: %d %+v", code, res)
	}
	// The adopted kernel still counts as occupying its slots, and its
	// statistics come from the container's cgroup and network namespace.
	if st := hb.Kernels[0].Stats; st["mem"] == nil || st["cpu_used"] == nil || st["net_rx_bytes"] == nil || st["io_write_bytes"] == nil {
		t.Errorf("stats of the adopted kernel = %v", st)
	}
	mreq, _ := http.NewRequest("GET", "http://"+b.Addr()+"/metrics", nil)
	mreq.Header.Set(aproto.HeaderClusterSecret, secret)
	resp, err := http.DefaultClient.Do(mreq)
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if v := metricValue(string(mb), `bai_agent_occupied{slot="mem"}`); v != 256<<20 {
		t.Errorf("occupied mem after adoption = %v", v)
	}
	var dr aproto.DestroyResult
	if code := call(t, b, "DELETE", "/v1/kernels/"+id, secret, nil, &dr); code != http.StatusOK {
		t.Fatalf("destroy: %d", code)
	}
	t.Logf("last stats: %v", dr.Stats)
	if out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=ai.backend.kernel-id="+id).Output(); len(bytes.TrimSpace(out)) != 0 {
		t.Fatalf("container left: %s", out)
	}
}
