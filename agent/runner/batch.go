package runner

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"baigo.dev/bai/common/kproto"
	"golang.org/x/sys/unix"
)

// shellRun runs one batch step (clean, build or exec) as `/bin/sh -c` in the
// work directory, streaming its output. It is language independent: drivers
// only choose the default commands.
type shellRun struct {
	mu  sync.Mutex
	pid int
}

// interrupt kills the step's whole process group.
func (s *shellRun) interrupt() error {
	s.mu.Lock()
	pid := s.pid
	s.mu.Unlock()
	return signalGroup(pid, syscall.SIGKILL)
}

// run executes command and returns its exit code. Standard input is
// /dev/null when input is nil; otherwise it is a pipe, and when the command
// blocks reading it the run sends kproto.OpWaitingInput and writes the next
// line from input to it.
func (s *shellRun) run(ctx context.Context, cfg Config, command string, out Output, input <-chan string) (int, error) {
	return s.runIn(ctx, cfg, cfg.WorkDir, nil, command, out, input)
}

// runIn is run with a chosen directory and extra environment.
func (s *shellRun) runIn(ctx context.Context, cfg Config, dir string, env []string, command string, out Output, input <-chan string) (int, error) {
	stdout, err := newRawPipe()
	if err != nil {
		return 1, err
	}
	defer stdout.close()
	stderr, err := newRawPipe()
	if err != nil {
		return 1, err
	}
	defer stderr.close()
	wk, err := newWaker()
	if err != nil {
		return 1, err
	}
	defer wk.close()

	var stdin *stdinPipe
	if input != nil {
		if stdin, err = newStdinPipe(); err != nil {
			return 1, err
		}
		defer stdin.close()
	}

	cmd := exec.Command("/bin/sh", "-c", command)
	cmd.Dir = dir
	cmd.Env = cfg.Env
	if len(env) > 0 {
		if cmd.Env == nil {
			cmd.Env = cmd.Environ()
		}
		cmd.Env = append(cmd.Env, env...)
	}
	if stdin != nil {
		cmd.Stdin = stdin.r
	}
	cmd.Stdout = stdout.w
	cmd.Stderr = stderr.w
	cmd.SysProcAttr = groupAttr()
	if err := cfg.jailCmd(cmd); err != nil {
		return 126, err
	}
	// Start through the output filter (notify.go) so the console keeps the
	// exact order of stdout and stderr writes.
	sock, sockChild, notifyErr := prepareNotifyExec(cmd)
	err = cmd.Start()
	if sockChild != nil {
		sockChild.Close()
	}
	if err != nil {
		if notifyErr == nil {
			unix.Close(sock)
		}
		return 127, fmt.Errorf("start %q: %w", command, err)
	}
	var capture *outputCapture
	if notifyErr == nil {
		capture = attachCapture(sock, stdout.r, stderr.r)
	}
	defer capture.close()
	stdout.closeWrite()
	stderr.closeWrite()
	pid := cmd.Process.Pid
	s.mu.Lock()
	s.pid = pid
	s.mu.Unlock()
	var waiting atomic.Bool
	timeout := -1
	if stdin != nil {
		stdin.closeRead()
		timeout = quietPeriod
		fwdDone := make(chan struct{})
		defer close(fwdDone)
		go func() {
			for {
				select {
				case line := <-input:
					_ = stdin.writeLine(line)
					waiting.Store(false)
				case <-fwdDone:
					return
				}
			}
		}()
	}
	lastOut := time.Now()
	stop := context.AfterFunc(ctx, func() { _ = s.interrupt() })
	defer stop()

	waited := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		s.mu.Lock()
		s.pid = 0
		s.mu.Unlock()
		wk.wake() // before the send: whoever receives may close the waker
		waited <- err
	}()

	streams := []*utf8Stream{{op: kproto.OpStdout}, {op: kproto.OpStderr}}
	fds := []unix.PollFd{
		{Fd: int32(stdout.r), Events: unix.POLLIN},
		{Fd: int32(stderr.r), Events: unix.POLLIN},
		{Fd: int32(wk.r), Events: unix.POLLIN},
		{Fd: -1, Events: unix.POLLIN},
	}
	if capture != nil {
		fds[3].Fd = int32(capture.listener)
	}
	take := func() {
		if fds[3].Fd < 0 {
			return
		}
		if fds[3].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 && fds[3].Revents&unix.POLLIN == 0 {
			fds[3].Fd = -1
			return
		}
		if !capture.handle(func(fd int, data []byte) {
			lastOut = time.Now()
			streams[fd-1].feed(out, data)
		}) {
			fds[3].Fd = -1
		}
	}
	// takeAll serves the notifications already queued.
	takeAll := func() {
		for fds[3].Fd >= 0 {
			one := []unix.PollFd{{Fd: fds[3].Fd, Events: unix.POLLIN}}
			if n, _ := unix.Poll(one, 0); n <= 0 || one[0].Revents&unix.POLLIN == 0 {
				return
			}
			fds[3].Revents = one[0].Revents
			take()
		}
	}
	buf := make([]byte, 32<<10)
	drain := func(i int) {
		if fds[i].Fd < 0 {
			return
		}
		eof, _ := readAvailable(int(fds[i].Fd), buf, func(p []byte) {
			lastOut = time.Now()
			streams[i].feed(out, p)
		})
		if eof {
			fds[i].Fd = -1
		}
	}
	for {
		n, err := unix.Poll(fds, timeout)
		if err != nil && !errors.Is(err, unix.EINTR) {
			_ = s.interrupt()
			<-waited
			return 1, fmt.Errorf("poll: %w", err)
		}
		if n == 0 && stdin != nil && !waiting.Load() &&
			time.Since(lastOut) >= quietPeriod*time.Millisecond && stdin.waitingForInput(pid) {
			waiting.Store(true) // before the send: the answer may come at once
			out.Send(kproto.OpWaitingInput, mustJSON(kproto.WaitingInput{}))
			continue
		}
		if fds[2].Revents != 0 {
			// The process is gone: take what it left in the pipes. Output
			// of background children that outlive it is not waited for.
			takeAll()
			drain(0)
			drain(1)
			break
		}
		if fds[3].Revents != 0 {
			take()
		}
		for i := 0; i < 2; i++ {
			if fds[i].Revents != 0 {
				drain(i)
			}
		}
	}
	for _, st := range streams {
		st.flush(out)
	}
	waitErr := <-waited
	return exitCode(cmd.ProcessState, waitErr), nil
}
