package kernel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"

	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/kproto"
)

// maxSockPath is the longest Unix socket path we dial directly; longer ones
// go through a short symlink (the kernel limit is 107 bytes).
const maxSockPath = 100

// conn is the agent's end of one runner's two sockets.
type conn struct {
	push zmq4.Socket
	pull zmq4.Socket

	sendMu sync.Mutex

	// Replies that are not part of a run, handed over by the reader.
	ready      chan kproto.Msg
	status     chan kproto.Msg
	completion chan kproto.Msg
	service    chan kproto.Msg // service-result

	closeOnce sync.Once
	cancel    context.CancelFunc
}

// dialIPCDir returns a directory path for dir short enough for socket paths,
// making a symlink in the temp dir when dir is too long. The second result
// is the symlink to remove later, if any.
func dialIPCDir(dir string) (string, string, error) {
	if len(filepath.Join(dir, kproto.OutSocket)) <= maxSockPath {
		return dir, "", nil
	}
	sum := sha256.Sum256([]byte(dir))
	link := filepath.Join(os.TempDir(), "bai-ipc-"+hex.EncodeToString(sum[:6]))
	if len(filepath.Join(link, kproto.OutSocket)) > maxSockPath {
		link = filepath.Join("/tmp", "bai-ipc-"+hex.EncodeToString(sum[:6]))
	}
	if cur, err := os.Readlink(link); err == nil && cur == dir {
		return link, link, nil
	}
	_ = os.Remove(link)
	if err := os.Symlink(dir, link); err != nil {
		return "", "", fmt.Errorf("shorten ipc path %s: %w", dir, err)
	}
	return link, link, nil
}

// removeSockets deletes stale socket files so that waiting for them means
// waiting for a fresh runner.
func removeSockets(dir string) {
	_ = os.Remove(filepath.Join(dir, kproto.InSocket))
	_ = os.Remove(filepath.Join(dir, kproto.OutSocket))
}

// waitSockets waits until the runner has bound both sockets. abort ends the
// wait early (the container died).
func waitSockets(ctx context.Context, dir string, abort <-chan struct{}, exited func(context.Context) bool) error {
	in, out := filepath.Join(dir, kproto.InSocket), filepath.Join(dir, kproto.OutSocket)
	delay := time.Millisecond
	for i := 0; ; i++ {
		if i > 0 && i%10 == 0 && exited != nil && exited(ctx) {
			return fmt.Errorf("container exited before the runner bound its sockets: %w", errdefs.ErrUnavailable)
		}
		_, e1 := os.Stat(in)
		_, e2 := os.Stat(out)
		if e1 == nil && e2 == nil {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("runner sockets in %s did not appear: %w", dir, errdefs.ErrTimeout)
		case <-abort:
			t.Stop()
			return fmt.Errorf("container exited before the runner bound its sockets: %w", errdefs.ErrUnavailable)
		case <-t.C:
		}
		delay = min(delay*2, 50*time.Millisecond)
	}
}

// dial connects to a runner whose sockets exist in dir.
func dial(dir string) (*conn, error) {
	ctx, cancel := context.WithCancel(context.Background())
	opts := []zmq4.Option{zmq4.WithDialerRetry(20 * time.Millisecond), zmq4.WithDialerMaxRetries(50)}
	c := &conn{
		push:       zmq4.NewPush(ctx, opts...),
		pull:       zmq4.NewPull(ctx, opts...),
		ready:      make(chan kproto.Msg, 1),
		status:     make(chan kproto.Msg, 1),
		completion: make(chan kproto.Msg, 1),
		service:    make(chan kproto.Msg, 1),
		cancel:     cancel,
	}
	if err := c.pull.Dial("ipc://" + filepath.Join(dir, kproto.OutSocket)); err != nil {
		c.close()
		return nil, fmt.Errorf("dial runner output: %v: %w", err, errdefs.ErrUnavailable)
	}
	if err := c.push.Dial("ipc://" + filepath.Join(dir, kproto.InSocket)); err != nil {
		c.close()
		return nil, fmt.Errorf("dial runner input: %v: %w", err, errdefs.ErrUnavailable)
	}
	return c, nil
}

// send writes one request to the runner.
func (c *conn) send(op string, payload []byte) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if err := c.push.SendMulti(zmq4.NewMsgFrom(kproto.Encode(op, payload)...)); err != nil {
		return fmt.Errorf("send %s to runner: %v: %w", op, err, errdefs.ErrUnavailable)
	}
	return nil
}

// recv reads the next message's frames from the runner; an error means the
// connection is gone.
func (c *conn) recv() ([][]byte, error) {
	m, err := c.pull.Recv()
	if err != nil {
		return nil, err
	}
	return m.Frames, nil
}

// offer hands a reply to a waiter, replacing an unclaimed older one.
func offer(ch chan kproto.Msg, m kproto.Msg) {
	for {
		select {
		case ch <- m:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

func (c *conn) close() {
	c.closeOnce.Do(func() {
		_ = c.push.Close()
		_ = c.pull.Close()
		c.cancel()
	})
}
