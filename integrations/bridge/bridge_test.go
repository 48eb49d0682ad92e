package bridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/integrations/bridge"
)

var testImages = []apitypes.ImageInfo{
	{Name: "python:3.11-debian", Aliases: []string{"python", "python3"}, RuntimeType: "python"},
	{Name: "c:gcc12-debian", Aliases: []string{"c"}, RuntimeType: "c"},
	{Name: "nodejs:18-debian", Aliases: []string{"nodejs", "node", "js"}, RuntimeType: "nodejs"},
	{Name: "bash:5.2-debian", Aliases: []string{"bash", "sh"}, RuntimeType: "bash"},
	{Name: "r:4.2-debian", Aliases: []string{"r", "R"}, RuntimeType: "r"},
}

func TestResolve(t *testing.T) {
	t.Parallel()
	tests := []struct {
		lang, image, file string
		want              string // image name; "" means an error
	}{
		{lang: "python", want: "python:3.11-debian"},
		{lang: "Python", want: "python:3.11-debian"},
		{lang: "python3", want: "python:3.11-debian"},
		{lang: "javascript", want: "nodejs:18-debian"},
		{lang: "shellscript", want: "bash:5.2-debian"},
		{lang: "R", want: "r:4.2-debian"},
		{image: "c:gcc12-debian", want: "c:gcc12-debian"},
		{image: "c", want: "c:gcc12-debian"},
		{file: "/src/main.py", want: "python:3.11-debian"},
		{file: "prog.C", want: "c:gcc12-debian"},
		{file: "x.mjs", want: "nodejs:18-debian"},
		{lang: "python", file: "x.c", want: "python:3.11-debian"},            // lang wins over the extension
		{lang: "objective-c", file: "/src/a.py", want: "python:3.11-debian"}, // an unknown id falls back to the extension
		{lang: "cobol"},
		{image: "python:2"},
		{file: "notes.txt"},
		{},
	}
	for _, tc := range tests {
		img, err := bridge.Resolve(testImages, tc.lang, tc.image, tc.file)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("Resolve(%q, %q, %q) = %s, want an error", tc.lang, tc.image, tc.file, img.Name)
		case tc.want == "" && !errdefs.Is(err, errdefs.ErrInvalidArgument):
			t.Errorf("Resolve(%q, %q, %q): %v, want ErrInvalidArgument", tc.lang, tc.image, tc.file, err)
		case tc.want != "" && (err != nil || img.Name != tc.want):
			t.Errorf("Resolve(%q, %q, %q) = %s, %v, want %s", tc.lang, tc.image, tc.file, img.Name, err, tc.want)
		}
	}
	_, err := bridge.Resolve(testImages, "cobol", "", "")
	if err == nil || !strings.Contains(err.Error(), "python") || !strings.Contains(err.Error(), "nodejs") {
		t.Errorf("the error should list the languages there are: %v", err)
	}
}

// script plays one run in a fakeAPI session: what the program prints, the
// input it reads, how it ends. It blocks only until ctx ends, as the SDK
// does.
type script func(ctx context.Context, f *fakeAPI, code string, h client.Handler) (int, error)

// fakeAPI is a manager in memory: sessions by name and scripted runs. The
// tests against a real manager are in live_test.go; this one makes the
// protocol's corner cases easy to reach.
type fakeAPI struct {
	mu         sync.Mutex
	sessions   map[string]string // name -> image
	created    []string
	destroyed  []string
	interrupts []string
	run        script
}

func newFake(run script) *fakeAPI {
	return &fakeAPI{sessions: map[string]string{}, run: run}
}

func (f *fakeAPI) Images(context.Context) ([]apitypes.ImageInfo, error) { return testImages, nil }

func (f *fakeAPI) CreateSession(_ context.Context, req apitypes.CreateSession) (*apitypes.CreateSessionResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sessions[req.Name] = req.Image
	f.created = append(f.created, req.Name)
	return &apitypes.CreateSessionResult{SessionID: "id-" + req.Name, SessionName: req.Name, Status: "RUNNING", Created: true}, nil
}

func (f *fakeAPI) GetSession(_ context.Context, name string) (*apitypes.SessionInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.sessions[name]; !ok {
		return nil, fmt.Errorf("session %s: %w", name, errdefs.ErrNotFound)
	}
	return &apitypes.SessionInfo{SessionName: name, Status: "RUNNING"}, nil
}

func (f *fakeAPI) DestroySession(_ context.Context, name string, _ bool) (*apitypes.DestroyResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.destroyed = append(f.destroyed, name)
	if _, ok := f.sessions[name]; !ok {
		return nil, fmt.Errorf("session %s: %w", name, errdefs.ErrNotFound)
	}
	delete(f.sessions, name)
	return &apitypes.DestroyResult{}, nil
}

func (f *fakeAPI) exists(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.sessions[name]
	return ok
}

// StreamCode answers a session that is gone as the manager does: 404 to
// the handshake.
func (f *fakeAPI) StreamCode(ctx context.Context, name, _, code string, _ map[string]any, h client.Handler) (int, error) {
	if !f.exists(name) {
		return -1, fmt.Errorf("execute stream in session %s: %w", name, &client.APIError{Status: http.StatusNotFound, Title: "Not found"})
	}
	return f.run(ctx, f, code, h)
}

func (f *fakeAPI) RunCode(ctx context.Context, name, _, code string, _ map[string]any, h client.Handler) (int, error) {
	if !f.exists(name) {
		return -1, fmt.Errorf("execute in session %s: %w", name, &client.APIError{Status: http.StatusNotFound, Title: "Not found"})
	}
	return f.run(ctx, f, code, h)
}

func (f *fakeAPI) Interrupt(_ context.Context, name string) error {
	f.mu.Lock()
	f.interrupts = append(f.interrupts, name)
	f.mu.Unlock()
	return nil
}

func (f *fakeAPI) snapshot() (created, destroyed, live []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for n := range f.sessions {
		live = append(live, n)
	}
	return slices.Clone(f.created), slices.Clone(f.destroyed), live
}

// echo prints its code and ends.
func echo(_ context.Context, _ *fakeAPI, code string, h client.Handler) (int, error) {
	h.OnConsole(client.ConsoleItem{Type: "stdout", Text: code})
	return 0, nil
}

// stamped is an event and when the harness read it.
type stamped struct {
	bridge.Event
	at time.Time
}

// harness runs a Bridge on pipes.
type harness struct {
	t       *testing.T
	in      *io.PipeWriter
	events  chan stamped
	done    chan error
	cancel  context.CancelFunc
	timeout time.Duration // for each event
}

func start(t *testing.T, api bridge.API, opts ...func(*bridge.Options)) *harness {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	o := bridge.Options{API: api, Version: "test"}
	for _, f := range opts {
		f(&o)
	}
	b := bridge.New(o)
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, in: inW, events: make(chan stamped, 100), done: make(chan error, 1), cancel: cancel, timeout: 10 * time.Second}
	go func() {
		h.done <- b.Serve(ctx, inR, outW)
		outW.Close()
	}()
	go func() {
		dec := json.NewDecoder(outR)
		for {
			var ev bridge.Event
			if err := dec.Decode(&ev); err != nil {
				close(h.events)
				return
			}
			h.events <- stamped{ev, time.Now()}
		}
	}()
	t.Cleanup(func() {
		cancel()
		inW.Close()
	})
	if ev := h.next(); ev.Type != bridge.EvReady || ev.Version != "test" {
		t.Fatalf("first event %+v, want ready", ev)
	}
	return h
}

func (h *harness) send(req string) {
	h.t.Helper()
	if _, err := io.WriteString(h.in, req+"\n"); err != nil {
		h.t.Fatalf("send %s: %v", req, err)
	}
}

func (h *harness) next() stamped {
	h.t.Helper()
	select {
	case ev, ok := <-h.events:
		if !ok {
			h.t.Fatal("the bridge closed its output")
		}
		return ev
	case <-time.After(h.timeout):
		h.t.Fatalf("no event within %s", h.timeout)
	}
	return stamped{}
}

// until collects events up to and including the first of type typ for runID.
func (h *harness) until(runID, typ string) []stamped {
	h.t.Helper()
	var evs []stamped
	for {
		ev := h.next()
		evs = append(evs, ev)
		if ev.RunID == runID && ev.Type == typ {
			return evs
		}
		if ev.RunID == runID && ev.Type == bridge.EvFinished {
			h.t.Fatalf("run %s finished before a %s event: %+v", runID, typ, evs)
		}
	}
}

func (h *harness) wait() error {
	h.t.Helper()
	select {
	case err := <-h.done:
		return err
	case <-time.After(10 * time.Second):
		h.t.Fatal("Serve did not return within 10s")
	}
	return nil
}

// text joins the texts of the events of type typ (stdout or stderr).
func text(evs []stamped, typ string) string {
	var sb strings.Builder
	for _, ev := range evs {
		if ev.Type == typ {
			sb.WriteString(ev.Text)
		}
	}
	return sb.String()
}

func stdout(evs []stamped) string { return text(evs, bridge.EvStdout) }

func TestRunsShareOneSessionPerLanguage(t *testing.T) {
	t.Parallel()
	f := newFake(echo)
	h := start(t, f)
	h.send(`{"id":"a","op":"run","lang":"python","code":"print(1)"}`)
	evs := h.until("a", bridge.EvFinished)
	if evs[0].Type != bridge.EvStarted || evs[0].Image != "python:3.11-debian" || evs[0].Session == "" {
		t.Errorf("first event of the run: %+v, want started with image and session", evs[0])
	}
	if got := stdout(evs); got != "print(1)" {
		t.Errorf("stdout %q", got)
	}
	if fin := evs[len(evs)-1]; fin.ExitCode == nil || *fin.ExitCode != 0 {
		t.Errorf("finished %+v, want exitCode 0", fin)
	}
	h.send(`{"id":"b","op":"run","file":"x.py","code":"again"}`)
	h.until("b", bridge.EvFinished)
	h.send(`{"id":"c","op":"run","lang":"c","code":"int main(){}"}`)
	h.until("c", bridge.EvFinished)
	created, _, _ := f.snapshot()
	if len(created) != 2 || !strings.HasSuffix(created[0], "-python") || !strings.HasSuffix(created[1], "-c") {
		t.Errorf("sessions made: %v, want one python and one c", created)
	}
	h.in.Close() // end of input: the bridge cleans up
	if err := h.wait(); err != nil {
		t.Errorf("Serve: %v", err)
	}
	_, destroyed, live := f.snapshot()
	if len(live) != 0 || len(destroyed) != 2 {
		t.Errorf("after EOF: destroyed %v, still live %v", destroyed, live)
	}
}

func TestFileRelativeToCwd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.py"), []byte("from a file"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := start(t, newFake(echo))
	req, _ := json.Marshal(bridge.Request{ID: "f", Op: bridge.OpRun, File: "main.py", Cwd: dir})
	h.send(string(req))
	evs := h.until("f", bridge.EvFinished)
	if got := stdout(evs); got != "from a file" {
		t.Errorf("stdout %q, want the file's content", got)
	}
}

func TestInputRoundTrip(t *testing.T) {
	t.Parallel()
	f := newFake(func(ctx context.Context, _ *fakeAPI, _ string, h client.Handler) (int, error) {
		h.OnConsole(client.ConsoleItem{Type: "stdout", Text: "line\nNa"})
		h.OnConsole(client.ConsoleItem{Type: "stdout", Text: "me: "})
		name, err := h.OnInput(ctx, client.InputRequest{IsPassword: true})
		if err != nil {
			return -1, err
		}
		h.OnConsole(client.ConsoleItem{Type: "stdout", Text: "hello " + name + "\n"})
		return 0, nil
	})
	h := start(t, f)
	h.send(`{"id":"r","op":"input","runId":"r","text":"early"}`)
	if ev := h.next(); ev.Type != bridge.EvError || ev.ID != "r" || !strings.Contains(ev.Message, "no run") {
		t.Errorf("input before the run: %+v, want an error", ev)
	}
	h.send(`{"id":"r","op":"run","lang":"python","code":"x"}`)
	evs := h.until("r", bridge.EvInputRequest)
	ir := evs[len(evs)-1]
	if ir.Prompt == nil || *ir.Prompt != "Name: " || ir.Password == nil || !*ir.Password {
		t.Errorf("input request %+v, want prompt \"Name: \" and password", ir)
	}
	h.send(`{"id":"i1","op":"input","runId":"r","text":"bob"}`)
	evs = h.until("r", bridge.EvFinished)
	if got := stdout(evs); got != "hello bob\n" {
		t.Errorf("after input: stdout %q", got)
	}
	h.send(`{"id":"i2","op":"input","runId":"r","text":"late"}`)
	if ev := h.next(); ev.Type != bridge.EvError || ev.ID != "i2" {
		t.Errorf("input after the run: %+v, want an error", ev)
	}
}

// TestConsoleItems checks the events of each kind of console item, read
// by the SDK's decoder from the forms the wire carries.
func TestConsoleItems(t *testing.T) {
	t.Parallel()
	raw := [][2]any{
		{"stdout", "out\n"},
		{"stderr", "err\n"},
		{"media", []any{"image/svg+xml", "<svg/>"}},
		{"media", map[string]any{"type": "image/png", "data": "iVBORw0KGgo="}},
		{"html", "<b>hi</b>"},
		{"log", []any{"INFO", 1700000000.0, "kernel", "a note"}},
		{"completion", []any{"ignored"}},
	}
	f := newFake(func(_ context.Context, _ *fakeAPI, _ string, h client.Handler) (int, error) {
		for _, r := range raw {
			h.OnConsole(client.DecodeConsole(r))
		}
		return 3, nil
	})
	h := start(t, f)
	h.send(`{"id":"m","op":"run","lang":"python","code":"x"}`)
	evs := h.until("m", bridge.EvFinished)
	var got []string
	for _, ev := range evs[1:] { // after started
		got = append(got, fmt.Sprintf("%s|%s|%s|%s", ev.Type, ev.Text, ev.MIME, ev.Data))
	}
	want := []string{
		"stdout|out\n||",
		"stderr|err\n||",
		"media||image/svg+xml|<svg/>",
		"media||image/png|iVBORw0KGgo=",
		"media||text/html|<b>hi</b>",
		"stderr|a note\n||",
		"finished|||",
	}
	if !slices.Equal(got, want) {
		t.Errorf("events\n%q\nwant\n%q", got, want)
	}
	if code := evs[len(evs)-1].ExitCode; code == nil || *code != 3 {
		t.Errorf("exit code %v, want 3", code)
	}
}

func TestExecTimeout(t *testing.T) {
	t.Parallel()
	f := newFake(func(_ context.Context, _ *fakeAPI, _ string, h client.Handler) (int, error) {
		h.OnConsole(client.ConsoleItem{Type: "stdout", Text: "working\n"})
		return 0, &client.ExecTimeoutError{}
	})
	h := start(t, f)
	h.send(`{"id":"t","op":"run","lang":"python","code":"x"}`)
	evs := h.until("t", bridge.EvFinished)
	n := len(evs)
	if evs[n-2].Type != bridge.EvError || !strings.Contains(evs[n-2].Message, "timed out") || *evs[n-1].ExitCode != -1 {
		t.Errorf("events %+v, want the time-out said, then finished -1", evs)
	}
}

func TestInterruptWhileWaitingForInput(t *testing.T) {
	t.Parallel()
	f := newFake(func(ctx context.Context, f *fakeAPI, _ string, h client.Handler) (int, error) {
		answer, err := h.OnInput(ctx, client.InputRequest{})
		if err != nil {
			return -1, err
		}
		f.mu.Lock()
		n := len(f.interrupts)
		f.mu.Unlock()
		if n == 0 || answer != "" {
			return -1, fmt.Errorf("answer %q with %d interrupts: the wait must end only once the kernel has the interrupt", answer, n)
		}
		h.OnConsole(client.ConsoleItem{Type: "stderr", Text: "KeyboardInterrupt\n"})
		return 1, nil
	})
	h := start(t, f)
	h.send(`{"id":"w","op":"run","lang":"python","code":"input()"}`)
	h.until("w", bridge.EvInputRequest)
	h.send(`{"id":"x","op":"interrupt","runId":"w"}`)
	evs := h.until("w", bridge.EvFinished)
	fin := evs[len(evs)-1]
	if fin.ExitCode == nil || *fin.ExitCode != 1 {
		t.Errorf("finished %+v, want exit code 1", fin)
	}
	var stderr string
	for _, ev := range evs {
		if ev.Type == bridge.EvStderr {
			stderr += ev.Text
		}
		if ev.Type == bridge.EvError {
			t.Errorf("unexpected error event %+v", ev)
		}
	}
	if !strings.Contains(stderr, "KeyboardInterrupt") {
		t.Errorf("stderr %q: the end of the interrupted run was not collected", stderr)
	}
}

func TestQueuedRunInterruptedBeforeItStarts(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	f := newFake(func(_ context.Context, _ *fakeAPI, code string, _ client.Handler) (int, error) {
		if code == "slow" {
			<-release
		}
		return 0, nil
	})
	h := start(t, f)
	h.send(`{"id":"slow","op":"run","lang":"python","code":"slow"}`)
	h.until("slow", bridge.EvStarted)
	h.send(`{"id":"queued","op":"run","lang":"python","code":"fast"}`)
	h.send(`{"id":"i","op":"interrupt","runId":"queued"}`)
	evs := h.until("queued", bridge.EvFinished)
	if fin := evs[len(evs)-1]; fin.ExitCode == nil || *fin.ExitCode != -1 {
		t.Errorf("finished %+v, want -1", fin)
	}
	if errEv := evs[len(evs)-2]; errEv.Type != bridge.EvError || !strings.Contains(errEv.Message, "interrupted before it started") {
		t.Errorf("before finished: %+v, want the interruption said", errEv)
	}
	close(release)
	h.until("slow", bridge.EvFinished)
}

func TestEndedSessionIsMadeAgain(t *testing.T) {
	t.Parallel()
	f := newFake(echo)
	h := start(t, f)
	h.send(`{"id":"1","op":"run","lang":"python","code":"one"}`)
	evs := h.until("1", bridge.EvFinished)
	first := evs[0].Session
	// The session ends under the bridge (idle timeout).
	f.mu.Lock()
	delete(f.sessions, first)
	f.mu.Unlock()
	h.send(`{"id":"2","op":"run","lang":"python","code":"two"}`)
	evs = h.until("2", bridge.EvFinished)
	var note bool
	for _, ev := range evs {
		note = note || (ev.Type == bridge.EvStderr && strings.Contains(ev.Text, "state is gone"))
	}
	if !note || stdout(evs) != "two" || *evs[len(evs)-1].ExitCode != 0 {
		t.Errorf("events %+v, want a note on stderr and the run done in a new session", evs)
	}
	created, _, _ := f.snapshot()
	if len(created) != 2 {
		t.Errorf("sessions made %v, want 2", created)
	}
}

func TestRefusedRequests(t *testing.T) {
	t.Parallel()
	f := newFake(echo)
	h := start(t, f, func(o *bridge.Options) {
		o.ReadFile = func(name string) ([]byte, error) { return nil, fmt.Errorf("open %s: no such file", name) }
	})
	tests := []struct {
		req, id, want string
	}{
		{`not json`, "", "JSON"},
		{`{"id":"1","op":"fly"}`, "1", "unknown op"},
		{`{"op":"run","lang":"python","code":"x"}`, "", "id"},
		{`{"id":"4","op":"interrupt","runId":"nope"}`, "4", "no run"},
	}
	for _, tc := range tests {
		h.send(tc.req)
		ev := h.next()
		if ev.Type != bridge.EvError || ev.ID != tc.id || !strings.Contains(ev.Message, tc.want) {
			t.Errorf("%s: got %+v, want an error for id %q about %q", tc.req, ev, tc.id, tc.want)
		}
	}
	// A run that cannot start is the run's error, and the run still finishes.
	runs := []struct{ req, id, want string }{
		{`{"id":"2","op":"run","lang":"python"}`, "2", "nothing to run"},
		{`{"id":"3","op":"run","lang":"python","file":"gone.py"}`, "3", "no such file"},
		{`{"id":"5","op":"run","lang":"cobol","code":"x"}`, "5", "python"}, // the languages there are
	}
	for _, tc := range runs {
		h.send(tc.req)
		evs := h.until(tc.id, bridge.EvFinished)
		if len(evs) != 2 || evs[0].Type != bridge.EvError || evs[0].RunID != tc.id || !strings.Contains(evs[0].Message, tc.want) || *evs[1].ExitCode != -1 {
			t.Errorf("%s: events %+v, want an error about %q, then finished -1", tc.req, evs, tc.want)
		}
	}
	created, _, _ := f.snapshot()
	if len(created) != 0 {
		t.Errorf("sessions made for refused requests: %v", created)
	}
}

func TestShutdownAndSignal(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"shutdown", "signal"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			block := make(chan struct{})
			defer close(block)
			f := newFake(func(ctx context.Context, _ *fakeAPI, code string, _ client.Handler) (int, error) {
				if code == "forever" {
					select {
					case <-block:
					case <-ctx.Done():
						return -1, ctx.Err()
					}
				}
				return 0, nil
			})
			h := start(t, f)
			h.send(`{"id":"a","op":"run","lang":"python","code":"x"}`)
			h.until("a", bridge.EvFinished)
			h.send(`{"id":"b","op":"run","lang":"bash","code":"forever"}`)
			h.until("b", bridge.EvStarted)
			if how == "shutdown" {
				h.send(`{"op":"shutdown"}`)
			} else {
				h.cancel()
			}
			evs := h.until("b", bridge.EvFinished)
			if fin := evs[len(evs)-1]; *fin.ExitCode != -1 {
				t.Errorf("the stopped run finished with %d", *fin.ExitCode)
			}
			if err := h.wait(); err != nil {
				t.Errorf("Serve: %v", err)
			}
			created, _, live := f.snapshot()
			if len(created) != 2 || len(live) != 0 {
				t.Errorf("made %v, still live %v", created, live)
			}
		})
	}
}

// on returns the harness reporting to t (a subtest's), sharing its bridge.
func (h *harness) on(t *testing.T) *harness {
	c := *h
	c.t = t
	return &c
}
