// Package vfolder keeps virtual folders: directories under the manager's
// vfolder root that outlive sessions, shared between keypairs by
// invitation, and bind-mounted into the sessions that list them. Each
// folder lives in ROOT/{id}, so renaming a folder moves no data; file paths
// inside a folder are resolved through an os.Root, so no "..", absolute
// path or symlink reaches outside it.
package vfolder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"

	"baigo.dev/bai/backend/store"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/relpath"
	"baigo.dev/bai/ent"
	entvf "baigo.dev/bai/ent/vfolder"
	"baigo.dev/bai/ent/vfolderinvitation"
)

// Permissions of a caller on a folder.
const (
	PermRO = "ro"
	PermRW = "rw"
)

// tmpDir is the root's folder for uploads in progress: on the same file
// system as the folders, so finished files are renamed into place, and
// outside every folder, so a half-written file is never seen.
const tmpDir = ".tmp"

// Service manages folders in the database and on disk.
type Service struct {
	st   *store.Store
	root string

	// UploadTTL is how long a resumable upload may go without a PATCH
	// before the sweep removes it (DefaultUploadTTL when 0). Set it before
	// the sweep starts.
	UploadTTL time.Duration
}

// New returns a Service keeping folders under root, which it creates.
func New(st *store.Store, root string) (*Service, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("vfolder root %s: %w", root, err)
	}
	if err := os.MkdirAll(filepath.Join(abs, tmpDir), 0o755); err != nil {
		return nil, fmt.Errorf("vfolder root: %w", err)
	}
	// Staged uploads hold tenants' data outside any folder's mount:
	// readable by the manager only.
	if err := os.MkdirAll(filepath.Join(abs, uploadsDir), 0o700); err != nil {
		return nil, fmt.Errorf("vfolder root: %w", err)
	}
	return &Service{st: st, root: abs, UploadTTL: DefaultUploadTTL}, nil
}

// Root is the absolute directory that holds the folders.
func (s *Service) Root() string { return s.root }

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)

// CheckName refuses names that are not one safe path component: they
// become /home/work/{name} in sessions.
func CheckName(name string) error {
	if name == "" || name == "." || name == ".." || strings.Contains(name, "..") || !nameRE.MatchString(name) {
		return fmt.Errorf("folder name %q must be 1 to 64 letters, digits, '_', '-' or '.', must not start with '.' or '-', and must not contain '/', '..' or NUL: %w",
			name, errdefs.ErrInvalidArgument)
	}
	return nil
}

// Folder is a folder as one caller sees it.
type Folder struct {
	*ent.VFolder
	Perm string
}

func (s *Service) dir(f *ent.VFolder) string { return filepath.Join(s.root, f.ID.String()) }

func notFound(name string) error {
	return fmt.Errorf("folder %q: %w", name, errdefs.ErrNotFound)
}

// Info is the API shape of f for the caller.
func (f Folder) Info(caller string) apitypes.VFolder {
	return apitypes.VFolder{ID: f.ID.String(), Name: f.Name, Host: f.Host, Owner: f.OwnerAccessKey,
		IsOwner: f.OwnerAccessKey == caller, Permission: f.Perm, CreatedAt: f.CreatedAt}
}

// policy returns the caller's folder count and size limits (0: none).
func (s *Service) policy(ctx context.Context, ak string) (count int, size int64, err error) {
	kp, err := s.st.KeyPair.Get(ctx, ak)
	if err != nil {
		return 0, 0, fmt.Errorf("keypair %s: %w", ak, err)
	}
	p, err := s.st.ResourcePolicy.Get(ctx, kp.ResourcePolicy)
	if ent.IsNotFound(err) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, err
	}
	return p.MaxVfolderCount, p.MaxVfolderSize, nil
}

// Create makes a folder owned by ak.
func (s *Service) Create(ctx context.Context, ak, name string) (Folder, error) {
	if err := CheckName(name); err != nil {
		return Folder{}, err
	}
	maxCount, _, err := s.policy(ctx, ak)
	if err != nil {
		return Folder{}, err
	}
	if maxCount > 0 {
		n, err := s.st.VFolder.Query().Where(entvf.OwnerAccessKeyEQ(ak)).Count(ctx)
		if err != nil {
			return Folder{}, err
		}
		if n >= maxCount {
			return Folder{}, fmt.Errorf("keypair %s already has %d folders, its resource policy's max_vfolder_count: %w", ak, n, errdefs.ErrQuotaExceeded)
		}
	}
	if ok, err := s.st.VFolder.Query().Where(entvf.OwnerAccessKeyEQ(ak), entvf.NameEQ(name)).Exist(ctx); err != nil {
		return Folder{}, err
	} else if ok {
		return Folder{}, fmt.Errorf("folder %q already exists: %w", name, errdefs.ErrConflict)
	}
	id := uuid.New()
	if err := os.Mkdir(filepath.Join(s.root, id.String()), 0o777); err != nil {
		return Folder{}, fmt.Errorf("create folder directory: %w", err)
	}
	// Kernel users are not root: the folder must be writable by them.
	_ = os.Chmod(filepath.Join(s.root, id.String()), 0o777)
	f, err := s.st.VFolder.Create().SetID(id).SetName(name).SetOwnerAccessKey(ak).Save(ctx)
	if err != nil {
		_ = os.Remove(filepath.Join(s.root, id.String()))
		if ent.IsConstraintError(err) {
			return Folder{}, fmt.Errorf("folder %q already exists: %w", name, errdefs.ErrConflict)
		}
		return Folder{}, err
	}
	return Folder{VFolder: f, Perm: PermRW}, nil
}

// List returns ak's own folders and those shared with it (accepted).
func (s *Service) List(ctx context.Context, ak string) ([]Folder, error) {
	own, err := s.st.VFolder.Query().Where(entvf.OwnerAccessKeyEQ(ak)).Order(ent.Asc(entvf.FieldName)).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Folder, 0, len(own))
	for _, f := range own {
		out = append(out, Folder{VFolder: f, Perm: PermRW})
	}
	invs, err := s.st.VFolderInvitation.Query().Where(vfolderinvitation.InviteeEQ(ak), vfolderinvitation.StateEQ(vfolderinvitation.StateAccepted)).
		WithFolder().All(ctx)
	if err != nil {
		return nil, err
	}
	for _, inv := range invs {
		out = append(out, Folder{VFolder: inv.Edges.Folder, Perm: string(inv.Perm)})
	}
	return out, nil
}

// Get resolves name for ak: its own folder of that name first, else a
// folder shared with it. Others' folders answer not found.
func (s *Service) Get(ctx context.Context, ak, name string) (Folder, error) {
	f, err := s.st.VFolder.Query().Where(entvf.OwnerAccessKeyEQ(ak), entvf.NameEQ(name)).Only(ctx)
	if err == nil {
		return Folder{VFolder: f, Perm: PermRW}, nil
	}
	if !ent.IsNotFound(err) {
		return Folder{}, err
	}
	inv, err := s.st.VFolderInvitation.Query().Where(vfolderinvitation.InviteeEQ(ak), vfolderinvitation.StateEQ(vfolderinvitation.StateAccepted),
		vfolderinvitation.HasFolderWith(entvf.NameEQ(name))).WithFolder().First(ctx)
	if ent.IsNotFound(err) {
		return Folder{}, notFound(name)
	}
	if err != nil {
		return Folder{}, err
	}
	return Folder{VFolder: inv.Edges.Folder, Perm: string(inv.Perm)}, nil
}

func (s *Service) owned(ctx context.Context, ak, name string) (Folder, error) {
	f, err := s.Get(ctx, ak, name)
	if err != nil {
		return Folder{}, err
	}
	if f.OwnerAccessKey != ak {
		return Folder{}, fmt.Errorf("folder %q is shared with you; only its owner may do this: %w", name, errdefs.ErrPermissionDenied)
	}
	return f, nil
}

func writable(f Folder) error {
	if f.Perm != PermRW {
		return fmt.Errorf("folder %q is shared with you read-only: %w", f.Name, errdefs.ErrPermissionDenied)
	}
	return nil
}

// Rename gives ak's folder a new name.
func (s *Service) Rename(ctx context.Context, ak, name, newName string) error {
	if err := CheckName(newName); err != nil {
		return err
	}
	f, err := s.owned(ctx, ak, name)
	if err != nil {
		return err
	}
	if err := s.st.VFolder.UpdateOne(f.VFolder).SetName(newName).Exec(ctx); err != nil {
		if ent.IsConstraintError(err) {
			return fmt.Errorf("folder %q already exists: %w", newName, errdefs.ErrConflict)
		}
		return err
	}
	return nil
}

// Delete removes ak's folder, its invitations and its data.
func (s *Service) Delete(ctx context.Context, ak, name string) error {
	f, err := s.owned(ctx, ak, name)
	if err != nil {
		return err
	}
	err = s.st.Tx(ctx, func(tx *ent.Tx) error {
		if _, err := tx.VFolderInvitation.Delete().Where(vfolderinvitation.HasFolderWith(entvf.IDEQ(f.ID))).Exec(ctx); err != nil {
			return err
		}
		return tx.VFolder.DeleteOneID(f.ID).Exec(ctx)
	})
	if err != nil {
		return err
	}
	if err := os.RemoveAll(s.dir(f.VFolder)); err != nil {
		return err
	}
	// Its pending resumable uploads have nowhere to land any more.
	return s.dropFolderUploads(f.ID.String())
}

// Mounts resolves session mounts for ak: each name must be a folder ak
// owns or accepted; shared read-only ones mount read-only.
func (s *Service) Mounts(ctx context.Context, ak string, names []string) ([]aproto.Mount, error) {
	seen := map[string]bool{}
	var out []aproto.Mount
	for _, n := range names {
		if seen[n] {
			return nil, fmt.Errorf("config.mounts lists folder %q twice: %w", n, errdefs.ErrInvalidArgument)
		}
		seen[n] = true
		if err := CheckName(n); err != nil {
			return nil, fmt.Errorf("config.mounts: %w", err)
		}
		f, err := s.Get(ctx, ak, n)
		if err != nil {
			return nil, fmt.Errorf("config.mounts: %w", err)
		}
		out = append(out, aproto.Mount{Name: f.Name, HostPath: s.dir(f.VFolder), ReadOnly: f.Perm != PermRW})
	}
	return out, nil
}

// cleanPath checks a path inside a folder and returns it relative to the
// folder ("." for the folder itself).
func cleanPath(p string) (string, error) {
	return relpath.Clean(p, "the folder", "")
}

func fsErr(rel string, err error) error {
	var pe *fs.PathError
	inner := err
	if errors.As(err, &pe) {
		inner = pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		inner = le.Err
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: no such file or directory in the folder: %w", rel, errdefs.ErrNotFound)
	case errors.Is(err, syscall.ENOTEMPTY):
		return fmt.Errorf("%s is a directory that is not empty (delete it recursively): %w", rel, errdefs.ErrConflict)
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%s already exists: %w", rel, errdefs.ErrConflict)
	case strings.Contains(inner.Error(), "escapes"):
		return fmt.Errorf("%s resolves outside the folder (through a symlink?): %w", rel, errdefs.ErrInvalidArgument)
	case errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("%s: a path component is not a directory: %w", rel, errdefs.ErrInvalidArgument)
	case errors.Is(err, syscall.EISDIR):
		return fmt.Errorf("%s is a directory: %w", rel, errdefs.ErrInvalidArgument)
	case errors.Is(err, syscall.ELOOP):
		return fmt.Errorf("%s: too many levels of symlinks: %w", rel, errdefs.ErrInvalidArgument)
	}
	return fmt.Errorf("%s: %w", rel, err)
}

// open resolves ak's folder name and opens its directory as an os.Root;
// write asks for write permission.
func (s *Service) open(ctx context.Context, ak, name string, write bool) (Folder, *os.Root, error) {
	f, err := s.Get(ctx, ak, name)
	if err != nil {
		return Folder{}, nil, err
	}
	if write {
		if err := writable(f); err != nil {
			return Folder{}, nil, err
		}
	}
	r, err := os.OpenRoot(s.dir(f.VFolder))
	if err != nil {
		return Folder{}, nil, fmt.Errorf("folder %q: open its directory: %w", name, err)
	}
	return f, r, nil
}

// ListFiles lists the directory p of a folder.
func (s *Service) ListFiles(ctx context.Context, ak, name, p string) ([]apitypes.VFolderFile, error) {
	rel, err := cleanPath(p)
	if err != nil {
		return nil, err
	}
	_, r, err := s.open(ctx, ak, name, false)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	d, err := r.Open(rel)
	if err != nil {
		return nil, fsErr(rel, err)
	}
	defer d.Close()
	ents, err := d.ReadDir(-1)
	if err != nil {
		return nil, fsErr(rel, err)
	}
	out := []apitypes.VFolderFile{}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			continue // removed while listing
		}
		typ := "file"
		switch {
		case fi.IsDir():
			typ = "dir"
		case fi.Mode()&fs.ModeSymlink != 0:
			typ = "symlink"
		}
		out = append(out, apitypes.VFolderFile{Name: e.Name(), Type: typ, Size: fi.Size(), Mode: fi.Mode().String(), Modified: fi.ModTime()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Mkdir makes directory p (and its parents) in a folder.
func (s *Service) Mkdir(ctx context.Context, ak, name, p string) error {
	rel, err := cleanPath(p)
	if err != nil {
		return err
	}
	if rel == "." {
		return fmt.Errorf("name the directory to make in \"path\": %w", errdefs.ErrInvalidArgument)
	}
	_, r, err := s.open(ctx, ak, name, true)
	if err != nil {
		return err
	}
	defer r.Close()
	return mkdirs(r, rel)
}

// mkdirs makes rel and its missing parents writable by everyone: the
// manager's umask would leave them closed to the (non-root) kernel user
// of the sessions that mount the folder.
func mkdirs(r *os.Root, rel string) error {
	parts := strings.Split(rel, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		err := r.Mkdir(p, 0o777)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return fsErr(p, err)
		}
		if err := r.Chmod(p, 0o777); err != nil {
			return fsErr(p, err)
		}
	}
	return nil
}

// Move renames the file or directory src to dst inside a folder.
func (s *Service) Move(ctx context.Context, ak, name, src, dst string) error {
	rs, err := cleanPath(src)
	if err != nil {
		return err
	}
	rd, err := cleanPath(dst)
	if err != nil {
		return err
	}
	if rs == "." || rd == "." {
		return fmt.Errorf("\"src\" and \"dst\" must name paths inside the folder: %w", errdefs.ErrInvalidArgument)
	}
	_, r, err := s.open(ctx, ak, name, true)
	if err != nil {
		return err
	}
	defer r.Close()
	if _, err := r.Lstat(rd); err == nil {
		return fmt.Errorf("%s already exists: %w", rd, errdefs.ErrConflict)
	}
	if err := r.Rename(rs, rd); err != nil {
		return fsErr(rs, err)
	}
	return nil
}

// DeleteFile removes a file, or a directory (with its contents when
// recursive is set).
func (s *Service) DeleteFile(ctx context.Context, ak, name, p string, recursive bool) error {
	rel, err := cleanPath(p)
	if err != nil {
		return err
	}
	if rel == "." {
		return fmt.Errorf("name a file to delete; delete the folder itself with DELETE /folders/{name}: %w", errdefs.ErrInvalidArgument)
	}
	_, r, err := s.open(ctx, ak, name, true)
	if err != nil {
		return err
	}
	defer r.Close()
	if recursive {
		if _, err := r.Lstat(rel); err != nil {
			return fsErr(rel, err)
		}
		err = r.RemoveAll(rel)
	} else {
		err = r.Remove(rel)
	}
	if err != nil {
		return fsErr(rel, err)
	}
	return nil
}

// Open opens the regular file p of a folder for download.
func (s *Service) Open(ctx context.Context, ak, name, p string) (*os.File, fs.FileInfo, error) {
	rel, err := cleanPath(p)
	if err != nil {
		return nil, nil, err
	}
	_, r, err := s.open(ctx, ak, name, false)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	f, err := r.Open(rel)
	if err != nil {
		return nil, nil, fsErr(rel, err)
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s is not a regular file: %w", rel, errdefs.ErrInvalidArgument)
	}
	return f, fi, nil
}

// usage sums the sizes of the regular files in dir.
func usage(r *os.Root) (int64, error) {
	var n int64
	err := fs.WalkDir(r.FS(), ".", func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // removed while walking
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n, err
}

// Part is one file of an upload.
type Part struct {
	Path string
	Body io.Reader
}

// Uploader writes the files of one upload request into a folder. Each file
// streams into a temp file outside the folder and is renamed into place
// only when complete, so a failed or over-quota upload leaves nothing.
type Uploader struct {
	s     *Service
	f     Folder
	r     *os.Root
	left  int64 // bytes the policy still allows; <0: unlimited
	limit int64
}

// NewUploader checks write permission on ak's folder name and measures its
// quota. Close it when done.
func (s *Service) NewUploader(ctx context.Context, ak, name string) (*Uploader, error) {
	f, r, err := s.open(ctx, ak, name, true)
	if err != nil {
		return nil, err
	}
	// The folder's owner's policy limits its size, whoever writes.
	_, maxSize, err := s.policy(ctx, f.OwnerAccessKey)
	if err != nil {
		r.Close()
		return nil, err
	}
	u := &Uploader{s: s, f: f, r: r, left: -1, limit: maxSize}
	if maxSize > 0 {
		used, err := usage(r)
		if err != nil {
			r.Close()
			return nil, err
		}
		u.left = maxSize - used
	}
	return u, nil
}

// Close releases the folder.
func (u *Uploader) Close() error { return u.r.Close() }

var errOverQuota = errors.New("over quota")

type quotaReader struct {
	r    io.Reader
	left int64 // <0: unlimited
}

func (q *quotaReader) Read(p []byte) (int, error) {
	n, err := q.r.Read(p)
	if q.left >= 0 {
		q.left -= int64(n)
		if q.left < 0 {
			return n, errOverQuota
		}
	}
	return n, err
}

// Write stores one file at rel, replacing what was there.
func (u *Uploader) Write(p string, body io.Reader) (int64, error) {
	rel, err := cleanPath(p)
	if err != nil {
		return 0, err
	}
	if rel == "." {
		return 0, fmt.Errorf("each uploaded part needs a file name (its path in the folder): %w", errdefs.ErrInvalidArgument)
	}
	tmp, err := os.CreateTemp(filepath.Join(u.s.root, tmpDir), "upload-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	q := &quotaReader{r: body, left: u.left}
	n, err := io.Copy(tmp, q)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, errOverQuota) {
		return 0, fmt.Errorf("upload of %s stopped: folder %q would exceed %d bytes, its owner's resource policy's max_vfolder_size; nothing was written: %w",
			rel, u.f.Name, u.limit, errdefs.ErrQuotaExceeded)
	}
	if err != nil {
		return 0, fmt.Errorf("upload of %s: %w", rel, err)
	}
	_ = os.Chmod(tmp.Name(), 0o666)
	if dir := path.Dir(rel); dir != "." {
		if err := mkdirs(u.r, dir); err != nil {
			return 0, err
		}
	}
	// Resolve the target's parent through the root, so a symlinked
	// directory cannot redirect the rename outside the folder.
	parent, err := u.r.OpenRoot(path.Dir(rel))
	if err != nil {
		return 0, fsErr(path.Dir(rel), err)
	}
	defer parent.Close()
	pf, err := parent.Open(".")
	if err != nil {
		return 0, fsErr(path.Dir(rel), err)
	}
	defer pf.Close()
	if err := renameInto(tmp.Name(), pf, path.Base(rel)); err != nil {
		return 0, fsErr(rel, err)
	}
	if u.left >= 0 {
		u.left -= n
	}
	return n, nil
}
