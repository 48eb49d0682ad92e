package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"baigo.dev/bai/common/errdefs"
)

// terminalChunk bounds one input frame; the manager refuses messages over
// 1 MiB, so long writes go out in pieces.
const terminalChunk = 32 << 10

// TerminalConn is a shell on a pseudo-terminal in a session, through the
// manager's pty stream (GET /stream/session/{name}/pty). Write sends
// keystrokes, Read returns the terminal's output (escape sequences and
// all, as a terminal emulator wants them), Resize sets the terminal's size.
// Read must be called continuously: the manager's keepalive pings are
// answered while a Read waits, and a client silent for minutes is dropped.
// One goroutine may Read while another Writes or Resizes.
type TerminalConn struct {
	ws  *websocket.Conn
	rmu sync.Mutex
	cur io.Reader
	wmu sync.Mutex
}

// Terminal opens a shell in the session: the image's "terminal" app,
// started on demand. An image without it is *APIError 400 (the message
// names the apps it has), another keypair's session 404, a session that is
// not RUNNING 409. ctx bounds the opening only; Close ends the shell.
func (c *Client) Terminal(ctx context.Context, session string) (*TerminalConn, error) {
	ws, err := c.dialStream(ctx, "/stream"+sessionPath(session, "pty"))
	if err != nil {
		return nil, fmt.Errorf("terminal of session %s: %w", session, err)
	}
	ws.SetReadLimit(1 << 20)
	return &TerminalConn{ws: ws}, nil
}

// Read reads terminal output. When the shell exits, the manager closes the
// stream and Read returns io.EOF.
func (t *TerminalConn) Read(b []byte) (int, error) {
	t.rmu.Lock()
	defer t.rmu.Unlock()
	for {
		if t.cur != nil {
			n, err := t.cur.Read(b)
			if err == io.EOF {
				t.cur = nil
				if n == 0 {
					continue
				}
				err = nil
			}
			return n, err
		}
		typ, r, err := t.ws.NextReader()
		if err != nil {
			if websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				return 0, io.EOF
			}
			return 0, fmt.Errorf("terminal: %w", err)
		}
		// Output is binary; a text frame would be a control message of a
		// later protocol version, not output.
		if typ == websocket.BinaryMessage {
			t.cur = r
		}
	}
}

// Write sends keystrokes (or a paste) to the shell.
func (t *TerminalConn) Write(b []byte) (int, error) {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	for done := 0; done < len(b); {
		n := min(len(b)-done, terminalChunk)
		if err := t.ws.WriteMessage(websocket.BinaryMessage, b[done:done+n]); err != nil {
			return done, fmt.Errorf("terminal: %w", err)
		}
		done += n
	}
	return len(b), nil
}

// Resize sets the terminal's size in character cells; the shell and the
// program in the foreground get SIGWINCH, as in a local terminal.
func (t *TerminalConn) Resize(cols, rows int) error {
	if cols < 1 || rows < 1 || cols > 0xffff || rows > 0xffff {
		return fmt.Errorf("terminal size %dx%d: columns and rows must be 1 to 65535: %w", cols, rows, errdefs.ErrInvalidArgument)
	}
	msg, _ := json.Marshal(map[string]any{"type": "resize", "cols": cols, "rows": rows})
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if err := t.ws.WriteMessage(websocket.TextMessage, msg); err != nil {
		return fmt.Errorf("terminal: %w", err)
	}
	return nil
}

// Close ends the stream; the shell is hung up.
func (t *TerminalConn) Close() error {
	_ = t.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	return t.ws.Close()
}
