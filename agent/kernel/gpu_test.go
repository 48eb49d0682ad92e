package kernel_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"baigo.dev/bai/agent/kernel"
	"baigo.dev/bai/agent/resources/gpu"
	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/types"
)

// newGPUEnv is newEnv with an agent that has the given GPUs.
func newGPUEnv(t *testing.T, f fixture, dataDir, agentID string, gpus *gpu.Allocator) *env {
	t.Helper()
	e := &env{dataDir: dataDir, agentID: agentID, died: make(chan aproto.KernelEvent, 16)}
	e.m = kernel.New(kernel.Config{
		AgentID:    agentID,
		DataDir:    dataDir,
		RunnerPath: runnerPath(t),
		Chown:      f.chown,
		UID:        1000,
		GID:        1000,
		PidsLimit:  256,
		GPUs:       gpus,
	}, f.rt, quietLog(), func(ev aproto.KernelEvent) { e.died <- ev })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.m.WatchEvents(ctx) }()
	t.Cleanup(func() { cancel(); <-done; e.m.Close() })
	return e
}

func (e *env) createGPUs(t *testing.T, f fixture, cuda float64, environ map[string]string) (string, error) {
	t.Helper()
	id := uuid.NewString()
	_, err := e.m.Create(t.Context(), aproto.CreateKernel{
		KernelID:    id,
		SessionID:   uuid.NewString(),
		Image:       f.image,
		RuntimeType: "python",
		RuntimePath: "/usr/bin/python3",
		Resources:   map[string]float64{"cpu": 1, "mem": 512 << 20, "cuda.device": cuda},
		Environ:     environ,
	})
	if err == nil {
		t.Cleanup(func() { _, _ = e.m.Destroy(context.Background(), id) })
	}
	return id, err
}

// visible returns the GPUs a kernel sees, as its environment says.
func (e *env) visible(t *testing.T, id string) string {
	t.Helper()
	out, res := e.exec(t, id, query("import os\nprint(os.environ.get('CUDA_VISIBLE_DEVICES', '-'), os.environ.get('BAI_CUDA_DEVICES', '-'))"))
	if res.Status != kernel.StatusFinished {
		t.Fatalf("out = %v, res = %+v", out, res)
	}
	return strings.TrimSpace(out["stdout"])
}

func TestGPUs(t *testing.T) {
	for _, f := range runtimes(t) {
		t.Run(f.name, func(t *testing.T) {
			devs, _, _ := gpu.Discover("2")
			alloc := gpu.NewAllocator(devs)
			dataDir, agentID := shortTempDir(t), "agent-gpu-"+uuid.NewString()[:6]
			e := newGPUEnv(t, f, dataDir, agentID, alloc)

			k1, err := e.createGPUs(t, f, 1, map[string]string{"CUDA_VISIBLE_DEVICES": "all", "NVIDIA_VISIBLE_DEVICES": "all"})
			if err != nil {
				t.Fatal(err)
			}
			k2, err := e.createGPUs(t, f, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			if v1, v2 := e.visible(t, k1), e.visible(t, k2); v1 != "GPU-fake-0 0" || v2 != "GPU-fake-1 1" {
				t.Fatalf("kernels see %q and %q", v1, v2)
			}
			if c, _ := f.rt.List(t.Context(), map[string]string{types.LabelKernelID: k2}); len(c) != 1 || c[0].Labels[types.LabelCUDADevices] != "1" {
				t.Fatalf("containers of k2 = %+v", c)
			}

			// A kernel without GPUs sees none, whatever it asks for.
			k0, err := e.createGPUs(t, f, 0, map[string]string{"CUDA_VISIBLE_DEVICES": "0"})
			if err != nil {
				t.Fatal(err)
			}
			if v := e.visible(t, k0); v != "- -" {
				t.Fatalf("kernel without gpus sees %q", v)
			}

			// The agent never over-commits, and refuses fractions.
			id, err := e.createGPUs(t, f, 1, nil)
			if !errors.Is(err, errdefs.ErrUnavailable) || !strings.Contains(err.Error(), "0 of this agent's 2 are free") {
				t.Fatalf("third gpu kernel: err = %v, want unavailable", err)
			}
			if _, err := os.Stat(filepath.Join(dataDir, "kernels", id)); !os.IsNotExist(err) {
				t.Fatalf("refused kernel left its dir: %v", err)
			}
			if _, err := e.createGPUs(t, f, 0.5, nil); !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "fractional") {
				t.Fatalf("fractional gpu: err = %v, want invalid argument", err)
			}

			// Destroying a kernel frees its GPUs.
			if _, err := e.m.Destroy(t.Context(), k1); err != nil {
				t.Fatal(err)
			}
			if alloc.Free() != 1 {
				t.Fatalf("free after destroy = %d", alloc.Free())
			}
			k3, err := e.createGPUs(t, f, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			if v := e.visible(t, k3); v != "GPU-fake-0 0" {
				t.Fatalf("k3 sees %q", v)
			}

			// A new agent process re-learns who holds what from the labels.
			e.m.Close()
			alloc2 := gpu.NewAllocator(devs)
			e2 := newGPUEnv(t, f, dataDir, agentID, alloc2)
			ids, err := e2.m.Adopt(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(ids)
			want := []string{k0, k2, k3}
			slices.Sort(want)
			if !slices.Equal(ids, want) {
				t.Fatalf("adopted %v, want %v", ids, want)
			}
			if alloc2.Free() != 0 || gpu.FormatIndexes(alloc2.Held(k2)) != "1" || gpu.FormatIndexes(alloc2.Held(k3)) != "0" {
				t.Fatalf("after adoption: free %d, k2 %v, k3 %v", alloc2.Free(), alloc2.Held(k2), alloc2.Held(k3))
			}
			if _, err := e2.createGPUs(t, f, 1, nil); !errors.Is(err, errdefs.ErrUnavailable) {
				t.Fatalf("gpu kernel after adoption: err = %v, want unavailable", err)
			}
			if _, err := e2.m.Destroy(t.Context(), k2); err != nil {
				t.Fatal(err)
			}
			if alloc2.Free() != 1 {
				t.Fatalf("free after destroying an adopted kernel = %d", alloc2.Free())
			}
		})
	}
}
