package bridge_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/clients/go/clienttest"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/integrations/bridge"
	"baigo.dev/bai/internal/servertest"
)

func stderr(evs []stamped) string { return text(evs, bridge.EvStderr) }

// answer runs code that asks for input with prompt, answers it, and checks
// that the run then prints want and ends with 0.
func answer(t *testing.T, h *harness, id, code, prompt, input, want string) {
	t.Helper()
	req, _ := json.Marshal(bridge.Request{ID: id, Op: bridge.OpRun, Lang: "python", Code: code})
	h.send(string(req))
	evs := h.until(id, bridge.EvInputRequest)
	if ir := evs[len(evs)-1]; ir.Prompt == nil || *ir.Prompt != prompt || ir.Password == nil || *ir.Password {
		t.Errorf("input request %+v, want prompt %q, not a password", ir, prompt)
	}
	req, _ = json.Marshal(bridge.Request{ID: id + "-answer", Op: bridge.OpInput, RunID: id, Text: input})
	h.send(string(req))
	evs = h.until(id, bridge.EvFinished)
	noErrors(t, evs)
	if got := stdout(evs); got != want || *evs[len(evs)-1].ExitCode != 0 {
		t.Errorf("after the answer: stdout %q, finished %d; want %q, 0", got, *evs[len(evs)-1].ExitCode, want)
	}
}

func noErrors(t *testing.T, evs []stamped) {
	t.Helper()
	for _, ev := range evs {
		if ev.Type == bridge.EvError {
			t.Errorf("unexpected error event %+v", ev)
		}
	}
}

// TestLive drives the bridge with the real SDK against an in-process
// manager and agent (process runtime, the real runner and Python). The
// steps share one bridge and its Python session, in order.
func TestLive(t *testing.T) {
	t.Parallel()
	srv := servertest.New(t, servertest.Options{Agent: true})
	api, err := client.New(client.Config{Endpoint: srv.URL, AccessKey: srv.Creds.AccessKey, SecretKey: srv.Creds.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, api, func(o *bridge.Options) { o.SessionPrefix = "live" })
	h.timeout = time.Minute
	var session string

	t.Run("output streams while the run goes on", func(t *testing.T) {
		h := h.on(t)
		h.send(`{"id":"s","op":"run","lang":"python","code":"import time\nprint('first', flush=True)\ntime.sleep(3)\nprint('second')"}`)
		evs := h.until("s", bridge.EvFinished)
		noErrors(t, evs)
		session = evs[0].Session
		if got := stdout(evs); got != "first\nsecond\n" {
			t.Fatalf("stdout %q", got)
		}
		i := slices.IndexFunc(evs, func(ev stamped) bool { return ev.Type == bridge.EvStdout })
		if strings.Contains(evs[i].Text, "second") {
			t.Fatalf("the first stdout event %q already holds the line printed after the sleep", evs[i].Text)
		}
		// Streamed, the first line comes about 3 s before the end; polled
		// (2-second answers), 1 s before it.
		if gap := evs[len(evs)-1].at.Sub(evs[i].at); gap < 1500*time.Millisecond {
			t.Errorf("the first line arrived only %s before finished: output is not streamed while the run goes on", gap)
		}
	})

	t.Run("input, and an interrupt while waiting for it", func(t *testing.T) {
		h := h.on(t)
		answer(t, h, "i1", "name = input('Who? ')\nprint('hi', name)", "Who? ", "ann", "hi ann\n")

		h.send(`{"id":"i2","op":"run","lang":"python","code":"input('never: ')\nprint('not reached')"}`)
		h.until("i2", bridge.EvInputRequest)
		h.send(`{"id":"x","op":"interrupt","runId":"i2"}`)
		evs := h.until("i2", bridge.EvFinished)
		noErrors(t, evs)
		if !strings.Contains(stderr(evs), "KeyboardInterrupt") || strings.Contains(stdout(evs), "not reached") || *evs[len(evs)-1].ExitCode == 0 {
			t.Errorf("interrupted run: stdout %q, stderr %q, exit %d; want a KeyboardInterrupt", stdout(evs), stderr(evs), *evs[len(evs)-1].ExitCode)
		}

		// The next program that reads input must be asked: nothing of the
		// interrupted wait is left for it to read.
		answer(t, h, "i3", "print(repr(input('again: ')))", "again: ", "x", "'x'\n")
	})

	t.Run("a session that ended is made again", func(t *testing.T) {
		h := h.on(t)
		if session == "" {
			t.Skip("no session from the first step")
		}
		if _, err := api.DestroySession(t.Context(), session, true); err != nil {
			t.Fatal(err)
		}
		h.send(`{"id":"e","op":"run","lang":"python","code":"print('again')"}`)
		evs := h.until("e", bridge.EvFinished)
		noErrors(t, evs)
		if !strings.Contains(stderr(evs), "state is gone") || stdout(evs) != "again\n" || *evs[len(evs)-1].ExitCode != 0 {
			t.Errorf("events %+v, want a note on stderr and the run done in a new session", evs)
		}
	})

	h.send(`{"op":"shutdown"}`)
	if err := h.wait(); err != nil {
		t.Errorf("Serve: %v", err)
	}
	list, err := api.ListSessions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if strings.HasPrefix(s.SessionName, "live-") && s.Status != "TERMINATED" {
			t.Errorf("after shutdown: session %s is %s", s.SessionName, s.Status)
		}
	}
}

// TestPollingWithoutStream runs against a manager that answers the execute
// stream's path with 404, as one older than the stream does: the bridge
// runs code with the polling loop instead.
func TestPollingWithoutStream(t *testing.T) {
	t.Parallel()
	srv := clienttest.New(t)
	srv.SetExec(func(_ string, req apitypes.Execute) apitypes.ExecuteResult {
		res := apitypes.ExecuteResult{RunID: req.RunID, Options: map[string]any{}, Files: []any{}}
		switch req.Mode {
		case client.ModeQuery:
			res.Status, res.Console = apitypes.RunWaitingInput, [][2]any{{"stdout", "Who? "}}
		default:
			zero := 0
			res.Status, res.ExitCode, res.Console = apitypes.RunFinished, &zero, [][2]any{{"stdout", "hi " + req.Code + "\n"}}
		}
		return res
	})
	cfg, err := client.ConfigFromEnv(srv.Env())
	if err != nil {
		t.Fatal(err)
	}
	api, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := api.StreamCode(t.Context(), "none", client.ModeQuery, "x", nil, nil); !errdefs.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("the fake manager's stream answers %v, want 404", err)
	}
	h := start(t, api)
	answer(t, h, "p", "name = input('Who? ')", "Who? ", "bo", "hi bo\n")
	var modes []string
	for _, r := range srv.Requests() {
		var ex apitypes.Execute
		if r.Method == "POST" && strings.HasPrefix(r.PathQuery, "/session/") && json.Unmarshal(r.Body, &ex) == nil && ex.Mode != "" {
			modes = append(modes, ex.Mode)
		}
	}
	if !slices.Equal(modes, []string{"query", "input"}) {
		t.Errorf("execute requests %v, want query then input", modes)
	}
	h.send(`{"op":"shutdown"}`)
	if err := h.wait(); err != nil {
		t.Errorf("Serve: %v", err)
	}
	if n := len(srv.Requests()); n == 0 {
		t.Error("no requests recorded")
	}
}
