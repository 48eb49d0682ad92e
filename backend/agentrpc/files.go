package agentrpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
)

// Stream is an agent's streamed answer. The caller closes Body.
type Stream struct {
	ContentType   string
	ContentLength int64 // -1 when unknown
	Body          io.ReadCloser
}

// stream sends body as is and returns the answer unread when it succeeded.
func (c *Client) stream(ctx context.Context, method, u, contentType string, length int64, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, fmt.Errorf("agent request: %w", err)
	}
	if body != nil {
		req.ContentLength = length
		if length == 0 {
			req.Body = http.NoBody
		}
	}
	req.Header.Set(aproto.HeaderClusterSecret, c.secret)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return nil, fmt.Errorf("the request body is larger than %d bytes: %w", mbe.Limit, errdefs.ErrTooLarge)
		case ctx.Err() != nil:
			return nil, fmt.Errorf("agent %s: %w", method+" "+u, ctx.Err())
		}
		return nil, fmt.Errorf("agent unreachable (%v): %w", err, errdefs.ErrUnavailable)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		return nil, problemErr(resp)
	}
	return resp, nil
}

func kernelURL(addr, kernelID, suffix string) string {
	return addr + "/v1/kernels/" + url.PathEscape(kernelID) + suffix
}

// Upload passes a multipart/form-data stream through to the kernel's work
// dir; the agent writes the parts as they arrive. length is the body's
// length or -1.
func (c *Client) Upload(ctx context.Context, addr, kernelID, contentType string, length int64, body io.Reader) (*aproto.UploadResult, error) {
	resp, err := c.stream(ctx, http.MethodPost, kernelURL(addr, kernelID, "/upload"), contentType, length, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out aproto.UploadResult
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("decode agent answer: %w", err)
	}
	return &out, nil
}

func asStream(resp *http.Response) *Stream {
	return &Stream{ContentType: resp.Header.Get("Content-Type"), ContentLength: resp.ContentLength, Body: resp.Body}
}

// Download streams a multipart/mixed answer holding one tar archive per
// path.
func (c *Client) Download(ctx context.Context, addr, kernelID string, files []string) (*Stream, error) {
	b, err := json.Marshal(aproto.Download{Files: files})
	if err != nil {
		return nil, fmt.Errorf("encode agent request: %w", err)
	}
	resp, err := c.stream(ctx, http.MethodPost, kernelURL(addr, kernelID, "/download"), "application/json", int64(len(b)), bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return asStream(resp), nil
}

// DownloadSingle streams one regular file's bytes.
func (c *Client) DownloadSingle(ctx context.Context, addr, kernelID, file string) (*Stream, error) {
	u := kernelURL(addr, kernelID, "/download_single") + "?" + url.Values{"file": {file}}.Encode()
	resp, err := c.stream(ctx, http.MethodGet, u, "", 0, nil)
	if err != nil {
		return nil, err
	}
	return asStream(resp), nil
}

// ListFiles lists a directory of the kernel's work dir.
func (c *Client) ListFiles(ctx context.Context, addr, kernelID, path string) (*aproto.FileList, error) {
	var out aproto.FileList
	u := kernelURL(addr, kernelID, "/files") + "?" + url.Values{"path": {path}}.Encode()
	return &out, c.do(ctx, http.MethodGet, u, nil, &out)
}
