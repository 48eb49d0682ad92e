package client

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"baigo.dev/bai/common/errdefs"
)

// MaxUploadFiles is how many files the manager accepts in one upload
// request; Upload splits longer lists into several requests.
const MaxUploadFiles = 20

// UploadFile is one local file to upload.
type UploadFile struct {
	// Name is the file's path under /home/work in the session.
	Name string
	// Path is the local file to read.
	Path string
	// Size is the file's length, used for progress reports.
	Size int64
}

// Progress receives how many bytes of all files were sent so far.
type Progress func(sent, total int64)

// CollectUploads turns local paths into upload entries that keep their
// relative paths: a relative file path is kept as given ("src/main.c"), an
// absolute one or one climbing out with ".." keeps only its base name, and a
// directory adds every regular file below it under the directory's name —
// or directly under /home/work when contents is set.
func CollectUploads(paths []string, contents bool) ([]UploadFile, error) {
	var out []UploadFile
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("upload %s: %w", p, err)
		}
		name := filepath.ToSlash(filepath.Clean(p))
		if filepath.IsAbs(p) || name == ".." || strings.HasPrefix(name, "../") {
			name = filepath.Base(p)
		}
		if !fi.IsDir() {
			out = append(out, UploadFile{Name: name, Path: p, Size: fi.Size()})
			continue
		}
		err = filepath.WalkDir(p, func(fp string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.Type().IsRegular() {
				return nil
			}
			rel, err := filepath.Rel(p, fp)
			if err != nil {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			n := filepath.ToSlash(rel)
			if !contents && name != "." {
				n = path.Join(name, n)
			}
			out = append(out, UploadFile{Name: n, Path: fp, Size: info.Size()})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("upload %s: %w", p, err)
		}
	}
	return out, nil
}

// streamRequest sends a signed request whose body is streamed. The caller
// closes the answer's body; statuses >= 400 become *APIError.
func (c *Client) streamRequest(ctx context.Context, method, p string, query url.Values, contentType string, body io.Reader) (*http.Response, error) {
	pathQuery := c.base.EscapedPath() + p
	if len(query) > 0 {
		pathQuery += "?" + query.Encode()
	}
	return c.signedDo(ctx, method, p, pathQuery, contentType, nil, body, -1)
}

// signedDo sends one signed request with a streamed body (n is its length,
// -1 when unknown) and extra headers; p names the request in errors. The
// caller closes the answer's body; statuses >= 400 become *APIError.
func (c *Client) signedDo(ctx context.Context, method, p, pathQuery, contentType string, hdr http.Header, body io.Reader, n int64) (*http.Response, error) {
	if body == nil || n == 0 {
		body = http.NoBody
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.Scheme+"://"+c.base.Host+pathQuery, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, p, err)
	}
	if n >= 0 {
		req.ContentLength = n
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	// The SDK speaks v5 and newer, which never hash the body.
	c.sign(req, pathQuery, contentType, nil)
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", method, p, ctx.Err())
		}
		if isUnreachable(err) {
			return nil, &UnreachableError{Endpoint: c.base.String(), Err: err}
		}
		return nil, fmt.Errorf("%s %s: %w: %w", method, p, err, errdefs.ErrUnavailable)
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return nil, decodeProblem(resp.StatusCode, data)
	}
	return resp, nil
}

// countingWriter reports progress as bytes pass.
type countingWriter struct {
	w           io.Writer
	sent, total *int64
	progress    Progress
}

func (cw countingWriter) Write(b []byte) (int, error) {
	n, err := cw.w.Write(b)
	*cw.sent += int64(n)
	if cw.progress != nil {
		cw.progress(*cw.sent, *cw.total)
	}
	return n, err
}

// Upload streams files into the session's /home/work (subdirectories are
// made), at most MaxUploadFiles per request. progress, when non-nil, is
// called as bytes are sent.
func (c *Client) Upload(ctx context.Context, session string, files []UploadFile, progress Progress) error {
	var total, sent int64
	for _, f := range files {
		total += f.Size
	}
	for start := 0; start < len(files); start += MaxUploadFiles {
		batch := files[start:min(start+MaxUploadFiles, len(files))]
		if err := c.uploadBatch(ctx, sessionPath(session, "upload"), batch, countingWriter{sent: &sent, total: &total, progress: progress}); err != nil {
			return fmt.Errorf("upload to session %s: %w", session, err)
		}
	}
	return nil
}

// uploadBatch streams files as one multipart request to the upload route p.
func (c *Client) uploadBatch(ctx context.Context, p string, files []UploadFile, cw countingWriter) error {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			for _, f := range files {
				h := textproto.MIMEHeader{}
				h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": "src", "filename": f.Name}))
				h.Set("Content-Type", "application/octet-stream")
				part, err := mw.CreatePart(h)
				if err != nil {
					return err
				}
				in, err := os.Open(f.Path)
				if err != nil {
					return err
				}
				cw.w = part
				_, err = io.Copy(cw, in)
				in.Close()
				if err != nil {
					return err
				}
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	resp, err := c.streamRequest(ctx, http.MethodPost, p, nil, mw.FormDataContentType(), pr)
	pr.CloseWithError(errors.New("upload request ended"))
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// Download fetches paths of the session's /home/work (files or
// directories) and unpacks them into dest, which is made when missing.
// Nothing is written outside dest, whatever the archives hold. It returns
// the local paths written.
func (c *Client) Download(ctx context.Context, session string, paths []string, dest string) ([]string, error) {
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	resp, err := c.streamRequest(ctx, http.MethodGet, sessionPath(session, "download"), url.Values{"files": paths}, "text/plain", nil)
	if err != nil {
		return nil, fmt.Errorf("download from session %s: %w", session, err)
	}
	defer resp.Body.Close()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		return nil, fmt.Errorf("download: unexpected answer type %q: %w", resp.Header.Get("Content-Type"), errdefs.ErrInternal)
	}
	var written []string
	mr := multipart.NewReader(resp.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return written, nil
		}
		if err != nil {
			return written, fmt.Errorf("download: %w", err)
		}
		w, err := untar(root, part)
		written = append(written, w...)
		if err != nil {
			return written, err
		}
	}
}

// untar unpacks one archive into root.
func untar(root *os.Root, r io.Reader) ([]string, error) {
	var written []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return written, nil
		}
		if err != nil {
			return written, fmt.Errorf("download: read archive: %w", err)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "/"))
		if name == "." || name == ".." || strings.HasPrefix(name, "../") {
			continue
		}
		if dir := path.Dir(name); dir != "." {
			if err := root.MkdirAll(dir, 0o755); err != nil {
				return written, fmt.Errorf("download: %s: %w", name, err)
			}
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o755); err != nil {
				return written, fmt.Errorf("download: %s: %w", name, err)
			}
		case tar.TypeSymlink:
			_ = root.Remove(name)
			if err := root.Symlink(h.Linkname, name); err != nil {
				return written, fmt.Errorf("download: %s: %w", name, err)
			}
		case tar.TypeReg:
			f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fs.FileMode(h.Mode).Perm()|0o600)
			if err != nil {
				return written, fmt.Errorf("download: %s: %w", name, err)
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return written, fmt.Errorf("download: %s: %w", name, err)
			}
			_ = root.Chtimes(name, h.ModTime, h.ModTime)
			written = append(written, filepath.Join(root.Name(), filepath.FromSlash(name)))
		}
	}
}

// DownloadSingle copies one regular file of the session's /home/work to w
// and returns the number of bytes copied.
func (c *Client) DownloadSingle(ctx context.Context, session, file string, w io.Writer) (int64, error) {
	resp, err := c.streamRequest(ctx, http.MethodGet, sessionPath(session, "download_single"), url.Values{"file": {file}}, "text/plain", nil)
	if err != nil {
		return 0, fmt.Errorf("download %s from session %s: %w", file, session, err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("download %s: %w: %w", file, err, errdefs.ErrUnavailable)
	}
	return n, nil
}

// FileEntry is one entry of a session directory listing.
type FileEntry struct {
	Filename string    `json:"filename"`
	Size     int64     `json:"size"`
	Mode     string    `json:"mode"`
	Mtime    time.Time `json:"mtime"`
	Type     string    `json:"type"` // file, dir or symlink
}

// FileList is a directory listing of a session.
type FileList struct {
	Abspath string
	Files   []FileEntry
}

// ListFiles lists a directory of the session's /home/work ("" for the
// work dir itself).
func (c *Client) ListFiles(ctx context.Context, session, dir string) (*FileList, error) {
	var raw struct {
		Files   string `json:"files"`
		Errors  string `json:"errors"`
		Abspath string `json:"abspath"`
	}
	if err := c.do(ctx, http.MethodGet, sessionPath(session, "files"), url.Values{"path": {dir}}, nil, &raw, true); err != nil {
		return nil, fmt.Errorf("list files of session %s: %w", session, err)
	}
	out := &FileList{Abspath: raw.Abspath}
	if raw.Files != "" {
		if err := json.Unmarshal([]byte(raw.Files), &out.Files); err != nil {
			return nil, fmt.Errorf("list files: decode answer: %w: %w", err, errdefs.ErrInternal)
		}
	}
	return out, nil
}
