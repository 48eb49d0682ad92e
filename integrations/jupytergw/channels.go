package jupytergw

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

const (
	// sendQueueLen is how many messages may wait for a slow socket before
	// it is dropped (a kernel must never block on one client).
	sendQueueLen = 4096
	// maxMessage bounds one client message; code cells are far smaller
	// and the manager takes at most 4 MiB anyway.
	maxMessage   = 16 << 20
	writeTimeout = 10 * time.Second
	pingInterval = 30 * time.Second
)

// upgrader accepts any Origin: the token, which a page from elsewhere
// does not have, already authorised the request. No subprotocol is
// chosen, so clients speak the JSON text protocol (what jupyter-server's
// gateway client and JupyterLab fall back to).
var upgrader = websocket.Upgrader{
	ReadBufferSize:  32 << 10,
	WriteBufferSize: 32 << 10,
	CheckOrigin:     func(*http.Request) bool { return true },
}

// conn is one channels WebSocket. Writes go through a queue drained by
// one writer goroutine, as gorilla/websocket allows one writer at a time.
type conn struct {
	ws       *websocket.Conn
	out      chan []byte
	closeReq chan string
	done     chan struct{} // closed when the socket is finished
	once     sync.Once
	log      *slog.Logger
}

func newConn(ws *websocket.Conn, log *slog.Logger) *conn {
	return &conn{ws: ws, out: make(chan []byte, sendQueueLen), closeReq: make(chan string, 1), done: make(chan struct{}), log: log}
}

// send queues a text frame. A socket whose queue is full is dropped.
func (c *conn) send(b []byte) {
	select {
	case <-c.done:
		return
	default:
	}
	select {
	case c.out <- b:
	default:
		c.log.Warn("dropping a websocket that does not keep up with the kernel's output")
		c.abort()
	}
}

// closeWith sends what is queued, then a close frame with the reason.
func (c *conn) closeWith(why string) {
	select {
	case c.closeReq <- why:
	default:
	}
}

// abort ends the socket at once.
func (c *conn) abort() {
	c.once.Do(func() {
		close(c.done)
		_ = c.ws.Close()
	})
}

func (c *conn) write(kind int, b []byte) error {
	_ = c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	return c.ws.WriteMessage(kind, b)
}

// drain writes every queued frame.
func (c *conn) drain() error {
	for {
		select {
		case b := <-c.out:
			if err := c.write(websocket.TextMessage, b); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

func (c *conn) writeLoop() {
	defer c.abort()
	ping := time.NewTicker(pingInterval)
	defer ping.Stop()
	for {
		select {
		case b := <-c.out:
			if err := c.write(websocket.TextMessage, b); err != nil {
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeTimeout)); err != nil {
				return
			}
		case why := <-c.closeReq:
			if err := c.drain(); err != nil {
				return
			}
			_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, why), time.Now().Add(writeTimeout))
			return
		case <-c.done:
			return
		}
	}
}

// channels serves GET /api/kernels/{id}/channels.
func (g *Gateway) channels(w http.ResponseWriter, r *http.Request) {
	k, err := g.lookup(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered the client
	}
	ws.SetReadLimit(maxMessage)
	c := newConn(ws, g.log.With("kernel_id", k.id))
	if !k.attach(c) {
		_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "kernel shut down"), time.Now().Add(writeTimeout))
		_ = ws.Close()
		return
	}
	go c.writeLoop()
	defer func() {
		k.detach(c)
		c.abort()
	}()
	for {
		kind, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		if kind != websocket.TextMessage {
			// Binary frames carry buffers (widgets) or the v1 subprotocol,
			// neither of which this gateway offers.
			c.log.Debug("ignoring a binary websocket frame")
			continue
		}
		m, err := decodeMsg(data)
		if err != nil {
			c.log.Debug("ignoring a malformed jupyter message", "err", err)
			continue
		}
		k.dispatch(c, m)
	}
}
