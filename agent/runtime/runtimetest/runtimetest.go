// Package runtimetest is the conformance suite every runtime.Runtime
// implementation passes, so the kernel manager can rely on the same
// behaviour from Docker and from the process runtime.
package runtimetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"baigo.dev/bai/agent/runtime"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/types"
)

// Env is what the suite needs from the caller.
type Env struct {
	// Image is a reference the runtime can create containers from.
	Image string
	// Sleeper is the path of the static binary built from
	// testdata/sleeper (see BuildSleeper); it stands in for the runner.
	Sleeper string
	// UID and GID to run as (docker).
	UID, GID int
	// NetStats says the runtime reports per-container network counters
	// (net_rx_bytes, net_tx_bytes; docker does, processes share the host's
	// network and do not).
	NetStats bool
}

// BuildSleeper compiles the stand-in runner into a temp dir.
func BuildSleeper(t *testing.T) string {
	t.Helper()
	_, file, _, _ := goruntime.Caller(0)
	out := filepath.Join(t.TempDir(), "sleeper")
	cmd := exec.Command("go", "build", "-o", out, "./testdata/sleeper")
	cmd.Dir = filepath.Dir(file)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build sleeper: %v\n%s", err, b)
	}
	return out
}

// Run runs the suite against rt.
func Run(t *testing.T, rt runtime.Runtime, env Env) {
	ctx := context.Background()
	agentID := "conformance-" + randHex(4)

	newSpec := func(t *testing.T, extraEnv map[string]string) runtime.Spec {
		dir := t.TempDir()
		ipc, work := filepath.Join(dir, "ipc"), filepath.Join(dir, "work")
		for _, d := range []string{ipc, work} {
			if err := os.Mkdir(d, 0o777); err != nil {
				t.Fatal(err)
			}
			_ = os.Chmod(d, 0o777)
		}
		kid := randHex(8)
		return runtime.Spec{
			Name:  "bai-conf-" + kid,
			Image: env.Image,
			Labels: map[string]string{
				types.LabelOwner:    types.OwnerValue,
				types.LabelAgentID:  agentID,
				types.LabelKernelID: kid,
			},
			Env:         extraEnv,
			RunnerPath:  env.Sleeper,
			IPCDir:      ipc,
			WorkDir:     work,
			UID:         env.UID,
			GID:         env.GID,
			CPU:         1,
			Memory:      128 << 20,
			PidsLimit:   64,
			RuntimeType: "python",
			RuntimePath: "/usr/bin/python3",
		}
	}
	create := func(t *testing.T, spec runtime.Spec) string {
		t.Helper()
		id, err := rt.Create(ctx, spec)
		if err != nil {
			t.Fatalf("create: %v", err)
		}
		t.Cleanup(func() { _ = rt.Remove(context.Background(), id) })
		return id
	}
	waitFor := func(t *testing.T, what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	t.Run("lifecycle", func(t *testing.T) {
		spec := newSpec(t, nil)
		id := create(t, spec)
		if err := rt.Start(ctx, id); err != nil {
			t.Fatalf("start: %v", err)
		}
		c, err := rt.Inspect(ctx, id)
		if err != nil || !c.Running {
			t.Fatalf("inspect after start: %+v, %v", c, err)
		}
		if c.Labels[types.LabelKernelID] != spec.Labels[types.LabelKernelID] {
			t.Errorf("labels = %v", c.Labels)
		}
		list, err := rt.List(ctx, map[string]string{types.LabelAgentID: agentID, types.LabelKernelID: spec.Labels[types.LabelKernelID]})
		if err != nil || len(list) != 1 || list[0].ID != id || !list[0].Running {
			t.Fatalf("list = %+v, %v", list, err)
		}
		waitFor(t, "logs", func() bool {
			l, _ := rt.Logs(ctx, id)
			return strings.Contains(l, "sleeper started") && strings.Contains(l, "sleeper stderr")
		})
		if _, err := rt.Stats(ctx, id); err != nil {
			t.Errorf("stats: %v", err)
		}
		if err := rt.Restart(ctx, id); err != nil {
			t.Fatalf("restart: %v", err)
		}
		if c, err := rt.Inspect(ctx, id); err != nil || !c.Running {
			t.Fatalf("inspect after restart: %+v, %v", c, err)
		}
		if err := rt.Remove(ctx, id); err != nil {
			t.Fatalf("remove: %v", err)
		}
		if _, err := rt.Inspect(ctx, id); !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("inspect after remove: err = %v, want not found", err)
		}
		if err := rt.Remove(ctx, id); !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("second remove: err = %v, want not found", err)
		}
		list, _ = rt.List(ctx, map[string]string{types.LabelKernelID: spec.Labels[types.LabelKernelID]})
		if len(list) != 0 {
			t.Fatalf("list after remove = %+v", list)
		}
	})

	t.Run("stats", func(t *testing.T) {
		spec := newSpec(t, map[string]string{"BAI_TEST_WORK": "1"})
		id := create(t, spec)
		if err := rt.Start(ctx, id); err != nil {
			t.Fatalf("start: %v", err)
		}
		waitFor(t, "start", func() bool {
			l, _ := rt.Logs(ctx, id)
			return strings.Contains(l, "sleeper started")
		})
		sample := func() map[string]float64 {
			t.Helper()
			st, err := rt.Stats(ctx, id)
			if err != nil {
				t.Fatalf("stats: %v", err)
			}
			out := map[string]float64{}
			keys := []string{"cpu_used", "mem", "io_read_bytes", "io_write_bytes"}
			if env.NetStats {
				keys = append(keys, "net_rx_bytes", "net_tx_bytes")
			}
			for _, k := range keys {
				v, ok := Number(st[k])
				if !ok {
					t.Fatalf("stats lack a number %q: %v", k, st)
				}
				out[k] = v
			}
			return out
		}
		before := sample()
		if before["mem"] <= 0 {
			t.Errorf("mem = %v, want > 0", before["mem"])
		}
		if err := os.WriteFile(filepath.Join(spec.WorkDir, "go"), nil, 0o666); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the work", func() bool {
			l, _ := rt.Logs(ctx, id)
			if strings.Contains(l, "work failed") {
				t.Fatalf("sleeper: %s", l)
			}
			return strings.Contains(l, "work done")
		})
		after := sample()
		if d := after["cpu_used"] - before["cpu_used"]; d < 200 {
			t.Errorf("cpu_used grew by %.1f ms over a 300 ms busy loop (%v -> %v)", d, before, after)
		}
		if d := after["io_write_bytes"] - before["io_write_bytes"]; d < 4<<20 {
			t.Errorf("io_write_bytes grew by %.0f over a synced 4 MiB write (%v -> %v)", d, before, after)
		}
	})

	t.Run("die event", func(t *testing.T) {
		ectx, cancel := context.WithCancel(ctx)
		defer cancel()
		events := rt.Events(ectx)
		spec := newSpec(t, map[string]string{"BAI_TEST_EXIT": "3"})
		id := create(t, spec)
		if err := rt.Start(ctx, id); err != nil {
			t.Fatalf("start: %v", err)
		}
		timeout := time.After(15 * time.Second)
		for {
			select {
			case ev := <-events:
				if ev.ContainerID != id || ev.Kind != runtime.EventDie {
					continue
				}
				if ev.ExitCode != 3 {
					t.Errorf("exit code = %d, want 3", ev.ExitCode)
				}
				if ev.Labels[types.LabelKernelID] != spec.Labels[types.LabelKernelID] {
					t.Errorf("event labels = %v", ev.Labels)
				}
				c, err := rt.Inspect(ctx, id)
				if err != nil || c.Running || c.ExitCode != 3 {
					t.Errorf("inspect after exit = %+v, %v", c, err)
				}
				return
			case <-timeout:
				t.Fatal("no die event")
			}
		}
	})

	t.Run("remove is quiet", func(t *testing.T) {
		ectx, cancel := context.WithCancel(ctx)
		defer cancel()
		events := rt.Events(ectx)
		id := create(t, newSpec(t, nil))
		if err := rt.Start(ctx, id); err != nil {
			t.Fatalf("start: %v", err)
		}
		if err := rt.Remove(ctx, id); err != nil {
			t.Fatalf("remove: %v", err)
		}
		// Docker does report a removed container's death; the kernel
		// manager ignores it. Only check that no event has a bogus id.
		for {
			select {
			case ev := <-events:
				if ev.ContainerID == "" {
					t.Errorf("event without container id: %+v", ev)
				}
			case <-time.After(300 * time.Millisecond):
				return
			}
		}
	})

	t.Run("unknown image", func(t *testing.T) {
		spec := newSpec(t, nil)
		spec.Image = "bai/no-such-image:" + randHex(4)
		if id, err := rt.Create(ctx, spec); !errors.Is(err, errdefs.ErrNotFound) {
			if err == nil {
				_ = rt.Remove(ctx, id)
			}
			t.Fatalf("create with unknown image: err = %v, want not found", err)
		}
	})

	t.Run("images", func(t *testing.T) {
		imgs, err := rt.Images(ctx)
		if err != nil {
			t.Fatalf("images: %v", err)
		}
		found := false
		for _, im := range imgs {
			if im.Labels[types.LabelKernelSpec] != "1" {
				t.Errorf("image %s lacks the kernelspec label", im.Ref)
			}
			if im.Name != strings.TrimPrefix(im.Ref, "bai/") {
				t.Errorf("image name %q for ref %q", im.Name, im.Ref)
			}
			if im.Ref == env.Image {
				found = true
			}
		}
		if !found {
			t.Errorf("images %+v lack %s", imgs, env.Image)
		}
	})
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Number reads a usage statistic, whatever numeric type the runtime used;
// ok is false when v is not a number.
func Number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}
