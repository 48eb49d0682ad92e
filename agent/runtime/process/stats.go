package process

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// userHZ is the unit of the cpu times in /proc/<pid>/stat (USER_HZ, 100 on
// every Linux architecture).
const userHZ = 100

// groupStats sums the usage of the processes in process group pgid (the
// runner, which leads its own group, and the language process it starts),
// read from procRoot (normally /proc): cpu_used in milliseconds (including
// children already reaped), mem as resident bytes, io_read_bytes and
// io_write_bytes as storage traffic, and pids. Network counters are left
// out: processes share the host's network namespace, whose counters say
// nothing about one kernel. ok is false when no process of the group is
// left.
func groupStats(procRoot string, pgid int) (map[string]any, bool) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, false
	}
	page := int64(os.Getpagesize())
	type proc struct {
		pid, ppid, pgrp int
		ticks, rss      int64
	}
	var all []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(procRoot, e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		// The command name may hold spaces and parentheses: the fields
		// start after the last ')'. f[0] is field 3 (state) of proc(5).
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 22 {
			continue
		}
		p := proc{pid: pid}
		p.ppid, _ = strconv.Atoi(f[1])
		p.pgrp, _ = strconv.Atoi(f[2])
		for _, j := range []int{11, 12, 13, 14} { // utime stime cutime cstime
			v, _ := strconv.ParseInt(f[j], 10, 64)
			p.ticks += v
		}
		if v, err := strconv.ParseInt(f[21], 10, 64); err == nil {
			p.rss = v * page
		}
		all = append(all, p)
	}
	// The kernel is the runner's group and every descendant of the runner
	// (the language process may lead a group of its own, so that an
	// interrupt reaches all it started).
	in := map[int]bool{}
	for changed := true; changed; {
		changed = false
		for _, p := range all {
			if !in[p.pid] && (p.pgrp == pgid || p.pid == pgid || in[p.ppid]) {
				in[p.pid] = true
				changed = true
			}
		}
	}
	var ticks, rss, rd, wr, pids int64
	for _, p := range all {
		if !in[p.pid] {
			continue
		}
		pids++
		ticks += p.ticks
		rss += p.rss
		r, w := procIO(filepath.Join(procRoot, strconv.Itoa(p.pid), "io"))
		rd += r
		wr += w
	}
	if pids == 0 {
		return nil, false
	}
	return map[string]any{
		"cpu_used":       float64(ticks) * 1000 / userHZ,
		"mem":            rss,
		"io_read_bytes":  rd,
		"io_write_bytes": wr,
		"pids":           pids,
	}, true
}

// procIO reads read_bytes and write_bytes of /proc/<pid>/io (which include
// the children the process has reaped); 0 when unreadable.
func procIO(path string) (read, write int64) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "read_bytes":
			read = n
		case "write_bytes":
			write = n
		}
	}
	return read, write
}
