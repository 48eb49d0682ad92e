package jupytergw_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

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
	fake *clienttest.Server
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
	gw, err := jupytergw.New(jupytergw.Config{Backend: c, Token: token, Version: "test", Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw.Handler())
	t.Cleanup(srv.Close)
	return &env{fake: fake, gw: gw, srv: srv}
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

// wsClient is a Jupyter frontend on the channels socket.
type wsClient struct {
	t       *testing.T
	ws      *websocket.Conn
	session string
	mu      sync.Mutex
}

type msg struct {
	Channel      string          `json:"channel"`
	Header       map[string]any  `json:"header"`
	ParentHeader map[string]any  `json:"parent_header"`
	MsgType      string          `json:"msg_type"`
	Content      json.RawMessage `json:"content"`
}

func (m msg) content() map[string]any {
	var c map[string]any
	_ = json.Unmarshal(m.Content, &c)
	return c
}

func (m msg) parentID() string { s, _ := m.ParentHeader["msg_id"].(string); return s }

func (e *env) dial(t *testing.T, kernelID string) *wsClient {
	t.Helper()
	url := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/api/kernels/" + kernelID + "/channels?token=" + token
	ws, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial channels: %v (%v)", err, resp)
	}
	t.Cleanup(func() { ws.Close() })
	return &wsClient{t: t, ws: ws, session: uuid.NewString()}
}

// send sends a request and returns its msg_id.
func (c *wsClient) send(channel, msgType string, content any) string {
	c.t.Helper()
	id := uuid.NewString()
	m := map[string]any{
		"channel": channel,
		"header": map[string]any{"msg_id": id, "msg_type": msgType, "session": c.session, "username": "test",
			"date": time.Now().UTC().Format(time.RFC3339Nano), "version": "5.3"},
		"parent_header": map[string]any{}, "metadata": map[string]any{}, "content": content, "buffers": []any{},
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ws.WriteJSON(m); err != nil {
		c.t.Fatal(err)
	}
	return id
}

func (c *wsClient) read() msg {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var m msg
	if err := c.ws.ReadJSON(&m); err != nil {
		c.t.Fatalf("read a message: %v", err)
	}
	return m
}

// until reads the messages answering parent up to the one stop accepts.
func (c *wsClient) until(parent string, stop func(msg) bool) []msg {
	c.t.Helper()
	var out []msg
	for {
		m := c.read()
		if m.parentID() != parent {
			continue
		}
		out = append(out, m)
		if stop(m) {
			return out
		}
	}
}

func isIdle(m msg) bool {
	return m.Channel == "iopub" && m.MsgType == "status" && m.content()["execution_state"] == "idle"
}

// runCell executes code and returns everything up to the idle status,
// answering input requests with the given lines.
func (c *wsClient) runCell(code string, input ...string) []msg {
	c.t.Helper()
	id := c.send("shell", "execute_request", map[string]any{"code": code, "silent": false, "store_history": true,
		"user_expressions": map[string]any{}, "allow_stdin": true, "stop_on_error": true})
	var out []msg
	for {
		batch := c.until(id, func(m msg) bool { return isIdle(m) || m.MsgType == "input_request" })
		out = append(out, batch...)
		last := batch[len(batch)-1]
		if last.MsgType != "input_request" {
			return out
		}
		if len(input) == 0 {
			c.t.Fatalf("unexpected input_request for %q", code)
		}
		c.send("stdin", "input_reply", map[string]any{"value": input[0]})
		input = input[1:]
	}
}

func summary(ms []msg) []string {
	var s []string
	for _, m := range ms {
		x := m.Channel + ":" + m.MsgType
		c := m.content()
		switch m.MsgType {
		case "status":
			x += ":" + c["execution_state"].(string)
		case "stream":
			x += ":" + c["name"].(string) + ":" + c["text"].(string)
		case "execute_reply":
			x += ":" + c["status"].(string)
		case "error":
			x += ":" + c["ename"].(string) + ":" + c["evalue"].(string)
		case "display_data":
			for k := range c["data"].(map[string]any) {
				if k != "text/plain" {
					x += ":" + k
				}
			}
		}
		s = append(s, x)
	}
	return s
}

// scriptedExec answers execute requests of the fake manager the way a
// Python kernel would for a few known cells.
func scriptedExec() clienttest.ExecFunc {
	var mu sync.Mutex
	runs := map[string]string{} // run id -> code
	zero, one := 0, 1
	finished := func(req apitypes.Execute, exit *int, console ...[2]any) apitypes.ExecuteResult {
		return apitypes.ExecuteResult{RunID: req.RunID, Status: apitypes.RunFinished, ExitCode: exit, Console: console, Options: map[string]any{}, Files: []any{}}
	}
	return func(_ string, req apitypes.Execute) apitypes.ExecuteResult {
		mu.Lock()
		defer mu.Unlock()
		code := req.Code
		if req.Mode == client.ModeQuery {
			runs[req.RunID] = code
		} else {
			code = runs[req.RunID]
		}
		switch {
		case code == "print(1+1)":
			return finished(req, &zero, [2]any{"stdout", "2\n"})
		case code == "show()":
			return finished(req, &zero, [2]any{"stdout", "before\n"}, [2]any{"media", []any{"image/svg+xml", "<svg/>"}}, [2]any{"html", "<b>hi</b>"})
		case code == "slow()" && req.Mode == client.ModeQuery:
			return apitypes.ExecuteResult{RunID: req.RunID, Status: apitypes.RunContinued, Console: [][2]any{{"stdout", "tick\n"}}, Options: map[string]any{}}
		case code == "slow()":
			return finished(req, &zero, [2]any{"stdout", "tock\n"})
		case code == "x":
			return finished(req, &one, [2]any{"stderr", "warned\nTraceback (most recent call last):\n  File \"<cell 2>\", line 1, in <module>\nNameError: name 'x' is not defined\n"})
		case code == "input()" && req.Mode == client.ModeQuery:
			return apitypes.ExecuteResult{RunID: req.RunID, Status: apitypes.RunWaitingInput, Console: [][2]any{{"stdout", "Name: "}}, Options: map[string]any{"is_password": false}}
		case code == "input()" && req.Mode == client.ModeInput:
			return finished(req, &zero, [2]any{"stdout", "hello " + req.Code + "\n"})
		case code == "input()" && req.Mode == client.ModeContinue:
			// The run was interrupted while it waited.
			return finished(req, &one, [2]any{"stderr", "Traceback (most recent call last):\n  File \"<cell 3>\", line 1, in <module>\nKeyboardInterrupt\n"})
		}
		return finished(req, &zero)
	}
}

func TestChannelsExecute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fake.SetExec(scriptedExec())
	m := e.createKernel(t, `{"name":"bai-python"}`)
	c := e.dial(t, m.ID)

	id := c.send("shell", "kernel_info_request", map[string]any{})
	info := c.until(id, func(m msg) bool { return m.MsgType == "kernel_info_reply" })
	ir := info[len(info)-1]
	if ir.Channel != "shell" || ir.content()["language_info"].(map[string]any)["name"] != "python" || ir.content()["status"] != "ok" {
		t.Errorf("kernel_info_reply %s on %s", ir.Content, ir.Channel)
	}
	if status, b := e.call(t, http.MethodGet, "/api/kernels/"+m.ID, ""); !strings.Contains(string(b), `"connections":1`) {
		t.Errorf("kernel model with one socket: %d %s", status, b)
	}

	tests := []struct {
		name  string
		code  string
		input []string
		want  []string
		count float64
	}{
		{"stream", "print(1+1)", nil, []string{
			"iopub:status:busy", "iopub:execute_input", "iopub:stream:stdout:2\n", "shell:execute_reply:ok", "iopub:status:idle"}, 1},
		{"media", "show()", nil, []string{
			"iopub:status:busy", "iopub:execute_input", "iopub:stream:stdout:before\n", "iopub:display_data:image/svg+xml",
			"iopub:display_data:text/html", "shell:execute_reply:ok", "iopub:status:idle"}, 2},
		{"continued", "slow()", nil, []string{
			"iopub:status:busy", "iopub:execute_input", "iopub:stream:stdout:tick\n", "iopub:stream:stdout:tock\n", "shell:execute_reply:ok", "iopub:status:idle"}, 3},
		{"error", "x", nil, []string{
			"iopub:status:busy", "iopub:execute_input", "iopub:stream:stderr:warned\n",
			"iopub:error:NameError:name 'x' is not defined", "shell:execute_reply:error", "iopub:status:idle"}, 4},
		{"input", "input()", []string{"bob"}, []string{
			"iopub:status:busy", "iopub:execute_input", "iopub:stream:stdout:Name: ", "stdin:input_request",
			"iopub:stream:stdout:hello bob\n", "shell:execute_reply:ok", "iopub:status:idle"}, 5},
	}
	for _, tc := range tests {
		got := c.runCell(tc.code, tc.input...)
		if s := summary(got); strings.Join(s, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: messages\n%q\nwant\n%q", tc.name, s, tc.want)
			continue
		}
		for _, m := range got {
			if m.MsgType == "execute_reply" && m.content()["execution_count"] != tc.count {
				t.Errorf("%s: execution_count %v, want %v", tc.name, m.content()["execution_count"], tc.count)
			}
			if m.MsgType == "error" {
				tb, _ := m.content()["traceback"].([]any)
				if len(tb) != 3 || tb[0] != "Traceback (most recent call last):" {
					t.Errorf("%s: traceback %q", tc.name, tb)
				}
			}
		}
	}
}

func TestChannelsInterruptInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.fake.SetExec(scriptedExec())
	m := e.createKernel(t, `{"name":"bai-python"}`)
	c := e.dial(t, m.ID)
	id := c.send("shell", "execute_request", map[string]any{"code": "input()", "allow_stdin": true})
	c.until(id, func(m msg) bool { return m.MsgType == "input_request" })
	iid := c.send("control", "interrupt_request", map[string]any{})
	var errMsg, intReply *msg
	for errMsg == nil || intReply == nil {
		m := c.read()
		switch {
		case m.MsgType == "error" && m.parentID() == id:
			errMsg = &m
		case m.MsgType == "interrupt_reply" && m.parentID() == iid:
			intReply = &m
		}
	}
	if errMsg.content()["ename"] != "KeyboardInterrupt" {
		t.Errorf("error after interrupt: %s", errMsg.Content)
	}
	if intReply.Channel != "control" || intReply.content()["status"] != "ok" {
		t.Errorf("interrupt_reply %s on %s", intReply.Content, intReply.Channel)
	}
	if !sawRequest(e.fake, http.MethodPost, "/session/jgw-"+m.ID+"/interrupt") {
		t.Error("the interrupt did not reach the manager")
	}
}

func TestChannelsQuickReplies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m := e.createKernel(t, `{"name":"bai-python"}`)
	c := e.dial(t, m.ID)
	tests := []struct {
		msgType string
		content map[string]any
		reply   string
		check   func(map[string]any) bool
	}{
		{"is_complete_request", map[string]any{"code": "for i in x:"}, "is_complete_reply",
			func(c map[string]any) bool { return c["status"] == "incomplete" && c["indent"] == "    " }},
		{"is_complete_request", map[string]any{"code": "print(1)"}, "is_complete_reply",
			func(c map[string]any) bool { return c["status"] == "complete" }},
		{"comm_info_request", map[string]any{}, "comm_info_reply",
			func(c map[string]any) bool { return c["status"] == "ok" && len(c["comms"].(map[string]any)) == 0 }},
		{"complete_request", map[string]any{"code": "x = os.pa", "cursor_pos": 9}, "complete_reply",
			func(c map[string]any) bool {
				ms, _ := c["matches"].([]any)
				return c["status"] == "ok" && len(ms) == 1 && ms[0] == "x = os.pa_completed" && c["cursor_start"] == 4.0 && c["cursor_end"] == 9.0
			}},
	}
	for _, tc := range tests {
		id := c.send("shell", tc.msgType, tc.content)
		got := c.until(id, func(m msg) bool { return m.MsgType == tc.reply })
		r := got[len(got)-1]
		if r.Channel != "shell" || !tc.check(r.content()) {
			t.Errorf("%s %v: %s on %s", tc.msgType, tc.content, r.Content, r.Channel)
		}
	}
	// shutdown_request ends the kernel and its session.
	id := c.send("control", "shutdown_request", map[string]any{"restart": false})
	got := c.until(id, func(m msg) bool { return m.MsgType == "shutdown_reply" && m.Channel == "control" })
	if got[len(got)-1].content()["status"] != "ok" {
		t.Errorf("shutdown_reply %s", got[len(got)-1].Content)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.fake.Session("jgw-"+m.ID) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the session outlived shutdown_request")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if status, _ := e.call(t, http.MethodGet, "/api/kernels/"+m.ID, ""); status != http.StatusNotFound {
		t.Errorf("GET after shutdown_request: %d, want 404", status)
	}
}

// After a failed cell, the cells queued behind it are aborted, not run.
func TestChannelsAbortAfterError(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	release := make(chan struct{})
	var ran sync.Map
	one := 1
	e.fake.SetExec(func(_ string, req apitypes.Execute) apitypes.ExecuteResult {
		ran.Store(req.Code, true)
		if req.Code == "fail()" {
			<-release
		}
		return apitypes.ExecuteResult{RunID: req.RunID, Status: apitypes.RunFinished, ExitCode: &one,
			Console: [][2]any{{"stderr", "Traceback (most recent call last):\n  File \"<cell 1>\", line 1\nRuntimeError: boom\n"}}}
	})
	m := e.createKernel(t, `{"name":"bai-python"}`)
	c := e.dial(t, m.ID)
	first := c.send("shell", "execute_request", map[string]any{"code": "fail()"})
	second := c.send("shell", "execute_request", map[string]any{"code": "never()"})
	// The reader handles messages in order, so once kernel_info is answered
	// the second cell sits in the queue.
	info := c.send("shell", "kernel_info_request", map[string]any{})
	c.until(info, func(m msg) bool { return m.MsgType == "kernel_info_reply" })
	close(release)
	got := c.until(first, func(m msg) bool { return m.MsgType == "execute_reply" })
	if r := got[len(got)-1].content(); r["status"] != "error" || r["ename"] != "RuntimeError" {
		t.Errorf("first cell: %v", r)
	}
	got = c.until(second, func(m msg) bool { return m.MsgType == "execute_reply" })
	if r := got[len(got)-1].content(); r["status"] != "aborted" {
		t.Errorf("queued cell after a failure: %v, want aborted", r)
	}
	if _, ok := ran.Load("never()"); ok {
		t.Error("the queued cell ran after the failure")
	}
}
