package kernel

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/kproto"
)

// Execute statuses.
const (
	StatusContinued     = "continued"
	StatusWaitingInput  = "waiting-input"
	StatusFinished      = "finished"
	StatusCleanFinished = "clean-finished"
	StatusBuildFinished = "build-finished"
	StatusExecTimeout   = "exec-timeout"
)

// Execute modes.
const (
	ModeQuery    = "query"
	ModeBatch    = "batch"
	ModeContinue = "continue"
	ModeInput    = "input"
)

// maxHeld is how much console output an answer collects before it goes out
// without waiting for the flush timeout.
const maxHeld = 256 << 10

// drainWait is how long a new run waits for a timed-out one to wind down.
const drainWait = 2 * time.Second

// outEvent is one console item or one control status of a run, in order.
type outEvent struct {
	kind     string // console item type; "" for a control status
	data     any    // item data (media); stdout and stderr text is in text
	text     []byte // stdout or stderr text, appended to in place
	status   string // control status
	exitCode *int
	options  map[string]any
	final    bool // the run ends with this status
}

// step is a batch request still to send.
type step struct {
	op, cmd string
}

// run is one execution: the runner's output waiting to be collected by the
// manager's execute calls. Its fields are guarded by the kernel's mutex.
type run struct {
	id   string
	mode string

	events   []outEvent
	held     int           // bytes of console output in events
	dropping bool          // output past maxUnread is being dropped
	notify   chan struct{} // closed (and replaced) when events change

	runnerDone bool          // the runner has finished the run
	doneCh     chan struct{} // closed when runnerDone turns true
	final      *aproto.ExecuteResult
	timedOut   bool
	steps      []step
	timer      *time.Timer
}

func newRun(id, mode string) *run {
	return &run{id: id, mode: mode, notify: make(chan struct{}), doneCh: make(chan struct{})}
}

func (r *run) signal() {
	close(r.notify)
	r.notify = make(chan struct{})
}

// maxUnread caps the output a run holds for clients that do not read it.
// Past it, output is dropped (with one notice) until a client reads, so an
// endless printer nobody watches cannot grow the agent's memory.
const maxUnread = 16 << 20

// item appends a console item, merging consecutive stdout or stderr text.
func (r *run) item(kind string, data any) {
	if r.timedOut || r.final != nil {
		return
	}
	if s, ok := data.(string); ok && (kind == kproto.OpStdout || kind == kproto.OpStderr) {
		if r.dropping {
			return
		}
		if r.held+len(s) > maxUnread {
			// Keep what fits (cut at a character boundary), then one notice.
			keep := max(0, maxUnread-r.held)
			for keep > 0 && !utf8.RuneStart(s[keep]) {
				keep--
			}
			if keep > 0 {
				r.appendText(kind, s[:keep])
			}
			r.dropping = true
			r.appendText(kproto.OpStderr, fmt.Sprintf("\n[bai] output dropped: more than %d MiB not yet read by any client\n", maxUnread>>20))
			return
		}
		r.appendText(kind, s)
		return
	}
	r.events = append(r.events, outEvent{kind: kind, data: data})
	r.signal()
}

// appendText adds stdout or stderr text, merged into the last item when it
// is of the same kind.
func (r *run) appendText(kind, s string) {
	r.held += len(s)
	if n := len(r.events); n > 0 && r.events[n-1].kind == kind && r.events[n-1].text != nil {
		r.events[n-1].text = append(r.events[n-1].text, s...)
	} else {
		r.events = append(r.events, outEvent{kind: kind, text: append(make([]byte, 0, max(len(s), 256)), s...)})
	}
	r.signal()
}

func (r *run) control(status string, code *int, options map[string]any, final bool) {
	if r.final != nil {
		return
	}
	r.events = append(r.events, outEvent{status: status, exitCode: code, options: options, final: final})
	r.signal()
}

func (r *run) finishRunner() {
	if r.runnerDone {
		return
	}
	r.runnerDone = true
	close(r.doneCh)
	if r.timer != nil {
		r.timer.Stop()
	}
}

// take returns the next answer if one is due: everything up to the first
// control status, or (when force is set or enough piled up) all output so
// far as "continued".
func (r *run) take(force bool) (aproto.ExecuteResult, bool) {
	res := aproto.ExecuteResult{RunID: r.id, Console: [][2]any{}, Options: map[string]any{}, Files: []any{}}
	for i, ev := range r.events {
		if ev.kind != "" {
			continue
		}
		res.Console = console(r.events[:i])
		res.Status, res.ExitCode = ev.status, ev.exitCode
		if ev.options != nil {
			res.Options = ev.options
		}
		r.events = r.events[i+1:]
		r.held, r.dropping = 0, false
		for _, e := range r.events {
			r.held += len(e.text)
		}
		if ev.final {
			f := res
			f.Console = [][2]any{}
			r.final = &f
		}
		return res, true
	}
	if r.final != nil && len(r.events) == 0 {
		return *r.final, true
	}
	if force || r.held >= maxHeld {
		res.Status = StatusContinued
		res.Console = console(r.events)
		r.events, r.held, r.dropping = nil, 0, false
		return res, true
	}
	return res, false
}

func console(evs []outEvent) [][2]any {
	out := make([][2]any, 0, len(evs))
	for _, ev := range evs {
		if ev.text != nil {
			out = append(out, [2]any{ev.kind, string(ev.text)})
			continue
		}
		out = append(out, [2]any{ev.kind, ev.data})
	}
	return out
}

func intp(n int) *int { return &n }

// endRunLocked ends the current run on the agent's side (the kernel went
// away), with stderr text when msg is not empty.
func (k *Kernel) endRunLocked(msg string, code int) {
	r := k.run
	if r == nil || r.runnerDone {
		return
	}
	if msg != "" {
		r.item(kproto.OpStderr, msg)
	}
	if !r.timedOut {
		r.control(StatusFinished, intp(code), nil, true)
	}
	r.finishRunner()
}

// readLoop routes the runner's messages until the connection ends.
func (m *Manager) readLoop(k *Kernel, c *conn) {
	for {
		frames, err := c.recv()
		if err != nil {
			k.mu.Lock()
			if k.conn == c {
				k.conn = nil
				if k.state == stateRunning {
					k.log.Warn("runner connection lost", "err", err)
					k.endRunLocked("[agent] connection to the kernel runner lost\n", -1)
				}
			}
			k.mu.Unlock()
			c.close()
			return
		}
		msg, err := kproto.Decode(frames)
		if err != nil {
			k.log.Warn("malformed runner message", "err", err)
			continue
		}
		switch msg.Op {
		case kproto.OpReady:
			offer(c.ready, msg)
			continue
		case kproto.OpRunnerStatus:
			offer(c.status, msg)
			continue
		case kproto.OpCompletion:
			offer(c.completion, msg)
			continue
		case kproto.OpServiceResult:
			offer(c.service, msg)
			continue
		case kproto.OpAppsResult:
			continue
		}
		if next, ok := k.onRunMsg(c, msg); ok {
			if err := c.send(next.op, []byte(next.cmd)); err != nil {
				k.mu.Lock()
				k.endRunLocked(fmt.Sprintf("[agent] %v\n", err), -1)
				k.mu.Unlock()
			}
		}
	}
}

// onRunMsg files one runner message into the current run. It returns the
// next batch step to send, if any.
func (k *Kernel) onRunMsg(c *conn, msg kproto.Msg) (step, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	r := k.run
	if k.conn != c || r == nil || r.runnerDone {
		if msg.Op != kproto.OpStdout && msg.Op != kproto.OpStderr {
			k.log.Debug("runner message outside a run", "op", msg.Op)
		}
		return step{}, false
	}
	switch msg.Op {
	case kproto.OpStdout, kproto.OpStderr, kproto.OpHTML:
		r.item(msg.Op, string(msg.Payload))
	case kproto.OpMedia:
		var md kproto.Media
		if err := json.Unmarshal(msg.Payload, &md); err != nil {
			k.log.Warn("bad media payload", "err", err)
			break
		}
		r.item(kproto.OpMedia, []any{md.Type, md.Data})
	case kproto.OpLog:
		var v any
		if err := json.Unmarshal(msg.Payload, &v); err != nil {
			v = []any{"INFO", "", "", string(msg.Payload)}
		}
		r.item(kproto.OpLog, v)
	case kproto.OpWaitingInput:
		var wi kproto.WaitingInput
		_ = json.Unmarshal(msg.Payload, &wi)
		if !r.timedOut {
			r.control(StatusWaitingInput, nil, map[string]any{"is_password": wi.IsPassword}, false)
		}
	case kproto.OpFinished:
		code := exitCode(msg.Payload)
		if !r.timedOut {
			r.control(StatusFinished, intp(code), nil, true)
		}
		r.finishRunner()
	case kproto.OpCleanFinished, kproto.OpBuildFinished:
		code := exitCode(msg.Payload)
		if r.timedOut {
			r.finishRunner()
			break
		}
		status := StatusCleanFinished
		if msg.Op == kproto.OpBuildFinished {
			status = StatusBuildFinished
		}
		r.control(status, intp(code), nil, false)
		if msg.Op == kproto.OpBuildFinished && code != 0 {
			// A failed build skips exec and ends the run.
			r.control(StatusFinished, intp(code), nil, true)
			r.finishRunner()
			break
		}
		if len(r.steps) > 0 {
			next := r.steps[0]
			r.steps = r.steps[1:]
			return next, true
		}
		r.control(StatusFinished, intp(code), nil, true)
		r.finishRunner()
	case kproto.OpRunnerError:
		// The runner refused our request, so the run cannot go on.
		r.item(kproto.OpStderr, fmt.Sprintf("[agent] the kernel runner refused the request: %s\n", msg.Payload))
		r.control(StatusFinished, intp(1), nil, true)
		r.finishRunner()
	default:
		k.log.Debug("unknown runner message", "op", msg.Op)
	}
	return step{}, false
}

func exitCode(payload []byte) int {
	var f kproto.Finished
	if err := json.Unmarshal(payload, &f); err != nil {
		return -1
	}
	return f.ExitCode
}

// execOptions are the execute options the agent understands.
type execOptions struct {
	Clean       *string `json:"clean"`
	Build       *string `json:"build"`
	Exec        *string `json:"exec"`
	ExecTimeout any     `json:"exec_timeout"`
}

func (o execOptions) timeout() time.Duration {
	var secs float64
	switch v := o.ExecTimeout.(type) {
	case float64:
		secs = v
	case string:
		secs, _ = strconv.ParseFloat(v, 64)
	}
	if secs <= 0 {
		return 0
	}
	return time.Duration(secs * float64(time.Second))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Execute starts or continues a run and returns the output collected until
// a control status arrives or the flush timeout passes.
func (m *Manager) Execute(ctx context.Context, id string, req aproto.Execute) (aproto.ExecuteResult, error) {
	k, err := m.get(id)
	if err != nil {
		return aproto.ExecuteResult{}, err
	}
	flush := req.FlushTimeout
	if flush <= 0 {
		flush = m.cfg.FlushTimeout
	}
	var opts execOptions
	if len(req.Options) > 0 && string(req.Options) != "null" {
		if err := json.Unmarshal(req.Options, &opts); err != nil {
			return aproto.ExecuteResult{}, fmt.Errorf("execute options: %v: %w", err, errdefs.ErrInvalidArgument)
		}
	}

	k.mu.Lock()
	var sends []step
	r := k.run
	switch req.Mode {
	case ModeQuery, ModeBatch:
		if r != nil && !r.runnerDone && req.RunID != "" && r.id == req.RunID {
			break // a repeated request for the run in flight: continue it
		}
		if r != nil && !r.runnerDone {
			if r.final == nil {
				k.mu.Unlock()
				return aproto.ExecuteResult{}, fmt.Errorf("kernel %s: run %s is still in progress: %w", id, r.id, errdefs.ErrConflict)
			}
			// The old run timed out and is winding down.
			done := r.doneCh
			k.mu.Unlock()
			t := time.NewTimer(drainWait)
			select {
			case <-done:
			case <-t.C:
			case <-ctx.Done():
			}
			t.Stop()
			k.mu.Lock()
			if k.run == r && !r.runnerDone {
				k.mu.Unlock()
				return aproto.ExecuteResult{}, fmt.Errorf("kernel %s: run %s is still being interrupted: %w", id, r.id, errdefs.ErrConflict)
			}
		}
		if k.state != stateRunning || k.conn == nil {
			st := k.state
			k.mu.Unlock()
			return aproto.ExecuteResult{}, fmt.Errorf("kernel %s is %s: %w", id, st, errdefs.ErrUnavailable)
		}
		runID := req.RunID
		if runID == "" {
			runID = randomID()
		}
		r = newRun(runID, req.Mode)
		if req.Mode == ModeQuery {
			sends = []step{{kproto.OpCode, req.Code}}
		} else {
			sends = []step{{kproto.OpClean, deref(opts.Clean)}}
			r.steps = []step{{kproto.OpBuild, deref(opts.Build)}, {kproto.OpExec, deref(opts.Exec)}}
		}
		k.run = r
		if d := opts.timeout(); d > 0 {
			r.timer = time.AfterFunc(d, func() { k.execTimeout(r) })
		}
	case ModeContinue, ModeInput:
		if r == nil || (req.RunID != "" && r.id != req.RunID) {
			k.mu.Unlock()
			return aproto.ExecuteResult{}, fmt.Errorf("kernel %s: run %q is not the current run: %w", id, req.RunID, errdefs.ErrInvalidArgument)
		}
		if req.Mode == ModeInput && !r.runnerDone {
			sends = []step{{kproto.OpInput, req.Code}}
		}
	default:
		k.mu.Unlock()
		return aproto.ExecuteResult{}, fmt.Errorf("execute mode %q: %w", req.Mode, errdefs.ErrInvalidArgument)
	}
	c := k.conn
	k.mu.Unlock()

	for _, s := range sends {
		if c == nil {
			err = fmt.Errorf("kernel %s has no runner connection: %w", id, errdefs.ErrUnavailable)
		} else {
			err = c.send(s.op, []byte(s.cmd))
		}
		if err != nil {
			k.mu.Lock()
			if k.run == r {
				k.endRunLocked(fmt.Sprintf("[agent] %v\n", err), -1)
			}
			k.mu.Unlock()
			break
		}
	}
	return k.collect(ctx, r, flush)
}

// collect waits for the run's next answer.
func (k *Kernel) collect(ctx context.Context, r *run, flush time.Duration) (aproto.ExecuteResult, error) {
	var t *time.Timer
	for {
		k.mu.Lock()
		if res, ok := r.take(false); ok {
			k.mu.Unlock()
			if t != nil {
				t.Stop()
			}
			return res, nil
		}
		ch := r.notify
		k.mu.Unlock()
		if t == nil {
			t = time.NewTimer(flush)
			defer t.Stop()
		}
		select {
		case <-ch:
		case <-t.C:
			k.mu.Lock()
			res, _ := r.take(true)
			k.mu.Unlock()
			return res, nil
		case <-ctx.Done():
			return aproto.ExecuteResult{}, ctx.Err()
		}
	}
}

// execTimeout ends a run that ran past its time limit: the client gets
// exec-timeout at once, and the runner is interrupted.
func (k *Kernel) execTimeout(r *run) {
	k.mu.Lock()
	if k.run != r || r.runnerDone || r.timedOut {
		k.mu.Unlock()
		return
	}
	r.control(StatusExecTimeout, nil, nil, true)
	r.timedOut = true
	c := k.conn
	k.mu.Unlock()
	if c != nil {
		if err := c.send(kproto.OpInterrupt, nil); err != nil {
			k.log.Warn("interrupt after exec timeout", "err", err)
		}
	}
}

func randomID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
