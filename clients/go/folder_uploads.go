package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"time"

	"baigo.dev/bai/common/errdefs"
)

// UploadChunkSize is the most one PATCH of FolderUploadResumable carries:
// what a broken connection costs at worst is re-sending less than this.
const UploadChunkSize = 64 << 20

// uploadRetries is how many failures in a row FolderUploadResumable
// takes before it gives up; any progress resets the count.
const uploadRetries = 5

// ResumableUpload is where a resumable folder upload stands. Keep Token
// (for instance in a file) to resume the upload from another process
// after a crash: the server keeps the bytes it received for a day after
// the last PATCH.
type ResumableUpload struct {
	// Token names the upload on the server; empty before it is requested.
	Token string `json:"token"`
	// Path is the file's path in the folder.
	Path string `json:"path"`
	// Size is the file's length in bytes, declared when requested.
	Size int64 `json:"size"`
	// Offset is how many bytes the server holds, as last reported.
	Offset int64 `json:"offset"`
}

func uploadPath(folder, token string) string { return folderPath(folder, "uploads", token) }

// FolderRequestUpload starts a resumable upload of size bytes to
// remotePath in a folder. The folder's quota must have room for size next
// to the folder's files and its other pending uploads (412 otherwise).
func (c *Client) FolderRequestUpload(ctx context.Context, folder, remotePath string, size int64) (*ResumableUpload, error) {
	var out ResumableUpload
	in := map[string]any{"path": remotePath, "size": size}
	if err := c.do(ctx, http.MethodPost, folderPath(folder, "request-upload"), nil, in, &out, true); err != nil {
		return nil, fmt.Errorf("request upload of %s to folder %s: %w", remotePath, folder, err)
	}
	return &out, nil
}

// FolderUploadStatus asks (HEAD) how many bytes of upload token the
// server holds, and the declared size (HEAD does not tell the path). An
// unknown, finished, aborted or expired token is an error wrapping
// errdefs.ErrNotFound.
func (c *Client) FolderUploadStatus(ctx context.Context, folder, token string) (*ResumableUpload, error) {
	resp, err := c.uploadRequest(ctx, http.MethodHead, folder, token, nil, nil, 0)
	if err != nil {
		return nil, fmt.Errorf("status of upload %s: %w", token, err)
	}
	resp.Body.Close()
	off, oerr := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	size, serr := strconv.ParseInt(resp.Header.Get("Upload-Length"), 10, 64)
	if oerr != nil || serr != nil {
		return nil, fmt.Errorf("status of upload %s: the answer lacks Upload-Offset or Upload-Length: %w", token, errdefs.ErrInternal)
	}
	return &ResumableUpload{Token: token, Size: size, Offset: off}, nil
}

// FolderUploadChunk sends n bytes of body (PATCH) to upload token at
// offset, which must be where the server's data ends (409 otherwise). It
// returns the server's new offset, and complete once the file has landed
// in the folder.
func (c *Client) FolderUploadChunk(ctx context.Context, folder, token string, offset int64, body io.Reader, n int64) (newOffset int64, complete bool, err error) {
	hdr := http.Header{"Upload-Offset": {strconv.FormatInt(offset, 10)}}
	resp, err := c.uploadRequest(ctx, http.MethodPatch, folder, token, hdr, body, n)
	if err != nil {
		return 0, false, fmt.Errorf("upload %s at offset %d: %w", token, offset, err)
	}
	resp.Body.Close()
	newOffset, err = strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("upload %s: the answer lacks Upload-Offset: %w", token, errdefs.ErrInternal)
	}
	return newOffset, resp.Header.Get("Upload-Complete") == "1", nil
}

// FolderAbortUpload drops upload token and the bytes the server holds.
func (c *Client) FolderAbortUpload(ctx context.Context, folder, token string) error {
	resp, err := c.uploadRequest(ctx, http.MethodDelete, folder, token, nil, nil, 0)
	if err != nil {
		return fmt.Errorf("abort upload %s: %w", token, err)
	}
	resp.Body.Close()
	return nil
}

// uploadRequest sends one signed request to an upload's URL; n is the
// body's length. Statuses >= 400 become *APIError.
func (c *Client) uploadRequest(ctx context.Context, method, folder, token string, hdr http.Header, body io.Reader, n int64) (*http.Response, error) {
	p := uploadPath(folder, token)
	contentType := "text/plain"
	if method == http.MethodPatch {
		contentType = "application/offset+octet-stream"
	}
	return c.signedDo(ctx, method, p, c.base.EscapedPath()+p, contentType, hdr, body, n)
}

// progressReader reports base plus the bytes read so far.
type progressReader struct {
	r           io.Reader
	base, total int64
	progress    Progress
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.base += int64(n)
	if p.progress != nil && n > 0 {
		p.progress(p.base, p.total)
	}
	return n, err
}

// retryable tells errors that another try may cure: the network or the
// server failed (ErrUnavailable), the offset moved or another request held
// the upload (ErrConflict), or the rate limit.
func retryable(err error) bool {
	return errors.Is(err, errdefs.ErrUnavailable) || errors.Is(err, errdefs.ErrConflict) || errors.Is(err, errdefs.ErrRateLimited)
}

// FolderUploadResumable uploads size bytes read from r to remotePath in a
// folder through the resumable protocol, so a broken transfer costs at
// most one chunk:
//
//   - With state.Token empty it requests a new upload (412 when the quota
//     has no room) and fills state; with a token (from an earlier run) it
//     asks the server's offset (HEAD) and goes on from there. An unknown
//     or expired token is an error wrapping errdefs.ErrNotFound: start
//     over with an empty state.
//   - It sends PATCHes of at most UploadChunkSize bytes, streamed from r
//     through io.NewSectionReader (nothing is held in memory), keeping
//     state.Offset up to date.
//   - After a network failure, a 5xx, a 409 or a 429 it waits (0.5 s,
//     doubling up to 8 s), asks the server's offset again and resumes
//     there, giving up after 5 failures in a row; progress resets the
//     count. If the answer to the last PATCH was lost and the token is gone
//     when it asks again, a file of the right size at remotePath counts as
//     landed.
//
// progress, when non-nil, is called with the bytes sent (from the resume
// offset on) and size. The file appears in the folder only once complete.
// On error, state holds what is needed to resume later.
func (c *Client) FolderUploadResumable(ctx context.Context, folder, remotePath string, r io.ReaderAt, size int64, state *ResumableUpload, progress Progress) error {
	if state == nil {
		state = &ResumableUpload{}
	}
	if state.Token == "" {
		up, err := c.FolderRequestUpload(ctx, folder, remotePath, size)
		if err != nil {
			return err
		}
		*state = *up
	} else {
		st, err := c.FolderUploadStatus(ctx, folder, state.Token)
		if err != nil {
			return fmt.Errorf("resume upload of %s to folder %s: %w", remotePath, folder, err)
		}
		if st.Size != size {
			return fmt.Errorf("resume upload of %s: the pending upload is for %d bytes, the file has %d: %w", remotePath, st.Size, size, errdefs.ErrInvalidArgument)
		}
		state.Offset = st.Offset
	}
	state.Path, state.Size = remotePath, size
	if progress != nil {
		progress(state.Offset, size)
	}
	failures := 0
	lastSent := false // a PATCH reaching size went out: its answer may be lost
	for {
		n := min(size-state.Offset, UploadChunkSize)
		body := &progressReader{r: io.NewSectionReader(r, state.Offset, n), base: state.Offset, total: size, progress: progress}
		off, done, err := c.FolderUploadChunk(ctx, folder, state.Token, state.Offset, body, n)
		if err == nil {
			if done {
				state.Offset = off
				return nil
			}
			if off <= state.Offset && n == 0 {
				return fmt.Errorf("upload %s to folder %s: the server holds all %d bytes but did not land the file: %w", remotePath, folder, size, errdefs.ErrInternal)
			}
			state.Offset, failures = off, 0
			continue
		}
		if ctx.Err() != nil || !retryable(err) {
			return fmt.Errorf("upload %s to folder %s: %w", remotePath, folder, err)
		}
		if state.Offset+n == size {
			lastSent = true
		}
		for {
			failures++
			if failures > uploadRetries {
				return fmt.Errorf("upload %s to folder %s: gave up after %d tries at offset %d of %d: %w", remotePath, folder, uploadRetries, state.Offset, size, err)
			}
			if werr := sleepCtx(ctx, backoff(failures)); werr != nil {
				return fmt.Errorf("upload %s to folder %s: %w", remotePath, folder, werr)
			}
			st, herr := c.FolderUploadStatus(ctx, folder, state.Token)
			if herr == nil {
				state.Offset = st.Offset
				break
			}
			if errors.Is(herr, errdefs.ErrNotFound) && lastSent && c.landed(ctx, folder, remotePath, size) {
				state.Offset = size
				return nil
			}
			if ctx.Err() != nil || !retryable(herr) {
				return fmt.Errorf("upload %s to folder %s: %w", remotePath, folder, herr)
			}
			err = herr
		}
	}
}

// landed reports whether a file of size bytes is at remotePath.
func (c *Client) landed(ctx context.Context, folder, remotePath string, size int64) bool {
	p := path.Clean(remotePath)
	files, err := c.FolderFiles(ctx, folder, path.Dir(p))
	if err != nil {
		return false
	}
	for _, f := range files {
		if f.Name == path.Base(p) && f.Type == "file" && f.Size == size {
			return true
		}
	}
	return false
}

func backoff(failures int) time.Duration {
	return min(500*time.Millisecond<<(failures-1), 8*time.Second)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
