// Package bridge is what editors talk to: `bai bridge` runs it on stdin and
// stdout so that the VSCode and Atom extensions (integrations/vscode,
// integrations/atom) only spawn a process and exchange JSON lines, while
// signing, sessions, running code, input and interrupts stay in one place,
// on the Go SDK. Runs go over the SDK's execute stream (client.StreamCode),
// so an editor shows output within about 200 ms of its being printed, not
// once per 2-second poll; a manager without the stream gets the polling
// loop (client.RunCode).
//
// # Protocol
//
// Newline-delimited JSON both ways; one object per line. Requests (stdin):
//
//	{"id": "r1", "op": "run", "lang": "python", "code": "print(1)"}
//	{"id": "r2", "op": "run", "file": "main.c", "cwd": "/home/me/proj"}
//	{"id": "r3", "op": "input", "runId": "r1", "text": "an answer"}
//	{"id": "r4", "op": "interrupt", "runId": "r1"}
//	{"op": "shutdown"}
//
// A run names its language with "lang" (an image alias, a runtime type such
// as python, or an editor's language id such as javascript or shellscript)
// or "image" (python:3.11-debian); without either, the extension of "file"
// decides. Its code is "code", else the content of "file" (relative to
// "cwd"); nothing is uploaded. The run's id ("id", unique among live runs)
// is the runId of everything the run produces.
//
// Events (stdout):
//
//	{"type": "ready", "version": "..."}                       once, at start
//	{"runId", "type": "started", "image", "session"}         the run has a session
//	{"runId", "type": "stdout", "text"}                      output as it arrives
//	{"runId", "type": "stderr", "text"}
//	{"runId", "type": "media", "mime", "data"}               images, HTML (text/html)
//	{"runId", "type": "input-request", "prompt", "password"} answer with op input
//	{"runId", "type": "error", "message"}                    the run failed
//	{"runId", "type": "finished", "exitCode"}                always last: -1 when it could not run
//	{"id", "type": "error", "message"}                       a request was refused
//
// Every run request with an id not in use ends with exactly one finished
// event, whatever goes wrong (an unreadable file, an unknown language, a
// lost manager: an error event says what first). Only a run without an id
// or with the id of a live run is refused with {"id", "type": "error"}. The prompt of an
// input request is the program's unfinished last line of stdout (it was
// already sent as stdout too).
//
// # Sessions
//
// One session per image, made at the first run of its language and kept for
// the editor's life; runs of one language queue behind each other (a REPL
// runs one thing at a time), runs of different languages go in parallel. A
// session that ended under the bridge (idle timeout, lifetime) is made again
// at the next run, with a note on stderr that its state is gone. All of them
// are destroyed on shutdown, at the end of stdin, or when ctx ends (SIGTERM).
//
//	        run (first of its language)
//	none ─────────────────────────────▶ created ──▶ runs, one at a time
//	                                        │
//	         shutdown / EOF / SIGTERM       ▼
//	                                    destroyed
package bridge

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/common/apitypes"
)

// API is the part of the Go SDK (*client.Client) the bridge uses.
type API interface {
	Images(ctx context.Context) ([]apitypes.ImageInfo, error)
	CreateSession(ctx context.Context, req apitypes.CreateSession) (*apitypes.CreateSessionResult, error)
	GetSession(ctx context.Context, nameOrID string) (*apitypes.SessionInfo, error)
	DestroySession(ctx context.Context, nameOrID string, forced bool) (*apitypes.DestroyResult, error)
	// StreamCode runs code over the execute WebSocket (output within about
	// 200 ms); RunCode is the polling loop, for managers without it.
	StreamCode(ctx context.Context, session, mode, code string, opts map[string]any, h client.Handler) (int, error)
	RunCode(ctx context.Context, session, mode, code string, opts map[string]any, h client.Handler) (int, error)
	Interrupt(ctx context.Context, nameOrID string) error
}

// Request is one line the editor sends.
type Request struct {
	ID    string `json:"id"`
	Op    string `json:"op"`
	Lang  string `json:"lang,omitempty"`
	Image string `json:"image,omitempty"`
	File  string `json:"file,omitempty"`
	Code  string `json:"code,omitempty"`
	Cwd   string `json:"cwd,omitempty"`
	RunID string `json:"runId,omitempty"`
	Text  string `json:"text,omitempty"`
}

// Event is one line the bridge sends. Pointer fields are present exactly
// for the event types that carry them, so that false and 0 are sent too.
type Event struct {
	RunID    string  `json:"runId,omitempty"`
	ID       string  `json:"id,omitempty"`
	Type     string  `json:"type"`
	Text     string  `json:"text,omitempty"`
	MIME     string  `json:"mime,omitempty"`
	Data     string  `json:"data,omitempty"`
	Prompt   *string `json:"prompt,omitempty"`
	Password *bool   `json:"password,omitempty"`
	ExitCode *int    `json:"exitCode,omitempty"`
	Message  string  `json:"message,omitempty"`
	Image    string  `json:"image,omitempty"`
	Session  string  `json:"session,omitempty"`
	Version  string  `json:"version,omitempty"`
}

// Request ops and event types.
const (
	OpRun       = "run"
	OpInput     = "input"
	OpInterrupt = "interrupt"
	OpShutdown  = "shutdown"

	EvReady        = "ready"
	EvStarted      = "started"
	EvStdout       = "stdout"
	EvStderr       = "stderr"
	EvMedia        = "media"
	EvInputRequest = "input-request"
	EvError        = "error"
	EvFinished     = "finished"
)

// maxLine bounds one request line (code travels inside it).
const maxLine = 16 << 20

// cleanupTimeout bounds destroying the sessions at the end.
const cleanupTimeout = 30 * time.Second

// Options configure a Bridge.
type Options struct {
	// API reaches the manager; a *client.Client.
	API API
	// Log receives the bridge's own diagnostics (never the user's output).
	Log *slog.Logger
	// Version is reported in the ready event.
	Version string
	// SessionPrefix starts the names of the sessions made; "bridge" when empty.
	SessionPrefix string
	// ReadFile reads the files of runs; os.ReadFile when nil.
	ReadFile func(name string) ([]byte, error)
}

// Bridge serves one editor.
type Bridge struct {
	api      API
	log      *slog.Logger
	version  string
	prefix   string
	readFile func(string) ([]byte, error)

	outMu sync.Mutex
	enc   *json.Encoder

	mu       sync.Mutex
	runs     map[string]*run
	sessions map[string]*session // by image name
	images   []apitypes.ImageInfo
	wg       sync.WaitGroup
}

// New returns a Bridge; Serve runs it.
func New(o Options) *Bridge {
	b := &Bridge{api: o.API, log: o.Log, version: o.Version, prefix: o.SessionPrefix, readFile: o.ReadFile,
		runs: map[string]*run{}, sessions: map[string]*session{}}
	if b.log == nil {
		b.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if b.prefix == "" {
		b.prefix = "bridge"
	}
	if b.readFile == nil {
		b.readFile = os.ReadFile
	}
	return b
}

// emit writes one event line; lines of concurrent runs never interleave.
func (b *Bridge) emit(ev Event) {
	b.outMu.Lock()
	defer b.outMu.Unlock()
	if err := b.enc.Encode(ev); err != nil {
		b.log.Debug("write event", "err", err)
	}
}

func (b *Bridge) refuse(id, format string, args ...any) {
	b.emit(Event{ID: id, Type: EvError, Message: fmt.Sprintf(format, args...)})
}

// Serve reads requests from in and writes events to out until a shutdown
// request, the end of in, or the end of ctx; then it stops the runs and
// destroys the sessions it made. It returns an error only when in cannot be
// read.
func (b *Bridge) Serve(ctx context.Context, in io.Reader, out io.Writer) error {
	b.enc = json.NewEncoder(out)
	b.enc.SetEscapeHTML(false)
	runCtx, stopRuns := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRuns()

	lines := make(chan []byte)
	readErr := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64<<10), maxLine)
		for sc.Scan() {
			line := append([]byte(nil), sc.Bytes()...)
			select {
			case lines <- line:
			case <-runCtx.Done():
				return
			}
		}
		readErr <- sc.Err()
	}()

	b.emit(Event{Type: EvReady, Version: b.version})
	var err error
loop:
	for {
		select {
		case <-ctx.Done():
			b.log.Info("stopping", "reason", "signal")
			break loop
		case err = <-readErr:
			if err != nil {
				err = fmt.Errorf("read requests: %w", err)
			}
			b.log.Info("stopping", "reason", "end of input")
			break loop
		case line := <-lines:
			if b.handle(runCtx, line) {
				b.log.Info("stopping", "reason", "shutdown request")
				break loop
			}
		}
	}
	stopRuns()
	b.wg.Wait()
	b.destroySessions()
	return err
}

// handle serves one request line and reports whether it asked to shut down.
func (b *Bridge) handle(ctx context.Context, line []byte) bool {
	if len(line) == 0 {
		return false
	}
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		b.refuse("", "a request must be one JSON object per line: %v", err)
		return false
	}
	switch req.Op {
	case OpShutdown:
		return true
	case OpRun:
		b.startRun(ctx, req)
	case OpInput:
		r := b.run(req.RunID)
		if r == nil {
			b.refuse(req.ID, "input: no run %q in progress", req.RunID)
		} else if !r.answer(req.Text) {
			b.refuse(req.ID, "input: run %q is not waiting for input", req.RunID)
		}
	case OpInterrupt:
		r := b.run(req.RunID)
		if r == nil {
			b.refuse(req.ID, "interrupt: no run %q in progress", req.RunID)
		} else {
			b.interrupt(ctx, r)
		}
	default:
		b.refuse(req.ID, "unknown op %q: use run, input, interrupt or shutdown", req.Op)
	}
	return false
}

func (b *Bridge) run(id string) *run {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.runs[id]
}

// startRun checks a run request, reads its code, and starts it. From here
// on the request's id is the runId: whatever goes wrong is the run's error
// and ends with its finished event, so the editor needs one way to wait.
func (b *Bridge) startRun(ctx context.Context, req Request) {
	if req.ID == "" {
		b.refuse("", "run: give the run an id (its events carry it as runId)")
		return
	}
	rctx, cancel := context.WithCancelCause(ctx)
	r := &run{id: req.ID, cancel: cancel, input: make(chan string, 1), stopInput: make(chan struct{}, 1)}
	b.mu.Lock()
	if _, dup := b.runs[req.ID]; dup {
		b.mu.Unlock()
		cancel(nil)
		b.refuse(req.ID, "run: a run with id %q is in progress; ids must be unique", req.ID)
		return
	}
	b.runs[req.ID] = r
	b.wg.Add(1)
	b.mu.Unlock()
	go func() {
		defer b.wg.Done()
		defer cancel(nil)
		code := -1
		if src, err := b.source(req); err != nil {
			b.emit(Event{RunID: r.id, Type: EvError, Message: "run: " + err.Error()})
		} else {
			code = b.execute(rctx, r, req, src)
		}
		b.mu.Lock()
		delete(b.runs, req.ID)
		b.mu.Unlock()
		b.emit(Event{RunID: r.id, Type: EvFinished, ExitCode: &code})
	}()
}

// source returns the code of a run request: its code, else its file's.
func (b *Bridge) source(req Request) (string, error) {
	code := req.Code
	if code == "" && req.File != "" {
		p := req.File
		if !filepath.IsAbs(p) && req.Cwd != "" {
			p = filepath.Join(req.Cwd, p)
		}
		data, err := b.readFile(p)
		if err != nil {
			return "", err
		}
		code = string(data)
	}
	if code == "" {
		return "", errors.New("nothing to run: give code, or a file that is not empty")
	}
	return code, nil
}

// interrupt stops a run: one still waiting for its session's turn ends at
// once; a running one is interrupted in its kernel and ends when the
// kernel says so (a run waiting for input stops waiting).
func (b *Bridge) interrupt(ctx context.Context, r *run) {
	sess, running := r.state()
	if !running {
		r.cancel(errInterrupted)
		return
	}
	go func() {
		ictx, cancel := context.WithTimeout(ctx, cleanupTimeout)
		defer cancel()
		if err := b.api.Interrupt(ictx, sess); err != nil {
			if ctx.Err() == nil {
				b.emit(Event{RunID: r.id, Type: EvError, Message: fmt.Sprintf("interrupt: %v", err)})
			}
			return
		}
		// Only once the kernel got it: a program still reading stdin would
		// otherwise be left without the input request.
		r.interruptInput()
	}()
}

// destroySessions destroys every session the bridge made, in parallel.
func (b *Bridge) destroySessions() {
	b.mu.Lock()
	var names []string
	for _, s := range b.sessions {
		s.mu.Lock()
		if s.name != "" {
			names = append(names, s.name)
		}
		s.mu.Unlock()
	}
	b.sessions = map[string]*session{}
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := b.api.DestroySession(ctx, name, true); err != nil && !errors.Is(err, context.Canceled) {
				b.log.Warn("destroy session", "session", name, "err", err)
				return
			}
			b.log.Info("session destroyed", "session", name)
		}()
	}
	wg.Wait()
}
