package docker

import (
	"os"
	"path/filepath"
	"testing"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, v := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestCgroupStats(t *testing.T) {
	const id = "abc123"
	cases := []struct {
		name  string
		files map[string]string
		want  map[string]any
		ok    bool
	}{
		{"v1", map[string]string{
			"cpuacct/docker/abc123/cpuacct.usage":            "2500000\n",
			"memory/docker/abc123/memory.usage_in_bytes":     "4096\n",
			"memory/docker/abc123/memory.max_usage_in_bytes": "8192\n",
			"pids/docker/abc123/pids.current":                "3\n",
		}, map[string]any{"cpu_used": 2.5, "mem": int64(4096), "mem_max": int64(8192), "pids": int64(3)}, true},
		{"v2 systemd", map[string]string{
			"system.slice/docker-abc123.scope/cpu.stat":       "usage_usec 7000\nuser_usec 5000\n",
			"system.slice/docker-abc123.scope/memory.current": "100\n",
			"system.slice/docker-abc123.scope/pids.current":   "2\n",
		}, map[string]any{"cpu_used": 7.0, "mem": int64(100), "pids": int64(2)}, true},
		{"unknown layout", map[string]string{"other/file": "1"}, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := cgroupStats(writeFiles(t, c.files), id)
			if ok != c.ok {
				t.Fatalf("ok = %v", ok)
			}
			for k, v := range c.want {
				if got[k] != v {
					t.Errorf("%s = %v (%T), want %v", k, got[k], got[k], v)
				}
			}
		})
	}
	if _, ok := cgroupStats("/", "../etc"); ok {
		t.Error("accepted a path-like id")
	}
}
