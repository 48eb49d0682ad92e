package docker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
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

// netDevFile is a /proc/<pid>/net/dev with loopback traffic, which does not
// count, and one real interface.
const netDevFile = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:  999999      10    0    0    0     0          0         0   999999      10    0    0    0     0       0          0
  eth0:    1500      12    0    0    0     0          0         0     700       9    0    0    0     0       0          0
`

func TestCgroupStats(t *testing.T) {
	const id = "abc123"
	cases := []struct {
		name  string
		files map[string]string
		want  map[string]any
		ok    bool
	}{
		{"v1", map[string]string{
			"cpuacct/docker/abc123/cpuacct.usage":                 "2500000\n",
			"cpuacct/docker/abc123/cgroup.procs":                  "42\n43\n",
			"memory/docker/abc123/memory.usage_in_bytes":          "4096\n",
			"memory/docker/abc123/memory.max_usage_in_bytes":      "8192\n",
			"pids/docker/abc123/pids.current":                     "3\n",
			"blkio/docker/abc123/blkio.throttle.io_service_bytes": "8:0 Read 100\n8:0 Write 200\n8:0 Total 300\n8:16 Read 1\n8:16 Write 2\nTotal 303\n",
			"proc/42/net/dev":                                     netDevFile,
		}, map[string]any{"cpu_used": 2.5, "mem": int64(4096), "mem_max": int64(8192), "pids": int64(3),
			"io_read_bytes": int64(101), "io_write_bytes": int64(202), "net_rx_bytes": int64(1500), "net_tx_bytes": int64(700)}, true},
		// Blkio counts nothing unless throttling is on: the processes'
		// own counters stand in.
		{"v1 systemd, no network, no blkio counts", map[string]string{
			"cpuacct/system.slice/docker-abc123.scope/cpuacct.usage":        "1000000\n",
			"cpuacct/system.slice/docker-abc123.scope/cgroup.procs":         "7\n",
			"memory/system.slice/docker-abc123.scope/memory.usage_in_bytes": "10\n",
			"proc/7/net/dev": netDevFile[:strings.Index(netDevFile, "  eth0")],
			"proc/7/io":      "rchar: 1\nwchar: 2\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n",
		}, map[string]any{"cpu_used": 1.0, "mem": int64(10), "net_rx_bytes": int64(0), "net_tx_bytes": int64(0),
			"io_read_bytes": int64(4096), "io_write_bytes": int64(8192)}, true},
		{"v2 systemd", map[string]string{
			"system.slice/docker-abc123.scope/cpu.stat":       "usage_usec 7000\nuser_usec 5000\n",
			"system.slice/docker-abc123.scope/memory.current": "100\n",
			"system.slice/docker-abc123.scope/memory.peak":    "150\n",
			"system.slice/docker-abc123.scope/pids.current":   "2\n",
			"system.slice/docker-abc123.scope/io.stat":        "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n259:0 rbytes=1 wbytes=2\n",
			"system.slice/docker-abc123.scope/cgroup.procs":   "0\n9\n",
			"proc/9/net/dev": netDevFile,
		}, map[string]any{"cpu_used": 7.0, "mem": int64(100), "mem_max": int64(150), "pids": int64(2),
			"io_read_bytes": int64(4097), "io_write_bytes": int64(8194), "net_rx_bytes": int64(1500), "net_tx_bytes": int64(700)}, true},
		{"unknown layout", map[string]string{"other/file": "1"}, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := writeFiles(t, c.files)
			got, ok := readCgroupStats(root, filepath.Join(root, "proc"), id)
			if ok != c.ok {
				t.Fatalf("ok = %v", ok)
			}
			for k, v := range c.want {
				if got[k] != v {
					t.Errorf("%s = %v (%T), want %v", k, got[k], got[k], v)
				}
			}
			if len(got) != len(c.want) {
				t.Errorf("got %v, want exactly %v", got, c.want)
			}
		})
	}
	if _, ok := cgroupStats("/", "../etc"); ok {
		t.Error("accepted a path-like id")
	}
}

func TestEngineStats(t *testing.T) {
	var s container.StatsResponse
	s.CPUStats.CPUUsage.TotalUsage = 3e6
	s.MemoryStats.Usage = 4096
	s.BlkioStats.IoServiceBytesRecursive = []container.BlkioStatEntry{{Op: "read", Value: 10}, {Op: "Write", Value: 20}, {Op: "total", Value: 30}}
	s.Networks = map[string]container.NetworkStats{"eth0": {RxBytes: 5, TxBytes: 6}, "eth1": {RxBytes: 1, TxBytes: 1}}
	got := engineStats(s)
	want := map[string]any{"cpu_used": 3.0, "mem": int64(4096), "io_read_bytes": int64(10), "io_write_bytes": int64(20),
		"net_rx_bytes": int64(6), "net_tx_bytes": int64(7)}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v (%T), want %v", k, got[k], got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %v, want exactly %v", got, want)
	}
}
