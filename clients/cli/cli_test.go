package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"baigo.dev/bai/clients/cli"
	"baigo.dev/bai/clients/go/clienttest"
	"baigo.dev/bai/common/apitypes"
)

type result struct {
	stdout, stderr string
	code           int
}

// bai runs the client commands under a root command like cmd/bai does.
func bai(ctx context.Context, env func(string) string, stdin string, args ...string) result {
	var out, errb bytes.Buffer
	root := &cobra.Command{Use: "bai"}
	root.AddCommand(cli.Commands(env, strings.NewReader(stdin), &out, &errb)...)
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errb)
	err := root.ExecuteContext(ctx)
	return result{stdout: out.String(), stderr: errb.String(), code: cli.ExitCode(err)}
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func intp(i int) *int { return &i }

// calls lists "METHOD path" of the requests the fake manager received.
func calls(srv *clienttest.Server) []string {
	var out []string
	for _, r := range srv.Requests() {
		out = append(out, r.Method+" "+r.PathQuery)
	}
	return out
}

// scripted answers the requests of a run in turn and records them.
type scripted struct {
	mu    sync.Mutex
	steps []apitypes.ExecuteResult
	got   []apitypes.Execute
	hook  func(n int)
}

func (s *scripted) exec(_ string, req apitypes.Execute) apitypes.ExecuteResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, req)
	n := len(s.got)
	if s.hook != nil {
		s.hook(n)
	}
	if n > len(s.steps) {
		return s.steps[len(s.steps)-1]
	}
	return s.steps[n-1]
}

func TestRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	script := filepath.Join(dir, "script.py")
	if err := os.WriteFile(script, []byte("print('from file')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		stdin      string
		steps      []apitypes.ExecuteResult // nil: the fake echoes the code
		wantCode   int
		wantOut    string
		wantErr    []string // substrings of stderr
		wantCalls  []string // prefix match, in order; the session name is NAME
		wantInputs []string
		setup      func(srv *clienttest.Server)
		check      func(t *testing.T, srv *clienttest.Server)
	}{
		{
			name: "reused failed session",
			args: []string{"run", "--name", "broken", "python", "-c", "1"},
			setup: func(srv *clienttest.Server) {
				srv.AddSession(apitypes.SessionInfo{SessionID: "00000000-0000-4000-8000-0000000000ee", SessionName: "broken", Status: "ERROR"})
			},
			wantCode:  1,
			wantErr:   []string{"bai: session broken is ERROR"},
			wantCalls: []string{"POST /session"},
			check: func(t *testing.T, srv *clienttest.Server) {
				if srv.Session("broken") == nil {
					t.Errorf("a reused session was destroyed")
				}
			},
		},
		{
			name:    "unfinished line",
			args:    []string{"run", "python", "-c", "no newline"},
			wantOut: "no newline",
			wantErr: []string{"\n"},
		},
		{
			name:      "inline code",
			args:      []string{"run", "python", "-c", "print(1+1)"},
			wantOut:   "print(1+1)",
			wantCalls: []string{"POST /session", "POST /session/NAME", "DELETE /session/NAME"},
			check: func(t *testing.T, srv *clienttest.Server) {
				var req apitypes.CreateSession
				_ = json.Unmarshal(srv.Requests()[0].Body, &req)
				if req.Image != "python" || !strings.HasPrefix(req.Name, "run-") {
					t.Errorf("create request %+v", req)
				}
			},
		},
		{
			name:      "file",
			args:      []string{"run", "python", script},
			wantOut:   "print('from file')\n",
			wantCalls: []string{"POST /session", "POST /session/NAME", "DELETE /session/NAME"},
		},
		{
			name:    "stdin as file",
			args:    []string{"run", "python", "-"},
			stdin:   "print('piped')\n",
			wantOut: "print('piped')\n",
		},
		{
			name: "streams and exit code",
			args: []string{"run", "python", "-c", "x"},
			steps: []apitypes.ExecuteResult{
				{Status: "continued", Console: [][2]any{{"stdout", "one\n"}}},
				{Status: "continued", Console: [][2]any{{"stderr", "oops\n"}, {"media", []any{"image/svg+xml", "<svg></svg>"}}}},
				{Status: "finished", ExitCode: intp(3), Console: [][2]any{{"stdout", "two\n"}}},
			},
			wantCode:  3,
			wantOut:   "one\ntwo\n",
			wantErr:   []string{"oops\n", "[media image/svg+xml, 11 bytes]"},
			wantCalls: []string{"POST /session", "POST /session/NAME", "POST /session/NAME", "POST /session/NAME", "DELETE /session/NAME"},
		},
		{
			name:  "input",
			args:  []string{"run", "python", "-c", "input()"},
			stdin: "bob\nsecret\n",
			steps: []apitypes.ExecuteResult{
				{Status: "waiting-input", Console: [][2]any{{"stdout", "name? "}}, Options: map[string]any{"is_password": false}},
				{Status: "waiting-input", Console: [][2]any{{"stdout", "password? "}}, Options: map[string]any{"is_password": true}},
				{Status: "finished", ExitCode: intp(0), Console: [][2]any{{"stdout", "hello bob\n"}}},
			},
			wantOut:    "name? password? hello bob\n",
			wantInputs: []string{"", "bob", "secret"},
		},
		{
			name:      "exec timeout",
			args:      []string{"run", "python", "-c", "while 1: pass"},
			steps:     []apitypes.ExecuteResult{{Status: "exec-timeout"}},
			wantCode:  124,
			wantErr:   []string{"execution time limit"},
			wantCalls: []string{"POST /session", "POST /session/NAME", "DELETE /session/NAME"},
		},
		{
			name:      "keep with name and env",
			args:      []string{"run", "--keep", "--name", "mysess", "--env", "A=1", "-e", "B=x=y", "python", "-c", "x=1"},
			wantOut:   "x=1",
			wantErr:   []string{"session mysess kept"},
			wantCalls: []string{"POST /session", "POST /session/mysess"},
			check: func(t *testing.T, srv *clienttest.Server) {
				if srv.Session("mysess") == nil {
					t.Errorf("session was not kept")
				}
				var req apitypes.CreateSession
				_ = json.Unmarshal(srv.Requests()[0].Body, &req)
				if req.Config == nil || req.Config.Environ["A"] != "1" || req.Config.Environ["B"] != "x=y" {
					t.Errorf("create config %+v", req.Config)
				}
			},
		},
		{
			name:      "unknown image",
			args:      []string{"run", "cobol", "-c", "x"},
			wantCode:  1,
			wantErr:   []string{`unknown image "cobol"`, "python:3.11-debian"},
			wantCalls: []string{"POST /session"},
		},
		{
			name:     "nothing to run",
			args:     []string{"run", "python"},
			wantCode: 1,
			wantErr:  []string{"nothing to run"},
		},
		{
			name:     "bad env",
			args:     []string{"run", "python", "-c", "x", "--env", "NOPE"},
			wantCode: 1,
			wantErr:  []string{`--env "NOPE" must look like KEY=VALUE`},
		},
		{
			name:     "missing language",
			args:     []string{"run"},
			wantCode: 2,
			wantErr:  []string{"bai run: requires at least 1 arg"},
		},
		{
			name:     "bad flag",
			args:     []string{"run", "--nope", "python"},
			wantCode: 2,
			wantErr:  []string{"unknown flag: --nope"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := clienttest.New(t)
			if tt.setup != nil {
				tt.setup(srv)
			}
			sc := &scripted{steps: tt.steps}
			if tt.steps != nil {
				srv.SetExec(sc.exec)
			}
			r := bai(context.Background(), srv.Env(), tt.stdin, tt.args...)
			if r.code != tt.wantCode {
				t.Errorf("exit code %d, want %d (stderr %q)", r.code, tt.wantCode, r.stderr)
			}
			if r.stdout != tt.wantOut {
				t.Errorf("stdout %q, want %q", r.stdout, tt.wantOut)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q lacks %q", r.stderr, w)
				}
			}
			if tt.wantCalls != nil {
				got := calls(srv)
				name := ""
				if len(srv.Requests()) > 0 {
					var req apitypes.CreateSession
					_ = json.Unmarshal(srv.Requests()[0].Body, &req)
					name = req.Name
				}
				var want []string
				for _, c := range tt.wantCalls {
					want = append(want, strings.ReplaceAll(c, "NAME", name))
				}
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Errorf("calls\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
			if tt.wantInputs != nil {
				var inputs []string
				for _, e := range sc.got {
					if e.Mode == "input" || len(inputs) == 0 {
						inputs = append(inputs, map[bool]string{true: e.Code, false: ""}[e.Mode == "input"])
					}
				}
				if strings.Join(inputs, "|") != strings.Join(tt.wantInputs, "|") {
					t.Errorf("inputs %q, want %q", inputs, tt.wantInputs)
				}
			}
			if tt.check != nil {
				tt.check(t, srv)
			}
		})
	}
}

// TestRunInterrupt cancels the run's context (what Ctrl-C does) while the
// code runs: the CLI must interrupt, then destroy the session, and exit 130.
func TestRunInterrupt(t *testing.T) {
	t.Parallel()
	srv := clienttest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sc := &scripted{
		steps: []apitypes.ExecuteResult{{Status: "continued", Console: [][2]any{{"stdout", "."}}}},
		hook: func(n int) {
			if n == 3 {
				cancel()
			}
		},
	}
	srv.SetExec(sc.exec)
	r := bai(ctx, srv.Env(), "", "run", "--name", "looping", "python", "-c", "while True: print('.')")
	if r.code != cli.ExitInterrupted {
		t.Fatalf("exit code %d, want 130 (stderr %q)", r.code, r.stderr)
	}
	got := calls(srv)
	n := len(got)
	if n < 2 || got[n-2] != "POST /session/looping/interrupt" || got[n-1] != "DELETE /session/looping" {
		t.Errorf("calls %q, want interrupt then destroy at the end", got)
	}
	if !strings.Contains(r.stderr, "interrupted") {
		t.Errorf("stderr %q", r.stderr)
	}
	if srv.Session("looping") != nil {
		t.Errorf("session still exists")
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	srv := clienttest.New(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + l.Addr().String()
	l.Close()
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"missing keys", map[string]string{"BACKEND_ENDPOINT": srv.URL}, "bai: set BACKEND_ACCESS_KEY and BACKEND_SECRET_KEY (printed by `make run`)"},
		{"bad keys", map[string]string{"BACKEND_ENDPOINT": srv.URL, "BACKEND_ACCESS_KEY": "AKIAWRONGWRONGWRONG0", "BACKEND_SECRET_KEY": "x"}, "bai: the manager refused the keypair: check BACKEND_ACCESS_KEY / BACKEND_SECRET_KEY"},
		{"unreachable", map[string]string{"BACKEND_ENDPOINT": dead, "BACKEND_ACCESS_KEY": "AK", "BACKEND_SECRET_KEY": "SK"}, "bai: cannot reach the manager at " + dead + ": is it running? (set BACKEND_ENDPOINT)"},
	}
	for _, tt := range tests {
		for _, args := range [][]string{{"session", "ls"}, {"images"}, {"run", "python", "-c", "1"}} {
			t.Run(tt.name+"/"+args[0], func(t *testing.T) {
				t.Parallel()
				r := bai(context.Background(), envOf(tt.env), "", args...)
				if r.code != 1 || !strings.Contains(r.stderr, tt.want) {
					t.Errorf("code %d stderr %q, want 1 and %q", r.code, r.stderr, tt.want)
				}
			})
		}
	}
}

func TestSessionCommands(t *testing.T) {
	t.Parallel()
	srv := clienttest.New(t)
	created := time.Now().Add(-90 * time.Second)
	srv.AddSession(apitypes.SessionInfo{
		SessionID: "00000000-0000-4000-8000-000000000001", SessionName: "alpha", Image: "python:3.11-debian",
		Type: "interactive", Status: "RUNNING", StatusInfo: "ok", Created: created, Age: 90,
		ResourceSlots: map[string]string{"mem": "268435456", "cpu": "1"}, OccupiedSlots: map[string]string{"cpu": "1"},
	})
	srv.AddSession(apitypes.SessionInfo{SessionID: "00000000-0000-4000-8000-000000000002", SessionName: "beta", Image: "c:gcc12-debian", Status: "PENDING", Age: 4000})
	ctx := context.Background()

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string
		wantErr  []string
	}{
		{"ls", []string{"session", "ls"}, 0, []string{"NAME", "STATUS", "alpha", "00000000-0000-4000-8000-000000000001", "python:3.11-debian", "RUNNING", "1m30s", "beta", "PENDING", "1h6m"}, nil},
		{"info", []string{"session", "info", "alpha"}, 0, []string{"name:", "alpha", "status info:", "ok", "resource slots:", "cpu=1 mem=268435456", "occupied slots:", "age:", "1m30s"}, nil},
		{"info unknown", []string{"session", "info", "nope"}, 1, nil, []string{`session "nope" not found`}},
		{"info no arg", []string{"session", "info"}, 2, nil, []string{"accepts 1 arg"}},
		{"logs", []string{"session", "logs", "alpha"}, 0, []string{"log line of alpha\n"}, nil},
		{"images", []string{"images"}, 0, []string{"NAME", "ALIASES", "python:3.11-debian", "python,python3", "c:gcc12-debian", "cpu=1 mem=256m"}, nil},
		{"rm", []string{"session", "rm", "beta", "ghost", "--forced"}, 1, []string{"removed beta"}, []string{`session "ghost" not found`}},
	}
	// Sequential: rm changes the server's state.
	for _, tt := range tests {
		r := bai(ctx, srv.Env(), "", tt.args...)
		if r.code != tt.wantCode {
			t.Errorf("%s: exit code %d, want %d (stderr %q)", tt.name, r.code, tt.wantCode, r.stderr)
		}
		for _, w := range tt.wantOut {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("%s: stdout %q lacks %q", tt.name, r.stdout, w)
			}
		}
		for _, w := range tt.wantErr {
			if !strings.Contains(r.stderr, w) {
				t.Errorf("%s: stderr %q lacks %q", tt.name, r.stderr, w)
			}
		}
	}
	if srv.Session("beta") != nil {
		t.Errorf("beta was not removed")
	}
	last := srv.Requests()[len(srv.Requests())-2]
	if last.PathQuery != "/session/beta?forced=true" {
		t.Errorf("rm sent %s %s", last.Method, last.PathQuery)
	}
}
