package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"

	"github.com/gorilla/websocket"

	"baigo.dev/bai/common/apitypes"
)

// StartService starts an app the session's image declares (its
// ai.backend.service-ports label) and returns once the app accepts
// connections. Starting an app that already runs is not an error.
func (c *Client) StartService(ctx context.Context, nameOrID string, req apitypes.StartService) (*apitypes.StartServiceResult, error) {
	var out apitypes.StartServiceResult
	if err := c.do(ctx, http.MethodPost, sessionPath(nameOrID, "start-service"), nil, req, &out, true); err != nil {
		return nil, fmt.Errorf("start app %s in session %s: %w", req.App, nameOrID, err)
	}
	return &out, nil
}

// ShutdownService stops an app in the session; its open connections end.
// Stopping an app that is not running is not an error.
func (c *Client) ShutdownService(ctx context.Context, nameOrID, app string) error {
	if err := c.do(ctx, http.MethodPost, sessionPath(nameOrID, "shutdown-service"), nil, apitypes.ShutdownService{ServiceName: app}, nil, true); err != nil {
		return fmt.Errorf("stop app %s in session %s: %w", app, nameOrID, err)
	}
	return nil
}

// DialApp opens one connection to a running app through the manager's
// tcpproxy stream. The returned io.ReadWriteCloser carries the connection's
// raw bytes (binary WebSocket frames underneath); the app closing its side
// reads as io.EOF.
func (c *Client) DialApp(ctx context.Context, nameOrID, app string) (io.ReadWriteCloser, error) {
	ws, err := c.dialStream(ctx, "/stream/session/"+url.PathEscape(nameOrID)+"/tcpproxy?app="+url.QueryEscape(app))
	if err != nil {
		return nil, fmt.Errorf("connect to app %s in session %s: %w", app, nameOrID, err)
	}
	return &wsPipe{ws: ws}, nil
}

// wsPipe reads and writes a WebSocket's binary frames as a byte stream.
type wsPipe struct {
	ws  *websocket.Conn
	rmu sync.Mutex
	cur io.Reader
	wmu sync.Mutex
}

func (p *wsPipe) Read(b []byte) (int, error) {
	p.rmu.Lock()
	defer p.rmu.Unlock()
	for {
		if p.cur != nil {
			n, err := p.cur.Read(b)
			if err == io.EOF {
				p.cur = nil
				if n == 0 {
					continue
				}
				err = nil
			}
			return n, err
		}
		_, r, err := p.ws.NextReader()
		if err != nil {
			if websocket.IsCloseError(err, websocket.CloseNormalClosure) {
				return 0, io.EOF
			}
			return 0, err
		}
		p.cur = r
	}
}

func (p *wsPipe) Write(b []byte) (int, error) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if err := p.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Close ends the stream (and so the app's connection).
func (p *wsPipe) Close() error { return p.ws.Close() }
