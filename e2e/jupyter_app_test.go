package e2e_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"baigo.dev/bai/common/errdefs"
)

// TestJupyterThroughAppProxy opens the python image's Jupyter app the way a
// user does: `bai app SESSION jupyter` forwards a local port through the
// manager's proxy, and the Notebook server in the session is driven over
// its own REST API and kernel WebSocket, as a browser page would: the
// XSRF cookie, a new kernel, a cell that prints, a cell that shows the
// kernel runs traced by bai-jail. Then `bai app --stop` stops it.
func TestJupyterThroughAppProxy(t *testing.T) {
	t.Parallel()
	c := st.shared.Client()
	name, _ := newSession(t, c)
	sdk := sdkAs(t, st.shared.Creds.AccessKey, st.shared.Creds.SecretKey)
	ctx := testCtx(t, 3*time.Minute)

	t0 := time.Now()
	fw := startBaiApp(t, ctx, name, "jupyter")
	base, hc, stderr := fw.base, fw.hc, fw.stderr
	t.Logf("jupyter started and forwarded in %s: %s", time.Since(t0).Round(time.Millisecond), base)

	jar := hc.Jar
	get := func(p string) (int, string) {
		t.Helper()
		resp, err := hc.Get(base + p)
		if err != nil {
			t.Fatalf("GET %s: %v; bai app stderr %q", p, err, stderr.String())
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// The notebook's file browser page, as a browser opens it; it sets the
	// _xsrf cookie that state-changing requests must echo.
	if code, body := get("tree"); code != 200 || !strings.Contains(body, "Jupyter") {
		t.Fatalf("GET /tree through the proxy: %d %.300q", code, body)
	}
	u, _ := url.Parse(base)
	var xsrf string
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "_xsrf" {
			xsrf = ck.Value
		}
	}
	if xsrf == "" {
		t.Fatalf("no _xsrf cookie after GET /tree; cookies %v", jar.Cookies(u))
	}
	post := func(p, body string, withXSRF bool) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+p, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if withXSRF {
			req.Header.Set("X-XSRFToken", xsrf)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", p, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// Without a token, the XSRF check is what stops another web page from
	// starting kernels through a local `bai app` port.
	if code, body := post("api/kernels", `{"name":"python3"}`, false); code != 403 {
		t.Errorf("POST /api/kernels without the XSRF token: %d %.200q, want 403", code, body)
	}
	// The Host check stops DNS rebinding (a hostile name resolving to
	// 127.0.0.1).
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"api/kernels", nil)
	req.Host = "rebind.example.com"
	if resp, err := hc.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("GET with a foreign Host header: %d, want 403", resp.StatusCode)
		}
	}

	code, body := post("api/kernels", `{"name":"python3"}`, true)
	if code != 201 {
		t.Fatalf("POST /api/kernels: %d %.300q", code, body)
	}
	var kern struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(body), &kern); err != nil || kern.ID == "" {
		t.Fatalf("kernel answer %q: %v", body, err)
	}

	wsURL := "ws" + strings.TrimPrefix(base, "http") + "api/kernels/" + kern.ID + "/channels?session_id=" + randHex(8)
	hdr := http.Header{"Origin": {strings.TrimSuffix(base, "/")}}
	dialer := websocket.Dialer{Jar: jar, HandshakeTimeout: 20 * time.Second}
	ws, resp, err := dialer.DialContext(ctx, wsURL, hdr)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("kernel WebSocket: %v (HTTP %d)", err, status)
	}
	defer ws.Close()

	run := func(code string) (stdout string, status string) {
		t.Helper()
		id := randHex(16)
		msg := map[string]any{
			"channel":       "shell",
			"header":        map[string]any{"msg_id": id, "msg_type": "execute_request", "username": "e2e", "session": randHex(8), "version": "5.3", "date": time.Now().UTC().Format(time.RFC3339)},
			"parent_header": map[string]any{},
			"metadata":      map[string]any{},
			"content":       map[string]any{"code": code, "silent": false, "store_history": true, "user_expressions": map[string]any{}, "allow_stdin": false, "stop_on_error": true},
			"buffers":       []any{},
		}
		if err := ws.WriteJSON(msg); err != nil {
			t.Fatalf("send execute_request: %v", err)
		}
		var out strings.Builder
		_ = ws.SetReadDeadline(time.Now().Add(60 * time.Second))
		var idle, replied bool
		for !idle || !replied {
			var m struct {
				Channel      string         `json:"channel"`
				Header       map[string]any `json:"header"`
				ParentHeader map[string]any `json:"parent_header"`
				Content      map[string]any `json:"content"`
			}
			if err := ws.ReadJSON(&m); err != nil {
				t.Fatalf("reading the kernel's answers to %q: %v (so far %q)", code, err, out.String())
			}
			if m.ParentHeader["msg_id"] != id {
				continue
			}
			switch m.Header["msg_type"] {
			case "stream":
				s, _ := m.Content["text"].(string)
				out.WriteString(s)
			case "status":
				idle = m.Content["execution_state"] == "idle"
			case "execute_reply":
				replied = true
				status, _ = m.Content["status"].(string)
			case "error":
				t.Logf("cell %q raised %v: %v", code, m.Content["ename"], m.Content["evalue"])
			}
		}
		return out.String(), status
	}
	t1 := time.Now()
	if out, status := run("print(1+1)"); status != "ok" || out != "2\n" {
		t.Fatalf("print(1+1) in the notebook's kernel: status %q, stdout %q", status, out)
	}
	t.Logf("first cell ran in %s", time.Since(t1).Round(time.Millisecond))
	// The kernel is user code like any other: traced by bai-jail, as uid
	// 1000, in the session's work directory.
	out2, status := run("import os, re\n" +
		"print(re.search(r'TracerPid:\\s*(\\d+)', open('/proc/self/status').read()).group(1) != '0', os.getuid(), os.getcwd())")
	if status != "ok" || out2 != "True 1000 /home/work\n" {
		t.Errorf("kernel identity: status %q, stdout %q; want \"True 1000 /home/work\"", status, out2)
	}
	ws.Close()
	// The Notebook server works within the default jail policy: nothing
	// it does at start or for a kernel is refused.
	if logs, err := sdk.Logs(ctx, name); err != nil {
		t.Errorf("session logs: %v", err)
	} else if strings.Contains(logs, "bai-jail: refused") {
		t.Errorf("the jail refused calls of the Notebook server or its kernel:\n%s", logs)
	}

	// Stop it: the forwarded port then finds nothing listening.
	if r := bai(t, sharedEnv(), time.Minute, "app", name, "jupyter", "--stop"); r.code != 0 || !strings.Contains(r.stdout, "stopped") {
		t.Fatalf("bai app --stop: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if _, err := sdk.DialApp(ctx, name, "jupyter"); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("proxy after shutdown-service: %v, want a conflict (nothing listening)", err)
	}
	// Stopping again is not an error; an undeclared app is a 400.
	if err := sdk.ShutdownService(ctx, name, "jupyter"); err != nil {
		t.Errorf("second shutdown-service: %v", err)
	}
	if err := sdk.ShutdownService(ctx, name, "tensorboard"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("shutdown-service of an undeclared app: %v, want 400", err)
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
