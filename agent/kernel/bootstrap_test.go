package kernel_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"baigo.dev/bai/agent/kernel"
	"baigo.dev/bai/common/aproto"
)

// TestBootstrap runs bootstrap scripts on each runtime: one that prepares
// the work dir (seen by the first execute, its output in the logs), one
// that fails and one that runs past its limit; a failed one removes the
// container and is not reported as a kernel death.
func TestBootstrap(t *testing.T) {
	for _, f := range runtimes(t) {
		t.Run(f.name, func(t *testing.T) {
			dir := shortTempDir(t)
			agentID := "agent-boot-" + uuid.NewString()[:6]
			e := newEnvConfig(t, f, kernel.Config{
				AgentID: agentID, DataDir: dir, RunnerPath: runnerPath(t),
				Chown: f.chown, UID: 1000, GID: 1000, PidsLimit: 256,
				BootstrapTimeout: 2 * time.Second,
			})
			create := func(script string) (string, error) {
				id := uuid.NewString()
				_, err := e.m.Create(t.Context(), aproto.CreateKernel{
					KernelID: id, SessionID: uuid.NewString(), Image: f.image,
					RuntimeType: "python", RuntimePath: "/usr/bin/python3",
					Resources:       map[string]float64{"cpu": 1, "mem": 512 << 20},
					BootstrapScript: script,
				})
				if err == nil {
					t.Cleanup(func() { _, _ = e.m.Destroy(context.Background(), id) })
				}
				return id, err
			}
			gone := func(id string) {
				t.Helper()
				if list, _ := f.rt.List(t.Context(), map[string]string{"ai.backend.kernel-id": id}); len(list) != 0 {
					t.Errorf("containers left: %+v", list)
				}
				if _, err := os.Stat(filepath.Join(dir, "kernels", id)); !os.IsNotExist(err) {
					t.Errorf("kernel dir left: %v", err)
				}
			}

			id, err := create("echo setting-up\nprintf done > ready.txt")
			if err != nil {
				t.Fatalf("create with a good script: %v", err)
			}
			out, _ := e.exec(t, id, aproto.Execute{Mode: kernel.ModeQuery, Code: "print(open('ready.txt').read())"})
			if out["stdout"] != "done\n" {
				t.Errorf("first execute: %q", out)
			}
			logs, err := e.m.Logs(t.Context(), id)
			if err != nil || !strings.Contains(logs.Logs, "setting-up") {
				t.Errorf("logs: %v %q", err, logs.Logs)
			}

			id, err = create("echo one\necho two >&2\nexit 4")
			if err == nil || !strings.Contains(err.Error(), "bootstrap script failed (exit 4): one | two") {
				t.Fatalf("failing script: err = %v", err)
			}
			gone(id)

			start := time.Now()
			id, err = create("echo waiting\nsleep 60")
			if err == nil || !strings.Contains(err.Error(), "bootstrap script failed (timed out after 2s): waiting") || time.Since(start) > 30*time.Second {
				t.Fatalf("slow script: err = %v after %s", err, time.Since(start))
			}
			gone(id)

			select {
			case ev := <-e.died:
				t.Fatalf("a failed bootstrap was reported as a death: %+v", ev)
			case <-time.After(500 * time.Millisecond):
			}
		})
	}
}
