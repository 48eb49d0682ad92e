package kernel

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/kproto"
)

// startServiceTimeout is a little over the runner's own wait for the port.
const startServiceTimeout = 30 * time.Second

// StartService asks the kernel's runner to start an app and waits for its
// answer (the runner answers once the app's port accepts connections).
func (m *Manager) StartService(ctx context.Context, id string, req aproto.StartService) (aproto.ServiceResult, error) {
	b, _ := json.Marshal(kproto.StartService{App: req.App, Protocol: req.Protocol, Port: req.Port, Envs: req.Envs, Arguments: req.Arguments})
	res, err := m.serviceCall(ctx, id, kproto.OpStartService, b)
	if err != nil {
		return aproto.ServiceResult{}, err
	}
	if res.Status != "started" {
		return aproto.ServiceResult{}, fmt.Errorf("app %q did not start: %s: %w", req.App, res.Error, errdefs.ErrUnavailable)
	}
	return aproto.ServiceResult{App: req.App, Port: res.Port}, nil
}

// ShutdownService asks the kernel's runner to stop an app; stopping one
// that is not running succeeds.
func (m *Manager) ShutdownService(ctx context.Context, id, app string) error {
	b, _ := json.Marshal(kproto.StartService{App: app})
	res, err := m.serviceCall(ctx, id, kproto.OpShutdownService, b)
	if err != nil {
		return err
	}
	if res.Status != "stopped" {
		return fmt.Errorf("app %q did not stop: %s: %w", app, res.Error, errdefs.ErrUnavailable)
	}
	return nil
}

// serviceCall sends one service op to the runner and waits for its
// service-result. One call at a time per kernel: the runner answers in
// order, and a stale answer to a call that timed out is dropped first.
func (m *Manager) serviceCall(ctx context.Context, id, op string, payload []byte) (kproto.ServiceResult, error) {
	k, err := m.get(id)
	if err != nil {
		return kproto.ServiceResult{}, err
	}
	k.svcMu.Lock()
	defer k.svcMu.Unlock()
	c, err := k.liveConn()
	if err != nil {
		return kproto.ServiceResult{}, err
	}
	select {
	case <-c.service:
	default:
	}
	if err := c.send(op, payload); err != nil {
		return kproto.ServiceResult{}, err
	}
	t := time.NewTimer(startServiceTimeout)
	defer t.Stop()
	select {
	case msg := <-c.service:
		var res kproto.ServiceResult
		if err := json.Unmarshal(msg.Payload, &res); err != nil {
			return res, fmt.Errorf("kernel %s: bad service-result from the runner: %v: %w", id, err, errdefs.ErrInternal)
		}
		return res, nil
	case <-t.C:
		return kproto.ServiceResult{}, fmt.Errorf("kernel %s: the runner did not answer %s within %s: %w", id, op, startServiceTimeout, errdefs.ErrTimeout)
	case <-ctx.Done():
		return kproto.ServiceResult{}, ctx.Err()
	}
}

// DialService opens a relay to 127.0.0.1:port inside the kernel through the
// runner's proxy socket (kproto.ProxySocket). The returned connection
// carries the service's bytes.
func (m *Manager) DialService(ctx context.Context, id string, port int) (net.Conn, error) {
	k, err := m.get(id)
	if err != nil {
		return nil, err
	}
	if _, err := k.liveConn(); err != nil {
		return nil, err
	}
	if port < 1 || port > 65535 {
		return nil, fmt.Errorf("port %d: %w", port, errdefs.ErrInvalidArgument)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", filepath.Join(k.dialDir, kproto.ProxySocket))
	if err != nil {
		return nil, fmt.Errorf("kernel %s: relay socket: %v: %w", id, err, errdefs.ErrUnavailable)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, strconv.Itoa(port)+"\n"); err != nil {
		c.Close()
		return nil, fmt.Errorf("kernel %s: relay: %v: %w", id, err, errdefs.ErrUnavailable)
	}
	// Read the answer a byte at a time: what follows it belongs to the
	// service and must stay in the connection.
	line, err := readLine(c, 256)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("kernel %s: relay: %v: %w", id, err, errdefs.ErrUnavailable)
	}
	if line != "ok" {
		c.Close()
		return nil, fmt.Errorf("%s: %w", strings.TrimPrefix(line, "error "), errdefs.ErrConflict)
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

func readLine(r io.Reader, max int) (string, error) {
	var sb strings.Builder
	b := make([]byte, 1)
	for sb.Len() < max {
		if _, err := io.ReadFull(r, b); err != nil {
			return "", err
		}
		if b[0] == '\n' {
			return sb.String(), nil
		}
		sb.WriteByte(b[0])
	}
	return "", fmt.Errorf("answer longer than %d bytes", max)
}
