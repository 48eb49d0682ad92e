package kernel_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"baigo.dev/bai/agent/kernel"
	"baigo.dev/bai/agent/runtime"
	"baigo.dev/bai/agent/runtime/docker"
	"baigo.dev/bai/agent/runtime/process"
	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
)

const dockerImage = "bai/python:3.11-debian"

var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "bai-kernel-test-")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "bai-runner")
	cmd := exec.Command("go", "build", "-o", out, "baigo.dev/bai/cmd/bai-runner")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build runner: %v\n%s", err, b)
	}
	return out, nil
})

func TestMain(m *testing.M) {
	code := m.Run()
	if p, err := buildOnce(); err == nil {
		_ = os.RemoveAll(filepath.Dir(p))
	}
	os.Exit(code)
}

func runnerPath(t *testing.T) string {
	t.Helper()
	p, err := buildOnce()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func quietLog() *slog.Logger {
	if os.Getenv("BAI_TEST_VERBOSE") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// fixture is one runtime the tests run against.
type fixture struct {
	name  string
	rt    runtime.Runtime
	image string
	chown bool
	// kill ends a kernel's container from outside the agent.
	kill func(t *testing.T, containerID string)
}

func runtimes(t *testing.T) []fixture {
	var out []fixture
	prt := process.New(quietLog())
	t.Cleanup(func() { _ = prt.Close(context.Background()) })
	out = append(out, fixture{name: "process", rt: prt, image: process.ImageRef})
	if d, err := dockerRuntime(t); err != nil {
		t.Logf("skipping the docker runtime: %v", err)
	} else {
		out = append(out, d)
	}
	return out
}

func dockerRuntime(t *testing.T) (fixture, error) {
	cli, err := docker.Connect(context.Background())
	if err != nil {
		return fixture{}, fmt.Errorf("docker engine unreachable: %w", err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	if _, err := cli.ImageInspect(context.Background(), dockerImage); err != nil {
		return fixture{}, fmt.Errorf("image %s missing (build it with agent/images/build.sh): %w", dockerImage, err)
	}
	return fixture{
		name:  "docker",
		rt:    docker.New(cli, quietLog()),
		image: dockerImage,
		chown: true,
		kill: func(t *testing.T, id string) {
			if b, err := exec.Command("docker", "kill", id).CombinedOutput(); err != nil {
				t.Fatalf("docker kill: %v: %s", err, b)
			}
		},
	}, nil
}

// env is a manager under test plus what it reported.
type env struct {
	m       *kernel.Manager
	dataDir string
	agentID string
	died    chan aproto.KernelEvent
}

func newEnv(t *testing.T, f fixture, dataDir, agentID string) *env {
	t.Helper()
	return newEnvRunner(t, f, dataDir, agentID, runnerPath(t))
}

func newEnvRunner(t *testing.T, f fixture, dataDir, agentID, runner string) *env {
	t.Helper()
	return newEnvConfig(t, f, kernel.Config{
		AgentID:    agentID,
		DataDir:    dataDir,
		RunnerPath: runner,
		Chown:      f.chown,
		UID:        1000,
		GID:        1000,
		PidsLimit:  256,
	})
}

func newEnvConfig(t *testing.T, f fixture, cfg kernel.Config) *env {
	t.Helper()
	e := &env{dataDir: cfg.DataDir, agentID: cfg.AgentID, died: make(chan aproto.KernelEvent, 16)}
	e.m = kernel.New(cfg, f.rt, quietLog(), func(ev aproto.KernelEvent) { e.died <- ev })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.m.WatchEvents(ctx) }()
	t.Cleanup(func() { cancel(); <-done; e.m.Close() })
	return e
}

func (e *env) create(t *testing.T, f fixture) string {
	t.Helper()
	id := uuid.NewString()
	_, err := e.m.Create(t.Context(), aproto.CreateKernel{
		KernelID:    id,
		SessionID:   uuid.NewString(),
		Image:       f.image,
		RuntimeType: "python",
		RuntimePath: "/usr/bin/python3",
		Resources:   map[string]float64{"cpu": 1, "mem": 512 << 20},
	})
	if err != nil {
		t.Fatalf("create kernel: %v", err)
	}
	t.Cleanup(func() { _, _ = e.m.Destroy(context.Background(), id) })
	return id
}

// exec runs code to completion (following continue and clean/build steps)
// and returns the merged console text per type and the final result.
func (e *env) exec(t *testing.T, id string, req aproto.Execute) (map[string]string, aproto.ExecuteResult) {
	t.Helper()
	if req.RunID == "" {
		req.RunID = uuid.NewString()[:8]
	}
	out := map[string]string{}
	for i := 0; i < 100; i++ {
		res, err := e.m.Execute(t.Context(), id, req)
		if err != nil {
			t.Fatalf("execute %s: %v", req.Mode, err)
		}
		for _, it := range res.Console {
			if s, ok := it[1].(string); ok {
				out[it[0].(string)] += s
			}
		}
		switch res.Status {
		case kernel.StatusFinished, kernel.StatusExecTimeout, kernel.StatusWaitingInput:
			return out, res
		}
		req = aproto.Execute{RunID: req.RunID, Mode: kernel.ModeContinue, FlushTimeout: req.FlushTimeout}
	}
	t.Fatal("run never finished")
	return nil, aproto.ExecuteResult{}
}

func query(code string) aproto.Execute {
	return aproto.Execute{Mode: kernel.ModeQuery, Code: code}
}

func waitDied(t *testing.T, e *env, id string) aproto.KernelEvent {
	t.Helper()
	select {
	case ev := <-e.died:
		if ev.KernelID != id || ev.Kind != aproto.EventKernelDied || ev.AgentID != e.agentID {
			t.Fatalf("died event = %+v", ev)
		}
		return ev
	case <-time.After(15 * time.Second):
		t.Fatal("no died event within 15s")
	}
	return aproto.KernelEvent{}
}

func TestKernel(t *testing.T) {
	for _, f := range runtimes(t) {
		t.Run(f.name, func(t *testing.T) {
			e := newEnv(t, f, shortTempDir(t), "agent-"+f.name+"-"+uuid.NewString()[:6])
			id := e.create(t, f)

			t.Run("print", func(t *testing.T) {
				out, res := e.exec(t, id, query("print(1)"))
				if res.Status != kernel.StatusFinished || res.ExitCode == nil || *res.ExitCode != 0 {
					t.Fatalf("result = %+v", res)
				}
				if out["stdout"] != "1\n" {
					t.Fatalf("stdout = %q", out["stdout"])
				}
				b, _ := json.Marshal(res)
				if !strings.Contains(string(b), `"options":{}`) || !strings.Contains(string(b), `"files":[]`) {
					t.Errorf("final answer json = %s", b)
				}
			})
			t.Run("state kept and merged output", func(t *testing.T) {
				e.exec(t, id, query("x = 41"))
				res, err := e.m.Execute(t.Context(), id, aproto.Execute{RunID: "merge", Mode: kernel.ModeQuery, Code: "import sys\nfor i in range(3):\n    print(x + i, flush=True)\n_ = sys.stderr.write('oops\\n')\n"})
				if err != nil {
					t.Fatal(err)
				}
				if res.Status != kernel.StatusFinished {
					t.Fatalf("status %s", res.Status)
				}
				if len(res.Console) != 2 || res.Console[0] != [2]any{"stdout", "41\n42\n43\n"} || res.Console[1] != [2]any{"stderr", "oops\n"} {
					t.Fatalf("console = %#v", res.Console)
				}
			})
			t.Run("exception", func(t *testing.T) {
				out, res := e.exec(t, id, query("1/0"))
				if res.Status != kernel.StatusFinished || !strings.Contains(out["stderr"], "ZeroDivisionError") {
					t.Fatalf("out = %v, res = %+v", out, res)
				}
			})
			t.Run("continued and conflict", func(t *testing.T) {
				req := aproto.Execute{RunID: "slow", Mode: kernel.ModeQuery, Code: "import time\nprint('a', flush=True)\ntime.sleep(1.5)\nprint('b')", FlushTimeout: 200 * time.Millisecond}
				res, err := e.m.Execute(t.Context(), id, req)
				if err != nil || res.Status != kernel.StatusContinued {
					t.Fatalf("first answer = %+v, %v", res, err)
				}
				if _, err := e.m.Execute(t.Context(), id, query("print(2)")); !errors.Is(err, errdefs.ErrConflict) {
					t.Fatalf("concurrent query: err = %v, want conflict", err)
				}
				out, res := e.exec(t, id, aproto.Execute{RunID: "slow", Mode: kernel.ModeContinue, FlushTimeout: 200 * time.Millisecond})
				if res.Status != kernel.StatusFinished || !strings.Contains(out["stdout"], "b\n") {
					t.Fatalf("out = %v, res = %+v", out, res)
				}
			})
			t.Run("interrupt", func(t *testing.T) {
				req := aproto.Execute{RunID: "intr", Mode: kernel.ModeQuery, Code: "import time\ntime.sleep(30)", FlushTimeout: 100 * time.Millisecond}
				if res, err := e.m.Execute(t.Context(), id, req); err != nil || res.Status != kernel.StatusContinued {
					t.Fatalf("first answer = %+v, %v", res, err)
				}
				if err := e.m.Interrupt(t.Context(), id); err != nil {
					t.Fatal(err)
				}
				out, res := e.exec(t, id, aproto.Execute{RunID: "intr", Mode: kernel.ModeContinue})
				if res.Status != kernel.StatusFinished || !strings.Contains(out["stderr"], "KeyboardInterrupt") {
					t.Fatalf("out = %v, res = %+v", out, res)
				}
			})
			t.Run("input", func(t *testing.T) {
				out, res := e.exec(t, id, aproto.Execute{RunID: "in", Mode: kernel.ModeQuery, Code: "name = input('who? ')\nprint('hi', name)"})
				if res.Status != kernel.StatusWaitingInput || res.Options["is_password"] != false {
					t.Fatalf("out = %v, res = %+v", out, res)
				}
				out, res = e.exec(t, id, aproto.Execute{RunID: "in", Mode: kernel.ModeInput, Code: "bob"})
				if res.Status != kernel.StatusFinished || !strings.Contains(out["stdout"], "hi bob") {
					t.Fatalf("out = %v, res = %+v", out, res)
				}
			})
			t.Run("exec timeout", func(t *testing.T) {
				_, res := e.exec(t, id, aproto.Execute{Mode: kernel.ModeQuery, Code: "import time\ntime.sleep(30)", Options: json.RawMessage(`{"exec_timeout": 0.3}`)})
				if res.Status != kernel.StatusExecTimeout {
					t.Fatalf("res = %+v", res)
				}
				out, res := e.exec(t, id, query("print('after')"))
				if res.Status != kernel.StatusFinished || out["stdout"] != "after\n" {
					t.Fatalf("out = %v, res = %+v", out, res)
				}
			})
			t.Run("batch", func(t *testing.T) {
				tests := []struct {
					name     string
					opts     string
					statuses []string
					code     int
					stdout   string
				}{
					{"ok", `{"clean": "", "build": "echo building", "exec": "echo running"}`, []string{"clean-finished", "build-finished", "finished"}, 0, "building\nrunning\n"},
					{"build fails", `{"clean": null, "build": "echo bad; exit 3", "exec": "echo never"}`, []string{"clean-finished", "build-finished", "finished"}, 3, "bad\n"},
					{"exec fails", `{"build": "", "exec": "exit 5"}`, []string{"clean-finished", "build-finished", "finished"}, 5, ""},
				}
				for _, tt := range tests {
					t.Run(tt.name, func(t *testing.T) {
						req := aproto.Execute{RunID: "b-" + uuid.NewString()[:6], Mode: kernel.ModeBatch, Options: json.RawMessage(tt.opts)}
						var statuses []string
						stdout := ""
						var last aproto.ExecuteResult
						for len(statuses) < 10 {
							res, err := e.m.Execute(t.Context(), id, req)
							if err != nil {
								t.Fatal(err)
							}
							for _, it := range res.Console {
								if it[0] == "stdout" {
									stdout += it[1].(string)
								}
							}
							if res.Status != kernel.StatusContinued {
								statuses = append(statuses, res.Status)
							}
							last = res
							if res.Status == kernel.StatusFinished {
								break
							}
							req = aproto.Execute{RunID: req.RunID, Mode: kernel.ModeContinue}
						}
						if !slices.Equal(statuses, tt.statuses) || last.ExitCode == nil || *last.ExitCode != tt.code || stdout != tt.stdout {
							t.Fatalf("statuses %v, exit %v, stdout %q", statuses, last.ExitCode, stdout)
						}
					})
				}
			})
			t.Run("bad mode", func(t *testing.T) {
				if _, err := e.m.Execute(t.Context(), id, aproto.Execute{Mode: "nope"}); !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("err = %v", err)
				}
				if _, err := e.m.Execute(t.Context(), uuid.NewString(), query("1")); !errors.Is(err, errdefs.ErrNotFound) {
					t.Fatalf("unknown kernel: err = %v", err)
				}
			})
			t.Run("complete", func(t *testing.T) {
				if _, err := e.m.Complete(t.Context(), id, aproto.Complete{Code: "impo"}); err != nil {
					t.Fatal(err)
				}
			})
			t.Run("logs", func(t *testing.T) {
				if _, err := e.m.Logs(t.Context(), id); err != nil {
					t.Fatal(err)
				}
			})
			t.Run("restart keeps files", func(t *testing.T) {
				e.exec(t, id, query("y = 7\nopen('keep.txt', 'w').write('kept')"))
				if _, err := e.m.Restart(t.Context(), id); err != nil {
					t.Fatal(err)
				}
				out, _ := e.exec(t, id, query("print(open('keep.txt').read())\nprint(y)"))
				if !strings.Contains(out["stdout"], "kept") || !strings.Contains(out["stderr"], "NameError") {
					t.Fatalf("after restart: %v", out)
				}
				select {
				case ev := <-e.died:
					t.Fatalf("restart reported a death: %+v", ev)
				default:
				}
			})
			t.Run("states", func(t *testing.T) {
				st := e.m.States()
				if len(st) != 1 || st[0].KernelID != id || !st[0].Running {
					t.Fatalf("states = %+v", st)
				}
			})
			t.Run("destroy", func(t *testing.T) {
				res, err := e.m.Destroy(t.Context(), id)
				if err != nil || res.Stats == nil {
					t.Fatalf("destroy = %+v, %v", res, err)
				}
				if _, err := os.Stat(filepath.Join(e.dataDir, "kernels", id)); !os.IsNotExist(err) {
					t.Fatalf("kernel dir left: %v", err)
				}
				if list, _ := f.rt.List(t.Context(), map[string]string{"ai.backend.kernel-id": id}); len(list) != 0 {
					t.Fatalf("containers left: %+v", list)
				}
				if _, err := e.m.Execute(t.Context(), id, query("1")); !errors.Is(err, errdefs.ErrNotFound) {
					t.Fatalf("execute after destroy: %v", err)
				}
				select {
				case ev := <-e.died:
					t.Fatalf("destroy reported a death: %+v", ev)
				case <-time.After(300 * time.Millisecond):
				}
			})
		})
	}
}

func TestKernelDies(t *testing.T) {
	for _, f := range runtimes(t) {
		t.Run(f.name, func(t *testing.T) {
			e := newEnv(t, f, shortTempDir(t), "agent-die-"+uuid.NewString()[:6])
			t.Run("runner killed from inside", func(t *testing.T) {
				id := e.create(t, f)
				res, err := e.m.Execute(t.Context(), id, query("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nimport time\ntime.sleep(5)"))
				if err != nil {
					t.Fatal(err)
				}
				ev := waitDied(t, e, id)
				if ev.Reason == "" {
					t.Errorf("no reason: %+v", ev)
				}
				// The run in flight ends with an explanation.
				b, _ := json.Marshal(res)
				if res.Status != kernel.StatusFinished {
					out, last := e.exec(t, id, aproto.Execute{RunID: res.RunID, Mode: kernel.ModeContinue})
					b, _ = json.Marshal([]any{out, last})
				}
				if !strings.Contains(string(b), "kernel") {
					t.Errorf("run after death = %s", b)
				}
				if _, err := e.m.Execute(t.Context(), id, query("1")); !errors.Is(err, errdefs.ErrUnavailable) {
					t.Errorf("execute on dead kernel: err = %v, want unavailable", err)
				}
				st := e.m.States()
				if len(st) != 1 || st[0].Running {
					t.Errorf("states = %+v", st)
				}
				if _, err := e.m.Destroy(t.Context(), id); err != nil {
					t.Fatal(err)
				}
			})
			if f.kill == nil {
				return
			}
			t.Run("container killed from outside", func(t *testing.T) {
				id := e.create(t, f)
				c, _ := f.rt.List(t.Context(), map[string]string{"ai.backend.kernel-id": id})
				if len(c) != 1 {
					t.Fatalf("list = %+v", c)
				}
				start := time.Now()
				f.kill(t, c[0].ID)
				ev := waitDied(t, e, id)
				t.Logf("died event after %s: %+v", time.Since(start), ev)
				if ev.ExitCode != 137 || !strings.Contains(ev.Reason, "signal 9") {
					t.Errorf("event = %+v", ev)
				}
			})
		})
	}
}

func TestCreateFails(t *testing.T) {
	for _, f := range runtimes(t) {
		t.Run(f.name, func(t *testing.T) {
			e := newEnv(t, f, shortTempDir(t), "agent-fail-"+uuid.NewString()[:6])
			id := uuid.NewString()
			_, err := e.m.Create(t.Context(), aproto.CreateKernel{KernelID: id, Image: "bai/nothing:here", RuntimeType: "python"})
			if !errors.Is(err, errdefs.ErrNotFound) {
				t.Fatalf("err = %v, want not found", err)
			}
			if _, err := os.Stat(filepath.Join(e.dataDir, "kernels", id)); !os.IsNotExist(err) {
				t.Fatalf("kernel dir left: %v", err)
			}
			// A runner that exits at once: the create fails fast.
			broken := newEnvRunner(t, f, e.dataDir, e.agentID, "/bin/true")
			start := time.Now()
			_, err = broken.m.Create(t.Context(), aproto.CreateKernel{KernelID: id, Image: f.image, RuntimeType: "python"})
			if !errors.Is(err, errdefs.ErrUnavailable) || time.Since(start) > 10*time.Second {
				_, _ = broken.m.Destroy(context.Background(), id)
				t.Fatalf("create with a broken runner: err = %v after %s", err, time.Since(start))
			}
			if list, _ := f.rt.List(t.Context(), map[string]string{"ai.backend.kernel-id": id}); len(list) != 0 {
				t.Fatalf("containers left: %+v", list)
			}
			if _, err := os.Stat(filepath.Join(e.dataDir, "kernels", id)); !os.IsNotExist(err) {
				t.Fatalf("kernel dir left: %v", err)
			}
			select {
			case ev := <-broken.died:
				t.Fatalf("failed create reported a death: %+v", ev)
			default:
			}
			if _, err := e.m.Create(t.Context(), aproto.CreateKernel{KernelID: "../evil", Image: f.image}); !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("bad id: err = %v", err)
			}
		})
	}
}

func TestAdopt(t *testing.T) {
	f, err := dockerRuntime(t)
	if err != nil {
		t.Skipf("adoption needs docker: %v", err)
	}
	dataDir, agentID := shortTempDir(t), "agent-adopt-"+uuid.NewString()[:6]
	first := newEnv(t, f, dataDir, agentID)
	keep := first.create(t, f)
	stopped := first.create(t, f)
	first.exec(t, keep, query("z = 'still here'"))
	c, _ := f.rt.List(t.Context(), map[string]string{"ai.backend.kernel-id": stopped})
	first.m.Close() // the agent goes away, its containers stay
	if b, err := exec.Command("docker", "stop", "-t", "1", c[0].ID).CombinedOutput(); err != nil {
		t.Fatalf("docker stop: %v: %s", err, b)
	}
	if err := os.MkdirAll(filepath.Join(dataDir, "kernels", "leftover"), 0o700); err != nil {
		t.Fatal(err)
	}

	second := newEnv(t, f, dataDir, agentID)
	ids, err := second.m.Adopt(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[0] != keep {
		t.Fatalf("adopted %v, want [%s]", ids, keep)
	}
	out, res := second.exec(t, keep, query("print(z)"))
	if res.Status != kernel.StatusFinished || out["stdout"] != "still here\n" {
		t.Fatalf("out = %v, res = %+v", out, res)
	}
	if list, _ := f.rt.List(t.Context(), map[string]string{"ai.backend.kernel-id": stopped}); len(list) != 0 {
		t.Fatalf("stopped kernel not removed: %+v", list)
	}
	entries, _ := os.ReadDir(filepath.Join(dataDir, "kernels"))
	var names []string
	for _, en := range entries {
		names = append(names, en.Name())
	}
	sort.Strings(names)
	if !slices.Equal(names, []string{keep}) {
		t.Fatalf("kernel dirs = %v", names)
	}
	if _, err := second.m.Destroy(t.Context(), keep); err != nil {
		t.Fatal(err)
	}
}

// TestExecuteLatency measures the round trip of print(1) at the kernel
// manager level.
func TestExecuteLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("latency measurement skipped in short mode")
	}
	for _, f := range runtimes(t) {
		t.Run(f.name, func(t *testing.T) {
			e := newEnv(t, f, shortTempDir(t), "agent-lat-"+uuid.NewString()[:6])
			id := e.create(t, f)
			const n = 300
			durs := make([]time.Duration, 0, n)
			for i := 0; i < n+20; i++ {
				start := time.Now()
				res, err := e.m.Execute(t.Context(), id, aproto.Execute{RunID: fmt.Sprint("r", i), Mode: kernel.ModeQuery, Code: "print(1)"})
				d := time.Since(start)
				if err != nil || res.Status != kernel.StatusFinished || len(res.Console) != 1 || res.Console[0][1] != "1\n" {
					t.Fatalf("run %d: %+v, %v", i, res, err)
				}
				if i >= 20 { // warm-up
					durs = append(durs, d)
				}
			}
			slices.Sort(durs)
			t.Logf("%s: execute print(1) round trip over %d runs: p50 %s, p90 %s, p99 %s, max %s",
				f.name, n, durs[n/2], durs[n*9/10], durs[n*99/100], durs[n-1])
		})
	}
}

// shortTempDir returns a temp dir with a short path, so socket paths stay
// within the kernel's limit without the symlink fallback.
func shortTempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "bk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// TestLongDataDir checks that kernels work when the socket paths under the
// data dir are longer than a Unix socket path may be.
func TestLongDataDir(t *testing.T) {
	for _, f := range runtimes(t) {
		t.Run(f.name, func(t *testing.T) {
			dataDir := filepath.Join(shortTempDir(t), strings.Repeat("long-directory-name-", 4))
			e := newEnv(t, f, dataDir, "agent-long-"+uuid.NewString()[:6])
			id := e.create(t, f)
			if n := len(filepath.Join(dataDir, "kernels", id, "ipc", "out.sock")); n < 108 {
				t.Fatalf("socket path is only %d bytes long", n)
			}
			out, res := e.exec(t, id, query("print('long')"))
			if res.Status != kernel.StatusFinished || out["stdout"] != "long\n" {
				t.Fatalf("out = %v, res = %+v", out, res)
			}
			if _, err := e.m.Destroy(t.Context(), id); err != nil {
				t.Fatal(err)
			}
		})
	}
}
