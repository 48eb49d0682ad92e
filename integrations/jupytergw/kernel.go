package jupytergw

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/types"
	"baigo.dev/bai/integrations/jupyter/kernelcore"
)

// Execution states reported in the kernel model and in iopub status
// messages.
const (
	stateStarting   = "starting"
	stateIdle       = "idle"
	stateBusy       = "busy"
	stateRestarting = "restarting"
)

// shellQueueLen bounds the shell requests waiting for the kernel; a client
// that sends more is slowed down (its reader blocks), not dropped.
const shellQueueLen = 64

// request is one client message with the connection it came from, which
// receives the replies.
type request struct {
	conn *conn
	msg  *inMsg
}

// inputWait is an execute waiting for the client's input_reply.
type inputWait struct {
	conn  *conn
	reply chan string
	abort chan struct{} // closed by an interrupt, a restart or the kernel's end
	err   error         // why abort was closed; nil for an interrupt
	once  sync.Once
}

// cancel abandons the wait. err nil (an interrupt) answers the program an
// empty line; otherwise the run's stream ends with err.
func (w *inputWait) cancel(err error) {
	w.once.Do(func() {
		w.err = err
		close(w.abort)
	})
}

// errRestarting ends a run that waits for input when its kernel restarts.
var errRestarting = fmt.Errorf("the kernel is restarting: %w", errdefs.ErrUnavailable)

// kernel is one Jupyter kernel: a Backend.AI session plus the state a
// Jupyter kernel keeps (execution count, status, connected sockets). Shell
// requests that touch the session (execute, complete) run one at a time
// on the kernel's worker goroutine, in the order they came, as in a real
// kernel; everything else is answered at once.
type kernel struct {
	g        *Gateway
	id       string
	session  string // Backend.AI session name
	spec     *KernelSpec
	jsession string // session id in the headers of our messages
	created  time.Time

	ctx    context.Context // ends when the kernel is shut down
	cancel context.CancelFunc
	queue  chan request

	mu        sync.Mutex
	conns     map[*conn]struct{}
	execCount int
	state     string
	executing bool // an execute_request is being run
	activity  time.Time
	waiting   *inputWait
}

func newKernel(g *Gateway, id, session string, spec *KernelSpec) *kernel {
	ctx, cancel := context.WithCancel(context.Background())
	now := g.now()
	return &kernel{
		g: g, id: id, session: session, spec: spec, jsession: uuid.NewString(), created: now,
		ctx: ctx, cancel: cancel, queue: make(chan request, shellQueueLen),
		conns: map[*conn]struct{}{}, state: stateIdle, activity: now,
	}
}

// model is the kernel's REST model.
func (k *kernel) model() KernelModel {
	k.mu.Lock()
	defer k.mu.Unlock()
	return KernelModel{ID: k.id, Name: k.spec.Name, LastActivity: k.activity.UTC().Format(dateLayout),
		ExecutionState: k.state, Connections: len(k.conns)}
}

// noteStatus folds the session status the manager reported into the
// execution state: a kernel whose session is not running yet is starting.
func (k *kernel) noteStatus(status string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case status == string(types.StatusRunning) && k.state == stateStarting:
		k.state = stateIdle
	case status == string(types.StatusRestarting):
		k.state = stateRestarting
	case status != string(types.StatusRunning) && !k.executing:
		k.state = stateStarting
	}
}

func (k *kernel) touch() {
	k.mu.Lock()
	k.activity = k.g.now()
	k.mu.Unlock()
}

// stop ends the worker and closes every socket of the kernel.
func (k *kernel) stop(why string) {
	k.cancel()
	k.mu.Lock()
	conns := make([]*conn, 0, len(k.conns))
	for c := range k.conns {
		conns = append(conns, c)
	}
	k.conns = map[*conn]struct{}{}
	if k.waiting != nil {
		k.waiting.cancel(context.Canceled)
	}
	k.mu.Unlock()
	for _, c := range conns {
		c.closeWith(why)
	}
}

func (k *kernel) attach(c *conn) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ctx.Err() != nil {
		return false
	}
	k.conns[c] = struct{}{}
	return true
}

func (k *kernel) detach(c *conn) {
	k.mu.Lock()
	delete(k.conns, c)
	k.mu.Unlock()
}

// encode marshals a message; our contents always marshal.
func encode(m outMsg) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic(fmt.Sprintf("jupytergw: encode %s: %v", m.MsgType, err))
	}
	return b
}

// reply sends a message to one connection (shell, control and stdin
// answers go only to the socket that asked).
func (k *kernel) reply(c *conn, channel, msgType string, parent *inMsg, content any) {
	k.touch()
	c.send(encode(newMsg(channel, msgType, k.jsession, parent, content, k.g.now())))
}

// publish sends an iopub message to every connection of the kernel.
func (k *kernel) publish(msgType string, parent *inMsg, content any) {
	b := encode(newMsg(chIOPub, msgType, k.jsession, parent, content, k.g.now()))
	k.mu.Lock()
	k.activity = k.g.now()
	conns := make([]*conn, 0, len(k.conns))
	for c := range k.conns {
		conns = append(conns, c)
	}
	k.mu.Unlock()
	for _, c := range conns {
		c.send(b)
	}
}

// setState records and publishes an execution state.
func (k *kernel) setState(state string, parent *inMsg) {
	k.mu.Lock()
	k.state = state
	k.mu.Unlock()
	k.publish("status", parent, map[string]any{"execution_state": state})
}

// dispatch routes one client message. It runs on the connection's reader.
func (k *kernel) dispatch(c *conn, m *inMsg) {
	k.touch()
	switch m.Header.MsgType {
	case "execute_request", "complete_request":
		select {
		case k.queue <- request{c, m}:
		case <-k.ctx.Done():
		case <-c.done:
		}
	case "input_reply":
		k.deliverInput(c, m)
	case "interrupt_request":
		go func() {
			content := map[string]any{"status": "ok"}
			if err := k.interrupt(k.ctx); err != nil {
				content = errorReply("InterruptError", err.Error())
			}
			k.reply(c, m.Channel, "interrupt_reply", m, content)
		}()
	case "shutdown_request":
		go k.shutdownRequest(c, m)
	case "kernel_info_request":
		k.quick(c, m, "kernel_info_reply", k.kernelInfo())
	case "comm_info_request":
		k.quick(c, m, "comm_info_reply", map[string]any{"status": "ok", "comms": map[string]any{}})
	case "is_complete_request":
		k.quick(c, m, "is_complete_reply", kernelcore.IsCompleteReply(m.Content, k.python()))
	case "inspect_request":
		k.quick(c, m, "inspect_reply", map[string]any{"status": "ok", "found": false, "data": map[string]any{}, "metadata": map[string]any{}})
	case "history_request":
		k.quick(c, m, "history_reply", map[string]any{"status": "ok", "history": []any{}})
	case "comm_open", "comm_msg", "comm_close":
		// No comm targets (widgets) exist in a Backend.AI session; a
		// kernel without the target ignores these too.
	default:
		k.g.log.Debug("unsupported jupyter message", "kernel_id", k.id, "msg_type", m.Header.MsgType, "channel", m.Channel)
	}
}

// quick answers a request that needs nothing from the session. Like
// ipykernel it brackets the reply with busy and idle, except while an
// execute runs: an "idle" then would tell frontends the cell is done.
func (k *kernel) quick(c *conn, m *inMsg, replyType string, content any) {
	k.mu.Lock()
	bracket := !k.executing && k.state == stateIdle
	k.mu.Unlock()
	if bracket {
		k.publish("status", m, map[string]any{"execution_state": stateBusy})
	}
	k.reply(c, m.Channel, replyType, m, content)
	if bracket {
		k.publish("status", m, map[string]any{"execution_state": stateIdle})
	}
}

func (k *kernel) kernelInfo() map[string]any {
	return kernelcore.KernelInfo("bai-jupyter-gateway", k.g.version, k.spec.runtime, k.spec.image,
		fmt.Sprintf("bai session %s (%s)", k.session, k.spec.image))
}

// python reports whether the kernel's image runs Python, whose tracebacks
// and code completeness the kernel understands.
func (k *kernel) python() bool { return k.spec.runtime == "python" }

func errorReply(ename, evalue string) map[string]any {
	return (&kernelcore.Exception{Name: ename, Value: evalue}).Reply()
}

// work runs the shell requests that need the session, one at a time.
func (k *kernel) work() {
	for {
		select {
		case <-k.ctx.Done():
			return
		case r := <-k.queue:
			k.handleShell(r)
		}
	}
}

func (k *kernel) handleShell(r request) {
	switch r.msg.Header.MsgType {
	case "execute_request":
		if ok, stopOnError := k.execute(r); !ok && stopOnError {
			k.abortQueued()
		}
	case "complete_request":
		k.complete(r)
	}
}

// abortQueued answers the execute requests already waiting with status
// "aborted", as a kernel does after a cell fails: cells queued behind a
// failed (or interrupted) one must not run.
func (k *kernel) abortQueued() {
	for {
		select {
		case r := <-k.queue:
			if r.msg.Header.MsgType != "execute_request" {
				k.handleShell(r)
				continue
			}
			k.setState(stateBusy, r.msg)
			k.reply(r.conn, chShell, "execute_reply", r.msg, map[string]any{"status": "aborted"})
			k.setState(stateIdle, r.msg)
		default:
			return
		}
	}
}

// execute runs one execute_request: busy, execute_input, the outputs as
// they arrive, an error if the run failed, the execute_reply, idle. It
// reports whether the run succeeded and whether a failure stops the queue.
func (k *kernel) execute(r request) (ok, stopOnError bool) {
	var req kernelcore.ExecuteRequest
	if err := json.Unmarshal(r.msg.Content, &req); err != nil {
		k.reply(r.conn, chShell, "execute_reply", r.msg, errorReply("InvalidRequest", "execute_request content: "+err.Error()))
		return false, false
	}
	stopOnError = req.StopsOnError()
	k.mu.Lock()
	if req.Counts() {
		k.execCount++
	}
	count := k.execCount
	k.executing = true
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		k.executing = false
		k.mu.Unlock()
		k.setState(stateIdle, r.msg)
	}()
	k.setState(stateBusy, r.msg)
	if !req.Silent {
		k.publish("execute_input", r.msg, map[string]any{"code": req.Code, "execution_count": count})
	}
	var exc *kernelcore.Exception
	if strings.TrimSpace(req.Code) != "" {
		exc = k.run(r, req)
	}
	if exc != nil {
		if !req.Silent {
			k.publish("error", r.msg, exc.Content())
		}
		reply := exc.Reply()
		reply["execution_count"] = count
		k.reply(r.conn, chShell, "execute_reply", r.msg, reply)
		return false, stopOnError
	}
	k.reply(r.conn, chShell, "execute_reply", r.msg, map[string]any{
		"status": "ok", "execution_count": count, "user_expressions": map[string]any{}, "payload": []any{},
	})
	return true, stopOnError
}

// run runs one cell over the session's execute stream and publishes its
// output as it arrives. It returns the exception the cell failed with.
func (k *kernel) run(r request, req kernelcore.ExecuteRequest) *kernelcore.Exception {
	out := kernelcore.Outputs{
		Stream: func(name, text string) {
			k.publish("stream", r.msg, map[string]any{"name": name, "text": text})
		},
		Display: func(data map[string]any) {
			k.publish("display_data", r.msg, map[string]any{"data": data, "metadata": map[string]any{}, "transient": map[string]any{}})
		},
	}
	return kernelcore.Run(k.ctx, k.g.be, kernelcore.Cell{Session: k.session, Request: req, Python: k.python(), Out: out,
		Input: func(ctx context.Context, password bool) (string, error) { return k.awaitInput(ctx, r, password) }})
}

// awaitInput asks the client that sent the execute_request for a line of
// input and waits for it. An interrupt answers an empty line (the program
// gets KeyboardInterrupt, the interrupt having reached the session first),
// so does the asking socket's end, after interrupting the program; a
// restart or the kernel's end is an error, which ends the run's stream.
func (k *kernel) awaitInput(ctx context.Context, r request, password bool) (string, error) {
	w := &inputWait{conn: r.conn, reply: make(chan string, 1), abort: make(chan struct{})}
	k.mu.Lock()
	k.waiting = w
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		if k.waiting == w {
			k.waiting = nil
		}
		k.mu.Unlock()
	}()
	k.reply(r.conn, chStdin, "input_request", r.msg, map[string]any{"prompt": "", "password": password})
	select {
	case answer := <-w.reply:
		return answer, nil
	case <-w.abort:
		return "", w.err
	case <-r.conn.done:
		// Nobody is left to answer: stop the program rather than leave
		// the kernel blocked forever.
		if err := k.g.be.Interrupt(ctx, k.session); err != nil {
			k.g.log.Warn("interrupt after the asking socket closed", "kernel_id", k.id, "err", err)
		}
		return "", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// deliverInput hands an input_reply to the execute waiting for it.
func (k *kernel) deliverInput(c *conn, m *inMsg) {
	var rep struct {
		Value string `json:"value"`
	}
	_ = json.Unmarshal(m.Content, &rep)
	k.mu.Lock()
	w := k.waiting
	if w != nil && w.conn == c {
		k.waiting = nil
	} else {
		w = nil
	}
	k.mu.Unlock()
	if w == nil {
		k.g.log.Debug("input_reply without a pending input_request", "kernel_id", k.id)
		return
	}
	w.reply <- rep.Value
}

// complete answers a complete_request through the API's completion.
func (k *kernel) complete(r request) {
	reply, err := kernelcore.CompleteReply(k.ctx, r.msg.Content, k.python(), func(ctx context.Context, before string) ([]any, error) {
		return k.g.be.Complete(ctx, k.session, apitypes.Complete{Code: before})
	})
	if err != nil {
		k.g.log.Debug("complete", "kernel_id", k.id, "err", err)
	}
	k.quick(r.conn, r.msg, "complete_reply", reply)
}

// interrupt interrupts the code running in the session and then abandons
// a pending input request, in that order: an empty line that reached the
// program before the interrupt would let it go on.
func (k *kernel) interrupt(ctx context.Context) error {
	err := k.g.be.Interrupt(ctx, k.session)
	k.mu.Lock()
	if k.waiting != nil {
		k.waiting.cancel(nil)
	}
	k.mu.Unlock()
	if err != nil && !errors.Is(err, errdefs.ErrConflict) {
		return fmt.Errorf("kernel %s: %w", k.id, err)
	}
	return nil
}

// restart restarts the session's kernel process (state lost, files kept)
// and waits until it runs again. A running cell ends with an error.
func (k *kernel) restart(ctx context.Context) error {
	k.setState(stateRestarting, nil)
	k.mu.Lock()
	if k.waiting != nil {
		k.waiting.cancel(errRestarting)
	}
	k.mu.Unlock()
	if err := k.g.be.RestartSession(ctx, k.session); err != nil {
		k.setState(stateIdle, nil)
		return fmt.Errorf("kernel %s: %w", k.id, err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		si, err := k.g.be.GetSession(ctx, k.session)
		if err != nil {
			return fmt.Errorf("kernel %s after restart: %w", k.id, err)
		}
		if si.Status == string(types.StatusRunning) {
			break
		}
		if !alive(si) {
			return fmt.Errorf("kernel %s: its session ended while restarting (%s): %w", k.id, si.StatusInfo, errdefs.ErrUnavailable)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kernel %s: still %s 90s after the restart: %w", k.id, si.Status, errdefs.ErrTimeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	k.mu.Lock()
	k.execCount = 0
	k.mu.Unlock()
	k.setState(stateIdle, nil)
	return nil
}

// shutdownRequest answers shutdown_request: a restart, or the end of the
// kernel and its session.
func (k *kernel) shutdownRequest(c *conn, m *inMsg) {
	var req struct {
		Restart bool `json:"restart"`
	}
	_ = json.Unmarshal(m.Content, &req)
	content := map[string]any{"status": "ok", "restart": req.Restart}
	if req.Restart {
		if err := k.restart(k.ctx); err != nil {
			content = errorReply("RestartError", err.Error())
			content["restart"] = true
		}
		k.reply(c, m.Channel, "shutdown_reply", m, content)
		return
	}
	// Answer before the sockets close; protocol 5.4 also publishes it.
	k.reply(c, m.Channel, "shutdown_reply", m, content)
	k.publish("shutdown_reply", m, content)
	if err := k.g.shutdownKernel(context.Background(), k); err != nil {
		k.g.log.Warn("shutdown request", "kernel_id", k.id, "err", err)
	}
}
