package e2e_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
)

// TestAppProxy drives the web terminal app end to end on real Docker: the
// image declares it (ai.backend.service-ports), `bai app` starts it and
// forwards a local port through the manager's tcpproxy stream, the page
// loads through that port like in a browser, and its WebSocket runs a
// command in the session's shell.
func TestAppProxy(t *testing.T) {
	t.Parallel()
	c := st.shared.Client()
	name, _ := newSession(t, c)
	sdk := sdkAs(t, st.shared.Creds.AccessKey, st.shared.Creds.SecretKey)
	ctx := testCtx(t, 3*time.Minute)

	// Before start-service nothing listens on the app's port: 409.
	if _, err := sdk.DialApp(ctx, name, "terminal"); !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("proxy before start-service: %v, want a conflict", err)
	}
	// An app the image does not declare: 400, through the CLI's words.
	r := bai(t, sharedEnv(), time.Minute, "app", name, "tensorboard", "--bind", "127.0.0.1:0")
	if r.code != 1 || !strings.Contains(r.stderr, "HTTP 400") || !strings.Contains(r.stderr, `declares no app "tensorboard"`) {
		t.Fatalf("undeclared app: exit %d, stderr %q", r.code, r.stderr)
	}

	fw := startBaiApp(t, ctx, name, "terminal")
	url, hc, stderr := fw.base, fw.hc, fw.stderr

	// Without the cookie that the printed URL sets, the local port is shut
	// to other users and other pages: 403, and nothing reaches the session.
	if resp, err := http.Get(url); err != nil {
		t.Fatal(err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || !strings.Contains(string(body), "bai app") {
			t.Errorf("GET without the app cookie: %d %q, want 403", resp.StatusCode, body)
		}
	}
	if _, resp, err := websocket.DefaultDialer.DialContext(ctx, "ws"+strings.TrimPrefix(url, "http")+"ws", nil); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Errorf("terminal WebSocket without the app cookie: %v, want 403", err)
	}

	resp, err := hc.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v; bai app stderr %q", url, err, stderr.String())
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "<title>bai terminal</title>") {
		t.Fatalf("terminal page through the forwarded port: %d %q", resp.StatusCode, page)
	}

	dialer := websocket.Dialer{Jar: hc.Jar}
	ws, _, err := dialer.DialContext(ctx, "ws"+strings.TrimPrefix(url, "http")+"ws", nil)
	if err != nil {
		t.Fatalf("terminal WebSocket: %v; bai app stderr %q", err, stderr.String())
	}
	defer ws.Close()
	if err := ws.WriteMessage(websocket.BinaryMessage, []byte("echo hi\n")); err != nil {
		t.Fatal(err)
	}
	ok, got := waitTerminalLine(ws, "hi", 30*time.Second)
	if !ok {
		t.Fatalf("the terminal never printed a line %q; output %q", "hi", got)
	}
	t.Logf("terminal of %s via %s: %q", name, url, got)
	// The shell is user code: it runs traced by bai-jail. This also
	// covers the jail's handling of a forked child's attach stop: when it
	// delivered that SIGSTOP, the interactive shell reported grep Stopped.
	if err := ws.WriteMessage(websocket.BinaryMessage, []byte("grep -q 'TracerPid:[[:space:]]*[1-9]' /proc/$$/status && echo jailed || echo free\n")); err != nil {
		t.Fatal(err)
	}
	if ok, got := waitTerminalLine(ws, "jailed", 30*time.Second); !ok {
		t.Errorf("the terminal's shell is not traced by bai-jail; output %q", got)
	}

	// Starting it again is fine, and a second connection gets its own shell.
	if res, err := sdk.StartService(ctx, name, apitypes.StartService{App: "terminal"}); err != nil || res.Port != 7681 {
		t.Fatalf("start-service again: %+v %v", res, err)
	}
}

// waitTerminalLine reads terminal output until a line shows exactly want.
func waitTerminalLine(ws *websocket.Conn, want string, limit time.Duration) (bool, string) {
	var all strings.Builder
	_ = ws.SetReadDeadline(time.Now().Add(limit))
	for {
		_, p, err := ws.ReadMessage()
		if err != nil {
			return false, all.String()
		}
		all.Write(p)
		for _, line := range strings.Split(all.String(), "\n") {
			// The shell's bracketed-paste toggles end in a carriage
			// return: the line shows what follows the last one.
			line = strings.TrimRight(line, "\r")
			if i := strings.LastIndexByte(line, '\r'); i >= 0 {
				line = line[i+1:]
			}
			if line == want {
				return true, all.String()
			}
		}
	}
}

// forwarded is an app that `bai app` forwards to a local port.
type forwarded struct {
	base   string       // http://127.0.0.1:PORT/
	secret string       // the URL it printed, with the secret
	hc     *http.Client // holds the app cookie the secret URL set
	stderr *syncBuffer  // bai app's stderr so far
}

// startBaiApp runs `bai app SESSION APP --bind 127.0.0.1:0` for the rest of
// the test (interrupted at cleanup, which must stop it) and opens the
// secret URL it prints as a browser would.
func startBaiApp(t *testing.T, ctx context.Context, session, app string) forwarded {
	t.Helper()
	cmd := exec.CommandContext(ctx, filepath.Join(st.binDir, "bai"), "app", session, app, "--bind", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), sharedEnv()...)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("bai app did not stop on interrupt")
		}
		if strings.Contains(stderr.String(), "panic:") {
			t.Errorf("bai app panicked: %s", stderr.String())
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("bai app printed no URL: %v; stderr %q", err, stderr.String())
	}
	m := regexp.MustCompile(`(http://127\.0\.0\.1:\d+/)\?bai_token=[0-9a-f]{32}`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no URL with a secret in %q", line)
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := hc.Get(m[0])
	if err != nil {
		t.Fatalf("GET the printed URL: %v; stderr %q", err, stderr.String())
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || len(jar.Cookies(resp.Request.URL)) == 0 {
		t.Fatalf("the printed URL answered %d (at %s) and set no cookie", resp.StatusCode, resp.Request.URL)
	}
	return forwarded{base: m[1], secret: m[0], hc: hc, stderr: stderr}
}
