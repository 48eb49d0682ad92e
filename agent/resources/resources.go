// Package resources measures what a host can offer to kernels (cpu cores,
// memory and GPUs; see the gpu subpackage), honouring the cgroup limits of the agent's own container or
// service, so the manager never schedules more than the host really has.
package resources

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	goruntime "runtime"

	"baigo.dev/bai/agent/resources/gpu"
	"baigo.dev/bai/common/resource"
)

// Probe reads capacities from a filesystem root ("/" in production; tests
// pass a fake tree).
type Probe struct {
	Root string
	// NumCPU is the number of CPUs the process may run on (runtime.NumCPU
	// when nil, which honours the cpuset).
	NumCPU func() int
	// Devices are the host's GPUs (gpu.Discover), offered as cuda.device
	// slots when there are any.
	Devices []gpu.Device
}

// Capacity returns the host's resource slots.
func Capacity() (resource.Slots, error) {
	return Probe{Root: "/"}.Capacity()
}

// Capacity returns cpu (cores), mem (bytes) and, when the host has GPUs,
// cuda.device (whole devices).
func (p Probe) Capacity() (resource.Slots, error) {
	cpu := p.cpus()
	mem, err := p.memory()
	if err != nil {
		return nil, err
	}
	s := resource.Slots{resource.CPU: cpu, resource.Mem: float64(mem)}
	if len(p.Devices) > 0 {
		s[resource.CUDADevice] = float64(len(p.Devices))
	}
	return s, nil
}

func (p Probe) path(parts ...string) string {
	return filepath.Join(append([]string{p.Root}, parts...)...)
}

func (p Probe) cpus() float64 {
	n := goruntime.NumCPU
	if p.NumCPU != nil {
		n = p.NumCPU
	}
	cpus := float64(n())
	// cgroup v2: "max 100000" or "<quota> <period>".
	if b, err := os.ReadFile(p.path("sys/fs/cgroup/cpu.max")); err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 && f[0] != "max" {
			q, e1 := strconv.ParseFloat(f[0], 64)
			per, e2 := strconv.ParseFloat(f[1], 64)
			if e1 == nil && e2 == nil && q > 0 && per > 0 {
				cpus = math.Min(cpus, q/per)
			}
		}
		return cpus
	}
	// cgroup v1.
	q, e1 := readInt(p.path("sys/fs/cgroup/cpu/cpu.cfs_quota_us"))
	per, e2 := readInt(p.path("sys/fs/cgroup/cpu/cpu.cfs_period_us"))
	if e1 == nil && e2 == nil && q > 0 && per > 0 {
		cpus = math.Min(cpus, float64(q)/float64(per))
	}
	return cpus
}

func (p Probe) memory() (int64, error) {
	f, err := os.Open(p.path("proc/meminfo"))
	if err != nil {
		return 0, fmt.Errorf("read meminfo: %w", err)
	}
	defer f.Close()
	var total int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse MemTotal: %w", err)
			}
			total = kb << 10
			break
		}
	}
	if total == 0 {
		return 0, fmt.Errorf("no MemTotal in meminfo")
	}
	for _, lim := range []string{"sys/fs/cgroup/memory.max", "sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		if v, err := readInt(p.path(lim)); err == nil && v > 0 && v < total {
			total = v
		}
	}
	return total, nil
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}
