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
	k, err := m.get(id)
	if err != nil {
		return aproto.ServiceResult{}, err
	}
	k.svcMu.Lock()
	defer k.svcMu.Unlock()
	c, err := k.liveConn()
	if err != nil {
		return aproto.ServiceResult{}, err
	}
	select { // drop a stale answer to a request that timed out
	case <-c.service:
	default:
	}
	b, _ := json.Marshal(kproto.StartService{App: req.App, Protocol: req.Protocol, Port: req.Port, Envs: req.Envs, Arguments: req.Arguments})
	if err := c.send(kproto.OpStartService, b); err != nil {
		return aproto.ServiceResult{}, err
	}
	t := time.NewTimer(startServiceTimeout)
	defer t.Stop()
	select {
	case msg := <-c.service:
		var res kproto.ServiceResult
		if err := json.Unmarshal(msg.Payload, &res); err != nil {
			return aproto.ServiceResult{}, fmt.Errorf("kernel %s: bad service-result from the runner: %v: %w", id, err, errdefs.ErrInternal)
		}
		if res.Status != "started" {
			return aproto.ServiceResult{}, fmt.Errorf("app %q did not start: %s: %w", req.App, res.Error, errdefs.ErrUnavailable)
		}
		return aproto.ServiceResult{App: req.App, Port: res.Port}, nil
	case <-t.C:
		return aproto.ServiceResult{}, fmt.Errorf("app %q: the runner did not answer within %s: %w", req.App, startServiceTimeout, errdefs.ErrTimeout)
	case <-ctx.Done():
		return aproto.ServiceResult{}, ctx.Err()
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
