package kernelcore_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/integrations/jupyter/kernelcore"
	"baigo.dev/bai/internal/servertest"
)

// lockedSink is a sink for outputs that arrive on the stream's goroutine.
type lockedSink struct {
	mu sync.Mutex
	sink
}

func (s *lockedSink) outputs() kernelcore.Outputs {
	o := s.sink.outputs()
	return kernelcore.Outputs{
		Stream:  func(name, text string) { s.mu.Lock(); defer s.mu.Unlock(); o.Stream(name, text) },
		Display: func(data map[string]any) { s.mu.Lock(); defer s.mu.Unlock(); o.Display(data) },
	}
}

// all returns the outputs, adjacent streams of one name joined as front
// ends show them: where output is cut between items depends on timing
// (print writes the text and the newline apart).
func (s *lockedSink) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, o := range s.got {
		if n := len(out); n > 0 && strings.HasPrefix(o, "stream:") {
			prefix := o[:len("stream:")+strings.IndexByte(o[len("stream:"):], ':')+1]
			if strings.HasPrefix(out[n-1], prefix) {
				out[n-1] += o[len(prefix):]
				continue
			}
		}
		out = append(out, o)
	}
	return out
}

// TestRun runs cells in a real session (in-process manager, process
// runtime agent with the real runner and Python) and checks the outputs
// and the exception each ends with.
func TestRun(t *testing.T) {
	t.Parallel()
	srv := servertest.New(t, servertest.Options{Agent: true})
	api, err := client.New(client.Config{Endpoint: srv.URL, AccessKey: srv.Creds.AccessKey, SecretKey: srv.Creds.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	const session = "kernelcore-run"
	if _, err := api.CreateSession(t.Context(), apitypes.CreateSession{Image: "python", Name: session}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = api.DestroySession(context.Background(), session, true) })
	no := false

	tests := []struct {
		name    string
		session string
		req     kernelcore.ExecuteRequest
		python  bool
		want    []string
		ename   string // "" for success
		evalue  string
	}{
		{name: "output", req: kernelcore.ExecuteRequest{Code: "print('hi')"}, python: true, want: []string{"stream:stdout:hi\n"}},
		{name: "python error holds the traceback back", python: true,
			req:   kernelcore.ExecuteRequest{Code: "import sys\nprint('note', file=sys.stderr, flush=True)\n1/0"},
			want:  []string{"stream:stderr:note\n"},
			ename: "ZeroDivisionError", evalue: "division by zero"},
		{name: "no stdin: a note and an empty line", python: true,
			req:  kernelcore.ExecuteRequest{Code: "print(repr(input('? ')))", AllowStdin: &no},
			want: []string{"stream:stdout:? ", "stream:stderr:[bai] the code reads input, but this front end does not send any: it gets an empty line\n", "stream:stdout:''\n"}},
		{name: "silent", req: kernelcore.ExecuteRequest{Code: "print('quiet')", Silent: true}, python: true},
		{name: "exit status without a python traceback", python: false,
			req:  kernelcore.ExecuteRequest{Code: "import sys\nprint('bye', file=sys.stderr, flush=True)\nsys.exit(3)"},
			want: []string{"stream:stderr:bye\n"}, ename: "ExitError"},
		{name: "unknown session", session: "kernelcore-no-such-session", req: kernelcore.ExecuteRequest{Code: "1"}, python: true,
			ename: "SessionError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &lockedSink{}
			sess := session
			if tt.session != "" {
				sess = tt.session
			}
			exc := kernelcore.Run(t.Context(), api, kernelcore.Cell{Session: sess, Request: tt.req, Python: tt.python, Out: s.outputs(),
				Input: func(context.Context, bool) (string, error) {
					t.Error("Input called")
					return "", nil
				}})
			if got := s.all(); strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("outputs %q\nwant    %q", got, tt.want)
			}
			switch {
			case tt.ename == "" && exc != nil:
				t.Fatalf("exception %+v", exc)
			case tt.ename != "" && (exc == nil || exc.Name != tt.ename):
				t.Fatalf("exception %+v, want %s", exc, tt.ename)
			case tt.evalue != "" && exc.Value != tt.evalue:
				t.Errorf("evalue %q, want %q", exc.Value, tt.evalue)
			}
		})
	}

	t.Run("input", func(t *testing.T) {
		s := &lockedSink{}
		exc := kernelcore.Run(t.Context(), api, kernelcore.Cell{Session: session, Request: kernelcore.ExecuteRequest{Code: "print('got', input())"},
			Python: true, Out: s.outputs(), Input: func(context.Context, bool) (string, error) { return "carrot", nil }})
		if exc != nil || strings.Join(s.all(), "") != "stream:stdout:got carrot\n" {
			t.Fatalf("outputs %q, exception %+v", s.all(), exc)
		}
	})

	t.Run("the kernel's end stops the stream", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		s := &lockedSink{}
		out := s.outputs()
		stream := out.Stream
		out.Stream = func(name, text string) { stream(name, text); cancel() }
		start := time.Now()
		exc := kernelcore.Run(ctx, api, kernelcore.Cell{Session: session, Python: true, Out: out,
			Request: kernelcore.ExecuteRequest{Code: "import time\nprint('started', flush=True)\ntime.sleep(30)"}})
		if exc == nil || exc.Name != "KernelShutdown" || time.Since(start) > 20*time.Second {
			t.Fatalf("exception %+v after %s", exc, time.Since(start))
		}
		if err := api.Interrupt(t.Context(), session); err != nil {
			t.Fatal(err)
		}
	})
}
