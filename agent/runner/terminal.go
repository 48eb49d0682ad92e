package runner

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The web terminal app: a tiny HTTP server inside the container that serves
// one page and, on /ws, a WebSocket joined to a shell on a pseudo-terminal.
// Images carry no terminal program and the runner stays free of an HTTP
// stack, so this speaks just enough HTTP/1.1 and RFC 6455 for a browser:
// one request per connection, binary frames server → client with the
// terminal's output. Client → server, binary messages are keystrokes and
// text messages are JSON control messages, {"type":"resize","cols":N,
// "rows":M} (the manager's pty stream and the web app speak the same
// protocol, so it relays frames unchanged); a text message that is not a
// control message it knows is ignored, never typed into the shell. The
// shell runs under bai-jail like any user code.

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// wsMaxFrame bounds one client frame (keystrokes and pastes).
const wsMaxFrame = 1 << 20

// wsMaxControl bounds one text (control) message; a longer one is dropped
// as it arrives rather than collected.
const wsMaxControl = 4 << 10

const terminalPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>bai terminal</title>
<style>body{margin:0;background:#111;color:#ddd}pre{margin:0;padding:8px;font:14px monospace;white-space:pre-wrap;word-break:break-all;min-height:100vh;box-sizing:border-box;outline:none}#m{position:absolute;visibility:hidden;font:14px monospace;white-space:pre}</style>
</head><body><pre id="t" tabindex="0"></pre><span id="m">MMMMMMMMMM</span>
<script>
// Bare terminal: shows the pty's output with escape sequences stripped,
// sends keys as binary frames and the window's size in cells as a
// {"type":"resize"} text frame.
const t = document.getElementById("t"), m = document.getElementById("m");
const u = new URL("ws", location.href); u.protocol = location.protocol === "https:" ? "wss:" : "ws:";
const ws = new WebSocket(u); ws.binaryType = "arraybuffer";
const dec = new TextDecoder(), enc = new TextEncoder();
const send = s => { if (ws.readyState === WebSocket.OPEN) ws.send(enc.encode(s)); };
const resize = () => {
  if (ws.readyState !== WebSocket.OPEN) return;
  const r = m.getBoundingClientRect();
  const cols = Math.max(2, Math.floor((t.clientWidth - 16) / (r.width / 10)));
  const rows = Math.max(2, Math.floor((window.innerHeight - 16) / r.height));
  ws.send(JSON.stringify({type: "resize", cols, rows}));
};
ws.onopen = resize;
window.addEventListener("resize", resize);
ws.onmessage = e => {
  let s = dec.decode(new Uint8Array(e.data), {stream: true});
  s = s.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r/g, "");
  for (const ch of s) { if (ch === "\b") t.textContent = t.textContent.slice(0, -1); else t.textContent += ch; }
  window.scrollTo(0, document.body.scrollHeight);
};
ws.onclose = () => { t.textContent += "\n[session closed]\n"; };
const keys = {Enter: "\r", Backspace: "\x7f", Tab: "\t", Escape: "\x1b", ArrowUp: "\x1b[A", ArrowDown: "\x1b[B", ArrowRight: "\x1b[C", ArrowLeft: "\x1b[D"};
t.addEventListener("keydown", e => {
  let k = keys[e.key];
  if (!k && e.ctrlKey && e.key.length === 1) k = String.fromCharCode(e.key.toUpperCase().charCodeAt(0) - 64);
  if (!k && e.key.length === 1 && !e.metaKey) k = e.key;
  if (k) { send(k); e.preventDefault(); }
});
t.addEventListener("paste", e => { send(e.clipboardData.getData("text")); e.preventDefault(); });
t.focus();
</script></body></html>
`

// terminal is the running web terminal app.
type terminal struct {
	cfg Config
	log *slog.Logger
	ln  net.Listener
}

// startTerminal listens on 127.0.0.1:port and serves until Close.
func startTerminal(cfg Config, log *slog.Logger, port int) (*terminal, error) {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return nil, fmt.Errorf("listen on port %d: %w", port, err)
	}
	t := &terminal{cfg: cfg, log: log, ln: ln}
	go t.serve()
	return t, nil
}

// Close stops accepting; open terminals end when their clients go.
func (t *terminal) Close() error { return t.ln.Close() }

func (t *terminal) serve() {
	for {
		c, err := t.ln.Accept()
		if err != nil {
			return
		}
		go t.handle(c)
	}
}

func (t *terminal) handle(c net.Conn) {
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		return
	}
	parts := strings.Fields(line)
	if len(parts) != 3 {
		httpReply(c, "400 Bad Request", "text/plain", "bad request line\n")
		return
	}
	hdr, err := tp.ReadMIMEHeader()
	if err != nil {
		httpReply(c, "400 Bad Request", "text/plain", "bad headers\n")
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	path, _, _ := strings.Cut(parts[1], "?")
	switch {
	case parts[0] != "GET":
		httpReply(c, "405 Method Not Allowed", "text/plain", "only GET\n")
	case path == "/" || path == "/index.html":
		httpReply(c, "200 OK", "text/html; charset=utf-8", terminalPage)
	case path == "/ws" && strings.EqualFold(hdr.Get("Upgrade"), "websocket") && hdr.Get("Sec-WebSocket-Key") != "":
		sum := sha1.Sum([]byte(hdr.Get("Sec-WebSocket-Key") + wsGUID))
		_, err := fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
			base64.StdEncoding.EncodeToString(sum[:]))
		if err != nil {
			return
		}
		if err := t.session(c, br); err != nil {
			t.log.Info("terminal ended", "err", err)
		}
	default:
		httpReply(c, "404 Not Found", "text/plain", "not found: the terminal serves / and /ws\n")
	}
}

func httpReply(w io.Writer, status, ctype, body string) {
	_, _ = fmt.Fprintf(w, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", status, ctype, len(body), body)
}

// session runs a shell on a new pty and joins it to the WebSocket.
func (t *terminal) session(c net.Conn, br *bufio.Reader) error {
	master, slave, err := openPTY()
	if err != nil {
		return err
	}
	defer master.Close()
	shell := "/bin/bash"
	if _, err := os.Stat(shell); err != nil {
		shell = "/bin/sh"
	}
	cmd := exec.Command(shell)
	cmd.Dir = t.cfg.WorkDir
	env := t.cfg.Env
	if env == nil {
		env = os.Environ()
	}
	cmd.Env = append(append([]string{}, env...), "TERM=xterm-256color")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	// A session of its own with the pty as its controlling terminal, so
	// job control and ^C work; it dies with the runner.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0, Pdeathsig: syscall.SIGKILL}
	if err := t.cfg.jailCmd(cmd); err != nil {
		slave.Close()
		return err
	}
	err = cmd.Start()
	slave.Close()
	if err != nil {
		return fmt.Errorf("start %s: %w", shell, err)
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGHUP)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()

	var wmu sync.Mutex
	write := func(op byte, p []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return wsWrite(c, op, p)
	}
	outDone := make(chan struct{})
	go func() { // pty → client
		defer close(outDone)
		buf := make([]byte, 16<<10)
		for {
			n, err := master.Read(buf)
			if n > 0 && write(2, buf[:n]) != nil {
				return
			}
			if err != nil { // the shell exited (EIO)
				_ = write(8, []byte{0x03, 0xe8})
				_ = c.Close()
				return
			}
		}
	}()
	// client → pty. A message may come in several frames (gorilla splits
	// one at its write buffer's size): continuation frames belong to the
	// message their first frame started.
	var msgOp byte   // opcode of the message under way: 1 text, 2 binary, 0 none
	var ctl []byte   // the text message so far
	tooLong := false // the text message outgrew wsMaxControl: drop it
	for {
		fin, op, p, err := wsRead(br)
		if err != nil {
			break
		}
		switch op {
		case 1, 2, 0:
			if op != 0 {
				msgOp, ctl, tooLong = op, ctl[:0], false
			}
			switch msgOp {
			case 2:
				if _, err := master.Write(p); err != nil {
					return nil
				}
			case 1:
				if tooLong || len(ctl)+len(p) > wsMaxControl {
					tooLong = true
				} else {
					ctl = append(ctl, p...)
				}
				if fin && !tooLong {
					t.control(master, ctl)
				}
			}
			if fin {
				msgOp = 0
			}
		case 8:
			_ = write(8, p)
			return nil
		case 9:
			_ = write(10, p)
		}
	}
	return nil
}

// control applies one control message from the client. Anything but a
// well-formed resize is ignored: text frames are never keystrokes.
func (t *terminal) control(master *os.File, msg []byte) {
	var m struct {
		Type string `json:"type"`
		Cols int    `json:"cols"`
		Rows int    `json:"rows"`
	}
	if err := json.Unmarshal(msg, &m); err != nil || m.Type != "resize" {
		t.log.Debug("terminal control message ignored", "bytes", len(msg))
		return
	}
	if m.Cols < 1 || m.Rows < 1 || m.Cols > 0xffff || m.Rows > 0xffff {
		t.log.Debug("terminal resize out of range ignored", "cols", m.Cols, "rows", m.Rows)
		return
	}
	// Setting the size on the master is what a terminal emulator does:
	// the kernel then sends SIGWINCH to the pty's foreground process
	// group, so the shell and full-screen programs redraw.
	rc, err := master.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		err = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(m.Rows), Col: uint16(m.Cols)})
	})
	if err != nil {
		t.log.Info("terminal resize failed", "err", err)
	}
}

// openPTY opens a pseudo-terminal pair through /dev/ptmx.
func openPTY() (master, slave *os.File, err error) {
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	master = os.NewFile(uintptr(fd), "/dev/ptmx")
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("unlock pty: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("pty number: %w", err)
	}
	name := fmt.Sprintf("/dev/pts/%d", n)
	sfd, err := unix.Open(name, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		master.Close()
		return nil, nil, fmt.Errorf("open %s: %w", name, err)
	}
	_ = unix.IoctlSetWinsize(sfd, unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 80})
	return master, os.NewFile(uintptr(sfd), name), nil
}

// wsRead reads one client frame (always masked, per RFC 6455): whether it
// ends its message, its opcode and its payload.
func wsRead(r *bufio.Reader) (fin bool, op byte, p []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return false, 0, nil, err
	}
	fin, op = h[0]&0x80 != 0, h[0]&0x0f
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return false, 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return false, 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > wsMaxFrame {
		return false, 0, nil, errors.New("websocket frame too large")
	}
	if h[1]&0x80 == 0 {
		return false, 0, nil, errors.New("unmasked client frame")
	}
	var mask [4]byte
	if _, err := io.ReadFull(r, mask[:]); err != nil {
		return false, 0, nil, err
	}
	p = make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return false, 0, nil, err
	}
	for i := range p {
		p[i] ^= mask[i%4]
	}
	return fin, op, p, nil
}

// wsWrite writes one unmasked, final frame.
func wsWrite(w io.Writer, op byte, p []byte) error {
	h := []byte{0x80 | op}
	switch n := len(p); {
	case n < 126:
		h = append(h, byte(n))
	case n <= 0xffff:
		h = append(h, 126, byte(n>>8), byte(n))
	default:
		h = append(h, 127)
		h = binary.BigEndian.AppendUint64(h, uint64(n))
	}
	_, err := w.Write(append(h, p...))
	return err
}
