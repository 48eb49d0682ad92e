package runner

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// This file detects that a run is blocked reading its standard input, for
// every language alike (static Go binaries included, which an LD_PRELOAD
// hook cannot see). The kernel offers no event for "a reader is blocked on
// this pipe", so while a run is active and has been silent for quietPeriod,
// its loop polls: it looks, in /proc, for a thread of the run's process group
// sleeping in read(2) on a descriptor that is the run's stdin pipe, while the
// pipe holds no unread bytes. The poll stops as soon as the run writes
// something, asks for input or ends, so an idle kernel costs nothing.

// quietPeriod is how long a run must be silent before /proc is inspected,
// and how often it is inspected again while it stays silent.
const quietPeriod = 20 // milliseconds

// Kinds of blocking syscalls that may wait on stdin.
const (
	sysRead   = iota + 1 // read, readv, pread64: fd is the first argument
	sysPoll              // poll, ppoll: struct pollfd array, count
	sysSelect            // select, pselect6: nfds, read fd_set
)

// waitSyscalls maps the syscall numbers of this architecture (the first field
// of /proc/<pid>/task/<tid>/syscall) to their kind. epoll is left out: event
// loops sleep in it with stdin registered while they wait for other things.
var waitSyscalls = func() map[int]int {
	switch runtime.GOARCH {
	case "arm64", "riscv64", "loong64":
		return map[int]int{63: sysRead, 65: sysRead, 67: sysRead, 73: sysPoll, 72: sysSelect}
	default: // amd64
		return map[int]int{0: sysRead, 19: sysRead, 17: sysRead, 7: sysPoll, 271: sysPoll, 23: sysSelect, 270: sysSelect}
	}
}()

// stdinPipe is the write end of a run's standard input, with what is needed
// to recognise readers of its read end.
type stdinPipe struct {
	r, w   *os.File
	target string // "pipe:[inode]", the /proc fd link of either end
}

func newStdinPipe() (*stdinPipe, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stdin pipe: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(w.Fd()), &st); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("stat stdin pipe: %w", err)
	}
	return &stdinPipe{r: r, w: w, target: fmt.Sprintf("pipe:[%d]", st.Ino)}, nil
}

// closeRead closes the child's end once the child has it.
func (s *stdinPipe) closeRead() {
	if s.r != nil {
		s.r.Close()
		s.r = nil
	}
}

func (s *stdinPipe) close() {
	s.closeRead()
	s.w.Close()
}

// buffered reports how many bytes wait unread in the pipe.
func (s *stdinPipe) buffered() int {
	n, err := unix.IoctlGetInt(int(s.w.Fd()), unix.TIOCINQ) // FIONREAD
	if err != nil {
		return 0
	}
	return n
}

// writeLine writes one line of user input.
func (s *stdinPipe) writeLine(line string) error {
	if !strings.HasSuffix(line, "\n") {
		line += "\n"
	}
	if _, err := s.w.WriteString(line); err != nil {
		return fmt.Errorf("write stdin: %w", err)
	}
	return nil
}

// waitingForInput reports whether a process of group pgid is blocked reading
// the pipe while the pipe is empty.
func (s *stdinPipe) waitingForInput(pgid int) bool {
	if pgid <= 0 || s.buffered() > 0 {
		return false
	}
	for _, pid := range groupMembers(pgid) {
		if blockedReading(pid, s.target) {
			return true
		}
	}
	return false
}

// groupMembers lists the processes whose process group is pgid.
func groupMembers(pgid int) []int {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	var out []int
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		if pid == pgid {
			out = append(out, pid)
			continue
		}
		b, err := os.ReadFile("/proc/" + n + "/stat")
		if err != nil {
			continue
		}
		// Fields after "(comm) ": state ppid pgrp ...
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) >= 3 && f[2] == strconv.Itoa(pgid) {
			out = append(out, pid)
		}
	}
	return out
}

// blockedReading reports whether a thread of pid sleeps in a read syscall on
// a descriptor whose /proc link is target, or in poll/select waiting for such
// a descriptor to become readable (the GHC runtime does that; the sets are
// read from /proc/<pid>/mem, which needs the same access as the syscall
// file).
func blockedReading(pid int, target string) bool {
	base := "/proc/" + strconv.Itoa(pid)
	d, err := os.Open(base + "/task")
	if err != nil {
		return false
	}
	tids, _ := d.Readdirnames(-1)
	d.Close()
	isTarget := func(fd uint64) bool {
		link, err := os.Readlink(base + "/fd/" + strconv.FormatUint(fd, 10))
		return err == nil && link == target
	}
	for _, tid := range tids {
		b, err := os.ReadFile(base + "/task/" + tid + "/syscall")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) < 3 {
			continue // "running", or not in a syscall
		}
		nr, err := strconv.Atoi(f[0])
		if err != nil {
			continue
		}
		kind := waitSyscalls[nr]
		if kind == 0 {
			continue
		}
		a0, err0 := strconv.ParseUint(strings.TrimPrefix(f[1], "0x"), 16, 64)
		a1, err1 := strconv.ParseUint(strings.TrimPrefix(f[2], "0x"), 16, 64)
		if err0 != nil || err1 != nil {
			continue
		}
		switch kind {
		case sysRead:
			if isTarget(a0) {
				return true
			}
		case sysPoll:
			if pollWaitsOn(base, a0, a1, isTarget) {
				return true
			}
		case sysSelect:
			if selectWaitsOn(base, a0, a1, isTarget) {
				return true
			}
		}
	}
	return false
}

// readMem reads n bytes at addr of a process's memory.
func readMem(base string, addr uint64, n int) []byte {
	if addr == 0 || n <= 0 || n > 1<<16 {
		return nil
	}
	f, err := os.Open(base + "/mem")
	if err != nil {
		return nil
	}
	defer f.Close()
	buf := make([]byte, n)
	if _, err := f.ReadAt(buf, int64(addr)); err != nil {
		return nil
	}
	return buf
}

// pollWaitsOn checks a poll(2) array (struct pollfd: int fd, short events,
// short revents) for a readable-wait on a target descriptor.
func pollWaitsOn(base string, addr, nfds uint64, isTarget func(uint64) bool) bool {
	b := readMem(base, addr, int(nfds)*8)
	for i := 0; i+8 <= len(b); i += 8 {
		fd := int32(binary.NativeEndian.Uint32(b[i:]))
		events := binary.NativeEndian.Uint16(b[i+4:])
		if fd >= 0 && events&unix.POLLIN != 0 && isTarget(uint64(fd)) {
			return true
		}
	}
	return false
}

// selectWaitsOn checks a select(2) read set for a target descriptor.
func selectWaitsOn(base string, nfds, addr uint64, isTarget func(uint64) bool) bool {
	if nfds > 1<<16 {
		return false
	}
	b := readMem(base, addr, int((nfds+63)/64*8))
	for fd := uint64(0); fd < nfds && int(fd/8) < len(b); fd++ {
		if b[fd/8]&(1<<(fd%8)) != 0 && isTarget(fd) {
			return true
		}
	}
	return false
}
