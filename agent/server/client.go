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
	"sync/atomic"
	"time"

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
}

// NewClient makes a client for the manager at base (e.g.
// http://127.0.0.1:8081), or for several replicas given as a comma-separated
// list. httpc may be nil.
func NewClient(base, secret string, httpc *http.Client) *Client {
	if httpc == nil {
		httpc = &http.Client{Timeout: 10 * time.Second}
	}
	c := &Client{secret: secret, http: httpc}
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

// Heartbeat sends one heartbeat.
func (c *Client) Heartbeat(ctx context.Context, hb aproto.Heartbeat) (aproto.HeartbeatReply, error) {
	var reply aproto.HeartbeatReply
	err := c.post(ctx, "/agent/heartbeat", hb, &reply)
	return reply, err
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
