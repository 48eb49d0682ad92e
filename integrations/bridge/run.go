package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
		exit, started, err := b.loop(ctx, r, name, code)
		if err == nil {
			return exit
		}
		// A session that ended under us (idle timeout, lifetime) is made
		// again once, if the run never got going in it.
		if !started && attempt == 0 && b.sessionGone(ctx, name, err) {
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

// loop drives the execute loop of one run in session name. started reports
// whether the kernel accepted the run (its first request succeeded).
func (b *Bridge) loop(ctx context.Context, r *run, name, code string) (exit int, started bool, err error) {
	req := apitypes.Execute{Mode: client.ModeQuery, RunID: client.NewRunID(), Code: code}
	var lastLine strings.Builder // stdout since its last newline: the prompt
	for {
		res, err := b.api.Execute(ctx, name, req)
		if err != nil {
			return -1, started, err
		}
		started = true
		if res.RunID != "" {
			req.RunID = res.RunID
		}
		for _, raw := range res.Console {
			b.console(r.id, raw, &lastLine)
		}
		exit := -1
		if res.ExitCode != nil {
			exit = *res.ExitCode
		}
		next := apitypes.Execute{Mode: client.ModeContinue, RunID: req.RunID}
		switch res.Status {
		case apitypes.RunFinished:
			return exit, true, nil
		case apitypes.RunExecTimeout:
			b.emit(Event{RunID: r.id, Type: EvError, Message: "execution timed out"})
			return exit, true, nil
		case apitypes.RunWaitingInput:
			pw, _ := res.Options["is_password"].(bool)
			prompt := lastLine.String()
			if p, ok := res.Options["prompt"].(string); ok && p != "" {
				prompt = p
			}
			r.mu.Lock()
			r.waiting = true
			r.mu.Unlock()
			b.emit(Event{RunID: r.id, Type: EvInputRequest, Prompt: &prompt, Password: &pw})
			select {
			case text := <-r.input:
				next = apitypes.Execute{Mode: client.ModeInput, RunID: req.RunID, Code: text}
				lastLine.Reset()
			case <-r.stopInput:
				// Interrupted while waiting: collect how the program ends.
			case <-ctx.Done():
				return -1, true, ctx.Err()
			}
		case apitypes.RunContinued, apitypes.RunCleanFinished, apitypes.RunBuildFinished:
		default:
			return -1, true, fmt.Errorf("unknown execute status %q: %w", res.Status, errdefs.ErrInternal)
		}
		req = next
	}
}

// console turns one console item into an event.
func (b *Bridge) console(runID string, raw [2]any, lastLine *strings.Builder) {
	it := decodeConsole(raw)
	switch it.typ {
	case "stdout":
		if i := strings.LastIndexByte(it.text, '\n'); i >= 0 {
			lastLine.Reset()
			lastLine.WriteString(it.text[i+1:])
		} else {
			lastLine.WriteString(it.text)
		}
		if lastLine.Len() > maxPrompt {
			tail := lastLine.String()
			cut := len(tail) - maxPrompt
			for cut < len(tail) && !utf8.RuneStart(tail[cut]) {
				cut++
			}
			lastLine.Reset()
			lastLine.WriteString(tail[cut:])
		}
		b.emit(Event{RunID: runID, Type: EvStdout, Text: it.text})
	case "stderr":
		b.emit(Event{RunID: runID, Type: EvStderr, Text: it.text})
	case "media":
		b.emit(Event{RunID: runID, Type: EvMedia, MIME: it.mime, Data: it.text})
	case "html":
		b.emit(Event{RunID: runID, Type: EvMedia, MIME: "text/html", Data: it.text})
	case "log":
		text := it.text
		if !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		b.emit(Event{RunID: runID, Type: EvStderr, Text: text})
	}
}

// consoleItem is one decoded [type, data] entry of an execute answer.
type consoleItem struct {
	typ  string
	text string // text of stdout, stderr, html; data of media; message of log
	mime string // media type of media items
}

// decodeConsole reads the forms API.md gives: text items, media as
// [mime, data] or {"type", "data"}, log as [level, time, logger, message].
func decodeConsole(raw [2]any) consoleItem {
	typ, _ := raw[0].(string)
	it := consoleItem{typ: typ}
	switch d := raw[1].(type) {
	case string:
		it.text = d
	case []any:
		switch {
		case typ == "media" && len(d) >= 2:
			it.mime, _ = d[0].(string)
			it.text = stringify(d[1])
		case typ == "log" && len(d) >= 4:
			it.text = stringify(d[3])
		}
	case map[string]any:
		if typ == "media" {
			it.mime, _ = d["type"].(string)
			it.text = stringify(d["data"])
		}
	}
	return it
}

func stringify(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}
