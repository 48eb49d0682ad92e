package runner

// Exact order of stdout and stderr for any program.
//
// A program's stdout and stderr are two pipes, and a reader that finds both
// readable cannot tell which write came first. So the runner starts
// programs through itself: re-executed with notifyExecArg, it installs a
// seccomp filter that turns write(2) and writev(2) on descriptors 1 and 2
// into user notifications (SECCOMP_RET_USER_NOTIF), hands the listener to
// the runner over a socket, and execs the program. The filter is inherited
// by every process the program starts. The runner takes each notification
// in the order the kernel queued them, copies the data out of the writer's
// memory, passes it on as stdout or stderr, and answers the write as done;
// the bytes never touch the pipes. A write to a descriptor 1 or 2 that is
// not the run's pipe (a shell redirect into a file) continues untouched
// (SECCOMP_USER_NOTIF_FLAG_CONTINUE). Where seccomp notifications are not
// available, programs run without the filter and the two pipes are read as
// before (order across them best effort).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// notifyExecArg is the hidden first argument that makes the runner install
// the output filter and exec the rest of its arguments.
const notifyExecArg = "__bai-notify-exec"

// seccompData mirrors struct seccomp_data.
type seccompData struct {
	Nr                 int32
	Arch               uint32
	InstructionPointer uint64
	Args               [6]uint64
}

// seccompNotif mirrors struct seccomp_notif.
type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Data  seccompData
}

// seccompNotifResp mirrors struct seccomp_notif_resp.
type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

const ioctlNotifIDValid = 0x40082102 // SECCOMP_IOCTL_NOTIF_ID_VALID

func filterArch() (uint32, bool) {
	switch runtime.GOARCH {
	case "amd64":
		return unix.AUDIT_ARCH_X86_64, true
	case "arm64":
		return unix.AUDIT_ARCH_AARCH64, true
	}
	return 0, false
}

// outputFilter is the classic BPF program: notify write/writev on fd 1 or
// 2 of this architecture, allow everything else.
func outputFilter(arch uint32) []unix.SockFilter {
	const (
		ldAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		ret   = unix.BPF_RET | unix.BPF_K
	)
	return []unix.SockFilter{
		{Code: ldAbs, K: 4},                                   // 0: arch
		{Code: jeq, K: arch, Jt: 0, Jf: 6},                    // 1: other arch → allow
		{Code: ldAbs, K: 0},                                   // 2: syscall number
		{Code: jeq, K: uint32(unix.SYS_WRITE), Jt: 1, Jf: 0},  // 3
		{Code: jeq, K: uint32(unix.SYS_WRITEV), Jt: 0, Jf: 3}, // 4
		{Code: ldAbs, K: 16},                                  // 5: args[0], low half
		{Code: jeq, K: 1, Jt: 2, Jf: 0},                       // 6
		{Code: jeq, K: 2, Jt: 1, Jf: 0},                       // 7
		{Code: ret, K: unix.SECCOMP_RET_ALLOW},                // 8
		{Code: ret, K: unix.SECCOMP_RET_USER_NOTIF},           // 9
	}
}

// notifyExec is the re-executed runner: install the filter on this thread,
// send the listener over the socket at fd sock, exec argv. It only returns
// on failure.
func notifyExec(sock int, argv []string) int {
	runtime.LockOSThread()
	if len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "bai-runner: nothing to run")
		return 127
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		fmt.Fprintf(os.Stderr, "bai-runner: %v\n", err)
		return 127
	}
	if lfd, err := installOutputFilter(); err == nil {
		_ = unix.Sendmsg(sock, []byte{1}, unix.UnixRights(lfd), nil, 0)
		unix.Close(lfd)
	} else {
		_ = unix.Sendmsg(sock, []byte{0}, nil, nil, 0) // no filter: plain pipes
	}
	unix.Close(sock)
	err = syscall.Exec(path, argv, os.Environ())
	fmt.Fprintf(os.Stderr, "bai-runner: exec %s: %v\n", argv[0], err)
	return 127
}

func installOutputFilter() (int, error) {
	arch, ok := filterArch()
	if !ok {
		return -1, errors.New("no seccomp filter for this architecture")
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return -1, fmt.Errorf("no_new_privs: %w", err)
	}
	f := outputFilter(arch)
	prog := unix.SockFprog{Len: uint16(len(f)), Filter: &f[0]}
	fd, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(f)
	if errno != 0 {
		return -1, fmt.Errorf("seccomp: %w", errno)
	}
	return int(fd), nil
}

// receiveListener reads the helper's message: the listener fd, or -1 when
// the helper could not install the filter.
func receiveListener(sock int) int {
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil || oobn == 0 {
		return -1
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) == 0 {
		return -1
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) == 0 {
		return -1
	}
	for _, extra := range fds[1:] {
		unix.Close(extra)
	}
	return fds[0]
}

// outputCapture serves one run's notifications.
type outputCapture struct {
	listener int
	pipes    [3]unix.Stat_t // [1] stdout, [2] stderr: the run's pipes
	buf      []byte
}

// prepareNotifyExec prepares cmd (a program with its stdout and stderr set
// to the run's pipes) to start through the filter. After cmd.Start, call
// attach; when seccomp is unavailable attach returns nil and the caller
// reads the pipes alone.
// The child's end of the socket must be closed by the caller after Start.
func prepareNotifyExec(cmd *exec.Cmd) (parentSock int, child *os.File, err error) {
	self, err := os.Executable()
	if err != nil {
		return -1, nil, err
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, err
	}
	child = os.NewFile(uintptr(pair[1]), "notify-sock")
	// The socket goes last, so the program's own extra descriptors keep
	// their numbers (3, 4, ...); the helper closes it before the exec.
	sockFD := 3 + len(cmd.ExtraFiles)
	cmd.Args = append([]string{self, notifyExecArg, strconv.Itoa(sockFD), "--"}, cmd.Args...)
	cmd.Path = self
	cmd.Err = nil
	cmd.ExtraFiles = append(cmd.ExtraFiles, child)
	return pair[0], child, nil
}

// attachCapture receives the listener after the helper started. stdoutFD and
// stderrFD are any descriptors of the run's stdout and stderr pipes.
func attachCapture(parentSock, stdoutFD, stderrFD int) *outputCapture {
	defer unix.Close(parentSock)
	lfd := receiveListener(parentSock)
	if lfd < 0 {
		return nil
	}
	c := &outputCapture{listener: lfd, buf: make([]byte, 64<<10)}
	if unix.Fstat(stdoutFD, &c.pipes[1]) != nil || unix.Fstat(stderrFD, &c.pipes[2]) != nil {
		unix.Close(lfd)
		return nil
	}
	return c
}

func (c *outputCapture) close() {
	if c != nil && c.listener >= 0 {
		unix.Close(c.listener)
		c.listener = -1
	}
}

// runStream tells which of the run's pipes fd of pid is: 1 for stdout, 2
// for stderr, 0 for neither. It goes by the file, not the number: a shell
// running `echo err >&2` writes to fd 1 after pointing it at stderr.
func (c *outputCapture) runStream(pid uint32, fd int) int {
	var st unix.Stat_t
	if unix.Stat(fmt.Sprintf("/proc/%d/fd/%d", pid, fd), &st) != nil {
		return 0
	}
	for i := 1; i <= 2; i++ {
		if st.Dev == c.pipes[i].Dev && st.Ino == c.pipes[i].Ino {
			return i
		}
	}
	return 0
}

// readProcMem copies n bytes at addr of pid's memory.
func readProcMem(pid uint32, addr uint64, n int, dst []byte) ([]byte, error) {
	dst = dst[:0]
	if cap(dst) < n {
		dst = make([]byte, 0, n)
	}
	dst = dst[:n]
	if n == 0 {
		return dst, nil
	}
	local := []unix.Iovec{{Base: &dst[0]}}
	local[0].SetLen(n)
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: n}}
	if got, err := unix.ProcessVMReadv(int(pid), local, remote, 0); err == nil && got == n {
		return dst, nil
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.ReadAt(dst, int64(addr)); err != nil {
		return nil, err
	}
	return dst, nil
}

// maxTake caps what one notification passes on; the writer sees a short
// write and writes the rest.
const maxTake = 4 << 20

// handle takes one notification; emit gets the stream (1 or 2) and data.
// It returns false when the listener is done.
func (c *outputCapture) handle(emit func(fd int, data []byte)) bool {
	var req seccompNotif
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(c.listener), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&req))); errno != 0 {
		return errno == unix.EINTR || errno == unix.ENOENT
	}
	resp := seccompNotifResp{ID: req.ID, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}
	fd := int(int32(req.Data.Args[0]))
	if stream := c.runStream(req.Pid, fd); (fd == 1 || fd == 2) && stream != 0 {
		if data, ok := c.collect(&req); ok {
			if c.valid(req.ID) {
				emit(stream, data)
				resp = seccompNotifResp{ID: req.ID, Val: int64(len(data))}
			}
		}
	}
	_, _, _ = unix.Syscall(unix.SYS_IOCTL, uintptr(c.listener), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp)))
	return true
}

func (c *outputCapture) valid(id uint64) bool {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(c.listener), ioctlNotifIDValid, uintptr(unsafe.Pointer(&id)))
	return errno == 0
}

// collect reads the data of a write or writev.
func (c *outputCapture) collect(req *seccompNotif) ([]byte, bool) {
	pid, a := req.Pid, req.Data.Args
	switch int64(req.Data.Nr) {
	case unix.SYS_WRITE:
		n := int(min(a[2], maxTake))
		data, err := readProcMem(pid, a[1], n, c.buf)
		if err != nil {
			return nil, false
		}
		if cap(data) <= 1<<20 {
			c.buf = data[:0]
		}
		return data, true
	case unix.SYS_WRITEV:
		cnt := int(min(a[2], 1024))
		raw, err := readProcMem(pid, a[1], cnt*16, nil)
		if err != nil {
			return nil, false
		}
		var out []byte
		for i := 0; i < cnt && len(out) < maxTake; i++ {
			base := binary.LittleEndian.Uint64(raw[i*16:])
			n := int(min(binary.LittleEndian.Uint64(raw[i*16+8:]), uint64(maxTake-len(out))))
			part, err := readProcMem(pid, base, n, nil)
			if err != nil {
				return nil, false
			}
			out = append(out, part...)
		}
		return out, true
	}
	return nil, false
}

// notifyExecMain runs the helper when args (os.Args) ask for it.
func notifyExecMain(args []string) (int, bool) {
	if len(args) < 4 || args[1] != notifyExecArg || args[3] != "--" {
		return 0, false
	}
	sock, err := strconv.Atoi(args[2])
	if err != nil || sock < 3 {
		fmt.Fprintln(os.Stderr, "bai-runner: bad notify socket")
		return 127, true
	}
	return notifyExec(sock, args[4:]), true
}
