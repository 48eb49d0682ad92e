package bridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
)

// errInterrupted is the cause of a run cancelled by an interrupt request.
var errInterrupted = errors.New("interrupted")

// createTimeout bounds making a session (the manager waits up to 90 s for
// a place by default).
const createTimeout = 2 * time.Minute

// maxPrompt bounds the prompt text taken from the last line of stdout.
const maxPrompt = 256

// run is one accepted run request.
type run struct {
	id     string
	cancel context.CancelCauseFunc

	// input carries the answer to the pending input request; stopInput
	// ends the wait for it when the run is interrupted meanwhile.
	input     chan string
	stopInput chan struct{}

	mu      sync.Mutex
	session string // the session it runs in, once its turn came
	waiting bool   // an input-request is out and unanswered
}

func (r *run) state() (session string, running bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.session, r.session != ""
}

// answer hands text to a run waiting for input; false when it is not.
func (r *run) answer(text string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.waiting {
		return false
	}
	r.waiting = false
	r.input <- text
	return true
}

func (r *run) interruptInput() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.waiting {
		r.waiting = false
		r.stopInput <- struct{}{}
	}
}

// session is the bridge's session of one image.
type session struct {
	image   apitypes.ImageInfo
	mu      sync.Mutex    // guards name; held while the session is made
	name    string        // "" until made
	turn    chan struct{} // one slot: the run that holds it executes
	created bool          // made by this bridge before (a new one loses state)
}

// sessionFor returns the bridge's session of img, making the entry.
func (b *Bridge) sessionFor(img apitypes.ImageInfo) *session {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.sessions[img.Name]
	if s == nil {
		s = &session{image: img, turn: make(chan struct{}, 1)}
		b.sessions[img.Name] = s
	}
	return s
}

// ensure makes the session when it has none and returns its name.
func (b *Bridge) ensure(ctx context.Context, s *session, runID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.name != "" {
		return s.name, nil
	}
	name := fmt.Sprintf("%s-%s-%s", b.prefix, client.NewRunID()[:8], sanitize(s.image.RuntimeType))
	// Not cancelled with the run: a session the manager makes after we
	// gave up waiting would be one we never destroy. Shutdown waits for it.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), createTimeout)
	defer cancel()
	res, err := b.api.CreateSession(cctx, apitypes.CreateSession{Image: s.image.Name, Name: name, Type: "interactive"})
	if err != nil {
		if !errdefs.Is(err, errdefs.ErrInvalidArgument) && !errdefs.Is(err, errdefs.ErrQuotaExceeded) &&
			!errdefs.Is(err, errdefs.ErrUnauthenticated) && !errdefs.Is(err, errdefs.ErrPermissionDenied) {
			b.destroyQuietly(name) // it may exist even though the answer did not come
		}
		return "", fmt.Errorf("start a %s session: %w", s.image.Name, err)
	}
	if res.SessionName != "" {
		name = res.SessionName
	}
	if res.Status != "RUNNING" {
		// Not placed within the create call's wait: do not keep a session
		// that may start later and linger.
		go b.destroyQuietly(name)
		return "", fmt.Errorf("the %s session is %s (no capacity?): %w", s.image.Name, res.Status, errdefs.ErrUnavailable)
	}
	if s.created {
		b.emit(Event{RunID: runID, Type: EvStderr, Text: fmt.Sprintf("[bai bridge] the %s session had ended; started a new one (earlier state is gone)\n", s.image.Name)})
	}
	s.name, s.created = name, true
	b.log.Info("session created", "session", name, "image", s.image.Name)
	return name, nil
}

// forget drops the session's name when it is still name, so the next run
// makes a new one.
func (s *session) forget(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.name == name {
		s.name = ""
	}
}

func (b *Bridge) destroyQuietly(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if _, err := b.api.DestroySession(ctx, name, true); err != nil && !errdefs.Is(err, errdefs.ErrNotFound) {
		b.log.Warn("destroy session", "session", name, "err", err)
	}
}

// sanitize keeps a runtime type usable inside a session name.
func sanitize(s string) string {
	var sb strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			sb.WriteRune(r)
		}
	}
	if sb.Len() == 0 {
		return "code"
	}
	return sb.String()
}

// execute runs one request to its end and returns its exit code (-1 when it
// could not run); events go out as they come.
func (b *Bridge) execute(ctx context.Context, r *run, req Request, code string) int {
	fail := func(err error) int {
		if ctx.Err() != nil {
			err = errors.New("stopped: the bridge is shutting down")
			if errors.Is(context.Cause(ctx), errInterrupted) {
				err = errors.New("interrupted before it started")
			}
		}
		b.emit(Event{RunID: r.id, Type: EvError, Message: err.Error()})
		return -1
	}
	img, err := b.resolve(ctx, req)
	if err != nil {
		return fail(err)
	}
	s := b.sessionFor(img)
	// Wait for the session's turn: its REPL runs one thing at a time.
	select {
	case s.turn <- struct{}{}:
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	defer func() { <-s.turn }()

	for attempt := 0; ; attempt++ {
		name, err := b.ensure(ctx, s, r.id)
		if err != nil {
			return fail(err)
		}
		r.mu.Lock()
		r.session = name
		r.mu.Unlock()
		if ctx.Err() != nil {
			return fail(ctx.Err())
		}
		if attempt == 0 {
			b.emit(Event{RunID: r.id, Type: EvStarted, Image: img.Name, Session: name})
		}
		h := &runHandler{b: b, r: r}
		exit, err := b.runCode(ctx, name, code, h)
		var timeout *client.ExecTimeoutError
		switch {
		case err == nil:
			return exit
		case errors.As(err, &timeout):
			// The agent stopped it; the frame carries no exit code.
			b.emit(Event{RunID: r.id, Type: EvError, Message: "execution timed out"})
			return -1
		}
		// A session that ended under us (idle timeout, lifetime) is made
		// again once, if the run had shown nothing in it yet: nothing the
		// user saw is repeated, and the note says the state is gone.
		if !h.seen && attempt == 0 && b.sessionGone(ctx, name, err) {
			s.forget(name)
			go b.destroyQuietly(name)
			continue
		}
		return fail(err)
	}
}

// sessionGone reports whether err (of a run's first request) means the
// session no longer runs.
func (b *Bridge) sessionGone(ctx context.Context, name string, err error) bool {
	if errdefs.Is(err, errdefs.ErrNotFound) {
		return true
	}
	if !errdefs.Is(err, errdefs.ErrConflict) && !errdefs.Is(err, errdefs.ErrUnavailable) {
		return false
	}
	info, ierr := b.api.GetSession(ctx, name)
	if ierr != nil {
		return errdefs.Is(ierr, errdefs.ErrNotFound)
	}
	return info.Status != "RUNNING"
}

// runCode runs code in session name over the execute stream, so output
// reaches the editor within about 200 ms of being printed. A manager
// without the stream (an older one answers its path with 404) gets the
// polling loop instead, with output every 2 s; no code ran when the
// handshake was refused, so nothing runs twice. A 404 also means a session
// that is gone: the polling loop's first request then says so.
func (b *Bridge) runCode(ctx context.Context, name, code string, h client.Handler) (int, error) {
	exit, err := b.api.StreamCode(ctx, name, client.ModeQuery, code, nil, h)
	var ae *client.APIError
	if err == nil || !errors.As(err, &ae) || (ae.Status != http.StatusNotFound && ae.Status != http.StatusMethodNotAllowed) {
		return exit, err
	}
	b.log.Debug("no execute stream; polling", "session", name, "err", err)
	return b.api.RunCode(ctx, name, client.ModeQuery, code, nil, h)
}

// runHandler turns what one attempt of a run produces into events. The SDK
// calls it from the goroutine running the run, one call at a time.
type runHandler struct {
	b *Bridge
	r *run

	seen     bool            // output or an input request arrived
	lastLine strings.Builder // stdout since its last newline: the prompt
}

// OnConsole sends a console item as its event.
func (h *runHandler) OnConsole(it client.ConsoleItem) {
	h.seen = true
	id := h.r.id
	switch it.Type {
	case "stdout":
		h.track(it.Text)
		h.b.emit(Event{RunID: id, Type: EvStdout, Text: it.Text})
	case "stderr":
		h.b.emit(Event{RunID: id, Type: EvStderr, Text: it.Text})
	case "media":
		h.b.emit(Event{RunID: id, Type: EvMedia, MIME: it.MIME, Data: it.Text})
	case "html":
		h.b.emit(Event{RunID: id, Type: EvMedia, MIME: "text/html", Data: it.Text})
	case "log":
		text := it.Text
		if !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		h.b.emit(Event{RunID: id, Type: EvStderr, Text: text})
	}
}

// track keeps the unfinished last line of stdout, at most maxPrompt bytes.
func (h *runHandler) track(text string) {
	if i := strings.LastIndexByte(text, '\n'); i >= 0 {
		h.lastLine.Reset()
		text = text[i+1:]
	}
	h.lastLine.WriteString(text)
	if h.lastLine.Len() > maxPrompt {
		tail := h.lastLine.String()
		cut := len(tail) - maxPrompt
		for cut < len(tail) && !utf8.RuneStart(tail[cut]) {
			cut++
		}
		h.lastLine.Reset()
		h.lastLine.WriteString(tail[cut:])
	}
}

// OnInput sends an input-request and waits for the editor's answer.
func (h *runHandler) OnInput(ctx context.Context, req client.InputRequest) (string, error) {
	h.seen = true
	prompt := h.lastLine.String()
	if p, ok := req.Options["prompt"].(string); ok && p != "" {
		prompt = p
	}
	pw := req.IsPassword
	h.r.mu.Lock()
	h.r.waiting = true
	h.r.mu.Unlock()
	h.b.emit(Event{RunID: h.r.id, Type: EvInputRequest, Prompt: &prompt, Password: &pw})
	select {
	case text := <-h.r.input:
		h.lastLine.Reset()
		return text, nil
	case <-h.r.stopInput:
		// Interrupted while waiting, and the kernel has the interrupt. The
		// run's end (the KeyboardInterrupt) is collected only after an
		// answer, and the SDK has no way to go on without one, so an empty
		// line goes: the agent drops it once the program ended, Python's
		// helper while the program unwinds; a REPL of another language
		// still unwinding may find it on its stdin.
		return "", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}
