package compat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strings"
)

// File is one file to upload: Name is the path relative to /home/work.
type File struct {
	Name string
	Data []byte
}

// Upload sends files as the SDK's upload does: one multipart body with a
// "src" part per file whose filename is the relative path. The signature
// covers "multipart/form-data" without the boundary, as the SDK signs it.
func (c *Client) Upload(ctx context.Context, name string, files []File) (*Response, error) {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="src"; filename="%s"`, strings.ReplaceAll(f.Name, `"`, `\"`)))
		h.Set("Content-Type", "application/octet-stream")
		w, err := mw.CreatePart(h)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(f.Data); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	resp, err := c.Do(ctx, Request{
		Method:      http.MethodPost,
		Path:        c.SessionPath(name, "/upload"),
		Body:        body.Bytes(),
		ContentType: "multipart/form-data",
		Header:      http.Header{"Content-Type": {mw.FormDataContentType()}},
	})
	if err != nil {
		return nil, err
	}
	if resp.Status/100 != 2 {
		return resp, &StatusError{Op: "upload to " + name, Resp: resp}
	}
	return resp, nil
}

// UploadMap is Upload with a name → content map (sent in name order).
func (c *Client) UploadMap(ctx context.Context, name string, files map[string]string) (*Response, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	list := make([]File, 0, len(names))
	for _, n := range names {
		list = append(list, File{Name: n, Data: []byte(files[n])})
	}
	return c.Upload(ctx, name, list)
}

// DownloadSingle reads one file's bytes (path relative to /home/work).
func (c *Client) DownloadSingle(ctx context.Context, name, file string) ([]byte, error) {
	resp, err := c.Do(ctx, Request{Method: http.MethodGet, Path: c.SessionPath(name, "/download_single?file="+url.QueryEscape(file))})
	if err != nil {
		return nil, err
	}
	if resp.Status != http.StatusOK {
		return nil, &StatusError{Op: "download_single " + file, Resp: resp}
	}
	return resp.Body, nil
}

// Download asks for tar archives of paths relative to /home/work with
// POST /session/{name}/download and a JSON {"files": [...]} body, and
// returns the raw multipart/mixed answer (one tar archive per path).
func (c *Client) Download(ctx context.Context, name string, files []string) (*Response, error) {
	b, err := json.Marshal(map[string]any{"files": files})
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(ctx, Request{Method: http.MethodPost, Path: c.SessionPath(name, "/download"), Body: b})
	if err != nil {
		return nil, err
	}
	if resp.Status != http.StatusOK {
		return resp, &StatusError{Op: "download " + strings.Join(files, ", "), Resp: resp}
	}
	return resp, nil
}

// ListFiles reads GET /session/{name}/files?path= and returns the raw
// answer decoded as JSON.
func (c *Client) ListFiles(ctx context.Context, name, path string) (map[string]any, error) {
	resp, err := c.Do(ctx, Request{Method: http.MethodGet, Path: c.SessionPath(name, "/files?path="+url.QueryEscape(path))})
	if err != nil {
		return nil, err
	}
	if resp.Status != http.StatusOK {
		return nil, &StatusError{Op: "list files " + path, Resp: resp}
	}
	var v map[string]any
	if err := json.Unmarshal(resp.Body, &v); err != nil {
		return nil, fmt.Errorf("list files %s: %w: %s", path, err, resp)
	}
	return v, nil
}
