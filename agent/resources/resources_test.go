package resources_test

import (
	"os"
	"path/filepath"
	"testing"

	"baigo.dev/bai/agent/resources"
	"baigo.dev/bai/agent/resources/gpu"
	"baigo.dev/bai/common/resource"
)

func TestProbe(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		wantCPU float64
		wantMem float64
	}{
		{"plain host", map[string]string{"proc/meminfo": "MemTotal:  2048 kB\nMemFree: 1 kB\n"}, 8, 2048 << 10},
		{"cgroup v2 limits", map[string]string{
			"proc/meminfo":             "MemTotal:  4096 kB\n",
			"sys/fs/cgroup/cpu.max":    "200000 100000\n",
			"sys/fs/cgroup/memory.max": "1048576\n",
		}, 2, 1 << 20},
		{"cgroup v2 unlimited", map[string]string{
			"proc/meminfo":          "MemTotal:  4096 kB\n",
			"sys/fs/cgroup/cpu.max": "max 100000\n",
		}, 8, 4096 << 10},
		{"cgroup v1 limits", map[string]string{
			"proc/meminfo":                               "MemTotal:  4096 kB\n",
			"sys/fs/cgroup/cpu/cpu.cfs_quota_us":         "150000\n",
			"sys/fs/cgroup/cpu/cpu.cfs_period_us":        "100000\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n",
		}, 1.5, 4096 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for name, body := range tt.files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := resources.Probe{Root: root, NumCPU: func() int { return 8 }}.Capacity()
			if err != nil {
				t.Fatal(err)
			}
			if got[resource.CPU] != tt.wantCPU || got[resource.Mem] != tt.wantMem {
				t.Fatalf("got %v, want cpu %v mem %v", got, tt.wantCPU, tt.wantMem)
			}
		})
	}
}

func TestCapacityOfThisHost(t *testing.T) {
	got, err := resources.Capacity()
	if err != nil {
		t.Fatal(err)
	}
	if got[resource.CPU] <= 0 || got[resource.Mem] <= 0 {
		t.Fatalf("capacity = %v", got)
	}
}

func TestCapacityWithGPUs(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "proc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "proc/meminfo"), []byte("MemTotal:  2048 kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	devs, _, _ := gpu.Discover("2")
	for _, tt := range []struct {
		devs []gpu.Device
		want float64
		has  bool
	}{{nil, 0, false}, {devs, 2, true}} {
		got, err := resources.Probe{Root: root, NumCPU: func() int { return 4 }, Devices: tt.devs}.Capacity()
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := got[resource.CUDADevice]; ok != tt.has || v != tt.want {
			t.Errorf("%d devices: capacity = %v", len(tt.devs), got)
		}
	}
}
