// Package agentrpc is the manager's client of the agents' control API
// (common/aproto). It maps HTTP statuses back to errdefs sentinels so the
// session service can tell a vanished kernel from an unreachable agent.
package agentrpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
)

// Client calls agents. It is safe for concurrent use.
type Client struct {
	secret string
	hc     *http.Client
}

// New returns a client that authenticates with the cluster secret.
func New(secret string) *Client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
	}
	return &Client{secret: secret, hc: &http.Client{Transport: tr}}
}

func (c *Client) do(ctx context.Context, method, url string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode agent request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return fmt.Errorf("agent request: %w", err)
	}
	req.Header.Set(aproto.HeaderClusterSecret, c.secret)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("agent %s: %w", method+" "+url, ctx.Err())
		}
		return fmt.Errorf("agent unreachable (%v): %w", err, errdefs.ErrUnavailable)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return problemErr(resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode agent answer: %w", err)
	}
	return nil
}

// problemErr turns an agent's error answer (problem+json) into an error
// wrapping the sentinel of its status.
func problemErr(resp *http.Response) error {
	var p apitypes.Problem
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = json.Unmarshal(b, &p)
	msg := p.Msg
	if msg == "" {
		msg = p.Title
	}
	if msg == "" {
		msg = string(bytes.TrimSpace(b))
	}
	sentinel := statusErr(resp.StatusCode)
	// The agent words its messages for the user (a path outside the work
	// directory, a run already in progress): pass them on as they are.
	return fmt.Errorf("%s: %w", strings.TrimSuffix(msg, ": "+sentinel.Error()), sentinel)
}

func statusErr(code int) error {
	switch code {
	case http.StatusNotFound:
		return errdefs.ErrNotFound
	case http.StatusBadRequest:
		return errdefs.ErrInvalidArgument
	case http.StatusConflict:
		return errdefs.ErrConflict
	case http.StatusUnauthorized, http.StatusForbidden:
		return errdefs.ErrPermissionDenied
	case http.StatusRequestEntityTooLarge:
		return errdefs.ErrTooLarge
	case http.StatusPreconditionFailed:
		return errdefs.ErrQuotaExceeded
	case http.StatusGatewayTimeout:
		return errdefs.ErrTimeout
	case http.StatusServiceUnavailable:
		return errdefs.ErrUnavailable
	}
	return errdefs.ErrInternal
}

// IsGone reports whether err says the kernel no longer exists on the agent.
func IsGone(err error) bool { return errors.Is(err, errdefs.ErrNotFound) }

// CreateKernel starts a kernel and returns once its runner is ready.
func (c *Client) CreateKernel(ctx context.Context, addr string, req aproto.CreateKernel) (*aproto.KernelInfo, error) {
	var out aproto.KernelInfo
	return &out, c.do(ctx, http.MethodPost, addr+"/v1/kernels", req, &out)
}

// DestroyKernel removes a kernel's container and scratch directory.
func (c *Client) DestroyKernel(ctx context.Context, addr, kernelID string) (*aproto.DestroyResult, error) {
	var out aproto.DestroyResult
	return &out, c.do(ctx, http.MethodDelete, addr+"/v1/kernels/"+kernelID, nil, &out)
}

// RestartKernel restarts a kernel (state lost, files kept).
func (c *Client) RestartKernel(ctx context.Context, addr, kernelID string) error {
	return c.do(ctx, http.MethodPost, addr+"/v1/kernels/"+kernelID+"/restart", struct{}{}, nil)
}

// Execute runs or continues a run and returns the output collected so far.
func (c *Client) Execute(ctx context.Context, addr, kernelID string, req aproto.Execute) (*aproto.ExecuteResult, error) {
	var out aproto.ExecuteResult
	return &out, c.do(ctx, http.MethodPost, addr+"/v1/kernels/"+kernelID+"/execute", req, &out)
}

// Interrupt interrupts the running code.
func (c *Client) Interrupt(ctx context.Context, addr, kernelID string) error {
	return c.do(ctx, http.MethodPost, addr+"/v1/kernels/"+kernelID+"/interrupt", struct{}{}, nil)
}

// Complete asks for code completion.
func (c *Client) Complete(ctx context.Context, addr, kernelID string, req aproto.Complete) (*aproto.CompleteResult, error) {
	var out aproto.CompleteResult
	return &out, c.do(ctx, http.MethodPost, addr+"/v1/kernels/"+kernelID+"/complete", req, &out)
}

// Logs returns the kernel container's logs.
func (c *Client) Logs(ctx context.Context, addr, kernelID string) (string, error) {
	var out aproto.Logs
	err := c.do(ctx, http.MethodGet, addr+"/v1/kernels/"+kernelID+"/logs", nil, &out)
	return out.Logs, err
}
