package jail

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// installFilter sets no_new_privs and loads prog on the calling thread,
// which stays locked to this goroutine: the exec that follows must come
// from the same thread to inherit the filter.
func installFilter(prog []unix.SockFilter) error {
	runtime.LockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("no_new_privs: %w", err)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if _, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&fprog))); errno != 0 {
		return fmt.Errorf("install seccomp filter (%d instructions): %w", len(prog), errno)
	}
	return nil
}

// swallowed are the signals the jail catches and ignores: the runner sends
// them to the whole process group (the program gets them directly), and
// the jail must outlive them to report the program's end. Catching rather
// than ignoring keeps the program's dispositions at their defaults, since
// exec resets caught signals but keeps ignored ones.
var swallowed = []os.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT,
	unix.SIGUSR1, unix.SIGUSR2, unix.SIGALRM, unix.SIGPIPE, unix.SIGTSTP,
	unix.SIGTTIN, unix.SIGTTOU, unix.SIGWINCH}

const ptraceOptions = unix.PTRACE_O_TRACESECCOMP | unix.PTRACE_O_TRACEFORK |
	unix.PTRACE_O_TRACEVFORK | unix.PTRACE_O_TRACECLONE |
	unix.PTRACE_O_TRACEEXEC | unix.PTRACE_O_EXITKILL

// supervise starts the program under the tracer and follows it until it
// ends, returning its exit status (or dying of its signal).
func supervise(o Options, pol Policy, from string) int {
	runtime.LockOSThread() // every ptrace request must come from this thread
	log := newEventLog(o.LogFD, o.Mode)
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0) // the program may not read or trace the jail
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, swallowed...)
	go func() {
		for range sigs {
		}
	}()

	files := inheritedFiles(o.LogFD)
	argv := append([]string{"bai-jail", childArg}, o.flagArgs()...)
	argv = append(append(argv, "--"), o.Argv...)
	pid, err := syscall.ForkExec("/proc/self/exe", argv, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: files,
		Sys:   &syscall.SysProcAttr{Ptrace: true},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "bai-jail: start: %v\n", err)
		return 126
	}
	t := &tracer{
		pol: pol, mode: o.Mode, log: log, self: os.Getpid(), main: pid,
		threads: map[int]int{pid: pid}, procs: map[int]bool{pid: true},
		firstExec: true, memFDs: map[int]int{}, fresh: map[int]bool{},
	}
	t.log.debugf("jail %s: policy %s, pid %d", o.Mode, from, pid)
	// The child stops at its exec (PTRACE_TRACEME); from then on it and
	// everything it starts are followed.
	var ws unix.WaitStatus
	if _, err := wait4(pid, &ws, unix.WALL); err != nil {
		fmt.Fprintf(os.Stderr, "bai-jail: wait: %v\n", err)
		return 126
	}
	if !ws.Stopped() {
		return t.finish(ws)
	}
	if err := unix.PtraceSetOptions(pid, ptraceOptions); err != nil {
		_ = unix.Kill(pid, unix.SIGKILL)
		fmt.Fprintf(os.Stderr, "bai-jail: ptrace options: %v\n", err)
		return 126
	}
	t.cont(pid, 0)
	return t.loop()
}

func wait4(pid int, ws *unix.WaitStatus, opts int) (int, error) {
	for {
		wpid, err := unix.Wait4(pid, ws, opts, nil)
		if err != unix.EINTR {
			return wpid, err
		}
	}
}

// inheritedFiles maps the descriptors the jail inherited (those without
// close-on-exec, except the log) to the same numbers in the child.
func inheritedFiles(logFD int) []uintptr {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return []uintptr{0, 1, 2}
	}
	var keep []int
	top := 2
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd == logFD {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 {
			continue
		}
		keep = append(keep, fd)
		top = max(top, fd)
	}
	files := make([]uintptr, top+1)
	for i := range files {
		files[i] = ^uintptr(0) // closed in the child
	}
	for _, fd := range keep {
		files[fd] = uintptr(fd)
	}
	for fd := 0; fd <= 2; fd++ {
		if files[fd] == ^uintptr(0) {
			files[fd] = uintptr(fd) // the child still needs something there
		}
	}
	return files
}

// tracer holds what the jail knows about the processes it follows.
type tracer struct {
	pol       Policy
	mode      string
	log       *eventLog
	self      int          // the jail's pid
	main      int          // the program's pid
	threads   map[int]int  // tid → tgid of every traced thread
	fresh     map[int]bool // announced by a fork event, first SIGSTOP still to come
	procs     map[int]bool // tgids alive
	execs     int          // execs after the first
	forks     int          // processes created
	firstExec bool         // the program's own exec is still to come
	noVMRead  bool         // process_vm_readv is refused here
	memFDs    map[int]int  // tgid → open /proc/<tgid>/mem
	stops     int          // wait reports, for BAI_JAIL_DEBUG
	checks    int          // seccomp stops
}

func (t *tracer) loop() int {
	for {
		var ws unix.WaitStatus
		pid, err := wait4(-1, &ws, unix.WALL)
		t.stops++
		if err != nil {
			// No child left without having seen the program's end: it
			// cannot happen, but do not spin.
			t.log.flush()
			fmt.Fprintf(os.Stderr, "bai-jail: wait: %v\n", err)
			return 126
		}
		switch {
		case ws.Exited() || ws.Signaled():
			t.gone(pid)
			if pid == t.main {
				return t.finish(ws)
			}
		case ws.Stopped():
			t.stopped(pid, ws)
		}
	}
}

// finish ends the jail the way the program ended.
func (t *tracer) finish(ws unix.WaitStatus) int {
	t.log.debugf("%d stops, %d checked calls, %d forks, %d execs", t.stops, t.checks, t.forks, t.execs)
	t.log.flush()
	if ws.Signaled() {
		sig := ws.Signal()
		_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
		signal.Reset(sig)
		_ = unix.Kill(t.self, sig)
		if sig != unix.SIGKILL {
			_ = unix.Kill(t.self, unix.SIGKILL)
		}
		return 128 + int(sig)
	}
	return ws.ExitStatus()
}

func (t *tracer) cont(pid int, sig unix.Signal) {
	_ = unix.PtraceCont(pid, int(sig))
}

func (t *tracer) gone(pid int) {
	tgid, ok := t.threads[pid]
	delete(t.threads, pid)
	delete(t.fresh, pid)
	if ok && tgid == pid {
		delete(t.procs, tgid)
		t.dropMem(tgid)
	}
}

func (t *tracer) stopped(pid int, ws unix.WaitStatus) {
	sig := ws.StopSignal()
	if _, known := t.threads[pid]; !known {
		// A new process or thread can report its first stop (SIGSTOP)
		// before its parent's fork event does.
		t.add(pid, tgidOf(pid))
		if sig == unix.SIGSTOP {
			t.cont(pid, 0)
			return
		}
	}
	if sig == unix.SIGSTOP && t.fresh[pid] {
		// The attach stop of a child its parent's fork event announced:
		// delivering it would stop the child for real, and an interactive
		// shell (waiting with WUNTRACED) would report the job Stopped.
		delete(t.fresh, pid)
		t.cont(pid, 0)
		return
	}
	if sig == unix.SIGTRAP {
		switch ws.TrapCause() {
		case unix.PTRACE_EVENT_SECCOMP:
			t.onSeccomp(pid)
			t.cont(pid, 0)
			return
		case unix.PTRACE_EVENT_FORK, unix.PTRACE_EVENT_VFORK, unix.PTRACE_EVENT_CLONE:
			t.onNew(pid, ws.TrapCause())
			t.cont(pid, 0)
			return
		case unix.PTRACE_EVENT_EXEC:
			t.dropMem(t.threads[pid])
			if old, err := unix.PtraceGetEventMsg(pid); err == nil && int(old) != pid {
				delete(t.threads, int(old)) // a thread exec'd and took the leader's pid
			}
			t.cont(pid, 0)
			return
		}
	}
	switch sig {
	case unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
		if !hasSiginfo(pid) {
			t.cont(pid, 0) // a group stop, not a signal to deliver
			return
		}
	}
	t.cont(pid, sig)
}

func hasSiginfo(pid int) bool {
	var info [128]byte
	_, _, errno := unix.RawSyscall6(unix.SYS_PTRACE, unix.PTRACE_GETSIGINFO, uintptr(pid), 0, uintptr(unsafe.Pointer(&info[0])), 0, 0)
	return errno == 0
}

func (t *tracer) add(tid, tgid int) {
	if tgid <= 0 {
		tgid = tid
	}
	t.threads[tid] = tgid
	if tgid == tid {
		t.procs[tid] = true
	}
}

func (t *tracer) onNew(pid int, cause int) {
	msg, err := unix.PtraceGetEventMsg(pid)
	if err != nil {
		return
	}
	child := int(msg)
	tgid := child
	if cause == unix.PTRACE_EVENT_CLONE {
		var regs unix.PtraceRegs
		if unix.PtraceGetRegs(pid, &regs) == nil && regs.Rdi&unix.CLONE_THREAD != 0 {
			tgid = t.threads[pid]
		}
	}
	old, seen := t.threads[child]
	if seen && old == child && tgid != child {
		delete(t.procs, child) // adopted early as a process; it is a thread
	}
	if !seen {
		t.fresh[child] = true
	}
	t.add(child, tgid)
}

// tgidOf reads a thread's thread group id from /proc.
func tgidOf(tid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return tid
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Tgid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return tid
}

// verdict is the tracer's answer to one call.
type verdict struct {
	refuse bool   // answer EPERM (enforce) / log "would refuse" (watch)
	why    string // for the log
	call   string // the call as logged, e.g. openat("/etc/x", write)
	// emulated: the tracer performed the call itself; the caller sees 0.
	emulated bool
}

func (t *tracer) onSeccomp(pid int) {
	t.checks++
	reason, err := unix.PtraceGetEventMsg(pid)
	if err != nil {
		return
	}
	var regs unix.PtraceRegs
	if err := unix.PtraceGetRegs(pid, &regs); err != nil {
		return
	}
	nr := int(int64(regs.Orig_rax))
	a := [6]uint64{regs.Rdi, regs.Rsi, regs.Rdx, regs.R10, regs.R8, regs.R9}
	name := syscallName(nr)
	var v verdict
	switch reason {
	case reasonNotAllowed:
		v = verdict{refuse: true, call: name + "()", why: "not in allowed_syscalls"}
	case reasonIoctl:
		v = verdict{refuse: true, call: fmt.Sprintf("ioctl(%d, %#x)", int32(a[0]), uint32(a[1])), why: "terminal input injection is never allowed"}
	default:
		v = t.check(pid, name, a)
	}
	if v.refuse {
		t.log.refused(pid, v.call, v.why)
		if t.mode != ModeEnforce {
			return
		}
		regs.Orig_rax = ^uint64(0) // skip the call ...
		regs.Rax = negErrno(unix.EPERM)
		_ = unix.PtraceSetRegs(pid, &regs)
		return
	}
	if v.emulated && t.mode == ModeEnforce {
		regs.Orig_rax = ^uint64(0)
		regs.Rax = 0
		_ = unix.PtraceSetRegs(pid, &regs)
	}
}

// atFDCWD is AT_FDCWD (-100) as a register holds it; dirfd arguments are
// ints, so only their low 32 bits count (isCWD).
const atFDCWD = uint64(0xffffffffffffff9c)

func isCWD(dirfd uint64) bool { return int32(dirfd) == unix.AT_FDCWD }

// negErrno is -errno as the syscall return register holds it.
func negErrno(e unix.Errno) uint64 { return uint64(-int64(e)) }

// check applies the conditional rules to an allowed call.
func (t *tracer) check(pid int, name string, a [6]uint64) verdict {
	switch name {
	case "open":
		return t.checkOpen(pid, name, atFDCWD, a[0], a[1])
	case "openat":
		return t.checkOpen(pid, name, a[0], a[1], a[2])
	case "openat2":
		var how [8]byte
		if _, err := t.readMem(pid, uintptr(a[2]), how[:]); err != nil {
			return verdict{refuse: true, call: name + "()", why: "unreadable open_how"}
		}
		return t.checkOpen(pid, name, a[0], a[1], *(*uint64)(unsafe.Pointer(&how[0])))
	case "creat", "truncate":
		return t.checkPath(pid, name, OpOpen, atFDCWD, a[0], true)
	case "mkdir", "mknod":
		return t.checkPath(pid, name, OpOpen, atFDCWD, a[0], false)
	case "mkdirat", "mknodat":
		return t.checkPath(pid, name, OpOpen, a[0], a[1], false)
	case "link":
		return t.checkPath(pid, name, OpOpen, atFDCWD, a[1], false)
	case "linkat":
		return t.checkPath(pid, name, OpOpen, a[2], a[3], false)
	case "symlink":
		return t.checkPath(pid, name, OpOpen, atFDCWD, a[1], false)
	case "symlinkat":
		return t.checkPath(pid, name, OpOpen, a[1], a[2], false)
	case "rename":
		return t.both(t.checkPath(pid, name, OpUnlink, atFDCWD, a[0], false), t.checkPath(pid, name, OpOpen, atFDCWD, a[1], false))
	case "renameat", "renameat2":
		return t.both(t.checkPath(pid, name, OpUnlink, a[0], a[1], false), t.checkPath(pid, name, OpOpen, a[2], a[3], false))
	case "unlink", "rmdir":
		return t.checkPath(pid, name, OpUnlink, atFDCWD, a[0], false)
	case "unlinkat":
		return t.checkPath(pid, name, OpUnlink, a[0], a[1], false)
	case "chmod", "chown":
		return t.checkPath(pid, name, OpChmod, atFDCWD, a[0], true)
	case "lchown":
		return t.checkPath(pid, name, OpChmod, atFDCWD, a[0], false)
	case "fchmodat":
		return t.checkPath(pid, name, OpChmod, a[0], a[1], true)
	case "fchmodat2":
		return t.checkPath(pid, name, OpChmod, a[0], a[1], a[3]&unix.AT_SYMLINK_NOFOLLOW == 0)
	case "fchownat":
		return t.checkPath(pid, name, OpChmod, a[0], a[1], a[4]&unix.AT_SYMLINK_NOFOLLOW == 0)
	case "execve":
		return t.checkExec(pid, name, atFDCWD, a[0], 0)
	case "execveat":
		return t.checkExec(pid, name, a[0], a[1], a[4])
	case "clone", "fork", "vfork":
		return t.checkFork(pid, name)
	case "kill":
		return t.checkKill(pid, int(int32(a[0])), unix.Signal(int32(a[1])))
	case "tkill":
		return t.checkTarget(pid, name, int(int32(a[0])), unix.Signal(int32(a[1])))
	case "tgkill":
		return t.checkTarget(pid, name, int(int32(a[1])), unix.Signal(int32(a[2])))
	case "rt_sigqueueinfo":
		return t.checkTarget(pid, name, int(int32(a[0])), unix.Signal(int32(a[1])))
	case "rt_tgsigqueueinfo":
		return t.checkTarget(pid, name, int(int32(a[1])), unix.Signal(int32(a[2])))
	case "pidfd_send_signal":
		target := pidfdTarget(pid, int(int32(a[0])))
		return t.checkTarget(pid, name, target, unix.Signal(int32(a[1])))
	}
	return verdict{call: name + "()"}
}

func (t *tracer) both(a, b verdict) verdict {
	if a.refuse {
		return a
	}
	return b
}

func (t *tracer) checkOpen(pid int, name string, dirfd, addr, flags uint64) verdict {
	if flags&writeFlags == 0 && flags&uint64(unix.O_TMPFILE) != uint64(unix.O_TMPFILE) {
		return verdict{call: name + "()"}
	}
	follow := flags&unix.O_NOFOLLOW == 0 && flags&(unix.O_CREAT|unix.O_EXCL) != unix.O_CREAT|unix.O_EXCL
	return t.checkPath(pid, name, OpOpen, dirfd, addr, follow)
}

// checkPath resolves the path argument at addr (relative to dirfd) as the
// caller would and checks it against op's allowlist.
func (t *tracer) checkPath(pid int, name, op string, dirfd, addr uint64, follow bool) verdict {
	p, err := t.readString(pid, uintptr(addr))
	if err != nil {
		return verdict{refuse: true, call: name + "(?)", why: "unreadable path argument"}
	}
	call := fmt.Sprintf("%s(%q)", name, p)
	full, err := resolvePath(pid, t.threads[pid], dirfd, p, follow)
	if err != nil {
		return verdict{refuse: true, call: call, why: err.Error()}
	}
	if !t.pol.Allowed(op, full) {
		return verdict{refuse: true, call: call, why: fmt.Sprintf("%s is not under whitelist_paths.%s", full, op)}
	}
	return verdict{call: call}
}

func (t *tracer) checkExec(pid int, name string, dirfd, addr, flags uint64) verdict {
	p, err := t.readString(pid, uintptr(addr))
	if err != nil {
		return verdict{refuse: true, call: name + "(?)", why: "unreadable path argument"}
	}
	call := fmt.Sprintf("%s(%q)", name, p)
	var full string
	if p == "" && flags&unix.AT_EMPTY_PATH != 0 {
		full, err = fdPath(pid, int(int32(dirfd)))
	} else {
		full, err = resolvePath(pid, t.threads[pid], dirfd, p, true)
	}
	if err != nil {
		return verdict{refuse: true, call: call, why: err.Error()}
	}
	if !t.pol.Allowed(OpExec, full) {
		return verdict{refuse: true, call: call, why: fmt.Sprintf("%s is not under whitelist_paths.exec", full)}
	}
	if t.firstExec && t.threads[pid] == t.main {
		t.firstExec = false // the program itself
		return verdict{call: call}
	}
	if t.pol.ExecAllowance != Unlimited && t.execs >= t.pol.ExecAllowance {
		return verdict{refuse: true, call: call, why: fmt.Sprintf("exec_allowance (%d) used up", t.pol.ExecAllowance)}
	}
	t.execs++
	return verdict{call: call}
}

func (t *tracer) checkFork(pid int, name string) verdict {
	call := name + "()"
	if t.pol.MaxChildProcs > 0 && len(t.procs) >= t.pol.MaxChildProcs {
		return verdict{refuse: true, call: call, why: fmt.Sprintf("max_child_procs (%d) reached", t.pol.MaxChildProcs)}
	}
	if t.pol.ForkAllowance != Unlimited && t.forks >= t.pol.ForkAllowance {
		return verdict{refuse: true, call: call, why: fmt.Sprintf("fork_allowance (%d) used up", t.pol.ForkAllowance)}
	}
	t.forks++
	return verdict{call: call}
}

// checkTarget allows a signal to one thread or process only when the jail
// traces it. Signal 0 only probes for existence and is always allowed.
func (t *tracer) checkTarget(pid int, name string, target int, sig unix.Signal) verdict {
	call := fmt.Sprintf("%s(%d, %d)", name, target, int(sig))
	if sig == 0 {
		return verdict{call: call}
	}
	if _, ok := t.threads[target]; ok && target > 0 {
		return verdict{call: call}
	}
	return verdict{refuse: true, call: call, why: "the target is not a process of this run"}
}

// checkKill handles kill(2), which may name a process group: a group is
// allowed when all its members are traced; one that also holds the jail
// (the run's own group) gets the signal from the jail, member by member,
// with the jail left out.
func (t *tracer) checkKill(pid, target int, sig unix.Signal) verdict {
	if target > 0 {
		return t.checkTarget(pid, "kill", target, sig)
	}
	call := fmt.Sprintf("kill(%d, %d)", target, int(sig))
	if sig == 0 {
		return verdict{call: call}
	}
	if target == -1 {
		return verdict{refuse: true, call: call, why: "signals to every process are never allowed"}
	}
	pgid := -target
	if target == 0 {
		g, err := unix.Getpgid(pid)
		if err != nil {
			return verdict{refuse: true, call: call, why: "unknown process group"}
		}
		pgid = g
	}
	members := groupMembers(pgid)
	withJail := false
	for _, m := range members {
		if m == t.self {
			withJail = true
			continue
		}
		if _, ok := t.threads[m]; !ok {
			return verdict{refuse: true, call: call, why: fmt.Sprintf("process group %d holds processes outside this run", pgid)}
		}
	}
	if !withJail {
		return verdict{call: call}
	}
	if t.mode == ModeEnforce {
		for _, m := range members {
			if m != t.self {
				_ = unix.Kill(m, sig)
			}
		}
	}
	return verdict{call: call, emulated: true}
}

// groupMembers lists the processes whose process group is pgid.
func groupMembers(pgid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if g, err := unix.Getpgid(pid); err == nil && g == pgid {
			out = append(out, pid)
		}
	}
	return out
}

// pidfdTarget finds the process a pidfd (or a /proc/<pid> directory
// descriptor, which pidfd_send_signal also takes) of the caller refers to;
// 0 when unknown.
func pidfdTarget(pid, fd int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%d", pid, fd))
	if err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "Pid:"); ok {
				n, _ := strconv.Atoi(strings.TrimSpace(v))
				return n
			}
		}
	}
	if p, err := fdPath(pid, fd); err == nil {
		if rest, ok := strings.CutPrefix(p, "/proc/"); ok {
			if n, err := strconv.Atoi(rest); err == nil {
				return n
			}
		}
	}
	return 0
}

// readMem copies len(dst) bytes at addr in pid's memory. Docker's default
// seccomp profile refuses process_vm_readv to processes without
// CAP_SYS_PTRACE, so after the first refusal the jail reads through
// /proc/<pid>/mem, which it may read as the tracer of a same-user process.
func (t *tracer) readMem(pid int, addr uintptr, dst []byte) (int, error) {
	if !t.noVMRead {
		local := []unix.Iovec{{Base: &dst[0]}}
		local[0].SetLen(len(dst))
		remote := []unix.RemoteIovec{{Base: addr, Len: len(dst)}}
		n, err := unix.ProcessVMReadv(pid, local, remote, 0)
		if err != unix.EPERM && err != unix.ENOSYS {
			return n, err
		}
		t.noVMRead = true
	}
	tgid := t.threads[pid]
	fd, ok := t.memFDs[tgid]
	if !ok {
		var err error
		fd, err = unix.Open("/proc/"+strconv.Itoa(pid)+"/mem", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return 0, err
		}
		if tgid != 0 {
			t.memFDs[tgid] = fd // kept until the process execs or ends
		} else {
			defer unix.Close(fd)
		}
	}
	return unix.Pread(fd, dst, int64(addr))
}

// dropMem forgets the memory descriptor of process tgid, which refers to
// an address space that exec replaced or that is gone.
func (t *tracer) dropMem(tgid int) {
	if fd, ok := t.memFDs[tgid]; ok {
		unix.Close(fd)
		delete(t.memFDs, tgid)
	}
}

// readString reads a NUL-terminated string of at most PATH_MAX bytes,
// a page at a time so that a string ending near unmapped memory is read.
func (t *tracer) readString(pid int, addr uintptr) (string, error) {
	if addr == 0 {
		return "", unix.EFAULT
	}
	var out []byte
	buf := make([]byte, 4096)
	for len(out) < unix.PathMax {
		n := 4096 - int(addr%4096)
		got, err := t.readMem(pid, addr, buf[:n])
		if err != nil {
			return "", err
		}
		if i := bytes.IndexByte(buf[:got], 0); i >= 0 {
			return string(append(out, buf[:i]...)), nil
		}
		out = append(out, buf[:got]...)
		addr += uintptr(got)
	}
	return "", unix.ENAMETOOLONG
}

// fdPath is the path a descriptor of pid refers to.
func fdPath(pid, fd int) (string, error) {
	p, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd))
	if err != nil {
		return "", fmt.Errorf("descriptor %d: %w", fd, err)
	}
	return p, nil
}

// resolvePath turns a path argument into the absolute path the kernel
// would act on: relative to the caller's directory or dirfd, with the
// caller's /proc/self aliases spelled out, and symbolic links followed in
// the directories (and in the last component when follow is set). Paths
// in /proc are compared as written, with the caller's own entry written
// /proc/self, since the jail cannot follow the caller's magic links.
func resolvePath(tid, tgid int, dirfd uint64, p string, follow bool) (string, error) {
	if p == "" {
		return "", errors.New("empty path")
	}
	if !strings.HasPrefix(p, "/") {
		var base string
		var err error
		if isCWD(dirfd) {
			base, err = os.Readlink(fmt.Sprintf("/proc/%d/cwd", tid))
		} else {
			base, err = fdPath(tid, int(int32(dirfd)))
		}
		if err != nil {
			return "", fmt.Errorf("relative path %q: %w", p, err)
		}
		p = base + "/" + p
	}
	p = aliasProc(path.Clean(p), tid, tgid)
	for hops := 0; hops < 40; hops++ {
		if strings.HasPrefix(p, "/proc/") || p == "/proc" {
			return selfProc(p, tid, tgid), nil
		}
		dir, base := path.Split(p)
		if real, err := filepath.EvalSymlinks(dir); err == nil {
			dir = real
		}
		p = path.Join(dir, base)
		if !follow {
			return p, nil
		}
		target, err := os.Readlink(p)
		if err != nil {
			return p, nil // not a link (or not there yet)
		}
		if !strings.HasPrefix(target, "/") {
			target = path.Join(dir, target)
		}
		p = aliasProc(path.Clean(target), tid, tgid)
	}
	return "", errors.New("too many levels of symbolic links")
}

// aliasProc spells out /proc/self, /proc/thread-self and /dev/fd (and
// /dev/std*) for the calling thread.
func aliasProc(p string, tid, tgid int) string {
	self := "/proc/" + strconv.Itoa(tgid)
	switch {
	case p == "/proc/self" || strings.HasPrefix(p, "/proc/self/"):
		return self + p[len("/proc/self"):]
	case p == "/proc/thread-self" || strings.HasPrefix(p, "/proc/thread-self/"):
		return self + "/task/" + strconv.Itoa(tid) + p[len("/proc/thread-self"):]
	case p == "/dev/fd" || strings.HasPrefix(p, "/dev/fd/"):
		return self + "/fd" + p[len("/dev/fd"):]
	case p == "/dev/stdin":
		return self + "/fd/0"
	case p == "/dev/stdout":
		return self + "/fd/1"
	case p == "/dev/stderr":
		return self + "/fd/2"
	}
	return p
}

// selfProc writes the caller's own /proc entries (by process or thread id)
// as /proc/self for matching against the policy.
func selfProc(p string, tid, tgid int) string {
	for _, id := range []int{tgid, tid} {
		pre := "/proc/" + strconv.Itoa(id)
		if p == pre || strings.HasPrefix(p, pre+"/") {
			return "/proc/self" + p[len(pre):]
		}
	}
	return p
}
