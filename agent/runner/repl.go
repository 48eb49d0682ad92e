package runner

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/kproto"
	"golang.org/x/sys/unix"
)

// helperFS holds one small REPL helper program per interpreted language.
// Each reads commands "<kind> <length>\n<bytes>" on fd 3 (kind X: run code,
// C: complete), evaluates the code in a persistent context with its own
// stdin/stdout/stderr left to the user's code, and writes line records on
// fd 4: "F <exit code>" when a run ends (after flushing its output), and for
// completion "= <candidate>" lines closed by "c". Helpers that can replace
// their language's standard output and error streams send what the user's
// code writes to them as "O <length>\n<bytes>" and "E <length>\n<bytes>"
// records on fd 4 too: one channel keeps the exact order of stdout and
// stderr writes, which two pipes cannot. Raw writes to fds 1 and 2 (child
// processes, native extensions, languages without such a hook) still come
// through the pipes, ordered only as well as their reads are.
//
//go:embed helpers
var helperFS embed.FS

// interruptGrace is how long a REPL may take to come back after SIGINT
// before its process group is killed (and restarted, losing the state).
const interruptGrace = 2 * time.Second

// replSpec describes one interpreted language.
type replSpec struct {
	helper string   // file name under helpers/
	bins   []string // interpreter names, first found wins
	args   []string // arguments before the helper's path
	exec   string   // batch exec default; the interpreter replaces %s
}

var replSpecs = map[string]replSpec{
	"nodejs": {helper: "nodejs.js", bins: []string{"node", "nodejs"}, exec: "%s main.js"},
	"ruby":   {helper: "ruby.rb", bins: []string{"ruby"}, exec: "%s main.rb"},
	"php":    {helper: "php.php", bins: []string{"php"}, exec: "%s main.php"},
	"lua":    {helper: "lua.lua", bins: []string{"lua5.4", "lua", "lua5.3"}, exec: "%s main.lua"},
	"r":      {helper: "r.R", bins: []string{"Rscript"}, args: []string{"--no-save", "--no-restore"}, exec: "%s main.R"},
	"octave": {helper: "octave.m", bins: []string{"octave-cli", "octave"}, args: []string{"--quiet", "--norc", "--no-history", "--no-gui"}, exec: "%s --quiet main.m"},
	"scheme": {helper: "scheme.scm", bins: []string{"guile", "guile3.0"}, args: []string{"--no-auto-compile", "-s"}, exec: "%s --no-auto-compile -s main.scm"},
	"bash":   {helper: "bash.sh", bins: []string{"bash"}, args: []string{"--norc", "--noprofile"}, exec: "%s main.sh"},
	"perl":   {helper: "perl.pl", bins: []string{"perl"}, exec: "%s main.pl"},
}

// replDriver runs query mode in one persistent interpreter process running
// the language's helper. When that process dies, the next request starts a
// fresh one (the state is lost).
type replDriver struct {
	cfg  Config
	log  *slog.Logger
	lang string
	spec replSpec
	bin  string

	mu        sync.Mutex
	helperDir string
	proc      *replProc
}

func newReplDriver(cfg Config, log *slog.Logger, lang string, spec replSpec) *replDriver {
	d := &replDriver{cfg: cfg, log: log, lang: lang, spec: spec, bin: spec.bins[0]}
	// Prefer the image's interpreter when it is one of the known ones.
	if cfg.RuntimePath != "" {
		for _, b := range spec.bins {
			if filepath.Base(cfg.RuntimePath) == b {
				d.bin = cfg.RuntimePath
				return d
			}
		}
	}
	for _, b := range spec.bins {
		if _, err := exec.LookPath(b); err == nil {
			d.bin = b
			break
		}
	}
	return d
}

// DefaultCommand implements Driver.
func (d *replDriver) DefaultCommand(op string) string {
	if op == kproto.OpExec {
		return fmt.Sprintf(d.spec.exec, d.bin)
	}
	return ""
}

// Start implements Driver.
func (d *replDriver) Start(ctx context.Context) error {
	_, err := d.ensure(ctx, nil)
	return err
}

func (d *replDriver) helperPath() (string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.helperDir == "" {
		dir, err := os.MkdirTemp(d.cfg.tempDir(), "bai-helper-")
		if err != nil {
			return "", fmt.Errorf("helper dir: %w", err)
		}
		d.helperDir = dir
	}
	p := filepath.Join(d.helperDir, d.spec.helper)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	src, err := helperFS.ReadFile("helpers/" + d.spec.helper)
	if err != nil {
		return "", fmt.Errorf("helper %s: %w", d.spec.helper, err)
	}
	if err := os.WriteFile(p, src, 0o644); err != nil {
		return "", fmt.Errorf("write helper: %w", err)
	}
	return p, nil
}

// ensure returns a live REPL, starting a fresh one when there is none. A
// notice about a REPL that died while idle goes to out when it is not nil.
func (d *replDriver) ensure(ctx context.Context, out Output) (*replProc, error) {
	d.mu.Lock()
	p := d.proc
	d.mu.Unlock()
	if p != nil && !p.exited() {
		return p, nil
	}
	if p != nil {
		code := p.exitStatus()
		d.log.Warn("repl died while idle", "lang", d.lang, "exit_code", code)
		if out != nil {
			out.Text(kproto.OpStderr, []byte(fmt.Sprintf("[bai-runner] the %s process %s since the last run; started a fresh one (state is lost)\n", d.lang, describeExit(code))))
		}
	}
	helper, err := d.helperPath()
	if err != nil {
		return nil, err
	}
	argv := append(append([]string{}, d.spec.args...), helper)
	np, err := startReplProc(d.cfg, d.log, d.bin, argv)
	if err != nil {
		return nil, err
	}
	d.log.Info("repl started", "lang", d.lang, "pid", np.pid)
	d.mu.Lock()
	d.proc = np
	d.mu.Unlock()
	return np, nil
}

// Query implements Driver.
func (d *replDriver) Query(ctx context.Context, code string, rio RunIO) (int, error) {
	p, err := d.ensure(ctx, rio.Out)
	if err != nil {
		return 1, err
	}
	p.setOutput(rio.Out)
	p.seq.Add(1)
	p.waiting.Store(false)
	p.active.Store(true)
	p.nudge()
	defer func() {
		p.active.Store(false)
		p.setOutput(nil)
	}()
	// A failed write means the process is gone; its exit event follows.
	_ = p.command('X', []byte(code))
	for {
		select {
		case ev := <-p.events:
			switch ev.kind {
			case 'F':
				return ev.code, nil
			case 'W':
				rio.Out.Send(kproto.OpWaitingInput, mustJSON(kproto.WaitingInput{}))
			case 'x':
				d.log.Warn("repl died during a run", "lang", d.lang, "exit_code", ev.code)
				d.mu.Lock()
				if d.proc == p {
					d.proc = nil
				}
				d.mu.Unlock()
				rio.Out.Text(kproto.OpStderr, []byte(fmt.Sprintf("\n[bai-runner] the %s process %s; starting a fresh one (state is lost)\n", d.lang, describeExit(ev.code))))
				if _, err := d.ensure(ctx, nil); err != nil {
					d.log.Error("restart repl", "lang", d.lang, "err", err)
					rio.Out.Text(kproto.OpStderr, []byte(fmt.Sprintf("[bai-runner] could not restart %s: %v\n", d.lang, err)))
				}
				if ev.code == 0 {
					return 1, nil
				}
				return ev.code, nil
			}
			// Stale completion results are dropped.
		case line := <-rio.Input:
			if err := p.stdin.writeLine(line); err != nil {
				d.log.Debug("input", "err", err)
			}
			p.waiting.Store(false)
			p.nudge()
		case <-ctx.Done():
			return 1, ctx.Err()
		}
	}
}

// Interrupt implements Driver: SIGINT to the REPL's process group, which the
// helpers turn into an interruption of the running code; a REPL that has not
// come back after interruptGrace is killed, and restarted by the run.
func (d *replDriver) Interrupt() error {
	d.mu.Lock()
	p := d.proc
	d.mu.Unlock()
	if p == nil || !p.active.Load() {
		return nil
	}
	seq := p.seq.Load()
	time.AfterFunc(interruptGrace, func() {
		if p.active.Load() && p.seq.Load() == seq {
			d.log.Warn("repl ignored SIGINT; killing it", "lang", d.lang)
			_ = signalGroup(p.pid, syscall.SIGKILL)
		}
	})
	return signalGroup(p.pid, syscall.SIGINT)
}

// Complete implements Driver. Only helpers that answer completions (bash)
// give candidates; the others answer none.
func (d *replDriver) Complete(ctx context.Context, req kproto.CompleteRequest) ([]string, error) {
	if d.lang != "bash" {
		return []string{}, nil
	}
	p, err := d.ensure(ctx, nil)
	if err != nil {
		return nil, err
	}
	if err := p.command('C', []byte(req.Code)); err != nil {
		return nil, err
	}
	for {
		select {
		case ev := <-p.events:
			switch ev.kind {
			case 'c':
				return ev.items, nil
			case 'x':
				return nil, fmt.Errorf("%s exited during completion: %w", d.lang, errdefs.ErrUnavailable)
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("completion: %w", errdefs.ErrTimeout)
		}
	}
}

// Close implements Driver.
func (d *replDriver) Close() error {
	d.mu.Lock()
	p := d.proc
	d.proc = nil
	dir := d.helperDir
	d.mu.Unlock()
	var err error
	if p != nil {
		err = p.stop()
	}
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
	return err
}

// replEvent is a record from the helper, a detected input wait ('W'), or
// the process's exit ('x').
type replEvent struct {
	kind  byte
	code  int
	items []string
}

// replProc is one interpreter process and the goroutine that reads all of
// its pipes.
type replProc struct {
	log   *slog.Logger
	pid   int
	cmdW  *os.File // fd 3 in the helper
	stdin *stdinPipe

	rec, stdout, stderr rawPipe
	// capture serves the output filter's notifications (notify.go): writes
	// to fds 1 and 2 that the helper cannot tag at the language level
	// (R, Octave, bash, PHP's STDERR, child processes) keep their order.
	capture    *outputCapture
	wk, nudger *waker

	nudgeMu sync.Mutex // guards nudger against its close

	events   chan replEvent
	out      atomic.Pointer[outputBox]
	active   atomic.Bool   // a run is in flight: watch for input waits
	waiting  atomic.Bool   // a waiting-input was sent and not answered yet
	seq      atomic.Uint64 // run counter, for the interrupt watchdog
	done     chan struct{}
	exitCode atomic.Int64
}

func startReplProc(cfg Config, log *slog.Logger, bin string, args []string) (*replProc, error) {
	p := &replProc{log: log, events: make(chan replEvent, 64), done: make(chan struct{})}
	var closers []func()
	cleanup := func() {
		for _, c := range closers {
			c()
		}
	}
	for _, rp := range []*rawPipe{&p.rec, &p.stdout, &p.stderr} {
		np, err := newRawPipe()
		if err != nil {
			cleanup()
			return nil, err
		}
		*rp = np
		closers = append(closers, rp.close)
	}
	stdin, err := newStdinPipe()
	if err != nil {
		cleanup()
		return nil, err
	}
	p.stdin = stdin
	closers = append(closers, stdin.close)
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("pipe: %w", err)
	}
	closers = append(closers, func() { cmdR.Close(); cmdW.Close() })
	p.cmdW = cmdW
	if p.wk, err = newWaker(); err != nil {
		cleanup()
		return nil, err
	}
	closers = append(closers, p.wk.close)
	if p.nudger, err = newWaker(); err != nil {
		cleanup()
		return nil, err
	}
	closers = append(closers, p.nudger.close)

	cmd := exec.Command(bin, args...)
	cmd.Dir = cfg.WorkDir
	cmd.Env = cfg.Env
	cmd.Stdin = stdin.r
	cmd.Stdout = p.stdout.w
	cmd.Stderr = p.stderr.w
	cmd.ExtraFiles = []*os.File{cmdR, p.rec.w}
	cmd.SysProcAttr = groupAttr()
	if err := cfg.jailCmd(cmd); err != nil {
		cleanup()
		return nil, err
	}
	sock, sockChild, notifyErr := prepareNotifyExec(cmd) // through the output filter
	err = cmd.Start()
	if sockChild != nil {
		sockChild.Close()
	}
	if notifyErr == nil {
		if err == nil {
			p.capture = attachCapture(sock, p.stdout.r, p.stderr.r)
		} else {
			unix.Close(sock)
		}
	}
	cmdR.Close()
	stdin.closeRead()
	p.rec.closeWrite()
	p.stdout.closeWrite()
	p.stderr.closeWrite()
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p.pid = cmd.Process.Pid
	exited := make(chan int, 1)
	go func() {
		err := cmd.Wait()
		p.wk.wake() // before the send: whoever receives may close the waker
		exited <- exitCode(cmd.ProcessState, err)
	}()
	go p.loop(exited)
	return p, nil
}

func (p *replProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *replProc) exitStatus() int { return int(p.exitCode.Load()) }

// nudge wakes the loop so that it notices a change of active or waiting.
func (p *replProc) nudge() {
	p.nudgeMu.Lock()
	defer p.nudgeMu.Unlock()
	if p.nudger != nil {
		p.nudger.wake()
	}
}

func (p *replProc) setOutput(o Output) {
	if o == nil {
		p.out.Store(nil)
		return
	}
	p.out.Store(&outputBox{o})
}

func (p *replProc) output() Output {
	if b := p.out.Load(); b != nil {
		return b.Output
	}
	return discardOutput{}
}

// command writes one command to the helper's fd 3.
func (p *replProc) command(kind byte, data []byte) error {
	buf := make([]byte, 0, len(data)+16)
	buf = append(buf, kind, ' ')
	buf = strconv.AppendInt(buf, int64(len(data)), 10)
	buf = append(buf, '\n')
	buf = append(buf, data...)
	if _, err := p.cmdW.Write(buf); err != nil {
		return fmt.Errorf("write to repl: %w", err)
	}
	return nil
}

// stop ends the process group (see stopGroup).
func (p *replProc) stop() error { return stopGroup(p.cmdW, p.pid, p.done) }

func (p *replProc) emit(ev replEvent) {
	select {
	case p.events <- ev:
	default:
		p.log.Warn("repl event dropped: nobody is listening", "kind", string(rune(ev.kind)))
	}
}

// loop reads the record pipe and the stdout/stderr pipes until the process
// has exited. Output pipes are drained before a finished record or an input
// wait is passed on, so output written before it is never reported after.
// While a run is active and silent it polls /proc for an input wait (see
// procwatch.go); otherwise it sleeps in poll(2) without a timeout.
func (p *replProc) loop(exited <-chan int) {
	raw := []*utf8Stream{{op: kproto.OpStdout}, {op: kproto.OpStderr}}
	fds := []unix.PollFd{
		{Fd: int32(p.rec.r), Events: unix.POLLIN},
		{Fd: int32(p.stdout.r), Events: unix.POLLIN},
		{Fd: int32(p.stderr.r), Events: unix.POLLIN},
		{Fd: int32(p.wk.r), Events: unix.POLLIN},
		{Fd: int32(p.nudger.r), Events: unix.POLLIN}, // set once; closed only after the loop
		{Fd: -1, Events: unix.POLLIN},                // the output filter's listener
	}
	if p.capture != nil {
		fds[5].Fd = int32(p.capture.listener)
	}
	buf := make([]byte, 64<<10)
	var pending []byte
	var items []string
	lastOut := time.Now()

	var readRecords func()
	// takeNotes serves the output filter's queued notifications. The
	// writer of a notification waits for the answer, so whatever is in the
	// record pipe by then was written before it: with records set, the
	// record pipe is read before each notification to keep that order.
	takeNotes := func(records bool) {
		for fds[5].Fd >= 0 {
			one := []unix.PollFd{{Fd: fds[5].Fd, Events: unix.POLLIN}}
			if n, _ := unix.Poll(one, 0); n <= 0 {
				break
			}
			if one[0].Revents&unix.POLLIN == 0 {
				fds[5].Fd = -1 // every filtered process is gone
				break
			}
			if records {
				readRecords()
			}
			if !p.capture.handle(func(fd int, data []byte) {
				lastOut = time.Now()
				raw[fd-1].feed(p.output(), data)
			}) {
				fds[5].Fd = -1
			}
		}
	}
	drainRaw := func() {
		takeNotes(false)
		for i := 1; i <= 2; i++ {
			if fds[i].Fd < 0 {
				continue
			}
			s := raw[i-1]
			eof, _ := readAvailable(int(fds[i].Fd), buf, func(b []byte) {
				lastOut = time.Now()
				s.feed(p.output(), b)
			})
			if eof {
				fds[i].Fd = -1
			}
		}
	}
	flushStreams := func() {
		out := p.output()
		for _, s := range raw {
			s.flush(out)
		}
	}
	record := func(line string) {
		switch {
		case strings.HasPrefix(line, "F "):
			code, err := strconv.Atoi(strings.TrimSpace(line[2:]))
			if err != nil {
				code = 1
			}
			drainRaw()
			flushStreams()
			p.emit(replEvent{kind: 'F', code: code})
		case strings.HasPrefix(line, "= "):
			if !slices.Contains(items, line[2:]) {
				items = append(items, line[2:])
			}
		case line == "c":
			if items == nil {
				items = []string{}
			}
			p.emit(replEvent{kind: 'c', items: items})
			items = nil
		}
	}
	// Tagged output records from the helper ("O <len>\n<bytes>" for its
	// stdout, "E <len>\n<bytes>" for its stderr) share the record pipe with
	// the line records, so their order is exactly the order of the writes.
	tagged := map[byte]*utf8Stream{'O': {op: kproto.OpStdout}, 'E': {op: kproto.OpStderr}}
	var body *utf8Stream // the record whose body is being read
	bodyLeft := 0
	parse := func() {
		for {
			if bodyLeft > 0 {
				// A big write is passed on as it arrives, not when complete.
				n := min(bodyLeft, len(pending))
				if n == 0 {
					return
				}
				lastOut = time.Now()
				body.feed(p.output(), pending[:n])
				pending = pending[n:]
				bodyLeft -= n
				continue
			}
			i := bytes.IndexByte(pending, '\n')
			if i < 0 {
				return
			}
			if i >= 2 && (pending[0] == 'O' || pending[0] == 'E') && pending[1] == ' ' {
				n, err := strconv.Atoi(string(pending[2:i]))
				if err == nil && n >= 0 {
					body, bodyLeft = tagged[pending[0]], n
					pending = pending[i+1:]
					continue
				}
			}
			line := string(pending[:i])
			pending = pending[i+1:]
			if strings.HasPrefix(line, "F ") {
				for _, s := range tagged {
					s.flush(p.output())
				}
			}
			record(line)
		}
	}
	readRecords = func() {
		if fds[0].Fd < 0 {
			return
		}
		eof, _ := readAvailable(int(fds[0].Fd), buf, func(b []byte) {
			pending = append(pending, b...)
			parse() // pass output on as it comes, even within one long read
		})
		pending = append([]byte(nil), pending...)
		if eof {
			fds[0].Fd = -1
		}
	}

	for {
		timeout := -1
		if p.active.Load() && !p.waiting.Load() {
			timeout = quietPeriod
		}
		n, err := unix.Poll(fds, timeout)
		if err != nil && !errors.Is(err, unix.EINTR) {
			p.log.Error("poll repl pipes", "err", err)
			_ = signalGroup(p.pid, syscall.SIGKILL)
			break
		}
		if n <= 0 {
			if timeout > 0 && time.Since(lastOut) >= quietPeriod*time.Millisecond &&
				p.active.Load() && !p.waiting.Load() && p.stdin.waitingForInput(p.pid) {
				readRecords()
				drainRaw()
				flushStreams()
				p.waiting.Store(true) // before the event: the answer may come at once
				p.emit(replEvent{kind: 'W'})
			}
			continue
		}
		if fds[4].Revents != 0 {
			var b [64]byte
			_, _ = unix.Read(int(fds[4].Fd), b[:])
			lastOut = time.Now()
		}
		if fds[0].Revents != 0 {
			readRecords()
		}
		if fds[5].Revents != 0 {
			takeNotes(true)
		}
		if fds[1].Revents != 0 || fds[2].Revents != 0 {
			drainRaw()
		}
		if fds[3].Revents != 0 {
			readRecords()
			drainRaw()
			flushStreams()
			break
		}
	}
	code := <-exited
	p.capture.close()
	p.rec.close()
	p.stdout.close()
	p.stderr.close()
	p.stdin.close()
	p.wk.close()
	p.cmdW.Close()
	p.exitCode.Store(int64(code))
	p.nudgeMu.Lock()
	p.nudger.close()
	p.nudger = nil
	p.nudgeMu.Unlock()
	close(p.done)
	p.emit(replEvent{kind: 'x', code: code})
}
