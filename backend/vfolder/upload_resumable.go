package vfolder

// Resumable uploads send one file in pieces, so a transfer that breaks at
// 19 of 20 GiB goes on from 19 GiB instead of from the start. The bytes
// received so far are staged in ROOT/.uploads/{token}, beside
// ROOT/.uploads/{token}.json (who, which folder, which path, how big):
// outside every folder, so no listing, download or mount sees them, and on
// the folder's file system, so the finished file is renamed into place.
//
//	RequestUpload ──► staged, offset 0 ──WriteUpload──► staged, offset k
//	  │ 412: folder usage + pending                        │
//	  │ reservations + size > quota                        │ offset reaches size
//	  ▼                                                    ▼
//	refused                        quota re-checked on the folder's real usage
//	                                 ├─ fits: renamed to its path ──► done
//	                                 └─ over: staged data deleted ──► 412
//
//	AbortUpload, the folder's deletion, or UploadTTL without a PATCH (the
//	sweep) remove a staged upload at any point.
//
// The offset is the staged file's size on disk, never a counter, so it
// is exactly what a broken connection left. Locks are flock(2) locks (the
// staged file while a PATCH writes it, the folder's directory while its
// quota is checked and a file lands), so several managers sharing the root
// on one host also take turns.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"

	"baigo.dev/bai/common/errdefs"
	entvf "baigo.dev/bai/ent/vfolder"
)

// uploadsDir is the root's folder of staged resumable uploads. Folder
// directories are named by UUIDs and folder names never start with '.',
// so it can clash with neither.
const uploadsDir = ".uploads"

// DefaultUploadTTL is how long a resumable upload may go without a PATCH
// before the sweep removes it.
const DefaultUploadTTL = 24 * time.Hour

// tokenRE is the shape of an upload token (128 random bits in hex); other
// strings are refused before they come near a file name.
var tokenRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// uploadMeta is the JSON file kept beside the staged data.
type uploadMeta struct {
	AccessKey string    `json:"access_key"`
	FolderID  string    `json:"folder_id"`
	Path      string    `json:"path"`
	Size      int64     `json:"size"`
	CreatedAt time.Time `json:"created_at"`
}

// PendingUpload is a resumable upload as its client sees it.
type PendingUpload struct {
	Token     string
	Path      string // in the folder
	Size      int64  // declared at request
	Offset    int64  // bytes staged so far
	CreatedAt time.Time
}

// OffsetError refuses a PATCH that does not start where the staged data
// ends (or that meets another PATCH of the same upload); Offset is where
// the data ends now. It wraps errdefs.ErrConflict.
type OffsetError struct {
	Offset int64
	err    error
}

func (e *OffsetError) Error() string { return e.err.Error() }

// Unwrap returns the conflict.
func (e *OffsetError) Unwrap() error { return e.err }

func (s *Service) stagingDir() string           { return filepath.Join(s.root, uploadsDir) }
func (s *Service) dataPath(token string) string { return filepath.Join(s.root, uploadsDir, token) }
func (s *Service) metaPath(token string) string {
	return filepath.Join(s.root, uploadsDir, token+".json")
}

func (s *Service) uploadTTL() time.Duration {
	if s.UploadTTL > 0 {
		return s.UploadTTL
	}
	return DefaultUploadTTL
}

// quotaErr is the quota refusal, in the words of the multipart upload's.
func quotaErr(rel, folder string, limit int64, detail string) error {
	return fmt.Errorf("upload of %s stopped: folder %q would exceed %d bytes, its owner's resource policy's max_vfolder_size; nothing was written (%s): %w",
		rel, folder, limit, detail, errdefs.ErrQuotaExceeded)
}

// lockFolder takes the folder directory's lock, waiting for it; the
// returned func releases it.
func lockFolder(r *os.Root) (func(), error) {
	d, err := r.Open(".")
	if err != nil {
		return nil, fmt.Errorf("open the folder's directory: %w", err)
	}
	for {
		err = syscall.Flock(int(d.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("lock the folder's directory: %w", err)
	}
	return func() { d.Close() }, nil
}

var (
	errStagedGone = errors.New("staged data gone")
	errStagedBusy = errors.New("staged data busy")
)

// lockData opens token's staged data for writing and takes its lock
// without waiting (errStagedBusy when another request holds it). Closing
// the file releases the lock.
func (s *Service) lockData(token string) (*os.File, error) {
	p := s.dataPath(token)
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errStagedGone
	}
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errStagedBusy
		}
		return nil, fmt.Errorf("lock staged upload: %w", err)
	}
	// An abort or the sweep may have removed the file between our open
	// and our lock: writing on would fill an unlinked file.
	fi, err := f.Stat()
	pi, perr := os.Stat(p)
	if err != nil || perr != nil || !os.SameFile(fi, pi) {
		f.Close()
		return nil, errStagedGone
	}
	return f, nil
}

func (s *Service) readMeta(token string) (uploadMeta, error) {
	var m uploadMeta
	b, err := os.ReadFile(s.metaPath(token))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("staged upload %s: %w", token, err)
	}
	return m, nil
}

// writeMeta writes token's metadata atomically: a reader sees all of it or
// none.
func (s *Service) writeMeta(token string, m uploadMeta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.stagingDir(), token+".json.tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.metaPath(token))
}

// removeStaged deletes token's metadata (so it answers 404 from then on)
// and then its data.
func (s *Service) removeStaged(token string) error {
	err := os.Remove(s.metaPath(token))
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	if derr := os.Remove(s.dataPath(token)); derr != nil && !errors.Is(derr, fs.ErrNotExist) && err == nil {
		err = derr
	}
	return err
}

// pending lists the staged uploads' metadata by token.
func (s *Service) pending() (map[string]uploadMeta, error) {
	ents, err := os.ReadDir(s.stagingDir())
	if err != nil {
		return nil, fmt.Errorf("list staged uploads: %w", err)
	}
	out := map[string]uploadMeta{}
	for _, e := range ents {
		token, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !tokenRE.MatchString(token) {
			continue
		}
		if m, err := s.readMeta(token); err == nil {
			out[token] = m
		}
	}
	return out, nil
}

// reserved sums the declared sizes of the folder's pending uploads: the
// room they will take when they complete.
func (s *Service) reserved(folderID string) (int64, error) {
	all, err := s.pending()
	if err != nil {
		return 0, err
	}
	var n int64
	for _, m := range all {
		if m.FolderID == folderID {
			n += m.Size
		}
	}
	return n, nil
}

func newToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// RequestUpload starts a resumable upload of size bytes to path p of ak's
// folder name. The folder's usage, the sizes declared by its other pending
// uploads and size together must fit its owner's max_vfolder_size, so
// uploads started side by side cannot promise more than the quota.
func (s *Service) RequestUpload(ctx context.Context, ak, name, p string, size int64) (PendingUpload, error) {
	rel, err := cleanPath(p)
	if err != nil {
		return PendingUpload{}, err
	}
	if rel == "." {
		return PendingUpload{}, fmt.Errorf("field \"path\" must name the file to upload (its path in the folder): %w", errdefs.ErrInvalidArgument)
	}
	if size < 0 {
		return PendingUpload{}, fmt.Errorf("field \"size\" must be the file's length in bytes, not %d: %w", size, errdefs.ErrInvalidArgument)
	}
	f, r, err := s.open(ctx, ak, name, true)
	if err != nil {
		return PendingUpload{}, err
	}
	defer r.Close()
	// Refused now rather than after the last byte (it is checked again
	// when the file lands).
	if fi, err := r.Lstat(rel); err == nil && fi.IsDir() {
		return PendingUpload{}, fmt.Errorf("%s is a directory in the folder; upload to a file path: %w", rel, errdefs.ErrInvalidArgument)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return PendingUpload{}, fsErr(rel, err) // through a file, or a symlink out
	}
	// The folder's owner's policy limits its size, whoever writes.
	_, maxSize, err := s.policy(ctx, f.OwnerAccessKey)
	if err != nil {
		return PendingUpload{}, err
	}
	// Held until this upload's reservation is on disk, so another request
	// counts it.
	unlock, err := lockFolder(r)
	if err != nil {
		return PendingUpload{}, err
	}
	defer unlock()
	if maxSize > 0 {
		used, err := usage(r)
		if err != nil {
			return PendingUpload{}, err
		}
		res, err := s.reserved(f.ID.String())
		if err != nil {
			return PendingUpload{}, err
		}
		if used+res+size > maxSize {
			return PendingUpload{}, quotaErr(rel, f.Name, maxSize,
				fmt.Sprintf("it holds %d bytes, pending uploads reserve %d more, this file needs %d", used, res, size))
		}
	}
	token, err := newToken()
	if err != nil {
		return PendingUpload{}, err
	}
	// Data first, then its metadata: a token is visible only once both
	// exist.
	df, err := os.OpenFile(s.dataPath(token), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return PendingUpload{}, fmt.Errorf("stage upload: %w", err)
	}
	df.Close()
	m := uploadMeta{AccessKey: ak, FolderID: f.ID.String(), Path: rel, Size: size, CreatedAt: time.Now().UTC()}
	if err := s.writeMeta(token, m); err != nil {
		os.Remove(s.dataPath(token))
		return PendingUpload{}, fmt.Errorf("stage upload: %w", err)
	}
	return PendingUpload{Token: token, Path: rel, Size: size, CreatedAt: m.CreatedAt}, nil
}

// lookupUpload finds ak's upload token in its folder name. Unknown tokens,
// other keypairs' tokens and tokens of other folders all answer not found.
func (s *Service) lookupUpload(ctx context.Context, ak, name, token string) (Folder, uploadMeta, error) {
	gone := fmt.Errorf("upload %q: no pending upload of that token in folder %q (it finished, was aborted, or expired after %s without data): %w",
		token, name, s.uploadTTL(), errdefs.ErrNotFound)
	if !tokenRE.MatchString(token) {
		return Folder{}, uploadMeta{}, gone
	}
	f, err := s.Get(ctx, ak, name)
	if err != nil {
		return Folder{}, uploadMeta{}, err
	}
	m, err := s.readMeta(token)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && (m.AccessKey != ak || m.FolderID != f.ID.String())) {
		return Folder{}, uploadMeta{}, gone
	}
	if err != nil {
		return Folder{}, uploadMeta{}, err
	}
	return f, m, nil
}

// UploadStatus tells where ak's upload token stands.
func (s *Service) UploadStatus(ctx context.Context, ak, name, token string) (PendingUpload, error) {
	_, m, err := s.lookupUpload(ctx, ak, name, token)
	if err != nil {
		return PendingUpload{}, err
	}
	fi, err := os.Stat(s.dataPath(token))
	if errors.Is(err, fs.ErrNotExist) {
		return PendingUpload{}, fmt.Errorf("upload %q: it has just finished or been removed: %w", token, errdefs.ErrNotFound)
	}
	if err != nil {
		return PendingUpload{}, err
	}
	return PendingUpload{Token: token, Path: m.Path, Size: m.Size, Offset: fi.Size(), CreatedAt: m.CreatedAt}, nil
}

// readTag remembers an error of the reader it wraps, to tell a body that
// broke off from a disk that failed.
type readTag struct {
	r   io.Reader
	err error
}

func (t *readTag) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF {
		t.err = err
	}
	return n, err
}

// WriteUpload appends body to ak's upload token, which must be at offset.
// length is the body's length when known (-1 otherwise): a body that would
// pass the declared size is refused before anything is read. Whatever
// arrives before the body breaks off stays staged. When the staged data
// reaches the declared size (a 0-byte upload: at its first, empty, PATCH),
// the file is moved into the folder and complete is true. It returns the
// upload's offset after the call, also with most errors.
func (s *Service) WriteUpload(ctx context.Context, ak, name, token string, offset, length int64, body io.Reader) (up PendingUpload, complete bool, err error) {
	f, m, err := s.lookupUpload(ctx, ak, name, token)
	if err != nil {
		return PendingUpload{}, false, err
	}
	if err := writable(f); err != nil {
		return PendingUpload{}, false, err
	}
	up = PendingUpload{Token: token, Path: m.Path, Size: m.Size, CreatedAt: m.CreatedAt}
	df, err := s.lockData(token)
	switch {
	case errors.Is(err, errStagedGone):
		return PendingUpload{}, false, fmt.Errorf("upload %q: it has just finished or been removed: %w", token, errdefs.ErrNotFound)
	case errors.Is(err, errStagedBusy):
		cur := int64(-1)
		if fi, err := os.Stat(s.dataPath(token)); err == nil {
			cur = fi.Size()
		}
		return up, false, &OffsetError{Offset: cur, err: fmt.Errorf("upload %q: another request is writing to it now (at offset %d); ask for its offset again and resume from there: %w",
			token, cur, errdefs.ErrConflict)}
	case err != nil:
		return PendingUpload{}, false, err
	}
	defer df.Close()
	fi, err := df.Stat()
	if err != nil {
		return PendingUpload{}, false, err
	}
	cur := fi.Size()
	up.Offset = cur
	if offset != cur {
		return up, false, &OffsetError{Offset: cur, err: fmt.Errorf("upload %q is at offset %d, not %d (Upload-Offset): resume from %d: %w",
			token, cur, offset, cur, errdefs.ErrConflict)}
	}
	left := m.Size - cur
	if length > left {
		return up, false, fmt.Errorf("upload %q: a body of %d bytes at offset %d passes its declared size of %d bytes: %w",
			token, length, cur, m.Size, errdefs.ErrTooLarge)
	}
	if _, err := df.Seek(cur, io.SeekStart); err != nil {
		return up, false, err
	}
	tag := &readTag{r: body}
	n, err := io.Copy(df, io.LimitReader(tag, left))
	if err == nil && n == left {
		// A body of unannounced length that goes on past the size: the
		// whole PATCH is refused, so nothing of it stays.
		var probe [1]byte
		if k, _ := io.ReadFull(tag, probe[:]); k > 0 {
			if terr := df.Truncate(cur); terr != nil {
				return up, false, terr
			}
			return up, false, fmt.Errorf("upload %q: the body passes its declared size of %d bytes; nothing of it was kept: %w",
				token, m.Size, errdefs.ErrTooLarge)
		}
	}
	// What is on disk, whatever happened: the next PATCH resumes there.
	if fi, serr := df.Stat(); serr == nil {
		up.Offset = fi.Size()
	}
	// Any PATCH counts as activity for the sweep, an empty one too.
	now := time.Now()
	_ = os.Chtimes(s.dataPath(token), now, now)
	if err != nil {
		if tag.err != nil && errors.Is(err, tag.err) {
			return up, false, fmt.Errorf("upload %q: the request body broke off after %d bytes (%v); they are kept, resume at offset %d: %w",
				token, n, tag.err, up.Offset, errdefs.ErrInvalidArgument)
		}
		return up, false, fmt.Errorf("upload %q: write staged data: %w", token, err)
	}
	if up.Offset < m.Size {
		return up, false, nil
	}
	if err := s.completeUpload(ctx, f, m, token); err != nil {
		if errors.Is(err, errdefs.ErrQuotaExceeded) || errors.Is(err, errdefs.ErrNotFound) {
			return PendingUpload{}, false, err // the staged data is gone
		}
		return up, false, err
	}
	return up, true, nil
}

// completeUpload moves token's full staged data to its path in the
// folder, holding the folder's lock while it checks the quota on the
// folder's real usage and renames, so uploads finishing together cannot
// pass it between them. Over the quota, the staged data is deleted.
func (s *Service) completeUpload(ctx context.Context, f Folder, m uploadMeta, token string) error {
	r, err := os.OpenRoot(s.dir(f.VFolder))
	if errors.Is(err, fs.ErrNotExist) {
		_ = s.removeStaged(token)
		return notFound(f.Name)
	}
	if err != nil {
		return fmt.Errorf("folder %q: open its directory: %w", f.Name, err)
	}
	defer r.Close()
	_, maxSize, err := s.policy(ctx, f.OwnerAccessKey)
	if err != nil {
		return err
	}
	unlock, err := lockFolder(r)
	if err != nil {
		return err
	}
	defer unlock()
	if maxSize > 0 {
		used, err := usage(r)
		if err != nil {
			return err
		}
		if used+m.Size > maxSize {
			if err := s.removeStaged(token); err != nil {
				return err
			}
			return quotaErr(m.Path, f.Name, maxSize,
				fmt.Sprintf("it holds %d bytes now and this file is %d; the staged data was deleted", used, m.Size))
		}
	}
	rel := m.Path
	notLanded := func(err error) error {
		return fmt.Errorf("upload %q has all its %d bytes but cannot land at %s (%w); clear the way and PATCH an empty body at Upload-Offset %d to finish",
			token, m.Size, rel, err, m.Size)
	}
	if dir := path.Dir(rel); dir != "." {
		if err := mkdirs(r, dir); err != nil {
			return notLanded(err)
		}
	}
	// Resolve the target's parent through the root, so a symlinked
	// directory cannot redirect the rename outside the folder.
	parent, err := r.OpenRoot(path.Dir(rel))
	if err != nil {
		return notLanded(fsErr(path.Dir(rel), err))
	}
	defer parent.Close()
	pf, err := parent.Open(".")
	if err != nil {
		return notLanded(fsErr(path.Dir(rel), err))
	}
	defer pf.Close()
	// Kernel users of the sessions mounting the folder are not root.
	_ = os.Chmod(s.dataPath(token), 0o666)
	if err := renameInto(s.dataPath(token), pf, path.Base(rel)); err != nil {
		_ = os.Chmod(s.dataPath(token), 0o600)
		return notLanded(fsErr(rel, err))
	}
	if err := os.Remove(s.metaPath(token)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// AbortUpload removes ak's upload token and its staged data.
func (s *Service) AbortUpload(ctx context.Context, ak, name, token string) error {
	if _, _, err := s.lookupUpload(ctx, ak, name, token); err != nil {
		return err
	}
	df, err := s.lockData(token)
	switch {
	case errors.Is(err, errStagedBusy):
		return fmt.Errorf("upload %q: a PATCH is writing to it now; abort it when that ends: %w", token, errdefs.ErrConflict)
	case err != nil && !errors.Is(err, errStagedGone):
		return err
	}
	if df != nil {
		defer df.Close() // held while removing, so no PATCH starts meanwhile
	}
	return s.removeStaged(token)
}

// dropFolderUploads removes the staged uploads into a deleted folder.
func (s *Service) dropFolderUploads(folderID string) error {
	all, err := s.pending()
	if err != nil {
		return err
	}
	for token, m := range all {
		if m.FolderID == folderID {
			if err := s.removeStaged(token); err != nil {
				return err
			}
		}
	}
	return nil
}

// SweepUploads removes the staged uploads that had no PATCH for UploadTTL
// before now, those of folders that no longer exist, and the leftovers of
// a crash (data without metadata, half-written metadata). Uploads a PATCH
// is writing to are left alone. It returns how many uploads it removed.
func (s *Service) SweepUploads(ctx context.Context, now time.Time) (int, error) {
	ents, err := os.ReadDir(s.stagingDir())
	if err != nil {
		return 0, fmt.Errorf("list staged uploads: %w", err)
	}
	cutoff := now.Add(-s.uploadTTL())
	// A request stages its data an instant before its metadata: leftovers
	// get at least a minute before they count as such.
	leftoverCutoff := cutoff
	if m := now.Add(-time.Minute); m.Before(leftoverCutoff) {
		leftoverCutoff = m
	}
	removed := 0
	folderExists := map[string]bool{}
	for _, e := range ents {
		name := e.Name()
		token, isMeta := strings.CutSuffix(name, ".json")
		if !isMeta || !tokenRE.MatchString(token) {
			fi, err := e.Info()
			if err != nil || !fi.ModTime().Before(leftoverCutoff) {
				continue
			}
			if tokenRE.MatchString(name) {
				if _, err := os.Stat(s.metaPath(name)); err == nil {
					continue // the data of a live upload: judged by its metadata
				}
			}
			if err := os.Remove(filepath.Join(s.stagingDir(), name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return removed, err
			}
			continue
		}
		m, err := s.readMeta(token)
		if errors.Is(err, fs.ErrNotExist) {
			continue // finished or removed since the listing
		}
		drop := err != nil // unreadable metadata: the upload cannot go on
		if !drop {
			exists, ok := folderExists[m.FolderID]
			if !ok {
				id, perr := uuid.Parse(m.FolderID)
				if perr == nil {
					exists, err = s.st.VFolder.Query().Where(entvf.IDEQ(id)).Exist(ctx)
					if err != nil {
						return removed, err
					}
				}
				folderExists[m.FolderID] = exists
			}
			drop = !exists
		}
		if !drop {
			fi, err := os.Stat(s.dataPath(token))
			switch {
			case errors.Is(err, fs.ErrNotExist):
				drop = true // landed, or aborted, an instant ago
			case err != nil:
				return removed, err
			default:
				drop = fi.ModTime().Before(cutoff)
			}
		}
		if !drop {
			continue
		}
		df, err := s.lockData(token)
		if errors.Is(err, errStagedBusy) {
			continue // a PATCH is writing: it is not stale
		}
		if err != nil && !errors.Is(err, errStagedGone) {
			return removed, err
		}
		err = s.removeStaged(token)
		if df != nil {
			df.Close()
		}
		if err != nil {
			return removed, err
		}
		removed++
	}
	return removed, nil
}

// SweepUploadsEvery sweeps stale uploads now and then every interval
// until ctx ends: a manager that was down for days catches up at start.
func (s *Service) SweepUploadsEvery(ctx context.Context, interval time.Duration, log *slog.Logger) {
	sweep := func() {
		n, err := s.SweepUploads(ctx, time.Now())
		if err != nil && ctx.Err() == nil {
			log.Warn("sweep stale folder uploads", "err", err)
		}
		if n > 0 {
			log.Info("removed stale folder uploads", "count", n, "ttl", s.uploadTTL().String())
		}
	}
	sweep()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sweep()
		}
	}
}
