package runner

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// This file holds the process and pipe plumbing shared by the drivers: pipes
// whose read ends are plain nonblocking fds polled with poll(2) in one
// goroutine, so that a reader can drain every pipe of a process at a chosen
// moment (before reporting "finished") instead of racing separate goroutines.

// rawPipe is a pipe whose read end the runner polls and whose write end is
// handed to a child process.
type rawPipe struct {
	r int      // nonblocking, close-on-exec read end
	w *os.File // blocking write end for the child
}

func newRawPipe() (rawPipe, error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return rawPipe{}, fmt.Errorf("pipe: %w", err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return rawPipe{}, fmt.Errorf("pipe nonblock: %w", err)
	}
	return rawPipe{r: fds[0], w: os.NewFile(uintptr(fds[1]), "pipe")}, nil
}

// closeWrite closes the child's end once the child has it.
func (p *rawPipe) closeWrite() {
	if p.w != nil {
		p.w.Close()
		p.w = nil
	}
}

func (p *rawPipe) close() {
	p.closeWrite()
	if p.r >= 0 {
		unix.Close(p.r)
		p.r = -1
	}
}

// readAvailable reads fd until it would block, passing each chunk to fn. It
// reports whether the pipe reached end of file.
func readAvailable(fd int, buf []byte, fn func([]byte)) (eof bool, err error) {
	for {
		n, err := unix.Read(fd, buf)
		switch {
		case n > 0:
			fn(buf[:n])
			continue
		case err == nil:
			return true, nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EAGAIN):
			return false, nil
		default:
			return true, fmt.Errorf("read pipe: %w", err)
		}
	}
}

// waker lets another goroutine wake a poll loop. Its fds are plain ints set
// once, so wake and close need no locking: the owner closes it only after it
// has seen the wake-up (or when nobody will wake it any more).
type waker struct{ r, w int }

func newWaker() (*waker, error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, fmt.Errorf("pipe: %w", err)
	}
	return &waker{r: fds[0], w: fds[1]}, nil
}

func (w *waker) wake() { _, _ = unix.Write(w.w, []byte{1}) }

func (w *waker) close() {
	unix.Close(w.r)
	unix.Close(w.w)
}

// groupAttr starts a child as the leader of its own process group, so that a
// signal reaches it and everything it spawned, and kills it when the runner
// dies: in a container the container's end does that anyway, but a runner
// on the host (the process runtime) would otherwise leave its language
// process behind, still writing in the kernel's directories.
func groupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalGroup sends sig to the process group led by pid.
func signalGroup(pid int, sig syscall.Signal) error {
	if pid <= 0 {
		return nil
	}
	if err := unix.Kill(-pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("signal process group %d: %w", pid, err)
	}
	return nil
}

// exitCode maps a finished process's state to a shell-style exit code:
// 128+n when it was killed by signal n.
func exitCode(state *os.ProcessState, err error) int {
	if state == nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			state = ee.ProcessState
		} else {
			return 1
		}
	}
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return state.ExitCode()
}

// describeExit says in words how a process ended.
func describeExit(code int) string {
	if code > 128 && code < 128+65 {
		return fmt.Sprintf("was killed by signal %d (%s)", code-128, unix.SignalName(syscall.Signal(code-128)))
	}
	return fmt.Sprintf("exited with code %d", code)
}

// stopGroup ends an interpreter's process group: EOF on its command pipe
// and SIGTERM first, SIGKILL when it lingers past two seconds. done closes
// when the interpreter has exited.
func stopGroup(cmdW *os.File, pid int, done <-chan struct{}) error {
	cmdW.Close()
	_ = signalGroup(pid, syscall.SIGTERM)
	select {
	case <-done:
		return nil
	case <-time.After(2 * time.Second):
	}
	if err := signalGroup(pid, syscall.SIGKILL); err != nil {
		return err
	}
	<-done
	return nil
}
