package runner

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"baigo.dev/bai/common/kproto"
)

// startRelay serves the relay socket in a temp dir and returns its path.
func startRelay(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ln, err := listenProxy(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); ln.Close() })
	go serveProxy(ctx, ln, slog.New(slog.DiscardHandler))
	return filepath.Join(dir, kproto.ProxySocket)
}

// dialRelay sends the header and returns the connection and the answer.
func dialRelay(t *testing.T, sock, header string) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, header); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("relay answer: %v", err)
	}
	return c, br, strings.TrimSpace(line)
}

func TestRelay(t *testing.T) {
	t.Parallel()
	sock := startRelay(t)

	// A TCP service that answers each line upper-cased.
	svc, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	go func() {
		for {
			c, err := svc.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s := bufio.NewScanner(c)
				for s.Scan() {
					_, _ = io.WriteString(c, strings.ToUpper(s.Text())+"\n")
				}
			}()
		}
	}()
	port := svc.Addr().(*net.TCPAddr).Port

	// Bytes sent right behind the header must not be lost.
	c, br, ans := dialRelay(t, sock, strconv.Itoa(port)+"\nhello\n")
	if ans != "ok" {
		t.Fatalf("answer %q, want ok", ans)
	}
	if got, _ := br.ReadString('\n'); got != "HELLO\n" {
		t.Errorf("through the relay: %q", got)
	}
	_, _ = io.WriteString(c, "again\n")
	if got, _ := br.ReadString('\n'); got != "AGAIN\n" {
		t.Errorf("second line: %q", got)
	}

	for _, bad := range []string{"0\n", "70000\n", "http\n"} {
		if _, _, ans := dialRelay(t, sock, bad); ans != "error bad port" {
			t.Errorf("header %q: answer %q", bad, ans)
		}
	}
	// A port nobody listens on (the service's, once closed).
	idle, _ := net.Listen("tcp", "127.0.0.1:0")
	idlePort := idle.Addr().(*net.TCPAddr).Port
	idle.Close()
	if _, _, ans := dialRelay(t, sock, strconv.Itoa(idlePort)+"\n"); !strings.HasPrefix(ans, "error nothing listens") {
		t.Errorf("closed port: answer %q", ans)
	}
}

func TestTerminal(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	term, err := startTerminal(Config{WorkDir: t.TempDir()}, slog.New(slog.DiscardHandler), port)
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	base := "127.0.0.1:" + strconv.Itoa(port)

	resp, err := http.Get("http://" + base + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "bai terminal") {
		t.Fatalf("page: %d %q", resp.StatusCode, page)
	}
	if resp, err := http.Get("http://" + base + "/nope"); err != nil || resp.StatusCode != 404 {
		t.Errorf("unknown path: %v %v", resp, err)
	}

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+base+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if err := ws.WriteMessage(websocket.BinaryMessage, []byte("echo hi\n")); err != nil {
		t.Fatal(err)
	}
	if out := readUntilLine(t, ws, "hi"); out != "" {
		t.Fatalf("no line %q in the terminal's output: %s", "hi", out)
	}
}

// TestTerminalControl drives the terminal's control protocol: text frames
// are JSON control messages, never keystrokes (junk and oversized ones are
// ignored), and a resize reaches the shell as the pty's size and as
// SIGWINCH. The client's write buffer is tiny, so every message arrives in
// several frames and the continuation path is what is tested.
func TestTerminalControl(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	term, err := startTerminal(Config{WorkDir: t.TempDir()}, slog.New(slog.DiscardHandler), port)
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	d := websocket.Dialer{WriteBufferSize: 8}
	ws, _, err := d.Dial("ws://127.0.0.1:"+strconv.Itoa(port)+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	send := func(op int, s string) {
		t.Helper()
		if err := ws.WriteMessage(op, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}

	// None of these may be typed: each would print a line "junk".
	send(websocket.TextMessage, "echo junk\n")
	send(websocket.TextMessage, `{"type":"input","data":"echo junk\n"}`)
	send(websocket.TextMessage, `{"type":"resize","cols":0,"rows":-4}`)
	send(websocket.TextMessage, `{"type":"resize","cols":100,"rows":30}`+strings.Repeat(" ", 2*wsMaxControl))
	send(websocket.BinaryMessage, "echo after\n")
	out, all := readLines(t, ws, "after")
	if out != "" {
		t.Fatalf("no line %q after the ignored text frames: %s", "after", out)
	}
	for _, l := range all {
		if l == "junk" {
			t.Fatalf("a text frame was typed into the shell: %q", all)
		}
	}
	// The oversized resize was dropped: the size is still the default.
	send(websocket.BinaryMessage, "stty size\n")
	if out := readUntilLine(t, ws, "24 80"); out != "" {
		t.Fatalf("size after ignored resizes: %s", out)
	}

	// A foreground program that waits for SIGWINCH, then a resize.
	send(websocket.BinaryMessage, `sh -c 'trap "echo got-winch; exit 0" WINCH; echo ready; while :; do sleep 0.05; done'`+"\n")
	if out := readUntilLine(t, ws, "ready"); out != "" {
		t.Fatalf("the SIGWINCH waiter did not start: %s", out)
	}
	send(websocket.TextMessage, `{"type":"resize","cols":100,"rows":30}`)
	if out := readUntilLine(t, ws, "got-winch"); out != "" {
		t.Fatalf("no SIGWINCH after a resize: %s", out)
	}
	send(websocket.BinaryMessage, "stty size\n")
	if out := readUntilLine(t, ws, "30 100"); out != "" {
		t.Fatalf("stty size after resizing to 100x30: %s", out)
	}

	// exit ends the shell, and the server closes the socket normally.
	send(websocket.BinaryMessage, "exit\n")
	_ = ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				t.Fatalf("after exit: %v, want a normal close", err)
			}
			break
		}
	}
}

// readUntilLine reads terminal output until a line equal to want arrives;
// it returns "" then, and everything read and why it stopped when it gives
// up (never "", also when nothing came).
func readUntilLine(t *testing.T, ws *websocket.Conn, want string) string {
	t.Helper()
	out, _ := readLines(t, ws, want)
	return out
}

// readLines is readUntilLine that also returns the lines read.
func readLines(t *testing.T, ws *websocket.Conn, want string) (string, []string) {
	t.Helper()
	var all strings.Builder
	_ = ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		_, p, err := ws.ReadMessage()
		if err != nil {
			return fmt.Sprintf("%q (read: %v)", all.String(), err), nil
		}
		all.Write(p)
		var lines []string
		for _, line := range strings.Split(all.String(), "\n") {
			// Bash's bracketed-paste toggles end with a carriage return:
			// what the line shows is what follows the last one.
			line = strings.TrimRight(line, "\r")
			if i := strings.LastIndexByte(line, '\r'); i >= 0 {
				line = line[i+1:]
			}
			lines = append(lines, line)
			if line == want {
				return "", lines
			}
		}
	}
}
