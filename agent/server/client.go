package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
)

// Client talks to the manager on the agent's behalf. With several manager
// replicas it sticks to one and moves to the next when that one cannot be
// reached, so an agent keeps heartbeating through a manager's death.
type Client struct {
	bases  []string
	cur    atomic.Int64
	secret string
	http   *http.Client

	wsMu     sync.Mutex // guards what follows: one heartbeat at a time
	st       *hbStream  // open heartbeat stream, if any
	seq      uint64
	sinceAck int
	lastAck  time.Time
	pending  aproto.HeartbeatReply // unasked replies not yet returned
	noStream map[string]bool       // replicas that do not offer the stream
}

// NewClient makes a client for the manager at base (e.g.
// http://127.0.0.1:8081), or for several replicas given as a comma-separated
// list. httpc may be nil.
func NewClient(base, secret string, httpc *http.Client) *Client {
	if httpc == nil {
		httpc = &http.Client{Timeout: 10 * time.Second}
	}
	c := &Client{secret: secret, http: httpc, noStream: map[string]bool{}}
	for _, b := range strings.Split(base, ",") {
		if b = strings.TrimRight(strings.TrimSpace(b), "/"); b != "" {
			c.bases = append(c.bases, b)
		}
	}
	if len(c.bases) == 0 {
		c.bases = []string{""}
	}
	return c
}

// post sends to the current manager, trying each other replica once when
// it cannot be reached.
func (c *Client) post(ctx context.Context, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	start := c.cur.Load()
	for i := int64(0); ; i++ {
		idx := (start + i) % int64(len(c.bases))
		err = c.postTo(ctx, c.bases[idx], path, b, out)
		if !errors.Is(err, errUnreachable) || i+1 >= int64(len(c.bases)) || ctx.Err() != nil {
			if err == nil && idx != start {
				c.cur.Store(idx)
			}
			return err
		}
	}
}

// errUnreachable marks transport failures (as opposed to answers).
var errUnreachable = errors.New("manager unreachable")

func (c *Client) postTo(ctx context.Context, base, path string, b []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("post %s: %v: %w", path, err, errdefs.ErrInvalidArgument)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(aproto.HeaderClusterSecret, c.secret)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("post %s%s: %v: %w", base, path, err, errors.Join(errUnreachable, errdefs.ErrUnavailable))
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode/100 != 2 {
		sentinel := errdefs.ErrUnavailable
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			sentinel = errdefs.ErrUnauthenticated
		case http.StatusBadRequest:
			sentinel = errdefs.ErrInvalidArgument
		case http.StatusNotFound:
			sentinel = errdefs.ErrNotFound
		}
		return fmt.Errorf("post %s: manager answered %d: %s: %w", path, resp.StatusCode, bytes.TrimSpace(data), sentinel)
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode answer to %s: %w", path, err)
		}
	}
	return nil
}

// Heartbeat sends one heartbeat: over the heartbeat stream (one WebSocket
// to the current manager, kept open) when the manager offers it, else as a
// POST. Any stream failure closes the stream and retries this heartbeat as
// a POST, which also moves on to the next replica when this one is gone;
// the next heartbeat opens a stream to wherever the POST succeeded.
//
// On the stream most heartbeats are not answered: the manager writes a
// reply only when it carries something (orphans, a request for the image
// list, a refusal) or when the heartbeat asks for one (Ack). The client asks
// on the first heartbeat, when it sends its image list, and at least every
// ackEvery heartbeats or ackWithin, so a manager that hangs without closing
// the connection is noticed. Replies that arrive unasked are merged into
// the answer of the next call.
func (c *Client) Heartbeat(ctx context.Context, hb aproto.Heartbeat) (aproto.HeartbeatReply, error) {
	c.wsMu.Lock()
	defer c.wsMu.Unlock()
	if reply, err := c.streamBeat(ctx, hb); !errors.Is(err, errNoStream) {
		return reply, err
	}
	var reply aproto.HeartbeatReply
	err := c.post(ctx, "/agent/heartbeat", hb, &reply)
	return reply, err
}

// Stream acknowledgement cadence (see Heartbeat).
const (
	ackEvery  = 5
	ackWithin = 15 * time.Second
)

// errNoStream means this heartbeat must go as a POST.
var errNoStream = errors.New("no heartbeat stream")

// hbStream is an open heartbeat stream and its reader.
type hbStream struct {
	ws      *websocket.Conn
	base    string
	replies chan aproto.HeartbeatReply
	dead    chan struct{} // closed when the reader stops
}

func (c *Client) openStream(ctx context.Context, base string) (*hbStream, error) {
	if c.noStream[base] || !strings.HasPrefix(base, "http") {
		return nil, errNoStream
	}
	u := "ws" + strings.TrimPrefix(base, "http") + "/agent/stream"
	hdr := http.Header{}
	hdr.Set(aproto.HeaderClusterSecret, c.secret)
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.DialContext(ctx, u, hdr)
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusNotFound {
			c.noStream[base] = true // an older manager: POST it is
		}
		return nil, errNoStream
	}
	st := &hbStream{ws: ws, base: base, replies: make(chan aproto.HeartbeatReply, 64), dead: make(chan struct{})}
	go func() {
		defer close(st.dead)
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			var r aproto.HeartbeatReply
			if json.Unmarshal(data, &r) != nil {
				return
			}
			select {
			case st.replies <- r:
			default: // nobody reads that many: the stream is broken
				return
			}
		}
	}()
	// The first heartbeat on a new stream asks for an answer, which shows
	// the stream works (and brings any request for the image list at once).
	c.sinceAck, c.lastAck = 0, time.Time{}
	return st, nil
}

// merge folds an unasked reply into the pending answer.
func (c *Client) merge(r aproto.HeartbeatReply) {
	c.pending.Orphans = append(c.pending.Orphans, r.Orphans...)
	c.pending.NeedImages = c.pending.NeedImages || r.NeedImages
	if r.Error != "" {
		c.pending.Error = r.Error
	}
}

// takePending returns and clears the merged answer.
func (c *Client) takePending() (aproto.HeartbeatReply, error) {
	r := c.pending
	c.pending = aproto.HeartbeatReply{}
	if r.Error != "" {
		// Refused, not failed: a POST would be refused the same way.
		return r, fmt.Errorf("heartbeat: manager refused it: %s: %w", r.Error, errdefs.ErrInvalidArgument)
	}
	return r, nil
}

func (c *Client) streamBeat(ctx context.Context, hb aproto.Heartbeat) (aproto.HeartbeatReply, error) {
	base := c.bases[c.cur.Load()]
	if c.st != nil && c.st.base != base {
		c.closeStream()
	}
	if c.st == nil {
		st, err := c.openStream(ctx, base)
		if err != nil {
			return aproto.HeartbeatReply{}, err
		}
		c.st = st
	}
	st := c.st
	broken := func() (aproto.HeartbeatReply, error) {
		c.closeStream()
		return aproto.HeartbeatReply{}, errNoStream // retried as a POST
	}
	c.seq++
	hb.Seq = c.seq
	hb.Ack = hb.Ack || hb.First || hb.Images != nil || c.sinceAck+1 >= ackEvery || time.Since(c.lastAck) > ackWithin
	b, err := json.Marshal(hb)
	if err != nil {
		return aproto.HeartbeatReply{}, err
	}
	deadline := time.Now().Add(10 * time.Second)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = st.ws.SetWriteDeadline(deadline)
	if err := st.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		return broken()
	}
	if !hb.Ack {
		c.sinceAck++
		for { // collect what arrived meanwhile, without waiting
			select {
			case r := <-st.replies:
				c.merge(r)
				continue
			case <-st.dead:
				return broken()
			default:
			}
			return c.takePending()
		}
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		select {
		case r := <-st.replies:
			c.merge(r)
			if r.Seq != hb.Seq {
				continue
			}
			c.sinceAck, c.lastAck = 0, time.Now()
			return c.takePending()
		case <-st.dead:
			return broken()
		case <-timer.C:
			return broken()
		case <-ctx.Done():
			return aproto.HeartbeatReply{}, ctx.Err()
		}
	}
}

func (c *Client) closeStream() {
	if c.st != nil {
		c.st.ws.Close()
		c.st = nil
	}
}

// Close closes the heartbeat stream.
func (c *Client) Close() {
	c.wsMu.Lock()
	c.closeStream()
	c.wsMu.Unlock()
}

// PushEvent reports a kernel event.
func (c *Client) PushEvent(ctx context.Context, ev aproto.KernelEvent) error {
	return c.post(ctx, "/agent/events", ev, nil)
}

// PushEventRetry reports a kernel event, retrying a few times with backoff
// while the manager is unreachable.
func (c *Client) PushEventRetry(ctx context.Context, ev aproto.KernelEvent, log *slog.Logger) {
	delay := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := c.PushEvent(ctx, ev)
		if err == nil {
			return
		}
		if attempt == 6 || ctx.Err() != nil {
			log.Error("kernel event lost", "kernel_id", ev.KernelID, "kind", ev.Kind, "err", err)
			return
		}
		log.Warn("push kernel event, will retry", "kernel_id", ev.KernelID, "attempt", attempt, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		delay *= 2
	}
}

// HeartbeatLoop sends a heartbeat at once and then every interval until ctx
// is done. build makes each heartbeat; first stays true until the manager
// has accepted one. onReply gets every reply. Failures are logged, never
// fatal.
func HeartbeatLoop(ctx context.Context, c *Client, interval time.Duration, log *slog.Logger,
	build func(ctx context.Context, first bool) aproto.Heartbeat, onReply func(aproto.HeartbeatReply)) {
	first := true
	failing := false
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		hb := build(ctx, first)
		reply, err := c.Heartbeat(ctx, hb)
		switch {
		case err != nil && ctx.Err() == nil:
			if !failing {
				log.Warn("heartbeat failed, manager unreachable?", "err", err)
			} else {
				log.Debug("heartbeat failed", "err", err)
			}
			failing = true
		case err == nil:
			if failing || first {
				log.Info("heartbeat accepted", "first", first)
			}
			failing, first = false, false
			onReply(reply)
		}
		t.Reset(interval)
	}
}
