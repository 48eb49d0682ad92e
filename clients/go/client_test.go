package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/clients/go/clienttest"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
)

func newClient(t *testing.T, srv *clienttest.Server) *client.Client {
	t.Helper()
	cfg, err := client.ConfigFromEnv(srv.Env())
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		env      map[string]string
		endpoint string
		wantErr  string
	}{
		{"defaults", map[string]string{"BACKEND_ACCESS_KEY": "AK", "BACKEND_SECRET_KEY": "SK"}, "http://127.0.0.1:8081", ""},
		{"endpoint", map[string]string{"BACKEND_ENDPOINT": "http://h:1", "BACKEND_ACCESS_KEY": "AK", "BACKEND_SECRET_KEY": "SK"}, "http://h:1", ""},
		{"missing secret", map[string]string{"BACKEND_ACCESS_KEY": "AK"}, "", "set BACKEND_ACCESS_KEY and BACKEND_SECRET_KEY (printed by `make run`)"},
		{"missing both", map[string]string{}, "", "set BACKEND_ACCESS_KEY and BACKEND_SECRET_KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := client.ConfigFromEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("err = %v, want %q wrapping ErrInvalidArgument", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Endpoint != tt.endpoint || cfg.AccessKey != "AK" || cfg.SecretKey != "SK" {
				t.Fatalf("cfg = %+v", cfg)
			}
		})
	}
}

func TestNewRejectsBadEndpoint(t *testing.T) {
	t.Parallel()
	for _, cfg := range []client.Config{
		{Endpoint: "127.0.0.1:8081"},
		{Endpoint: "ftp://x"},
		{Endpoint: "http://"},
		{Endpoint: "http://h:1", APIVersion: "v4.20190615"},
		{Endpoint: "http://h:1", APIVersion: "6"},
	} {
		if _, err := client.New(cfg); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("New(%+v) err = %v, want ErrInvalidArgument", cfg, err)
		}
	}
}

// TestMethods checks each SDK method's path, method, body and headers; the
// fake manager verifies every signature and fails the test on a mismatch.
func TestMethods(t *testing.T) {
	t.Parallel()
	srv := clienttest.New(t)
	c := newClient(t, srv)
	ctx := context.Background()
	srv.AddSession(apitypes.SessionInfo{SessionID: "00000000-0000-4000-8000-0000000000aa", SessionName: "s1", Status: "RUNNING"})

	tests := []struct {
		name   string
		call   func() (any, error)
		method string
		path   string
		body   string // substring of the JSON body; "" means no body
		check  func(t *testing.T, got any)
	}{
		{"server info", func() (any, error) { return c.ServerInfo(ctx) }, "GET", "/", "", func(t *testing.T, got any) {
			if got.(*apitypes.ServerInfo).Version != "v6.20220315" {
				t.Errorf("version = %+v", got)
			}
		}},
		{"create", func() (any, error) {
			return c.CreateSession(ctx, apitypes.CreateSession{Image: "python", Name: "s2", Config: &apitypes.CreateConfig{Environ: map[string]string{"A": "1"}}})
		}, "POST", "/session", `"image":"python"`, func(t *testing.T, got any) {
			r := got.(*apitypes.CreateSessionResult)
			if !r.Created || r.SessionName != "s2" || r.SessionID == "" {
				t.Errorf("create = %+v", r)
			}
		}},
		{"get", func() (any, error) { return c.GetSession(ctx, "s1") }, "GET", "/session/s1", "", func(t *testing.T, got any) {
			if got.(*apitypes.SessionInfo).Status != "RUNNING" {
				t.Errorf("info = %+v", got)
			}
		}},
		{"get by id", func() (any, error) { return c.GetSession(ctx, "00000000-0000-4000-8000-0000000000aa") }, "GET", "/session/00000000-0000-4000-8000-0000000000aa", "", nil},
		{"list", func() (any, error) { return c.ListSessions(ctx) }, "GET", "/session", "", func(t *testing.T, got any) {
			if n := len(got.([]apitypes.SessionInfo)); n != 2 {
				t.Errorf("listed %d sessions, want 2", n)
			}
		}},
		{"restart", func() (any, error) { return nil, c.RestartSession(ctx, "s1") }, "PATCH", "/session/s1", "", nil},
		{"execute", func() (any, error) {
			return c.Execute(ctx, "s1", apitypes.Execute{Mode: "query", RunID: "r1", Code: "x"})
		}, "POST", "/session/s1", `"runId":"r1"`, func(t *testing.T, got any) {
			if r := got.(*apitypes.ExecuteResult); r.Status != "finished" || r.RunID != "r1" {
				t.Errorf("execute = %+v", r)
			}
		}},
		{"interrupt", func() (any, error) { return nil, c.Interrupt(ctx, "s1") }, "POST", "/session/s1/interrupt", "", nil},
		{"logs", func() (any, error) { return c.Logs(ctx, "s1") }, "GET", "/session/s1/logs", "", func(t *testing.T, got any) {
			if got.(string) != "log line of s1\n" {
				t.Errorf("logs = %q", got)
			}
		}},
		{"complete", func() (any, error) {
			return c.Complete(ctx, "s1", apitypes.Complete{Code: "pri", Options: map[string]any{"row": 0}})
		}, "POST", "/session/s1/complete", `"code":"pri"`, func(t *testing.T, got any) {
			if r := got.([]any); len(r) != 1 || r[0] != "pri_completed" {
				t.Errorf("complete = %v", r)
			}
		}},
		{"images", func() (any, error) { return c.Images(ctx) }, "GET", "/images", "", func(t *testing.T, got any) {
			if n := len(got.([]apitypes.ImageInfo)); n != 2 {
				t.Errorf("images = %d", n)
			}
		}},
		{"destroy forced", func() (any, error) { return c.DestroySession(ctx, "s2", true) }, "DELETE", "/session/s2?forced=true", "", func(t *testing.T, got any) {
			if got.(*apitypes.DestroyResult).Stats == nil {
				t.Errorf("destroy = %+v", got)
			}
		}},
		{"destroy", func() (any, error) { return c.DestroySession(ctx, "s1", false) }, "DELETE", "/session/s1", "", nil},
	}
	// Sequential: the cases share the server's state.
	for _, tt := range tests {
		before := len(srv.Requests())
		got, err := tt.call()
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		reqs := srv.Requests()[before:]
		if len(reqs) != 1 {
			t.Fatalf("%s: %d requests, want 1", tt.name, len(reqs))
		}
		r := reqs[0]
		if r.Method != tt.method || r.PathQuery != tt.path {
			t.Errorf("%s: sent %s %s, want %s %s", tt.name, r.Method, r.PathQuery, tt.method, tt.path)
		}
		wantCT := "text/plain"
		if tt.body != "" {
			wantCT = "application/json"
			if !strings.Contains(string(r.Body), tt.body) {
				t.Errorf("%s: body %s lacks %s", tt.name, r.Body, tt.body)
			}
		} else if len(r.Body) != 0 {
			t.Errorf("%s: unexpected body %s", tt.name, r.Body)
		}
		if ct := r.Header.Get("Content-Type"); ct != wantCT {
			t.Errorf("%s: Content-Type %q, want %q", tt.name, ct, wantCT)
		}
		signed := r.Header.Get("Authorization") != ""
		if signed != (tt.path != "/") {
			t.Errorf("%s: signed = %v", tt.name, signed)
		}
		if tt.check != nil {
			tt.check(t, got)
		}
	}
}

// problemServer answers every request with the given status and problem.
func problemServer(t *testing.T, status int, body string) *client.Client {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(ts.Close)
	c, err := client.New(client.Config{Endpoint: ts.URL, AccessKey: "AK", SecretKey: "SK"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestErrorMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status  int
		body    string
		want    error
		wantMsg string
	}{
		{404, `{"type":"https://api.backend.ai/probs/session-not-found","title":"No such session.","msg":"session \"x\" not found"}`, errdefs.ErrNotFound, `No such session (HTTP 404): session "x" not found`},
		{401, `{"type":"https://api.backend.ai/probs/auth-failed","title":"Authentication failed."}`, errdefs.ErrUnauthenticated, "Authentication failed (HTTP 401)"},
		{400, `{"type":"https://api.backend.ai/probs/invalid-api-params","title":"Missing or invalid API parameters.","msg":"unknown image"}`, errdefs.ErrInvalidArgument, "unknown image"},
		{409, `{"title":"Conflict"}`, errdefs.ErrConflict, "Conflict (HTTP 409)"},
		{412, `{"title":"Quota exceeded","msg":"too many sessions"}`, errdefs.ErrQuotaExceeded, "too many sessions"},
		{413, `{"title":"Too large"}`, errdefs.ErrTooLarge, "Too large"},
		{500, `{"title":"Internal server error"}`, errdefs.ErrUnavailable, "Internal server error (HTTP 500)"},
		{503, `not json at all`, errdefs.ErrUnavailable, "Service Unavailable (HTTP 503): not json at all"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			t.Parallel()
			c := problemServer(t, tt.status, tt.body)
			_, err := c.GetSession(context.Background(), "x")
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want wrapping %v", err, tt.want)
			}
			var apiErr *client.APIError
			if !errors.As(err, &apiErr) || apiErr.Status != tt.status {
				t.Fatalf("err = %#v, want *APIError with status %d", err, tt.status)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("message %q lacks %q", err.Error(), tt.wantMsg)
			}
		})
	}
}

func TestBadKeypair(t *testing.T) {
	t.Parallel()
	srv := clienttest.New(t)
	c, err := client.New(client.Config{Endpoint: srv.URL, AccessKey: "AKIAWRONGWRONGWRONG0", SecretKey: "nope"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListSessions(context.Background())
	if !errors.Is(err, errdefs.ErrUnauthenticated) {
		t.Fatalf("err = %v, want ErrUnauthenticated", err)
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + l.Addr().String()
	l.Close() // nothing listens there any more
	c, err := client.New(client.Config{Endpoint: endpoint, AccessKey: "AK", SecretKey: "SK"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListSessions(context.Background())
	want := "cannot reach the manager at " + endpoint + ": is it running? (set BACKEND_ENDPOINT)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want %q", err, want)
	}
	if !errors.Is(err, errdefs.ErrUnavailable) {
		t.Errorf("err does not wrap ErrUnavailable")
	}
	var ue *client.UnreachableError
	if !errors.As(err, &ue) {
		t.Errorf("err is not *UnreachableError")
	}
}

// script answers a run's requests one after another and records them.
type script struct {
	mu    sync.Mutex
	steps []apitypes.ExecuteResult
	got   []apitypes.Execute
}

func (s *script) exec(_ string, req apitypes.Execute) apitypes.ExecuteResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, req)
	if len(s.got) > len(s.steps) {
		return apitypes.ExecuteResult{Status: "finished", Console: [][2]any{{"stderr", "script overrun"}}}
	}
	return s.steps[len(s.got)-1]
}

func intp(i int) *int { return &i }

type recorder struct {
	items  []client.ConsoleItem
	inputs []client.InputRequest
	steps  []string
	answer string
}

func (r *recorder) OnConsole(it client.ConsoleItem) { r.items = append(r.items, it) }
func (r *recorder) OnInput(_ context.Context, req client.InputRequest) (string, error) {
	r.inputs = append(r.inputs, req)
	return r.answer, nil
}
func (r *recorder) OnStep(status string, code int) {
	r.steps = append(r.steps, fmt.Sprint(status, " ", code))
}

func TestRunCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		mode      string
		opts      map[string]any
		steps     []apitypes.ExecuteResult
		wantCode  int
		wantErr   error
		wantModes []string
		wantCodes []string // the code field sent each time
		wantItems []string // type:text
		wantSteps []string
		wantInput []bool // is_password of each input request
	}{
		{
			name: "continued then finished",
			mode: "query",
			steps: []apitypes.ExecuteResult{
				{Status: "continued", Console: [][2]any{{"stdout", "a\n"}}},
				{Status: "continued", Console: [][2]any{{"stderr", "warn\n"}, {"media", []any{"image/svg+xml", "<svg/>"}}}},
				{Status: "finished", ExitCode: intp(3), Console: [][2]any{{"stdout", "b\n"}, {"log", []any{"INFO", 1.0, "root", "hello"}}}},
			},
			wantCode:  3,
			wantModes: []string{"query", "continue", "continue"},
			wantCodes: []string{"print(1)", "", ""},
			wantItems: []string{"stdout:a\n", "stderr:warn\n", "media:image/svg+xml:<svg/>", "stdout:b\n", "log:hello"},
		},
		{
			name: "waiting input",
			mode: "query",
			steps: []apitypes.ExecuteResult{
				{Status: "waiting-input", Console: [][2]any{{"stdout", "name? "}}, Options: map[string]any{"is_password": false}},
				{Status: "waiting-input", Options: map[string]any{"is_password": true}},
				{Status: "finished", Console: [][2]any{{"stdout", "hi bob\n"}}},
			},
			wantModes: []string{"query", "input", "input"},
			wantCodes: []string{"print(1)", "bob", "bob"},
			wantItems: []string{"stdout:name? ", "stdout:hi bob\n"},
			wantInput: []bool{false, true},
		},
		{
			name: "batch steps",
			mode: "batch",
			opts: map[string]any{"build": "*", "exec": "./main"},
			steps: []apitypes.ExecuteResult{
				{Status: "clean-finished", ExitCode: intp(0)},
				{Status: "build-finished", ExitCode: intp(0), Console: [][2]any{{"stdout", "built\n"}}},
				{Status: "finished", ExitCode: intp(0), Console: [][2]any{{"stdout", "ran\n"}}},
			},
			wantModes: []string{"batch", "continue", "continue"},
			wantCodes: []string{"print(1)", "", ""},
			wantItems: []string{"stdout:built\n", "stdout:ran\n"},
			wantSteps: []string{"clean-finished 0", "build-finished 0"},
		},
		{
			name: "exec timeout",
			mode: "query",
			steps: []apitypes.ExecuteResult{
				{Status: "continued"},
				{Status: "exec-timeout", ExitCode: intp(124)},
			},
			wantCode:  124,
			wantErr:   errdefs.ErrTimeout,
			wantModes: []string{"query", "continue"},
			wantCodes: []string{"print(1)", ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := clienttest.New(t)
			c := newClient(t, srv)
			sc := &script{steps: tt.steps}
			srv.SetExec(sc.exec)
			if _, err := c.CreateSession(context.Background(), apitypes.CreateSession{Image: "python", Name: "run1"}); err != nil {
				t.Fatal(err)
			}
			rec := &recorder{answer: "bob"}
			code, err := c.RunCode(context.Background(), "run1", tt.mode, "print(1)", tt.opts, rec)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d", code, tt.wantCode)
			}
			var modes, codes []string
			runID := sc.got[0].RunID
			if runID == "" {
				t.Errorf("no runId sent")
			}
			for i, r := range sc.got {
				modes = append(modes, r.Mode)
				codes = append(codes, r.Code)
				if r.RunID != runID {
					t.Errorf("request %d runId %q, want %q", i, r.RunID, runID)
				}
			}
			if fmt.Sprint(modes) != fmt.Sprint(tt.wantModes) || fmt.Sprint(codes) != fmt.Sprint(tt.wantCodes) {
				t.Errorf("modes %q codes %q, want %q %q", modes, codes, tt.wantModes, tt.wantCodes)
			}
			if tt.opts != nil {
				var o map[string]any
				_ = json.Unmarshal(sc.got[0].Options, &o)
				if fmt.Sprint(o) != fmt.Sprint(tt.opts) {
					t.Errorf("options sent %v, want %v", o, tt.opts)
				}
			}
			var items []string
			for _, it := range rec.items {
				s := it.Type + ":"
				if it.MIME != "" {
					s += it.MIME + ":"
				}
				items = append(items, s+it.Text)
			}
			if fmt.Sprintf("%q", items) != fmt.Sprintf("%q", tt.wantItems) {
				t.Errorf("items %q, want %q", items, tt.wantItems)
			}
			if fmt.Sprint(rec.steps) != fmt.Sprint(tt.wantSteps) {
				t.Errorf("steps %q, want %q", rec.steps, tt.wantSteps)
			}
			var inputs []bool
			for _, in := range rec.inputs {
				inputs = append(inputs, in.IsPassword)
			}
			if fmt.Sprint(inputs) != fmt.Sprint(tt.wantInput) {
				t.Errorf("inputs %v, want %v", inputs, tt.wantInput)
			}
		})
	}
}

func TestRunCodeCancel(t *testing.T) {
	t.Parallel()
	srv := clienttest.New(t)
	c := newClient(t, srv)
	if _, err := c.CreateSession(context.Background(), apitypes.CreateSession{Image: "python", Name: "loop"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := 0
	srv.SetExec(func(_ string, req apitypes.Execute) apitypes.ExecuteResult {
		return apitypes.ExecuteResult{Status: "continued", Console: [][2]any{{"stdout", "."}}}
	})
	_, err := c.RunCode(ctx, "loop", "query", "while True: pass", nil, client.Handlers{Console: func(client.ConsoleItem) {
		n++
		if n == 3 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
