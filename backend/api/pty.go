package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
)

// The terminal stream, GET /stream/session/{name}/pty: a WebSocket to a
// shell on a pty in the session. The shell is the runner's own "terminal"
// app, whose /ws endpoint already speaks the contract's protocol (binary
// frames are keystrokes and output, text frames JSON control messages such
// as {"type":"resize"}), so the manager only opens a WebSocket to it over
// the app proxy's pipe and relays messages both ways unchanged.

const (
	ptyApp = "terminal"
	// ptyMaxMessage bounds one message either way, the same bound the
	// runner puts on a client frame (a large paste).
	ptyMaxMessage = 1 << 20
	// ptyPing is how often the browser is pinged, so proxies and NATs see
	// traffic on an idle shell; ptyPongWait is how long a silent client is
	// kept (browsers answer pings by themselves).
	ptyPing     = 30 * time.Second
	ptyPongWait = 3 * ptyPing
	ptyWrite    = 30 * time.Second
	// ptyHandshake bounds the WebSocket handshake with the runner.
	ptyHandshake = 30 * time.Second
)

// ptyStream serves GET /stream/session/{name}/pty. Everything that can fail
// is done before the client's connection is upgraded, so errors are plain
// problem+json answers: 404 for a session the caller does not own, 400 for
// an image without the terminal app (naming the apps it has), 409 for a
// session that is not RUNNING, 503 when the terminal does not come up.
func (h *Handlers) ptyStream(c echo.Context) error {
	o := owner(c)
	name := c.Param("name")
	reqCtx := c.Request().Context()
	// Started on demand (starting a running terminal again is a no-op);
	// this also checks, in this order, the owner, the app and the status.
	sp, err := h.Sessions.StartService(reqCtx, o.AccessKey, name, apitypes.StartService{App: ptyApp})
	if err != nil {
		return err
	}
	// The pipe outlives the handshake request, but not the server.
	ctx, cancel := context.WithCancel(context.WithoutCancel(reqCtx))
	defer cancel()
	rwc, err := h.Sessions.DialApp(ctx, o.AccessKey, name, ptyApp)
	if err != nil {
		return err
	}
	defer rwc.Close()
	d := websocket.Dialer{
		HandshakeTimeout: ptyHandshake,
		NetDialContext: func(context.Context, string, string) (net.Conn, error) {
			return &pipeConn{rwc: rwc}, nil
		},
	}
	shell, _, err := d.DialContext(ctx, fmt.Sprintf("ws://127.0.0.1:%d/ws", sp.Port), nil)
	if err != nil {
		return fmt.Errorf("terminal of session %q: WebSocket handshake with the session's terminal: %v: %w", name, err, errdefs.ErrUnavailable)
	}
	defer shell.Close()
	shell.SetReadLimit(ptyMaxMessage)
	if info, err := h.Sessions.Info(reqCtx, o.AccessKey, name); err == nil {
		if id, err := uuid.Parse(info.SessionID); err == nil {
			defer h.Sessions.StreamOpened(id)() // an open terminal keeps the session from idling out
		}
	}
	ws, err := upgrader.Upgrade(c.Response(), c.Request(), nil)
	if err != nil {
		return nil // the upgrader already answered
	}
	defer ws.Close()
	ws.SetReadLimit(ptyMaxMessage)
	_ = ws.SetReadDeadline(time.Now().Add(ptyPongWait))
	ws.SetPongHandler(func(string) error { return ws.SetReadDeadline(time.Now().Add(ptyPongWait)) })

	done := make(chan struct{})
	var once sync.Once
	end := func() { once.Do(func() { close(done) }) }
	go func() { // shell → client
		defer end()
		for {
			typ, data, err := shell.ReadMessage()
			if err != nil {
				code, why := websocket.CloseNormalClosure, "the shell exited"
				var ce *websocket.CloseError
				if !errors.As(err, &ce) {
					code, why = websocket.CloseGoingAway, "the session's terminal went away"
				}
				_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, why), time.Now().Add(time.Second))
				return
			}
			_ = ws.SetWriteDeadline(time.Now().Add(ptyWrite))
			if ws.WriteMessage(typ, data) != nil {
				return
			}
		}
	}()
	go func() { // client → shell
		defer end()
		for {
			typ, data, err := ws.ReadMessage()
			if err != nil {
				// The client left: the runner hangs up the shell when
				// its socket closes; a close frame says it was on purpose.
				_ = shell.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
				return
			}
			_ = ws.SetReadDeadline(time.Now().Add(ptyPongWait))
			_ = shell.SetWriteDeadline(time.Now().Add(ptyWrite))
			if shell.WriteMessage(typ, data) != nil {
				return
			}
		}
	}()
	tick := time.NewTicker(ptyPing)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return nil
		case <-h.closing:
			_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "the server is shutting down"), time.Now().Add(time.Second))
			return nil
		case <-tick.C:
			if ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(ptyWrite)) != nil {
				return nil
			}
		}
	}
}

// pipeConn lets gorilla's WebSocket client run over the app proxy's pipe,
// an io.ReadWriteCloser without deadlines. A deadline bounds each Read or
// Write that starts before it: the pipe cannot interrupt one otherwise, so
// when it passes mid-operation the pipe is closed, which is what gorilla
// makes of any timeout anyway (the WebSocket is unusable after one).
type pipeConn struct {
	rwc    io.ReadWriteCloser
	mu     sync.Mutex
	rd, wd time.Time
}

func (p *pipeConn) Read(b []byte) (int, error) {
	p.mu.Lock()
	d := p.rd
	p.mu.Unlock()
	return p.bounded(d, func() (int, error) { return p.rwc.Read(b) })
}

func (p *pipeConn) Write(b []byte) (int, error) {
	p.mu.Lock()
	d := p.wd
	p.mu.Unlock()
	return p.bounded(d, func() (int, error) { return p.rwc.Write(b) })
}

func (p *pipeConn) bounded(deadline time.Time, op func() (int, error)) (int, error) {
	if !deadline.IsZero() {
		left := time.Until(deadline)
		if left <= 0 {
			return 0, os.ErrDeadlineExceeded
		}
		t := time.AfterFunc(left, func() { _ = p.rwc.Close() })
		defer t.Stop()
	}
	return op()
}

func (p *pipeConn) Close() error { return p.rwc.Close() }

func (p *pipeConn) SetDeadline(t time.Time) error {
	p.mu.Lock()
	p.rd, p.wd = t, t
	p.mu.Unlock()
	return nil
}

func (p *pipeConn) SetReadDeadline(t time.Time) error {
	p.mu.Lock()
	p.rd = t
	p.mu.Unlock()
	return nil
}

func (p *pipeConn) SetWriteDeadline(t time.Time) error {
	p.mu.Lock()
	p.wd = t
	p.mu.Unlock()
	return nil
}

func (p *pipeConn) LocalAddr() net.Addr  { return pipeAddr{} }
func (p *pipeConn) RemoteAddr() net.Addr { return pipeAddr{} }

// pipeAddr names the app pipe's ends.
type pipeAddr struct{}

func (pipeAddr) Network() string { return "app-pipe" }
func (pipeAddr) String() string  { return "session-terminal" }
