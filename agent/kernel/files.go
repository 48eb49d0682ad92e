package kernel

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/relpath"
)

// ContainerWorkDir is where a kernel's work dir appears inside its container.
const ContainerWorkDir = "/home/work"

// Workspace is a kernel's work dir opened for file transfers. Every
// operation goes through an os.Root, so no path (however many symlinks the
// user planted inside the session) can reach outside the work dir.
type Workspace struct {
	root     *os.Root
	chown    bool
	uid, gid int
}

// OpenWorkspace opens dir as a workspace. When chown is set, written files
// and made dirs are given to uid:gid (the container user).
func OpenWorkspace(dir string, chown bool, uid, gid int) (*Workspace, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("work dir %s: %w", dir, errdefs.ErrNotFound)
		}
		return nil, fmt.Errorf("open work dir: %w", err)
	}
	return &Workspace{root: root, chown: chown, uid: uid, gid: gid}, nil
}

// Workspace opens the work dir of kernel id. The caller closes it.
func (m *Manager) Workspace(id string) (*Workspace, error) {
	k, err := m.get(id)
	if err != nil {
		return nil, err
	}
	return OpenWorkspace(filepath.Join(k.dir, "work"), m.cfg.Chown, m.cfg.UID, m.cfg.GID)
}

// Close releases the workspace.
func (w *Workspace) Close() error { return w.root.Close() }

// CleanPath checks a user-given path and returns it relative to the work
// dir ("." for the work dir itself). Paths under /home/work are taken as
// that dir; other absolute paths and ".." components are refused.
func CleanPath(p string) (string, error) {
	return relpath.Clean(p, ContainerWorkDir, ContainerWorkDir)
}

// fsErr maps a file system error on rel to an errdefs sentinel with a
// message a user can act on.
func fsErr(rel string, err error) error {
	var pe *fs.PathError
	inner := err
	if errors.As(err, &pe) {
		inner = pe.Err
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: no such file or directory in %s: %w", rel, ContainerWorkDir, errdefs.ErrNotFound)
	case strings.Contains(inner.Error(), "escapes"):
		return fmt.Errorf("%s resolves outside %s (through a symlink?): %w", rel, ContainerWorkDir, errdefs.ErrInvalidArgument)
	case errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("%s: a path component is not a directory: %w", rel, errdefs.ErrInvalidArgument)
	case errors.Is(err, syscall.EISDIR):
		return fmt.Errorf("%s is a directory: %w", rel, errdefs.ErrInvalidArgument)
	case errors.Is(err, syscall.ELOOP):
		return fmt.Errorf("%s: too many levels of symlinks: %w", rel, errdefs.ErrInvalidArgument)
	}
	return fmt.Errorf("%s: %w", rel, err)
}

// mkdirs makes the parent dirs of rel, giving new ones to the container user.
func (w *Workspace) mkdirs(dir string) error {
	if dir == "." {
		return nil
	}
	cur := ""
	for _, c := range strings.Split(dir, "/") {
		cur = path.Join(cur, c)
		err := w.root.Mkdir(cur, 0o755)
		if errors.Is(err, fs.ErrExist) {
			fi, serr := w.root.Stat(cur)
			if serr != nil {
				return fsErr(cur, serr)
			}
			if !fi.IsDir() {
				return fmt.Errorf("%s exists and is not a directory: %w", cur, errdefs.ErrInvalidArgument)
			}
			continue
		}
		if err != nil {
			return fsErr(cur, err)
		}
		_ = w.root.Chmod(cur, 0o755)
		if w.chown {
			if err := w.root.Lchown(cur, w.uid, w.gid); err != nil {
				return fmt.Errorf("chown %s: %w", cur, err)
			}
		}
	}
	return nil
}

// WriteFile writes r to rel (parent dirs made), at most max bytes; a longer
// stream removes the partial file and fails with errdefs.ErrTooLarge.
func (w *Workspace) WriteFile(rel string, r io.Reader, max int64) (int64, error) {
	rel, err := CleanPath(rel)
	if err != nil {
		return 0, err
	}
	if rel == "." {
		return 0, fmt.Errorf("empty file name: %w", errdefs.ErrInvalidArgument)
	}
	if err := w.mkdirs(path.Dir(rel)); err != nil {
		return 0, err
	}
	f, err := w.root.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, fsErr(rel, err)
	}
	n, err := io.Copy(f, io.LimitReader(r, max+1))
	if err == nil && n > max {
		err = fmt.Errorf("file %s is larger than %d bytes: %w", rel, max, errdefs.ErrTooLarge)
	}
	if err == nil {
		err = f.Chmod(0o644)
	}
	if err == nil && w.chown {
		err = f.Chown(w.uid, w.gid)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		// The work dir's size is capped (package scratch).
		err = fmt.Errorf("file %s does not fit: no space left in %s: %w", rel, ContainerWorkDir, errdefs.ErrTooLarge)
	}
	if err != nil {
		_ = w.root.Remove(rel)
		return n, err
	}
	return n, nil
}

// Upload writes the file parts of a multipart/form-data stream as they
// arrive. Each file part's filename is its path relative to the work dir.
// More than aproto.UploadMaxFiles files fail with ErrInvalidArgument, a file
// over aproto.UploadMaxFileSize with ErrTooLarge; files written before the
// failure are kept.
func (w *Workspace) Upload(mr *multipart.Reader) ([]string, error) {
	written := []string{}
	for {
		p, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			return written, nil
		}
		if err != nil {
			return written, fmt.Errorf("malformed multipart body: %w: %w", err, errdefs.ErrInvalidArgument)
		}
		name := partFileName(p)
		if name == "" {
			// A plain form field: not a file.
			_, _ = io.Copy(io.Discard, p)
			continue
		}
		if len(written) >= aproto.UploadMaxFiles {
			return written, fmt.Errorf("too many files: at most %d per upload: %w", aproto.UploadMaxFiles, errdefs.ErrInvalidArgument)
		}
		rel, err := CleanPath(name)
		if err != nil {
			return written, err
		}
		if _, err := w.WriteFile(rel, p, aproto.UploadMaxFileSize); err != nil {
			return written, err
		}
		written = append(written, rel)
	}
}

// partFileName reads the filename parameter of a part's
// Content-Disposition, keeping its directories (multipart.Part.FileName
// strips them).
func partFileName(p *multipart.Part) string {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return ""
	}
	return params["filename"]
}

// Stat describes rel, following symlinks that stay inside the work dir.
func (w *Workspace) Stat(rel string) (fs.FileInfo, error) {
	rel, err := CleanPath(rel)
	if err != nil {
		return nil, err
	}
	fi, err := w.root.Stat(rel)
	if err != nil {
		return nil, fsErr(rel, err)
	}
	return fi, nil
}

// OpenRegular opens rel for reading; it must be a regular file.
func (w *Workspace) OpenRegular(rel string) (*os.File, fs.FileInfo, error) {
	rel, err := CleanPath(rel)
	if err != nil {
		return nil, nil, err
	}
	f, err := w.root.Open(rel)
	if err != nil {
		return nil, nil, fsErr(rel, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fsErr(rel, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		what := "not a regular file"
		if fi.IsDir() {
			what = "a directory; use download for directories"
		}
		return nil, nil, fmt.Errorf("%s is %s: %w", rel, what, errdefs.ErrInvalidArgument)
	}
	return f, fi, nil
}

// ArchiveName is the name the tar archive of rel gets.
func ArchiveName(rel string) string {
	rel, _ = CleanPath(rel)
	if rel == "." {
		return "work"
	}
	return path.Base(rel)
}

// WriteTar writes a tar archive of rel to out: the file, or the directory
// and everything below it, under rel's base name. Symlinks inside a
// directory are archived as links, never followed.
func (w *Workspace) WriteTar(out io.Writer, rel string) error {
	rel, err := CleanPath(rel)
	if err != nil {
		return err
	}
	fi, err := w.root.Stat(rel)
	if err != nil {
		return fsErr(rel, err)
	}
	tw := tar.NewWriter(out)
	if err := w.tarEntry(tw, rel, ArchiveName(rel), fi); err != nil {
		return err
	}
	return tw.Close()
}

func (w *Workspace) tarEntry(tw *tar.Writer, rel, name string, fi fs.FileInfo) error {
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		l, err := w.root.Readlink(rel)
		if err != nil {
			return fsErr(rel, err)
		}
		link = l
	}
	if !fi.Mode().IsRegular() && !fi.IsDir() && link == "" {
		return nil // sockets, fifos, devices: skipped
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return fmt.Errorf("tar %s: %w", rel, err)
	}
	hdr.Name = name
	if fi.IsDir() {
		hdr.Name += "/"
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	switch {
	case fi.Mode().IsRegular():
		f, err := w.root.Open(rel)
		if err != nil {
			return fsErr(rel, err)
		}
		defer f.Close()
		if _, err := io.CopyN(tw, f, hdr.Size); err != nil {
			return fmt.Errorf("tar %s: %w", rel, err)
		}
	case fi.IsDir():
		d, err := w.root.Open(rel)
		if err != nil {
			return fsErr(rel, err)
		}
		ents, err := d.ReadDir(-1)
		d.Close()
		if err != nil {
			return fsErr(rel, err)
		}
		sort.Slice(ents, func(i, j int) bool { return ents[i].Name() < ents[j].Name() })
		for _, e := range ents {
			cfi, err := e.Info()
			if err != nil {
				continue // vanished meanwhile
			}
			if err := w.tarEntry(tw, path.Join(rel, e.Name()), name+"/"+e.Name(), cfi); err != nil {
				return err
			}
		}
	}
	return nil
}

// List lists the directory rel. Symlinks are reported as such, not
// followed.
func (w *Workspace) List(rel string) (aproto.FileList, error) {
	rel, err := CleanPath(rel)
	if err != nil {
		return aproto.FileList{}, err
	}
	d, err := w.root.Open(rel)
	if err != nil {
		return aproto.FileList{}, fsErr(rel, err)
	}
	defer d.Close()
	fi, err := d.Stat()
	if err != nil {
		return aproto.FileList{}, fsErr(rel, err)
	}
	if !fi.IsDir() {
		return aproto.FileList{}, fmt.Errorf("%s is not a directory: %w", rel, errdefs.ErrInvalidArgument)
	}
	ents, err := d.ReadDir(-1)
	if err != nil {
		return aproto.FileList{}, fsErr(rel, err)
	}
	out := aproto.FileList{Files: []aproto.FileEntry{}, Abspath: ContainerWorkDir}
	if rel != "." {
		out.Abspath += "/" + rel
	}
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			continue
		}
		typ := "file"
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			typ = "symlink"
		case info.IsDir():
			typ = "dir"
		}
		out.Files = append(out.Files, aproto.FileEntry{
			Filename: e.Name(), Size: info.Size(), Mode: FileMode(info.Mode()),
			Mtime: info.ModTime().UTC(), Type: typ,
		})
	}
	sort.Slice(out.Files, func(i, j int) bool { return out.Files[i].Filename < out.Files[j].Filename })
	return out, nil
}

// FileMode renders a mode the way ls -l and Python's stat.filemode do.
func FileMode(m fs.FileMode) string {
	b := []byte("?rwxrwxrwx")
	switch {
	case m&fs.ModeSymlink != 0:
		b[0] = 'l'
	case m.IsDir():
		b[0] = 'd'
	case m&fs.ModeNamedPipe != 0:
		b[0] = 'p'
	case m&fs.ModeSocket != 0:
		b[0] = 's'
	case m&fs.ModeCharDevice != 0:
		b[0] = 'c'
	case m&fs.ModeDevice != 0:
		b[0] = 'b'
	default:
		b[0] = '-'
	}
	for i := 0; i < 9; i++ {
		if m&(1<<uint(8-i)) == 0 {
			b[i+1] = '-'
		}
	}
	special := func(idx int, set bool, lower, upper byte) {
		if !set {
			return
		}
		if b[idx] == '-' {
			b[idx] = upper
		} else {
			b[idx] = lower
		}
	}
	special(3, m&fs.ModeSetuid != 0, 's', 'S')
	special(6, m&fs.ModeSetgid != 0, 's', 'S')
	special(9, m&fs.ModeSticky != 0, 't', 'T')
	return string(b)
}
