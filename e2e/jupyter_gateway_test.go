package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"baigo.dev/bai/e2e/devserver"
)

// jgwJupyterServer is Debian's jupyter-server (1.23), the Jupyter server
// the gateway is tested behind.
const jgwJupyterServer = "/usr/bin/jupyter-server"

// jgwProc is a background program with its output kept for failures.
type jgwProc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan error
}

func jgwStart(t *testing.T, name string, env []string, args ...string) *jgwProc {
	t.Helper()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	p := &jgwProc{cmd: cmd, out: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if err := p.stop(30 * time.Second); err != nil {
			t.Errorf("stop %s: %v", name, err)
		}
		if t.Failed() {
			t.Logf("output of %s:\n%s", name, p.out.String())
		}
	})
	return p
}

// stop sends SIGTERM and waits; a program that does not exit in time is
// killed and reported.
func (p *jgwProc) stop(limit time.Duration) error {
	select {
	case err := <-p.done: // already gone
		p.done <- err
		return nil
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		return nil
	case <-time.After(limit):
		_ = p.cmd.Process.Kill()
		p.done <- <-p.done
		return fmt.Errorf("did not exit within %s of SIGTERM", limit)
	}
}

// jgwHTTP sends a request with a Jupyter token and returns status and body.
func jgwHTTP(t *testing.T, method, url, token, body string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "token "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// jgwWaitHTTP polls url until it answers 200 and ok accepts the body.
func jgwWaitHTTP(t *testing.T, p *jgwProc, what, url, token string, limit time.Duration, ok func([]byte) bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		status, b := jgwHTTP(t, http.MethodGet, url, token, "")
		if status == http.StatusOK && ok(b) {
			return
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("%s exited (%v) before it was ready:\n%s", what, err, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within %s: last answer %d %s", what, limit, status, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func jgwToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// jgwMsg is a Jupyter message as the JSON WebSocket protocol carries it.
type jgwMsg struct {
	Channel      string          `json:"channel"`
	Header       map[string]any  `json:"header"`
	ParentHeader map[string]any  `json:"parent_header"`
	MsgType      string          `json:"msg_type"`
	Content      json.RawMessage `json:"content"`
}

func (m jgwMsg) content() map[string]any {
	var c map[string]any
	_ = json.Unmarshal(m.Content, &c)
	return c
}

func (m jgwMsg) str(key string) string { s, _ := m.content()[key].(string); return s }

func (m jgwMsg) parentID() string { s, _ := m.ParentHeader["msg_id"].(string); return s }

// jgwFrontend drives a kernel's channels socket like a notebook frontend.
// One goroutine reads the socket into msgs, so waits can time out without
// breaking the connection (a gorilla read that timed out cannot go on).
type jgwFrontend struct {
	t       *testing.T
	ws      *websocket.Conn
	session string
	msgs    chan jgwMsg
	readErr chan error
}

func newJgwFrontend(t *testing.T, ws *websocket.Conn) *jgwFrontend {
	f := &jgwFrontend{t: t, ws: ws, session: jgwToken(), msgs: make(chan jgwMsg, 1024), readErr: make(chan error, 1)}
	go func() {
		for {
			var m jgwMsg
			if err := ws.ReadJSON(&m); err != nil {
				f.readErr <- err
				return
			}
			f.msgs <- m
		}
	}()
	return f
}

func (f *jgwFrontend) send(channel, msgType string, content any) string {
	f.t.Helper()
	id := jgwToken()
	m := map[string]any{
		"channel": channel,
		"header": map[string]any{"msg_id": id, "msg_type": msgType, "session": f.session, "username": "e2e",
			"date": time.Now().UTC().Format("2006-01-02T15:04:05.000000Z"), "version": "5.3"},
		"parent_header": map[string]any{}, "metadata": map[string]any{}, "content": content, "buffers": []any{},
	}
	if err := f.ws.WriteJSON(m); err != nil {
		f.t.Fatalf("send %s: %v", msgType, err)
	}
	return id
}

// next returns the next message, or false when none came within limit.
func (f *jgwFrontend) next(limit time.Duration) (jgwMsg, bool) {
	f.t.Helper()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case m := <-f.msgs:
		return m, true
	case err := <-f.readErr:
		f.readErr <- err
		f.t.Fatalf("channels socket: %v", err)
	case <-timer.C:
	}
	return jgwMsg{}, false
}

// until reads the messages answering parent up to the one stop accepts.
func (f *jgwFrontend) until(parent string, limit time.Duration, stop func(jgwMsg) bool) []jgwMsg {
	f.t.Helper()
	deadline := time.Now().Add(limit)
	var out []jgwMsg
	for {
		m, ok := f.next(time.Until(deadline))
		if !ok {
			f.t.Fatalf("no answer to %s within %s; got so far:\n%s", parent, limit, jgwSummary(out))
		}
		if m.parentID() != parent {
			continue
		}
		out = append(out, m)
		if stop(m) {
			return out
		}
	}
}

// waitReady sends kernel_info_request once a second until one is answered,
// as jupyter_client's wait_for_ready does: jupyter-server 1.23 drops what a
// client sends before its own socket to the gateway is up.
func (f *jgwFrontend) waitReady(limit time.Duration) jgwMsg {
	f.t.Helper()
	deadline := time.Now().Add(limit)
	asked := map[string]bool{}
	for time.Now().Before(deadline) {
		asked[f.send("shell", "kernel_info_request", map[string]any{})] = true
		until := time.Now().Add(time.Second)
		for {
			m, ok := f.next(time.Until(until))
			if !ok {
				break
			}
			if m.MsgType == "kernel_info_reply" && asked[m.parentID()] {
				return m
			}
		}
	}
	f.t.Fatalf("no kernel_info_reply within %s", limit)
	return jgwMsg{}
}

func jgwIdle(m jgwMsg) bool {
	return m.Channel == "iopub" && m.MsgType == "status" && m.str("execution_state") == "idle"
}

// execute runs a cell up to its idle status, answering input requests
// with the given lines.
func (f *jgwFrontend) execute(code string, limit time.Duration, input ...string) []jgwMsg {
	f.t.Helper()
	id := f.send("shell", "execute_request", map[string]any{"code": code, "silent": false, "store_history": true,
		"user_expressions": map[string]any{}, "allow_stdin": true, "stop_on_error": true})
	var out []jgwMsg
	for {
		batch := f.until(id, limit, func(m jgwMsg) bool { return jgwIdle(m) || m.MsgType == "input_request" })
		out = append(out, batch...)
		if last := batch[len(batch)-1]; last.MsgType != "input_request" {
			return out
		} else if last.Channel != "stdin" {
			f.t.Errorf("input_request on channel %q, want stdin", last.Channel)
		}
		if len(input) == 0 {
			f.t.Fatalf("cell %q asked for input unexpectedly", code)
		}
		f.send("stdin", "input_reply", map[string]any{"value": input[0]})
		input = input[1:]
	}
}

func jgwSummary(ms []jgwMsg) string {
	var parts []string
	for _, m := range ms {
		parts = append(parts, m.Channel+":"+m.MsgType+" "+string(m.Content))
	}
	return strings.Join(parts, "\n")
}

// jgwFind returns the messages of one type.
func jgwFind(ms []jgwMsg, msgType string) []jgwMsg {
	var out []jgwMsg
	for _, m := range ms {
		if m.MsgType == msgType {
			out = append(out, m)
		}
	}
	return out
}

func jgwStdout(ms []jgwMsg) string {
	var b strings.Builder
	for _, m := range jgwFind(ms, "stream") {
		if m.str("name") == "stdout" {
			b.WriteString(m.str("text"))
		}
	}
	return b.String()
}

// TestJupyterGateway runs bai jupyter-gateway against the shared server and
// Debian's jupyter-server in front of it with --gateway-url, then uses
// jupyter-server's own REST and WebSocket API as a browser would.
func TestJupyterGateway(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(jgwJupyterServer); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing (CI=true): install jupyter-server (scripts/ensure-test-deps.sh)", jgwJupyterServer)
		}
		t.Skipf("%s missing: install Debian's jupyter-server to run this test", jgwJupyterServer)
	}
	gwAddr, err := devserver.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	jsAddr, err := devserver.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	gwToken, jsToken := jgwToken(), jgwToken()

	gwEnv := append(os.Environ(), sharedEnv()...)
	gwEnv = append(gwEnv, "BAI_GATEWAY_TOKEN="+gwToken)
	gw := jgwStart(t, "bai jupyter-gateway", gwEnv, filepath.Join(st.binDir, "bai"), "jupyter-gateway", "--listen", gwAddr)
	gwURL := "http://" + gwAddr
	jgwWaitHTTP(t, gw, "bai jupyter-gateway", gwURL+"/api", gwToken, 30*time.Second, func([]byte) bool { return true })
	if status, _ := jgwHTTP(t, http.MethodGet, gwURL+"/api/kernels", "", ""); status != http.StatusUnauthorized {
		t.Errorf("gateway without a token: %d, want 401", status)
	}
	if status, _ := jgwHTTP(t, http.MethodGet, gwURL+"/api/kernels", "wrong", ""); status != http.StatusForbidden {
		t.Errorf("gateway with a wrong token: %d, want 403", status)
	}

	// jupyter-server with everything of its own in a temporary folder.
	home := t.TempDir()
	root := filepath.Join(home, "root")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	var jsEnv []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "JUPYTER") && !strings.HasPrefix(k, "PYTHON") &&
			!strings.HasPrefix(k, "BACKEND_") && k != "HOME" && k != "IPYTHONDIR" {
			jsEnv = append(jsEnv, kv)
		}
	}
	jsEnv = append(jsEnv, "HOME="+home, "JUPYTER_CONFIG_DIR="+filepath.Join(home, "config"),
		"JUPYTER_DATA_DIR="+filepath.Join(home, "data"), "JUPYTER_RUNTIME_DIR="+filepath.Join(home, "runtime"),
		"IPYTHONDIR="+filepath.Join(home, "ipython"), "JUPYTER_PLATFORM_DIRS=0")
	_, port, _ := strings.Cut(jsAddr, ":")
	jsArgs := []string{jgwJupyterServer, "--no-browser"}
	if os.Geteuid() == 0 {
		jsArgs = append(jsArgs, "--allow-root") // test VMs run as root
	}
	js := jgwStart(t, "jupyter-server", jsEnv, append(jsArgs, "--ServerApp.ip=127.0.0.1", "--ServerApp.port="+port, "--ServerApp.port_retries=0",
		"--ServerApp.token="+jsToken, "--ServerApp.root_dir="+root,
		"--gateway-url="+gwURL, "--GatewayClient.auth_token="+gwToken)...)
	jsURL := "http://" + jsAddr
	// Its kernel specs come from the gateway, so this also proves the link.
	jgwWaitHTTP(t, js, "jupyter-server", jsURL+"/api/kernelspecs", jsToken, 60*time.Second,
		func(b []byte) bool { return bytes.Contains(b, []byte(`"bai-python"`)) })

	status, b := jgwHTTP(t, http.MethodPost, jsURL+"/api/kernels", jsToken, `{"name": "bai-python"}`)
	if status != http.StatusCreated {
		t.Fatalf("POST /api/kernels through jupyter-server: %d %s", status, b)
	}
	var kernel struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal(b, &kernel); err != nil || !uuidRE.MatchString(kernel.ID) || kernel.Name != "bai-python" {
		t.Fatalf("kernel model %s (%v)", b, err)
	}
	c := st.shared.Client()
	si, _, err := c.Info(testCtx(t, 10*time.Second), "jgw-"+kernel.ID)
	if err != nil {
		t.Fatalf("the kernel's Backend.AI session: %v", err)
	}
	remember(si.SessionID)
	t.Cleanup(func() { destroyQuietly(t, c, si.SessionID) })
	if si.Status != "RUNNING" || si.Image != imageName {
		t.Errorf("kernel session: status %s image %s", si.Status, si.Image)
	}

	wsURL := "ws://" + jsAddr + "/api/kernels/" + kernel.ID + "/channels?session_id=" + jgwToken()
	ws, resp, err := websocket.DefaultDialer.Dial(wsURL, http.Header{"Authorization": {"token " + jsToken}})
	if err != nil {
		t.Fatalf("channels socket of jupyter-server: %v (%v)", err, resp)
	}
	defer ws.Close()
	f := newJgwFrontend(t, ws)

	t.Run("kernel_info", func(t *testing.T) {
		f.t = t
		reply := f.waitReady(60 * time.Second)
		li, _ := reply.content()["language_info"].(map[string]any)
		if reply.Channel != "shell" || li["name"] != "python" || reply.str("status") != "ok" {
			t.Errorf("kernel_info_reply on %s: %s", reply.Channel, reply.Content)
		}
	})
	t.Run("print", func(t *testing.T) {
		f.t = t
		ms := f.execute("print(1+1)", 60*time.Second)
		if got := jgwStdout(ms); got != "2\n" {
			t.Errorf("stdout %q, want 2\\n; messages:\n%s", got, jgwSummary(ms))
		}
		reps := jgwFind(ms, "execute_reply")
		if len(reps) != 1 || reps[0].str("status") != "ok" || reps[0].content()["execution_count"] != 1.0 || reps[0].Channel != "shell" {
			t.Errorf("execute_reply: %s", jgwSummary(reps))
		}
		if ms[0].MsgType != "status" || ms[0].str("execution_state") != "busy" || len(jgwFind(ms, "execute_input")) != 1 {
			t.Errorf("a cell starts with busy and execute_input:\n%s", jgwSummary(ms))
		}
	})
	t.Run("expression and display", func(t *testing.T) {
		f.t = t
		ms := f.execute("6 * 7", 60*time.Second)
		if got := jgwStdout(ms); got != "42\n" {
			t.Errorf("value of an expression: stdout %q, want 42\\n", got)
		}
		ms = f.execute("from bai_media import display_svg\n"+
			"display_svg('<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"8\" height=\"8\"><rect width=\"8\" height=\"8\" fill=\"red\"/></svg>')\n"+
			"class Bold:\n    def _repr_html_(self):\n        return '<b>bold</b>'\n"+
			"Bold()", 60*time.Second)
		var svg, html bool
		for _, d := range jgwFind(ms, "display_data") {
			data, _ := d.content()["data"].(map[string]any)
			s, _ := data["image/svg+xml"].(string)
			h, _ := data["text/html"].(string)
			svg = svg || strings.Contains(s, "<rect")
			html = html || strings.Contains(h, "<b>bold</b>")
		}
		if !svg || !html {
			t.Errorf("display_data: svg %v html %v; messages:\n%s", svg, html, jgwSummary(ms))
		}
	})
	// Output reaches the notebook as it is printed (the execute stream),
	// not when a 2-second long poll returns: the lines come the sleep apart.
	t.Run("output streams", func(t *testing.T) {
		f.t = t
		id := f.send("shell", "execute_request", map[string]any{"code": "import time\nprint('first', flush=True)\ntime.sleep(3)\nprint('second')",
			"silent": false, "store_history": true, "allow_stdin": true, "stop_on_error": true})
		var first, second time.Time
		ms := f.until(id, 60*time.Second, func(m jgwMsg) bool {
			switch {
			case m.MsgType == "stream" && strings.Contains(m.str("text"), "first"):
				first = time.Now()
			case m.MsgType == "stream" && strings.Contains(m.str("text"), "second"):
				second = time.Now()
			}
			return jgwIdle(m)
		})
		if first.IsZero() || second.IsZero() {
			t.Fatalf("streams:\n%s", jgwSummary(ms))
		}
		if gap := second.Sub(first); gap < 2500*time.Millisecond {
			t.Errorf("the first line came only %s before the second: it was not streamed", gap)
		}
	})
	t.Run("error", func(t *testing.T) {
		f.t = t
		ms := f.execute("print('before')\nundefined_name_e2e", 60*time.Second)
		errs := jgwFind(ms, "error")
		if len(errs) != 1 || errs[0].str("ename") != "NameError" || !strings.Contains(errs[0].str("evalue"), "undefined_name_e2e") {
			t.Fatalf("error message:\n%s", jgwSummary(ms))
		}
		tb, _ := errs[0].content()["traceback"].([]any)
		if len(tb) < 2 || !strings.Contains(tb[len(tb)-1].(string), "NameError") {
			t.Errorf("traceback %q", tb)
		}
		reps := jgwFind(ms, "execute_reply")
		if len(reps) != 1 || reps[0].str("status") != "error" || reps[0].str("ename") != "NameError" {
			t.Errorf("execute_reply:\n%s", jgwSummary(reps))
		}
		if got := jgwStdout(ms); got != "before\n" {
			t.Errorf("stdout before the error %q", got)
		}
		for _, m := range jgwFind(ms, "stream") {
			if strings.Contains(m.str("text"), "Traceback") {
				t.Errorf("the traceback was also sent as a stream: %s", m.Content)
			}
		}
	})
	t.Run("input", func(t *testing.T) {
		f.t = t
		ms := f.execute("who = input('Name: ')\nprint('hello', who)", 60*time.Second, "jupyter")
		if got := jgwStdout(ms); !strings.HasSuffix(got, "hello jupyter\n") {
			t.Errorf("stdout %q, want it to end in hello jupyter; messages:\n%s", got, jgwSummary(ms))
		}
		if len(jgwFind(ms, "input_request")) != 1 {
			t.Errorf("want one input_request:\n%s", jgwSummary(ms))
		}
	})
	t.Run("interrupt", func(t *testing.T) {
		f.t = t
		id := f.send("shell", "execute_request", map[string]any{"code": "import time\nprint('sleeping', flush=True)\ntime.sleep(60)\nprint('woke')",
			"silent": false, "store_history": true, "allow_stdin": true, "stop_on_error": true})
		f.until(id, 60*time.Second, func(m jgwMsg) bool { return m.MsgType == "stream" && strings.Contains(m.str("text"), "sleeping") })
		start := time.Now()
		if status, b := jgwHTTP(t, http.MethodPost, jsURL+"/api/kernels/"+kernel.ID+"/interrupt", jsToken, "{}"); status != http.StatusNoContent {
			t.Fatalf("POST interrupt through jupyter-server: %d %s", status, b)
		}
		ms := f.until(id, 30*time.Second, jgwIdle)
		errs := jgwFind(ms, "error")
		if len(errs) != 1 || errs[0].str("ename") != "KeyboardInterrupt" {
			t.Errorf("after interrupt:\n%s", jgwSummary(ms))
		}
		if strings.Contains(jgwStdout(ms), "woke") {
			t.Error("the cell ran to its end despite the interrupt")
		}
		t.Logf("interrupted %s after the request", time.Since(start).Round(time.Millisecond))
		// The kernel lives on with its state.
		if got := jgwStdout(f.execute("print(who, 'again')", 60*time.Second)); got != "jupyter again\n" {
			t.Errorf("after the interrupt: stdout %q", got)
		}
	})

	t.Run("list and restart", func(t *testing.T) {
		f.t = t
		// jupyter-server refreshes its models from the gateway's list (and
		// parses last_activity in its one accepted format).
		status, b := jgwHTTP(t, http.MethodGet, jsURL+"/api/kernels", jsToken, "")
		if status != http.StatusOK || !strings.Contains(string(b), kernel.ID) || !strings.Contains(string(b), `"connections": 1`) {
			t.Errorf("GET /api/kernels through jupyter-server: %d %s", status, b)
		}
		if status, b := jgwHTTP(t, http.MethodPost, jsURL+"/api/kernels/"+kernel.ID+"/restart", jsToken, "{}"); status != http.StatusOK {
			t.Fatalf("POST restart through jupyter-server: %d %s", status, b)
		}
		ms := f.execute("print('who' in globals())", 60*time.Second)
		if got := jgwStdout(ms); got != "False\n" {
			t.Errorf("after a restart the state must be gone: stdout %q; messages:\n%s", got, jgwSummary(ms))
		}
		if reps := jgwFind(ms, "execute_reply"); len(reps) != 1 || reps[0].content()["execution_count"] != 1.0 {
			t.Errorf("execution_count after a restart:\n%s", jgwSummary(reps))
		}
	})

	status, b = jgwHTTP(t, http.MethodDelete, jsURL+"/api/kernels/"+kernel.ID, jsToken, "")
	if status != http.StatusNoContent {
		t.Fatalf("DELETE kernel through jupyter-server: %d %s", status, b)
	}
	waitNoContainers(t, si.SessionID, 60*time.Second)
	if after, resp, err := c.Info(testCtx(t, 10*time.Second), si.SessionID); err == nil && after.Status != "TERMINATED" {
		t.Errorf("the kernel's session is %s after DELETE", after.Status)
	} else if err != nil && (resp == nil || resp.Status != http.StatusNotFound) {
		t.Errorf("session after DELETE: %v", err)
	}
	if status, _ := jgwHTTP(t, http.MethodGet, gwURL+"/api/kernels/"+kernel.ID, gwToken, ""); status != http.StatusNotFound {
		t.Errorf("gateway still knows the deleted kernel: %d", status)
	}

	// The gateway exits cleanly on SIGTERM and never logged a secret.
	if err := js.stop(30 * time.Second); err != nil {
		t.Errorf("stop jupyter-server: %v", err)
	}
	if err := gw.stop(60 * time.Second); err != nil {
		t.Errorf("stop the gateway: %v", err)
	}
	if err := <-gw.done; err != nil {
		t.Errorf("the gateway exited with %v:\n%s", err, gw.out.String())
	}
	gw.done <- nil
	log := gw.out.String()
	for what, secret := range map[string]string{"gateway token": gwToken, "secret key": st.shared.Creds.SecretKey} {
		if strings.Contains(log, secret) {
			t.Errorf("the gateway's log contains the %s", what)
		}
	}
}
