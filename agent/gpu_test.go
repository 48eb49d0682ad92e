package agent_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"baigo.dev/bai/common/aproto"
)

func TestAgentFakeGPUs(t *testing.T) {
	fm := newFakeManager(t)
	cfg := baseConfig(t, fm, "process", shortTempDir(t))
	cfg.FakeGPUs = "2:NVIDIA H100 80GB HBM3:80GiB"
	a, _ := startAgent(t, cfg)

	waitFor(t, "first heartbeat", func() bool { _, n := fm.lastHeartbeat(); return n > 0 })
	hb, _ := fm.lastHeartbeat()
	if hb.Capacity["cuda.device"] != 2 {
		t.Fatalf("capacity = %v", hb.Capacity)
	}
	if len(hb.Devices) != 2 {
		t.Fatalf("devices = %+v", hb.Devices)
	}
	for i, d := range hb.Devices {
		want := aproto.Device{Index: i, UUID: fmt.Sprint("GPU-fake-", i), Model: "NVIDIA H100 80GB HBM3", MemoryBytes: 80 << 30, Source: "fake"}
		if d != want {
			t.Errorf("device %d = %+v, want %+v", i, d, want)
		}
	}

	create := func(cuda float64) (string, int, map[string]any) {
		id := uuid.NewString()
		var p map[string]any
		code := call(t, a, "POST", "/v1/kernels", secret, aproto.CreateKernel{
			KernelID: id, SessionID: uuid.NewString(), Image: "bai/python:3.11-debian",
			RuntimeType: "python", RuntimePath: "/usr/bin/python3",
			Resources: map[string]float64{"cpu": 1, "mem": 256 << 20, "cuda.device": cuda},
		}, &p)
		if code == http.StatusOK {
			t.Cleanup(func() { call(t, a, "DELETE", "/v1/kernels/"+id, secret, nil, nil) })
		}
		return id, code, p
	}
	visible := func(id string) string {
		var res aproto.ExecuteResult
		code := call(t, a, "POST", "/v1/kernels/"+id+"/execute", secret, aproto.Execute{RunID: "gpu", Mode: "query", Code: "import os\nprint(os.environ.get('CUDA_VISIBLE_DEVICES'))"}, &res)
		if code != http.StatusOK || res.Status != "finished" || len(res.Console) != 1 {
			t.Fatalf("execute: %d %+v", code, res)
		}
		return strings.TrimSpace(res.Console[0][1].(string))
	}

	k1, code, p := create(1)
	if code != http.StatusOK {
		t.Fatalf("first gpu kernel: %d %v", code, p)
	}
	k2, code, p := create(1)
	if code != http.StatusOK {
		t.Fatalf("second gpu kernel: %d %v", code, p)
	}
	v1, v2 := visible(k1), visible(k2)
	if v1 == v2 || !strings.HasPrefix(v1, "GPU-fake-") || !strings.HasPrefix(v2, "GPU-fake-") {
		t.Fatalf("kernels see %q and %q", v1, v2)
	}
	if _, code, p := create(1); code != http.StatusServiceUnavailable || !strings.Contains(fmt.Sprint(p["msg"]), "0 of this agent's 2 are free") {
		t.Fatalf("third gpu kernel: %d %v", code, p)
	}
	if _, code, p := create(0.5); code != http.StatusBadRequest {
		t.Fatalf("half a gpu: %d %v", code, p)
	}
	if code := call(t, a, "DELETE", "/v1/kernels/"+k1, secret, nil, nil); code != http.StatusOK {
		t.Fatalf("destroy: %d", code)
	}
	k3, code, p := create(1)
	if code != http.StatusOK {
		t.Fatalf("gpu kernel after a destroy: %d %v", code, p)
	}
	if v := visible(k3); v != v1 {
		t.Fatalf("k3 sees %q, want the freed %q", v, v1)
	}
}
