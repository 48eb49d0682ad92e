package runner

import (
	"context"
	_ "embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/kproto"
	"golang.org/x/sys/unix"
)

// pythonHelper is the REPL loop run inside python3; see the file's header for
// the pipe protocol.
//
//go:embed python_helper.py
var pythonHelper string

// Record and command kinds of the helper protocol.
const (
	pyCmdRun      = 'X'
	pyCmdInput    = 'I'
	pyCmdComplete = 'C'

	pyRecReady    = 'R'
	pyRecStdout   = 'O'
	pyRecStderr   = 'E'
	pyRecWaiting  = 'W'
	pyRecFinished = 'F'
	pyRecComplete = 'c'
	pyRecMedia    = 'M'
	pyRecHTML     = 'H'
	pyEvExit      = 0 // not a record: the process is gone
)

const pyStartTimeout = 30 * time.Second

// pythonDriver runs query mode in one persistent python3 process. When that
// process dies, the next request starts a fresh one (the state is lost).
type pythonDriver struct {
	cfg Config
	log *slog.Logger

	mu   sync.Mutex
	proc *pyProc
}

func newPythonDriver(cfg Config, log *slog.Logger) *pythonDriver {
	if cfg.RuntimePath == "" {
		cfg.RuntimePath = "python3"
	}
	return &pythonDriver{cfg: cfg, log: log}
}

// Start implements Driver.
func (d *pythonDriver) Start(ctx context.Context) error {
	_, err := d.ensure(ctx, nil)
	return err
}

// DefaultCommand implements Driver.
func (d *pythonDriver) DefaultCommand(op string) string {
	if op == kproto.OpExec {
		return d.cfg.RuntimePath + " main.py"
	}
	return ""
}

// ensure returns a live REPL, starting a fresh one when there is none. A
// notice about a REPL that died while idle goes to out when it is not nil.
func (d *pythonDriver) ensure(ctx context.Context, out Output) (*pyProc, error) {
	d.mu.Lock()
	p := d.proc
	d.mu.Unlock()
	if p != nil && !p.exited() {
		return p, nil
	}
	if p != nil {
		code := p.exitStatus()
		d.log.Warn("python repl died while idle", "exit_code", code)
		if out != nil {
			out.Text(kproto.OpStderr, []byte(fmt.Sprintf("[bai-runner] the Python process %s since the last run; started a fresh one (state is lost)\n", describeExit(code))))
		}
	}
	np, err := startPyProc(ctx, d.cfg, d.log)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.proc = np
	d.mu.Unlock()
	return np, nil
}

// Query implements Driver.
func (d *pythonDriver) Query(ctx context.Context, code string, rio RunIO) (int, error) {
	p, err := d.ensure(ctx, rio.Out)
	if err != nil {
		return 1, err
	}
	p.setOutput(rio.Out)
	defer p.setOutput(nil)
	// A failed write means the process is gone; its exit event follows.
	_ = p.command(pyCmdRun, []byte(code))
	waiting := false
	for {
		select {
		case ev := <-p.events:
			switch ev.kind {
			case pyRecFinished:
				n, err := strconv.Atoi(string(ev.data))
				if err != nil {
					n = 1
				}
				return n, nil
			case pyRecWaiting:
				waiting = true
				wi := kproto.WaitingInput{}
				if len(ev.data) > 0 {
					wi.IsPassword = ev.data[0] == '1'
					wi.Prompt = string(ev.data[1:])
				}
				b, _ := json.Marshal(wi)
				rio.Out.Send(kproto.OpWaitingInput, b)
			case pyEvExit:
				d.log.Warn("python repl died during a run", "exit_code", ev.exit)
				d.mu.Lock()
				if d.proc == p {
					d.proc = nil
				}
				d.mu.Unlock()
				rio.Out.Text(kproto.OpStderr, []byte(fmt.Sprintf("\n[bai-runner] the Python process %s; starting a fresh one (state is lost)\n", describeExit(ev.exit))))
				if _, err := d.ensure(ctx, nil); err != nil {
					d.log.Error("restart python repl", "err", err)
					rio.Out.Text(kproto.OpStderr, []byte(fmt.Sprintf("[bai-runner] could not restart Python: %v\n", err)))
				}
				if ev.exit == 0 {
					return 1, nil
				}
				return ev.exit, nil
			}
			// Stale completion results are dropped.
		case line := <-rio.Input:
			if !waiting {
				d.log.Debug("dropped input nobody asked for")
				continue
			}
			waiting = false
			_ = p.command(pyCmdInput, []byte(line))
		case <-ctx.Done():
			return 1, ctx.Err()
		}
	}
}

// Interrupt implements Driver: SIGINT to the REPL's process group raises
// KeyboardInterrupt in user code; the helper ignores it between runs.
func (d *pythonDriver) Interrupt() error {
	d.mu.Lock()
	p := d.proc
	d.mu.Unlock()
	if p == nil {
		return nil
	}
	return signalGroup(p.pid, syscall.SIGINT)
}

// Complete implements Driver using rlcompleter in the REPL's namespace.
func (d *pythonDriver) Complete(ctx context.Context, req kproto.CompleteRequest) ([]string, error) {
	p, err := d.ensure(ctx, nil)
	if err != nil {
		return nil, err
	}
	if err := p.command(pyCmdComplete, []byte(req.Code)); err != nil {
		return nil, err
	}
	for {
		select {
		case ev := <-p.events:
			switch ev.kind {
			case pyRecComplete:
				var out []string
				if err := json.Unmarshal(ev.data, &out); err != nil {
					return nil, fmt.Errorf("completion result: %w", err)
				}
				return out, nil
			case pyEvExit:
				return nil, fmt.Errorf("python exited during completion: %w", errdefs.ErrUnavailable)
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("completion: %w", errdefs.ErrTimeout)
		}
	}
}

// Close implements Driver.
func (d *pythonDriver) Close() error {
	d.mu.Lock()
	p := d.proc
	d.proc = nil
	d.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.stop()
}

// pyEvent is a control record from the helper, or its exit.
type pyEvent struct {
	kind byte
	data []byte
	exit int
}

type outputBox struct{ Output }

// pyProc is one python3 helper process and the goroutine that reads all of
// its pipes.
type pyProc struct {
	log  *slog.Logger
	cmd  *exec.Cmd
	pid  int
	cmdW *os.File // fd 3 in the helper

	rec, stdout, stderr rawPipe
	wk                  *waker

	events   chan pyEvent
	out      atomic.Pointer[outputBox]
	done     chan struct{} // closed when the process is gone and its pipes drained
	exitCode atomic.Int64
}

func startPyProc(ctx context.Context, cfg Config, log *slog.Logger) (*pyProc, error) {
	p := &pyProc{log: log, events: make(chan pyEvent, 64), done: make(chan struct{})}
	var pipes []*rawPipe
	cleanup := func() {
		for _, rp := range pipes {
			rp.close()
		}
	}
	for _, rp := range []*rawPipe{&p.rec, &p.stdout, &p.stderr} {
		np, err := newRawPipe()
		if err != nil {
			cleanup()
			return nil, err
		}
		*rp = np
		pipes = append(pipes, rp)
	}
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("pipe: %w", err)
	}
	p.cmdW = cmdW
	wk, err := newWaker()
	if err != nil {
		cleanup()
		cmdR.Close()
		cmdW.Close()
		return nil, err
	}
	p.wk = wk

	cmd := exec.Command(cfg.RuntimePath, "-u", "-c", pythonHelper)
	cmd.Dir = cfg.WorkDir
	cmd.Env = cfg.Env
	cmd.Stdout = p.stdout.w
	cmd.Stderr = p.stderr.w
	cmd.ExtraFiles = []*os.File{cmdR, p.rec.w}
	cmd.SysProcAttr = groupAttr()
	if err := cfg.jailCmd(cmd); err != nil {
		cleanup()
		cmdR.Close()
		cmdW.Close()
		wk.close()
		return nil, err
	}
	err = cmd.Start()
	cmdR.Close()
	p.rec.closeWrite()
	p.stdout.closeWrite()
	p.stderr.closeWrite()
	if err != nil {
		cleanup()
		cmdW.Close()
		wk.close()
		return nil, fmt.Errorf("start %s: %w", cfg.RuntimePath, err)
	}
	p.cmd = cmd
	p.pid = cmd.Process.Pid
	exited := make(chan int, 1)
	go func() {
		err := cmd.Wait()
		wk.wake() // before the send: whoever receives may close the waker
		exited <- exitCode(cmd.ProcessState, err)
	}()
	go p.loop(exited)

	timer := time.NewTimer(pyStartTimeout)
	defer timer.Stop()
	for {
		select {
		case ev := <-p.events:
			switch ev.kind {
			case pyRecReady:
				log.Info("python repl started", "pid", p.pid)
				return p, nil
			case pyEvExit:
				return nil, fmt.Errorf("python repl %s at start: %w", describeExit(ev.exit), errdefs.ErrUnavailable)
			}
		case <-timer.C:
			_ = p.stop()
			return nil, fmt.Errorf("python repl start: %w", errdefs.ErrTimeout)
		case <-ctx.Done():
			_ = p.stop()
			return nil, ctx.Err()
		}
	}
}

func (p *pyProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *pyProc) exitStatus() int { return int(p.exitCode.Load()) }

func (p *pyProc) setOutput(o Output) {
	if o == nil {
		p.out.Store(nil)
		return
	}
	p.out.Store(&outputBox{o})
}

// command writes one framed command to the helper's fd 3.
func (p *pyProc) command(kind byte, data []byte) error {
	buf := make([]byte, 5+len(data))
	buf[0] = kind
	binary.BigEndian.PutUint32(buf[1:5], uint32(len(data)))
	copy(buf[5:], data)
	if _, err := p.cmdW.Write(buf); err != nil {
		return fmt.Errorf("write to python: %w", err)
	}
	return nil
}

// stop ends the process group (see stopGroup).
func (p *pyProc) stop() error { return stopGroup(p.cmdW, p.pid, p.done) }

// discardOutput swallows output produced between runs.
type discardOutput struct{}

func (discardOutput) Text(string, []byte) {}
func (discardOutput) Send(string, []byte) {}

func (p *pyProc) output() Output {
	if b := p.out.Load(); b != nil {
		return b.Output
	}
	return discardOutput{}
}

func (p *pyProc) emit(ev pyEvent) {
	select {
	case p.events <- ev:
	default:
		p.log.Warn("python event dropped: nobody is listening", "kind", string(rune(ev.kind)))
	}
}

// loop reads the record pipe and the raw stdout/stderr pipes until the
// process has exited. Raw pipes are drained before a finished or waiting
// record is passed on, so output written before it is never reported after.
func (p *pyProc) loop(exited <-chan int) {
	// finish releases the pipes and marks the process gone before its exit
	// event is seen, so that ensure starts a fresh one.
	finish := func(code int) {
		p.rec.close()
		p.stdout.close()
		p.stderr.close()
		p.wk.close()
		p.cmdW.Close()
		p.exitCode.Store(int64(code))
		close(p.done)
		p.emit(pyEvent{kind: pyEvExit, exit: code})
	}
	recOut := &utf8Stream{op: kproto.OpStdout}
	recErr := &utf8Stream{op: kproto.OpStderr}
	raw := []*utf8Stream{{op: kproto.OpStdout}, {op: kproto.OpStderr}}
	fds := []unix.PollFd{
		{Fd: int32(p.rec.r), Events: unix.POLLIN},
		{Fd: int32(p.stdout.r), Events: unix.POLLIN},
		{Fd: int32(p.stderr.r), Events: unix.POLLIN},
		{Fd: int32(p.wk.r), Events: unix.POLLIN},
	}
	buf := make([]byte, 64<<10)
	var pending []byte

	drainRaw := func() {
		for i := 1; i <= 2; i++ {
			if fds[i].Fd < 0 {
				continue
			}
			s := raw[i-1]
			eof, _ := readAvailable(int(fds[i].Fd), buf, func(b []byte) { s.feed(p.output(), b) })
			if eof {
				fds[i].Fd = -1
			}
		}
	}
	flushStreams := func() {
		out := p.output()
		for _, s := range []*utf8Stream{recOut, recErr, raw[0], raw[1]} {
			s.flush(out)
		}
	}
	dispatch := func(kind byte, data []byte) {
		switch kind {
		case pyRecStdout:
			recOut.feed(p.output(), data)
		case pyRecStderr:
			recErr.feed(p.output(), data)
		case pyRecMedia, pyRecHTML:
			// Output written to the raw pipes before it goes first.
			drainRaw()
			op := kproto.OpMedia
			if kind == pyRecHTML {
				op = kproto.OpHTML
			}
			p.output().Send(op, append([]byte(nil), data...))
		case pyRecFinished, pyRecWaiting:
			drainRaw()
			flushStreams()
			p.emit(pyEvent{kind: kind, data: append([]byte(nil), data...)})
		default:
			p.emit(pyEvent{kind: kind, data: append([]byte(nil), data...)})
		}
	}
	readRecords := func() {
		if fds[0].Fd < 0 {
			return
		}
		eof, _ := readAvailable(int(fds[0].Fd), buf, func(b []byte) { pending = append(pending, b...) })
		off := 0
		for len(pending)-off >= 5 {
			n := int(binary.BigEndian.Uint32(pending[off+1 : off+5]))
			if len(pending)-off-5 < n {
				break
			}
			dispatch(pending[off], pending[off+5:off+5+n])
			off += 5 + n
		}
		rest := copy(pending, pending[off:])
		pending = pending[:rest]
		if cap(pending) > 1<<20 && rest < 1<<16 {
			pending = append([]byte(nil), pending...) // give a huge record's buffer back
		}
		if eof {
			fds[0].Fd = -1
		}
	}

	for {
		if _, err := unix.Poll(fds, -1); err != nil && !errors.Is(err, unix.EINTR) {
			p.log.Error("poll python pipes", "err", err)
			_ = signalGroup(p.pid, syscall.SIGKILL)
			finish(<-exited)
			return
		}
		if fds[1].Revents != 0 || fds[2].Revents != 0 {
			drainRaw()
		}
		if fds[0].Revents != 0 {
			readRecords()
		}
		if fds[3].Revents != 0 {
			readRecords()
			drainRaw()
			flushStreams()
			finish(<-exited)
			return
		}
	}
}
