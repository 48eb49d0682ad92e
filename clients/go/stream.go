package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
)

// streamHandshakeTimeout bounds the WebSocket upgrade of StreamCode; the run
// itself is bounded only by ctx.
const streamHandshakeTimeout = 30 * time.Second

// streamFrame is one server → client frame of the execute stream.
type streamFrame struct {
	Status   string         `json:"status"`
	Console  [][2]any       `json:"console"`
	ExitCode *int           `json:"exitCode"`
	Options  map[string]any `json:"options"`
	Msg      string         `json:"msg"`
}

// StreamCode runs code in a session like RunCode, but over the execute
// WebSocket stream (GET /stream/session/{name}/execute): the server pushes
// output at most 200 ms after it is produced instead of once per 2-second
// long poll, which is what interactive front ends (the Jupyter kernel)
// want. Console items, input requests and batch steps reach h exactly as
// with RunCode, and the result is the same: the program's exit code once
// the run finished, *ExecTimeoutError after an exec-timeout. Cancelling ctx
// closes the stream; the run goes on in the session until it ends or is
// interrupted.
func (c *Client) StreamCode(ctx context.Context, session, mode, code string, opts map[string]any, h Handler) (exitCode int, err error) {
	if mode == "" {
		mode = ModeQuery
	}
	if h == nil {
		h = Handlers{}
	}
	first := apitypes.Execute{Mode: mode, Code: code}
	if opts != nil {
		raw, err := json.Marshal(opts)
		if err != nil {
			return -1, fmt.Errorf("encode run options: %w: %w", err, errdefs.ErrInvalidArgument)
		}
		first.Options = raw
	}
	ws, err := c.dialStream(ctx, "/stream"+sessionPath(session, "execute"))
	if err != nil {
		return -1, fmt.Errorf("execute stream in session %s: %w", session, err)
	}
	defer ws.Close()
	// gorilla's reads do not take a context: closing the socket is what
	// ends a read blocked on a run that prints nothing.
	stop := context.AfterFunc(ctx, func() { _ = ws.Close() })
	defer stop()
	b, _ := json.Marshal(first)
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return -1, c.streamErr(ctx, session, "send the code", err)
	}
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return -1, c.streamErr(ctx, session, "read", err)
		}
		var f streamFrame
		if err := json.Unmarshal(data, &f); err != nil {
			return -1, fmt.Errorf("execute stream in session %s: bad frame: %w: %w", session, err, errdefs.ErrInternal)
		}
		for _, raw := range f.Console {
			h.OnConsole(decodeConsole(raw))
		}
		code := 0
		if f.ExitCode != nil {
			code = *f.ExitCode
		}
		switch f.Status {
		case apitypes.RunFinished:
			return code, nil
		case apitypes.RunExecTimeout:
			return code, &ExecTimeoutError{}
		case apitypes.RunCleanFinished, apitypes.RunBuildFinished:
			if sh, ok := h.(StepHandler); ok {
				sh.OnStep(f.Status, code)
			}
		case apitypes.RunWaitingInput:
			ir := InputRequest{Options: f.Options}
			if v, ok := f.Options["is_password"].(bool); ok {
				ir.IsPassword = v
			}
			answer, err := h.OnInput(ctx, ir)
			if err != nil {
				return -1, fmt.Errorf("read input for the run in session %s: %w", session, err)
			}
			if err := ws.WriteMessage(websocket.TextMessage, []byte(answer)); err != nil {
				return -1, c.streamErr(ctx, session, "send input", err)
			}
		case apitypes.RunContinued:
		case "error":
			// The server could not run the step (the session ended, the
			// agent is gone); it says why in msg.
			return -1, fmt.Errorf("execute in session %s: %s: %w", session, f.Msg, errdefs.ErrUnavailable)
		default:
			return -1, fmt.Errorf("execute stream in session %s: unknown status %q: %w", session, f.Status, errdefs.ErrInternal)
		}
	}
}

// streamErr words a failed read or write on the execute stream.
func (c *Client) streamErr(ctx context.Context, session, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("execute stream in session %s: %w", session, ctx.Err())
	}
	if websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		return fmt.Errorf("execute stream in session %s: closed by the server before the run finished: %w", session, errdefs.ErrUnavailable)
	}
	return fmt.Errorf("execute stream in session %s: %s: %w: %w", session, what, err, errdefs.ErrUnavailable)
}

// dialStream opens a signed WebSocket to path. A refused handshake becomes
// *APIError (the manager answers problem+json before upgrading).
func (c *Client) dialStream(ctx context.Context, path string) (*websocket.Conn, error) {
	pathQuery := c.base.EscapedPath() + path
	scheme := "ws"
	if c.base.Scheme == "https" {
		scheme = "wss"
	}
	// Sign a plain request and copy its headers: the handshake is a GET
	// like any other, with a text/plain content type as do() sends.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base.Scheme+"://"+c.base.Host+pathQuery, http.NoBody)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	const contentType = "text/plain"
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	c.sign(req, pathQuery, contentType, nil)
	d := websocket.Dialer{HandshakeTimeout: streamHandshakeTimeout, Proxy: http.ProxyFromEnvironment}
	if tr, ok := c.http.Transport.(*http.Transport); ok {
		d.TLSClientConfig = tr.TLSClientConfig
		d.Proxy = tr.Proxy
		d.NetDialContext = tr.DialContext
	}
	ws, resp, err := d.DialContext(ctx, scheme+"://"+c.base.Host+pathQuery, req.Header)
	if err != nil {
		if resp != nil && resp.StatusCode >= 400 {
			data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			_ = resp.Body.Close()
			return nil, decodeProblem(resp.StatusCode, data)
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("GET %s: %w", path, ctx.Err())
		}
		if isUnreachable(err) {
			return nil, &UnreachableError{Endpoint: c.base.String(), Err: err}
		}
		if errors.Is(err, websocket.ErrBadHandshake) {
			return nil, fmt.Errorf("GET %s: the manager did not upgrade to a WebSocket (a proxy in between?): %w", path, errdefs.ErrUnavailable)
		}
		return nil, fmt.Errorf("GET %s: %w: %w", path, err, errdefs.ErrUnavailable)
	}
	return ws, nil
}
