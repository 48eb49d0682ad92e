package jupytergw_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/clients/go/clienttest"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/integrations/jupytergw"
)

const token = "test-gateway-token-0123456789"

// env starts a fake manager and a gateway in front of it.
type env struct {
	fake *clienttest.Server // the fake manager of newEnv
	api  *client.Client     // the client of newRealEnv's real manager
	gw   *jupytergw.Gateway
	srv  *httptest.Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	fake := clienttest.New(t)
	cfg, err := client.ConfigFromEnv(fake.Env())
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{fake: fake}
	e.serve(t, c)
	return e
}

// serve starts the gateway, reaching the manager with c.
func (e *env) serve(t *testing.T, c *client.Client) {
	t.Helper()
	gw, err := jupytergw.New(jupytergw.Config{Backend: c, Token: token, Version: "test", Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e.gw, e.srv = gw, httptest.NewServer(gw.Handler())
	t.Cleanup(e.srv.Close)
}

// call sends a request with the token in the Authorization header.
func (e *env) call(t *testing.T, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "token "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (e *env) createKernel(t *testing.T, body string) jupytergw.KernelModel {
	t.Helper()
	status, b := e.call(t, http.MethodPost, "/api/kernels", body)
	if status != http.StatusCreated {
		t.Fatalf("POST /api/kernels: %d %s", status, b)
	}
	var m jupytergw.KernelModel
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("kernel model %s: %v", b, err)
	}
	return m
}

func TestNewRequiresToken(t *testing.T) {
	t.Parallel()
	fake := clienttest.New(t)
	cfg, _ := client.ConfigFromEnv(fake.Env())
	c, _ := client.New(cfg)
	if _, err := jupytergw.New(jupytergw.Config{Backend: c}); err == nil || !strings.Contains(err.Error(), "token") {
		t.Errorf("New without a token: %v, want an error naming the token", err)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name   string
		header string
		query  string
		want   int
	}{
		{"no token", "", "", http.StatusUnauthorized},
		{"token header", "token " + token, "", http.StatusOK},
		{"scheme is case-insensitive", "Token " + token, "", http.StatusOK},
		{"bearer header", "Bearer " + token, "", http.StatusOK},
		{"query parameter", "", "?token=" + token, http.StatusOK},
		{"wrong token", "token nope", "", http.StatusForbidden},
		{"token prefix", "token " + token[:len(token)-1], "", http.StatusForbidden},
		{"token with extra", "token " + token + "x", "", http.StatusForbidden},
		{"wrong query", "", "?token=nope", http.StatusForbidden},
		{"other scheme", "Basic " + token, "", http.StatusUnauthorized},
		{"empty token", "token ", "", http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, path := range []string{"/api", "/api/kernels", "/api/kernelspecs"} {
				req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path+tc.query, nil)
				if tc.header != "" {
					req.Header.Set("Authorization", tc.header)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.want {
					t.Errorf("GET %s: %d %s, want %d", path, resp.StatusCode, b, tc.want)
				}
				if tc.want != http.StatusOK && strings.Contains(string(b), token) {
					t.Errorf("the refusal echoes the token: %s", b)
				}
			}
		})
	}
	t.Run("websocket without token", func(t *testing.T) {
		t.Parallel()
		m := e.createKernel(t, `{"name":"bai-python"}`)
		url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/api/kernels/" + m.ID + "/channels"
		_, resp, err := websocket.DefaultDialer.Dial(url, nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("dial without token: err %v resp %v, want 401", err, resp)
		}
	})
}

func TestAPIAndKernelSpecs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	status, b := e.call(t, http.MethodGet, "/api", "")
	if status != http.StatusOK || !strings.Contains(string(b), `"version"`) {
		t.Errorf("GET /api: %d %s", status, b)
	}
	status, b = e.call(t, http.MethodGet, "/api/kernelspecs", "")
	if status != http.StatusOK {
		t.Fatalf("GET /api/kernelspecs: %d %s", status, b)
	}
	var sl jupytergw.SpecList
	if err := json.Unmarshal(b, &sl); err != nil {
		t.Fatal(err)
	}
	if sl.Default != "bai-python" {
		t.Errorf("default %q, want bai-python", sl.Default)
	}
	py, c := sl.Kernelspecs["bai-python"], sl.Kernelspecs["bai-c"]
	if py == nil || c == nil || len(sl.Kernelspecs) != 2 {
		t.Fatalf("kernelspecs %s, want bai-python and bai-c", b)
	}
	if py.Spec.Language != "python" || py.Spec.Argv == nil || !strings.Contains(py.Spec.DisplayName, "python:3.11-debian") {
		t.Errorf("bai-python spec %+v", py.Spec)
	}
	if c.Spec.Language != "c" {
		t.Errorf("bai-c language %q", c.Spec.Language)
	}
	if !strings.Contains(string(b), `"argv":[]`) {
		t.Errorf("argv must be an empty list, not null: %s", b)
	}
	status, b = e.call(t, http.MethodGet, "/api/kernelspecs/bai-c", "")
	if status != http.StatusOK || !strings.Contains(string(b), `"name":"bai-c"`) {
		t.Errorf("GET /api/kernelspecs/bai-c: %d %s", status, b)
	}
	status, b = e.call(t, http.MethodGet, "/api/kernelspecs/python3", "")
	if status != http.StatusNotFound || !strings.Contains(string(b), "bai-python") {
		t.Errorf("GET an unknown spec: %d %s, want 404 listing the known ones", status, b)
	}
}

var dateRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

func TestKernelLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.createKernel(t, `{"name":"bai-python","env":{"KERNEL_USERNAME":"ann","FOO":"bar"}}`)
	if _, err := uuid.Parse(m.ID); err != nil {
		t.Errorf("kernel id %q is not a UUID", m.ID)
	}
	if m.Name != "bai-python" || m.ExecutionState != "idle" || !dateRE.MatchString(m.LastActivity) {
		t.Errorf("kernel model %+v", m)
	}
	si := e.fake.Session("jgw-" + m.ID)
	if si == nil || si.Image != "python:3.11-debian" {
		t.Fatalf("session of the kernel: %+v", si)
	}
	var create apitypes.CreateSession
	for _, r := range e.fake.Requests() {
		if r.Method == http.MethodPost && r.PathQuery == "/session" {
			_ = json.Unmarshal(r.Body, &create)
		}
	}
	if create.Config == nil || create.Config.Environ["FOO"] != "bar" || create.Config.Environ["KERNEL_USERNAME"] != "ann" {
		t.Errorf("create request %+v: the env must reach the session", create)
	}

	status, b := e.call(t, http.MethodGet, "/api/kernels", "")
	if status != http.StatusOK || !strings.Contains(string(b), m.ID) {
		t.Errorf("GET /api/kernels: %d %s", status, b)
	}
	status, b = e.call(t, http.MethodGet, "/api/kernels/"+m.ID, "")
	if status != http.StatusOK || !strings.Contains(string(b), `"connections":0`) {
		t.Errorf("GET kernel: %d %s", status, b)
	}
	if status, b = e.call(t, http.MethodPost, "/api/kernels/"+m.ID+"/interrupt", "{}"); status != http.StatusNoContent {
		t.Errorf("interrupt: %d %s", status, b)
	}
	if !sawRequest(e.fake, http.MethodPost, "/session/jgw-"+m.ID+"/interrupt") {
		t.Error("interrupt did not reach the manager")
	}
	if status, b = e.call(t, http.MethodPost, "/api/kernels/"+m.ID+"/restart", "{}"); status != http.StatusOK || !strings.Contains(string(b), m.ID) {
		t.Errorf("restart: %d %s", status, b)
	}
	if !sawRequest(e.fake, http.MethodPatch, "/session/jgw-"+m.ID) {
		t.Error("restart did not reach the manager")
	}
	if status, b = e.call(t, http.MethodDelete, "/api/kernels/"+m.ID, ""); status != http.StatusNoContent {
		t.Errorf("DELETE: %d %s", status, b)
	}
	if e.fake.Session("jgw-"+m.ID) != nil {
		t.Error("the session outlived DELETE of its kernel")
	}
	if status, _ = e.call(t, http.MethodGet, "/api/kernels/"+m.ID, ""); status != http.StatusNotFound {
		t.Errorf("GET a deleted kernel: %d, want 404", status)
	}
	if status, _ = e.call(t, http.MethodDelete, "/api/kernels/"+m.ID, ""); status != http.StatusNotFound {
		t.Errorf("DELETE a deleted kernel: %d, want 404", status)
	}
}

func sawRequest(fake *clienttest.Server, method, pathQuery string) bool {
	for _, r := range fake.Requests() {
		if r.Method == method && r.PathQuery == pathQuery {
			return true
		}
	}
	return false
}

func TestCreateErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name, body string
		want       int
		msg        string
	}{
		{"unknown spec", `{"name":"python3"}`, http.StatusNotFound, "bai-python"},
		{"bad JSON", `{"name":`, http.StatusBadRequest, "kernel request"},
		{"bad env name", `{"name":"bai-python","env":{"A=B":"x"}}`, http.StatusBadRequest, "A=B"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, b := e.call(t, http.MethodPost, "/api/kernels", tc.body)
			if status != tc.want || !strings.Contains(string(b), tc.msg) {
				t.Errorf("%d %s, want %d mentioning %q", status, b, tc.want, tc.msg)
			}
		})
	}
	// No name: the default spec.
	if m := e.createKernel(t, ""); m.Name != "bai-python" {
		t.Errorf("kernel without a name: %+v", m)
	}
}

// A kernel id the gateway did not hand out is 404 everywhere, even when it
// names a session of the keypair (by id or by name).
func TestForeignKernels404(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	foreign := apitypes.SessionInfo{SessionID: uuid.NewString(), SessionName: "someone-elses", Status: "RUNNING", Image: "python:3.11-debian"}
	e.fake.AddSession(foreign)
	for _, id := range []string{uuid.NewString(), foreign.SessionID, foreign.SessionName, "jgw-" + foreign.SessionID} {
		for _, rt := range []struct{ method, suffix string }{
			{http.MethodGet, ""}, {http.MethodDelete, ""}, {http.MethodPost, "/interrupt"}, {http.MethodPost, "/restart"}, {http.MethodGet, "/channels"},
		} {
			status, b := e.call(t, rt.method, "/api/kernels/"+id+rt.suffix, "")
			if status != http.StatusNotFound {
				t.Errorf("%s /api/kernels/%s%s: %d %s, want 404", rt.method, id, rt.suffix, status, b)
			}
		}
	}
	if e.fake.Session(foreign.SessionName) == nil {
		t.Error("a foreign session was destroyed")
	}
	status, b := e.call(t, http.MethodGet, "/api/kernels", "")
	if status != http.StatusOK || strings.TrimSpace(string(b)) != "[]" {
		t.Errorf("GET /api/kernels lists foreign sessions: %d %s", status, b)
	}
}

// A session that ended behind the gateway's back takes its kernel along.
func TestKernelOfEndedSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.createKernel(t, `{"name":"bai-python"}`)
	cfg, _ := client.ConfigFromEnv(e.fake.Env())
	c, _ := client.New(cfg)
	if _, err := c.DestroySession(t.Context(), "jgw-"+m.ID, false); err != nil {
		t.Fatal(err)
	}
	if status, b := e.call(t, http.MethodGet, "/api/kernels/"+m.ID, ""); status != http.StatusNotFound {
		t.Errorf("GET a kernel whose session ended: %d %s, want 404", status, b)
	}
	m2 := e.createKernel(t, `{"name":"bai-python"}`)
	if _, err := c.DestroySession(t.Context(), "jgw-"+m2.ID, false); err != nil {
		t.Fatal(err)
	}
	if status, b := e.call(t, http.MethodGet, "/api/kernels", ""); status != http.StatusOK || strings.Contains(string(b), m2.ID) {
		t.Errorf("GET /api/kernels lists a kernel whose session ended: %d %s", status, b)
	}
}

func TestShutdownDestroysKernels(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.createKernel(t, `{"name":"bai-python"}`)
	b := e.createKernel(t, `{"name":"bai-c"}`)
	if err := e.gw.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{a.ID, b.ID} {
		if e.fake.Session("jgw-"+id) != nil {
			t.Errorf("session of kernel %s outlived the gateway", id)
		}
	}
	if status, body := e.call(t, http.MethodPost, "/api/kernels", `{"name":"bai-python"}`); status != http.StatusServiceUnavailable {
		t.Errorf("create after shutdown: %d %s, want 503", status, body)
	}
}
