package agentrpc

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
)

// StartService asks the kernel's runner to start an app; it returns once the
// app's port accepts connections.
func (c *Client) StartService(ctx context.Context, addr, kernelID string, req aproto.StartService) (*aproto.ServiceResult, error) {
	var out aproto.ServiceResult
	return &out, c.do(ctx, http.MethodPost, kernelURL(addr, kernelID, "/start-service"), req, &out)
}

// ShutdownService asks the kernel's runner to stop an app.
func (c *Client) ShutdownService(ctx context.Context, addr, kernelID, app string) error {
	return c.do(ctx, http.MethodPost, kernelURL(addr, kernelID, "/shutdown-service"), aproto.ShutdownService{App: app}, nil)
}

// DialService opens a byte pipe to 127.0.0.1:port inside the kernel (the
// agent's relay upgrade, see aproto). The caller closes it. ctx bounds only
// the set-up.
func (c *Client) DialService(ctx context.Context, addr, kernelID string, port int) (io.ReadWriteCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, kernelURL(addr, kernelID, "/proxy?port="+strconv.Itoa(port)), nil)
	if err != nil {
		return nil, fmt.Errorf("agent request: %w", err)
	}
	req.Header.Set(aproto.HeaderClusterSecret, c.secret)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", aproto.RelayProtocol)
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("agent proxy: %w", ctx.Err())
		}
		return nil, fmt.Errorf("agent unreachable (%v): %w", err, errdefs.ErrUnavailable)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer resp.Body.Close()
		if resp.StatusCode < 300 {
			return nil, fmt.Errorf("agent answered the relay upgrade with %s: %w", resp.Status, errdefs.ErrInternal)
		}
		return nil, problemErr(resp)
	}
	// net/http hands over the upgraded connection as the body.
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		resp.Body.Close()
		return nil, fmt.Errorf("agent relay: the upgraded body is not writable: %w", errdefs.ErrInternal)
	}
	return rwc, nil
}
