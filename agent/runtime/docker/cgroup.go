package docker

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types/container"
)

// cgroupStats reads a container's counters straight from its cgroup. It
// takes microseconds, where the Engine API's stats call took 0.5 s or more
// here and made every destroy that slow. It knows the cgroup v1 layouts
// (<controller>/docker/<id> of the cgroupfs driver,
// <controller>/system.slice/docker-<id>.scope of the systemd one) and the v2
// layouts of both drivers (system.slice/docker-<id>.scope, docker/<id>);
// anything else answers ok=false and the caller asks the Engine instead.
//
// The keys: cpu_used (milliseconds), mem and mem_max (bytes, current and
// peak where the kernel keeps a peak), pids, io_read_bytes and
// io_write_bytes (storage traffic), net_rx_bytes and net_tx_bytes
// (all interfaces but loopback, so 0 for a container without network; left
// out when no process of the container can be seen in /proc).
func cgroupStats(root, id string) (map[string]any, bool) {
	return readCgroupStats(root, "/proc", id)
}

// readCgroupStats is cgroupStats with the proc filesystem at procRoot.
func readCgroupStats(root, procRoot, id string) (map[string]any, bool) {
	if root == "" || id == "" || strings.ContainsAny(id, "/.") {
		return nil, false
	}
	out := map[string]any{}
	for _, rel := range []string{filepath.Join("docker", id), filepath.Join("system.slice", "docker-"+id+".scope")} {
		v1 := func(ctrl, file string) string { return filepath.Join(root, ctrl, rel, file) }
		ns, ok := readNum(v1("cpuacct", "cpuacct.usage"))
		if !ok {
			continue
		}
		out["cpu_used"] = float64(ns) / 1e6 // milliseconds
		if v, ok := readNum(v1("memory", "memory.usage_in_bytes")); ok {
			out["mem"] = v
		}
		if v, ok := readNum(v1("memory", "memory.max_usage_in_bytes")); ok {
			out["mem_max"] = v
		}
		if v, ok := readNum(v1("pids", "pids.current")); ok {
			out["pids"] = v
		}
		pids := readPids(v1("cpuacct", "cgroup.procs"))
		// v1 blkio counts only where throttling is configured (recent
		// kernels skip the accounting otherwise) and never buffered
		// writes flushed later, so it is often all zeros: then the
		// processes' own I/O counters stand in.
		r, w, _ := blkioBytes(v1("blkio", "blkio.throttle.io_service_bytes"))
		if r == 0 && w == 0 {
			r, w, _ = blkioBytes(v1("blkio", "blkio.io_service_bytes"))
		}
		if r == 0 && w == 0 {
			r, w, _ = procsIO(procRoot, pids)
		}
		out["io_read_bytes"], out["io_write_bytes"] = r, w
		addNet(out, procRoot, pids)
		return out, true
	}
	for _, dir := range []string{filepath.Join(root, "system.slice", "docker-"+id+".scope"), filepath.Join(root, "docker", id)} {
		b, err := os.ReadFile(filepath.Join(dir, "cpu.stat"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, " "); ok && k == "usage_usec" {
				if us, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
					out["cpu_used"] = float64(us) / 1e3
				}
			}
		}
		if v, ok := readNum(filepath.Join(dir, "memory.current")); ok {
			out["mem"] = v
		}
		if v, ok := readNum(filepath.Join(dir, "memory.peak")); ok {
			out["mem_max"] = v
		}
		if v, ok := readNum(filepath.Join(dir, "pids.current")); ok {
			out["pids"] = v
		}
		pids := readPids(filepath.Join(dir, "cgroup.procs"))
		if r, w, ok := ioStatBytes(filepath.Join(dir, "io.stat")); ok {
			out["io_read_bytes"], out["io_write_bytes"] = r, w
		} else if r, w, ok := procsIO(procRoot, pids); ok {
			out["io_read_bytes"], out["io_write_bytes"] = r, w
		}
		addNet(out, procRoot, pids)
		return out, true
	}
	return nil, false
}

func readNum(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return v, err == nil
}

// blkioBytes sums the Read and Write lines ("8:0 Read 4096") of a cgroup
// v1 blkio io_service_bytes file over all devices.
func blkioBytes(path string) (read, write int64, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		n, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			continue
		}
		switch f[1] {
		case "Read":
			read += n
		case "Write":
			write += n
		}
	}
	return read, write, true
}

// ioStatBytes sums rbytes and wbytes of a cgroup v2 io.stat file
// ("8:0 rbytes=4096 wbytes=0 rios=1 ...") over all devices.
func ioStatBytes(path string) (read, write int64, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		for _, kv := range strings.Fields(line) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				continue
			}
			switch k {
			case "rbytes":
				read += n
			case "wbytes":
				write += n
			}
		}
	}
	return read, write, true
}

// readPids lists the processes of a cgroup.procs file that our pid
// namespace can see (it shows the others as 0).
func readPids(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			out = append(out, f)
		}
	}
	return out
}

// procsIO sums read_bytes and write_bytes of /proc/<pid>/io over the
// container's processes: what they made the storage layer read and write,
// buffered writes included, and children they reaped included (the
// container's init reaps every orphan, so the sums only grow). ok is false
// when none was readable.
func procsIO(procRoot string, pids []string) (read, write int64, ok bool) {
	for _, pid := range pids {
		b, err := os.ReadFile(filepath.Join(procRoot, pid, "io"))
		if err != nil {
			continue // exited meanwhile
		}
		ok = true
		for _, line := range strings.Split(string(b), "\n") {
			k, v, found := strings.Cut(line, ":")
			if !found {
				continue
			}
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				continue
			}
			switch k {
			case "read_bytes":
				read += n
			case "write_bytes":
				write += n
			}
		}
	}
	return read, write, ok
}

// addNet adds the network counters of the container's network namespace,
// read through the first of its processes that /proc shows.
func addNet(out map[string]any, procRoot string, pids []string) {
	for _, pid := range pids {
		if rx, tx, ok := netDev(filepath.Join(procRoot, pid, "net", "dev")); ok {
			out["net_rx_bytes"], out["net_tx_bytes"] = rx, tx
			return
		}
	}
}

// netDev sums the received and transmitted bytes of /proc/<pid>/net/dev
// over every interface but loopback.
func netDev(path string) (rx, tx int64, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, found := strings.Cut(line, ":")
		if !found || strings.TrimSpace(name) == "lo" {
			continue // the two header lines have no colon
		}
		f := strings.Fields(rest)
		if len(f) < 9 {
			continue
		}
		r, err1 := strconv.ParseInt(f[0], 10, 64)
		t, err2 := strconv.ParseInt(f[8], 10, 64)
		if err1 == nil && err2 == nil {
			rx += r
			tx += t
		}
	}
	return rx, tx, true
}

// engineStats converts one sample of the Engine API's stats call, the
// fallback where the cgroup files are out of reach, to the same keys as
// cgroupStats.
func engineStats(s container.StatsResponse) map[string]any {
	out := map[string]any{}
	if u := s.CPUStats.CPUUsage.TotalUsage; u > 0 {
		out["cpu_used"] = float64(u) / 1e6 // milliseconds
	}
	if u := s.MemoryStats.Usage; u > 0 {
		out["mem"] = int64(u)
	}
	if u := s.MemoryStats.MaxUsage; u > 0 {
		out["mem_max"] = int64(u)
	}
	if n := s.PidsStats.Current; n > 0 {
		out["pids"] = int64(n)
	}
	var rd, wr int64
	for _, e := range s.BlkioStats.IoServiceBytesRecursive {
		switch strings.ToLower(e.Op) {
		case "read":
			rd += int64(e.Value)
		case "write":
			wr += int64(e.Value)
		}
	}
	out["io_read_bytes"], out["io_write_bytes"] = rd, wr
	var rx, tx int64
	for _, n := range s.Networks {
		rx += int64(n.RxBytes)
		tx += int64(n.TxBytes)
	}
	out["net_rx_bytes"], out["net_tx_bytes"] = rx, tx
	return out
}
