package jupyter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"
	"github.com/google/uuid"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/integrations/jupyter/kernelcore"
)

// Time limits of the calls the kernel makes besides running code.
const (
	infoWait        = 10 * time.Second // kernel_info waits this long for the image's runtime type
	completeTimeout = 10 * time.Second
	interruptTime   = 10 * time.Second
	destroyTimeout  = 30 * time.Second
)

// API is what the kernel needs of the manager; *client.Client implements
// it.
type API = kernelcore.API

// Config configures a Kernel.
type Config struct {
	// Conn is the connection file's content.
	Conn ConnectionInfo
	// KernelID names the session ("jupyter-<id>"); a random one when empty.
	KernelID string
	// Image is the image (name, alias or docker reference) the session
	// runs.
	Image string
	// API reaches the manager. When nil, APIErr says why (missing keys),
	// and every execute answers with it.
	API    API
	APIErr error
	// Log receives the kernel's log (never message contents or keys).
	Log *slog.Logger
	// Version is reported as implementation_version.
	Version string
}

// Kernel is one running Jupyter kernel backed by one bai session.
type Kernel struct {
	cfg    Config
	log    *slog.Logger
	signer *Signer
	// session is our side's Jupyter session id (message headers), not
	// the bai session.
	session string

	shell, control, stdin, iopub, hb zmq4.Socket
	shellMu, controlMu, stdinMu      sync.Mutex
	iopubMu                          sync.Mutex

	// The bai session: created in the background at start.
	sessName      string
	infoReady     chan struct{} // closed once runtime is known (or cannot be)
	sessReady     chan struct{} // closed once the session is created or failed
	runtime       string
	imageName     string
	sessErr       error
	sessCancel    context.CancelFunc
	sessAttempted bool

	execCount   int           // only the shell goroutine touches it
	interruptCh chan struct{} // an interrupt_request arrived
	inputCh     chan string   // input_reply values

	stopOnce sync.Once // destroys the session once
	doneOnce sync.Once
	done     chan struct{} // closed when a shutdown_request was answered
}

// New checks cfg and returns a Kernel; Run starts it.
func New(cfg Config) (*Kernel, error) {
	signer, err := NewSigner(cfg.Conn.SignatureScheme, cfg.Conn.Key)
	if err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.API == nil && cfg.APIErr == nil {
		return nil, fmt.Errorf("jupyter kernel: no API client: %w", errdefs.ErrInvalidArgument)
	}
	id := cfg.KernelID
	if id == "" {
		id = uuid.NewString()
	}
	k := &Kernel{
		cfg:         cfg,
		signer:      signer,
		session:     uuid.NewString(),
		sessName:    SessionName(id),
		infoReady:   make(chan struct{}),
		sessReady:   make(chan struct{}),
		interruptCh: make(chan struct{}, 1),
		inputCh:     make(chan string, 1),
		done:        make(chan struct{}),
	}
	k.log = cfg.Log.With("session_name", k.sessName, "image", cfg.Image)
	return k, nil
}

var sessionNameRE = regexp.MustCompile(`[^\w.-]+`)

// SessionName derives the bai session's name from the kernel id:
// "jupyter-<id>", in the characters and length the API accepts.
func SessionName(kernelID string) string {
	n := "jupyter-" + strings.Trim(sessionNameRE.ReplaceAllString(kernelID, "-"), "-.")
	if len(n) > 64 {
		n = n[:64]
	}
	return strings.TrimRight(n, "-.")
}

// SessionName returns the name of the kernel's bai session.
func (k *Kernel) SessionName() string { return k.sessName }

// Run binds the channels, creates the session and serves until a
// shutdown_request was answered or ctx ends (SIGTERM, the parent went
// away); either way the session is destroyed before Run returns.
func (k *Kernel) Run(ctx context.Context) error {
	zlog := slog.NewLogLogger(k.cfg.Log.Handler(), slog.LevelDebug)
	sctx, scancel := context.WithCancel(context.Background())
	defer scancel()
	opts := []zmq4.Option{zmq4.WithLogger(zlog)}
	k.shell = zmq4.NewRouter(sctx, opts...)
	k.control = zmq4.NewRouter(sctx, opts...)
	k.stdin = zmq4.NewRouter(sctx, opts...)
	k.iopub = zmq4.NewPub(sctx, opts...)
	k.hb = zmq4.NewRep(sctx, opts...)
	socks := []struct {
		name string
		s    zmq4.Socket
		port int
	}{
		{"shell", k.shell, k.cfg.Conn.ShellPort}, {"control", k.control, k.cfg.Conn.ControlPort},
		{"stdin", k.stdin, k.cfg.Conn.StdinPort}, {"iopub", k.iopub, k.cfg.Conn.IOPubPort}, {"hb", k.hb, k.cfg.Conn.HBPort},
	}
	defer func() {
		for _, s := range socks {
			_ = s.s.Close()
		}
	}()
	for _, s := range socks {
		if err := s.s.Listen(k.cfg.Conn.Endpoint(s.port)); err != nil {
			return fmt.Errorf("jupyter %s channel on %s: %w", s.name, k.cfg.Conn.Endpoint(s.port), err)
		}
	}
	k.log.Info("jupyter kernel listening", "ip", k.cfg.Conn.IP, "shell_port", k.cfg.Conn.ShellPort)
	k.publish(nil, "status", map[string]any{"execution_state": "starting"})

	createCtx, createCancel := context.WithCancel(context.Background())
	k.sessCancel = createCancel
	go k.startSession(createCtx)

	runCtx, runCancel := context.WithCancel(context.Background())
	defer runCancel()
	shellQ := make(chan *Message, 64)
	go k.heartbeat()
	go k.readLoop(sctx, k.shell, "shell", func(m *Message) {
		select {
		case shellQ <- m:
		case <-sctx.Done():
		}
	})
	go k.readLoop(sctx, k.control, "control", func(m *Message) { k.handleControl(runCtx, m) })
	go k.readLoop(sctx, k.stdin, "stdin", k.handleStdin)
	go k.serveShell(runCtx, shellQ)

	select {
	case <-ctx.Done():
		k.log.Info("kernel stopping", "reason", context.Cause(ctx))
	case <-k.done:
	}
	runCancel()
	k.stopSession()
	return nil
}

// startSession resolves the image and creates the session.
func (k *Kernel) startSession(ctx context.Context) {
	defer close(k.sessReady)
	infoClosed := false
	closeInfo := func() {
		if !infoClosed {
			infoClosed = true
			close(k.infoReady)
		}
	}
	defer closeInfo()
	if k.cfg.API == nil {
		k.sessErr = k.cfg.APIErr
		return
	}
	images, err := k.cfg.API.Images(ctx)
	if err != nil {
		k.sessErr = err
		return
	}
	im, ok := kernelcore.FindImage(images, k.cfg.Image)
	if !ok {
		var names []string
		for _, im := range images {
			names = append(names, im.Name)
		}
		k.sessErr = fmt.Errorf("image %q is not offered by the manager (available: %s); reinstall the kernels with `bai jupyter install`: %w",
			k.cfg.Image, strings.Join(names, ", "), errdefs.ErrNotFound)
		return
	}
	k.runtime, k.imageName = kernelcore.RuntimeType(im), im.Name
	closeInfo()
	no := false
	req := apitypes.CreateSession{Image: im.Name, Name: k.sessName, Type: "interactive", ReuseIfExists: &no}
	k.sessAttempted = true
	start := time.Now()
	_, err = k.cfg.API.CreateSession(ctx, req)
	if errors.Is(err, errdefs.ErrConflict) {
		// A session of this name is left from an earlier process of the
		// same kernel (same kernel id) that could not clean up: a restart
		// must not inherit its state, so it goes.
		k.log.Info("destroying a leftover session of this kernel")
		if _, derr := k.cfg.API.DestroySession(ctx, k.sessName, true); derr != nil && !errors.Is(derr, errdefs.ErrNotFound) {
			k.log.Warn("destroy leftover session", "err", derr)
		}
		_, err = k.cfg.API.CreateSession(ctx, req)
	}
	if err != nil {
		k.sessErr = err
		k.log.Error("create session", "err", err)
		return
	}
	k.log.Info("session created", "elapsed", time.Since(start).Round(time.Millisecond))
}

// waitSession returns the session's name once it exists.
func (k *Kernel) waitSession(ctx context.Context) (string, error) {
	select {
	case <-k.sessReady:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	if k.sessErr != nil {
		return "", k.sessErr
	}
	return k.sessName, nil
}

// stopSession destroys the session, once; later calls wait for the first.
func (k *Kernel) stopSession() {
	k.stopOnce.Do(func() {
		k.sessCancel()
		<-k.sessReady
		if !k.sessAttempted {
			return
		}
		// Even a creation cut short by the cancel may have left a session
		// behind on the manager, so destroy by name in any case.
		ctx, cancel := context.WithTimeout(context.Background(), destroyTimeout)
		defer cancel()
		if _, err := k.cfg.API.DestroySession(ctx, k.sessName, false); err != nil {
			if errors.Is(err, errdefs.ErrNotFound) {
				return
			}
			k.log.Error("destroy session", "err", err)
			return
		}
		k.log.Info("session destroyed")
	})
}

// finish ends Run after a shutdown_request.
func (k *Kernel) finish() { k.doneOnce.Do(func() { close(k.done) }) }

// heartbeat echoes every ping.
func (k *Kernel) heartbeat() {
	for {
		m, err := k.hb.Recv()
		if err != nil {
			return
		}
		if err := k.hb.Send(m); err != nil {
			return
		}
	}
}

// readLoop decodes the messages of one channel and hands them on.
// Messages that are malformed or badly signed are dropped with a log line.
func (k *Kernel) readLoop(ctx context.Context, s zmq4.Socket, channel string, handle func(*Message)) {
	for {
		zm, err := s.Recv()
		if err != nil {
			if ctx.Err() == nil {
				k.log.Debug("channel closed", "channel", channel, "err", err)
			}
			return
		}
		m, err := Decode(zm.Frames, k.signer)
		if err != nil {
			k.log.Warn("refused message", "channel", channel, "err", err)
			continue
		}
		handle(m)
	}
}

// send encodes and sends m on a ROUTER channel.
func (k *Kernel) send(s zmq4.Socket, mu *sync.Mutex, m *Message) {
	frames := m.Encode(k.signer)
	mu.Lock()
	defer mu.Unlock()
	if err := s.SendMulti(zmq4.NewMsgFrom(frames...)); err != nil {
		k.log.Warn("send message", "msg_type", m.Header.MsgType, "err", err)
	}
}

// reply answers parent on the channel it came from.
func (k *Kernel) reply(s zmq4.Socket, mu *sync.Mutex, parent *Message, msgType string, content any) {
	m, err := NewMessage(k.session, msgType, parent, parent.Identities, content)
	if err != nil {
		k.log.Error("build reply", "msg_type", msgType, "err", err)
		return
	}
	k.send(s, mu, m)
}

// publish sends a message on iopub, with the topic front ends expect.
func (k *Kernel) publish(parent *Message, msgType string, content any) {
	topic := [][]byte{[]byte("kernel." + k.session + "." + msgType)}
	m, err := NewMessage(k.session, msgType, parent, topic, content)
	if err != nil {
		k.log.Error("build iopub message", "msg_type", msgType, "err", err)
		return
	}
	k.send(k.iopub, &k.iopubMu, m)
}

func (k *Kernel) status(parent *Message, state string) {
	k.publish(parent, "status", map[string]any{"execution_state": state})
}

// serveShell handles shell requests one at a time, in order.
func (k *Kernel) serveShell(ctx context.Context, q chan *Message) {
	for {
		var m *Message
		select {
		case m = <-q:
		case <-ctx.Done():
			return
		}
		k.status(m, "busy")
		switch m.Header.MsgType {
		case "execute_request":
			if failed, stop := k.execute(ctx, m); failed && stop {
				k.abortQueued(q)
			}
		case "kernel_info_request":
			k.reply(k.shell, &k.shellMu, m, "kernel_info_reply", k.kernelInfo(ctx))
		case "complete_request":
			k.complete(ctx, m)
		case "is_complete_request":
			k.isComplete(m)
		case "inspect_request":
			k.reply(k.shell, &k.shellMu, m, "inspect_reply", map[string]any{"status": "ok", "found": false, "data": map[string]any{}, "metadata": map[string]any{}})
		case "history_request":
			k.reply(k.shell, &k.shellMu, m, "history_reply", map[string]any{"status": "ok", "history": []any{}})
		case "comm_info_request":
			k.reply(k.shell, &k.shellMu, m, "comm_info_reply", map[string]any{"status": "ok", "comms": map[string]any{}})
		case "connect_request":
			k.reply(k.shell, &k.shellMu, m, "connect_reply", k.ports())
		case "shutdown_request":
			k.shutdown(m, k.shell, &k.shellMu)
		case "comm_open", "comm_msg", "comm_close":
			// No comm targets: widgets need a Python kernel of their own.
		default:
			k.log.Warn("unknown shell message", "msg_type", m.Header.MsgType)
		}
		k.status(m, "idle")
	}
}

// abortQueued answers the execute requests already queued behind a failed
// one with status aborted, as stop_on_error asks: a notebook run with
// "run all" stops at the first error.
func (k *Kernel) abortQueued(q chan *Message) {
	var keep []*Message
	for {
		select {
		case m := <-q:
			if m.Header.MsgType != "execute_request" {
				keep = append(keep, m)
				continue
			}
			k.status(m, "busy")
			k.reply(k.shell, &k.shellMu, m, "execute_reply", map[string]any{"status": "aborted", "execution_count": k.execCount})
			k.status(m, "idle")
		default:
			// The others go back in order; q has room, they came out of it.
			for _, m := range keep {
				q <- m
			}
			return
		}
	}
}

// handleControl serves the control channel; it runs beside the shell, so
// an interrupt or shutdown gets through while code runs.
func (k *Kernel) handleControl(ctx context.Context, m *Message) {
	k.status(m, "busy")
	defer k.status(m, "idle")
	switch m.Header.MsgType {
	case "interrupt_request":
		k.interrupt(m)
	case "shutdown_request":
		k.shutdown(m, k.control, &k.controlMu)
	case "kernel_info_request":
		k.reply(k.control, &k.controlMu, m, "kernel_info_reply", k.kernelInfo(ctx))
	default:
		k.log.Warn("unknown control message", "msg_type", m.Header.MsgType)
	}
}

// handleStdin takes the answers to input_request.
func (k *Kernel) handleStdin(m *Message) {
	if m.Header.MsgType != "input_reply" {
		k.log.Warn("unknown stdin message", "msg_type", m.Header.MsgType)
		return
	}
	var c struct {
		Value string `json:"value"`
	}
	_ = json.Unmarshal(m.Content, &c)
	select {
	case k.inputCh <- c.Value:
	default:
		k.log.Warn("input_reply nobody asked for")
	}
}

func (k *Kernel) interrupt(m *Message) {
	content := map[string]any{"status": "ok"}
	select {
	case <-k.sessReady:
		if k.sessErr == nil {
			ctx, cancel := context.WithTimeout(context.Background(), interruptTime)
			err := k.cfg.API.Interrupt(ctx, k.sessName)
			cancel()
			if err != nil {
				k.log.Warn("interrupt", "err", err)
				content = (&kernelcore.Exception{Name: "InterruptError", Value: err.Error()}).Reply()
			}
		}
	default:
		// Nothing runs before the session exists.
	}
	select {
	case k.interruptCh <- struct{}{}:
	default:
	}
	k.reply(k.control, &k.controlMu, m, "interrupt_reply", content)
}

func (k *Kernel) shutdown(m *Message, s zmq4.Socket, mu *sync.Mutex) {
	var req struct {
		Restart bool `json:"restart"`
	}
	_ = json.Unmarshal(m.Content, &req)
	k.log.Info("shutdown requested", "restart", req.Restart)
	k.stopSession()
	content := map[string]any{"status": "ok", "restart": req.Restart}
	k.reply(s, mu, m, "shutdown_reply", content)
	k.publish(m, "shutdown_reply", content)
	k.finish()
}

func (k *Kernel) ports() map[string]any {
	c := k.cfg.Conn
	return map[string]any{"status": "ok", "shell_port": c.ShellPort, "iopub_port": c.IOPubPort, "stdin_port": c.StdinPort, "control_port": c.ControlPort, "hb_port": c.HBPort}
}

// runtimeType returns the image's runtime type, waiting a little for the
// manager's answer; before it (or without it) the image's repository name
// is the best guess, since our images are named after their runtime.
func (k *Kernel) runtimeType(ctx context.Context) (runtime, image string) {
	t := time.NewTimer(infoWait)
	defer t.Stop()
	select {
	case <-k.infoReady:
	case <-t.C:
	case <-ctx.Done():
	}
	select {
	case <-k.infoReady:
		if k.runtime != "" {
			return k.runtime, k.imageName
		}
	default:
	}
	return kernelcore.GuessRuntime(k.cfg.Image), k.cfg.Image
}

func (k *Kernel) kernelInfo(ctx context.Context) map[string]any {
	rt, image := k.runtimeType(ctx)
	return kernelcore.KernelInfo("bai", k.cfg.Version, rt, image, kernelcore.DisplayName(rt, image)+"\nsession "+k.sessName)
}

func (k *Kernel) isComplete(m *Message) {
	rt, _ := k.runtimeType(context.Background())
	k.reply(k.shell, &k.shellMu, m, "is_complete_reply", kernelcore.IsCompleteReply(m.Content, rt == "python"))
}

func (k *Kernel) complete(ctx context.Context, m *Message) {
	ctx, cancel := context.WithTimeout(ctx, completeTimeout)
	defer cancel()
	rt, _ := k.runtimeType(ctx)
	reply, err := kernelcore.CompleteReply(ctx, m.Content, rt == "python", func(ctx context.Context, before string) ([]any, error) {
		sess, err := k.waitSession(ctx)
		if err != nil {
			return nil, err
		}
		return k.cfg.API.Complete(ctx, sess, apitypes.Complete{Code: before})
	})
	if err != nil {
		k.log.Warn("complete", "err", err)
	}
	k.reply(k.shell, &k.shellMu, m, "complete_reply", reply)
}
