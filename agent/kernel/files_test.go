package kernel_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"mime/multipart"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"baigo.dev/bai/agent/kernel"
	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
)

// newWorkspace makes a work dir next to a secret file outside it, with
// symlinks a user could plant: to /, to the parent dir, to the secret, and
// one that stays inside.
func newWorkspace(t *testing.T) (*kernel.Workspace, string) {
	t.Helper()
	base := t.TempDir()
	work := filepath.Join(base, "work")
	must(t, os.Mkdir(work, 0o755))
	must(t, os.WriteFile(filepath.Join(base, "secret"), []byte("secret"), 0o600))
	must(t, os.Mkdir(filepath.Join(base, "other"), 0o755))
	must(t, os.WriteFile(filepath.Join(work, "in.txt"), []byte("inside"), 0o644))
	must(t, os.Symlink("/", filepath.Join(work, "rootlink")))
	must(t, os.Symlink("..", filepath.Join(work, "uplink")))
	must(t, os.Symlink(filepath.Join(base, "other"), filepath.Join(work, "otherdir")))
	must(t, os.Symlink("../secret", filepath.Join(work, "secretlink")))
	must(t, os.Symlink("in.txt", filepath.Join(work, "goodlink")))
	ws, err := kernel.OpenWorkspace(work, os.Geteuid() == 0, 1000, 1000)
	must(t, err)
	t.Cleanup(func() { ws.Close() })
	return ws, work
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestCleanPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{"a.txt", "a.txt", false},
		{"dir/sub/a.txt", "dir/sub/a.txt", false},
		{"./a//b", "a/b", false},
		{"", ".", false},
		{"/home/work", ".", false},
		{"/home/work/x/y", "x/y", false},
		{"/etc/passwd", "", true},
		{"../x", "", true},
		{"a/../../x", "", true},
		{"a/..", "", true},
		{"/home/work/../x", "", true},
		{"a\x00b", "", true},
	} {
		got, err := kernel.CleanPath(tc.in)
		if tc.bad {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("CleanPath(%q) = %q, %v; want ErrInvalidArgument", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("CleanPath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestWorkspaceConfinement(t *testing.T) {
	t.Parallel()
	ws, work := newWorkspace(t)
	escapes := []string{"rootlink/etc/passwd", "rootlink", "uplink/secret", "otherdir/x", "secretlink", "rootlink/tmp/evil"}
	for _, p := range escapes {
		if _, err := ws.WriteFile(p, strings.NewReader("x"), 10); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("WriteFile(%q) = %v; want ErrInvalidArgument", p, err)
		}
		if _, _, err := ws.OpenRegular(p); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("OpenRegular(%q) = %v; want ErrInvalidArgument", p, err)
		}
		if err := ws.WriteTar(io.Discard, p); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("WriteTar(%q) = %v; want ErrInvalidArgument", p, err)
		}
		if _, err := ws.List(p); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("List(%q) = %v; want ErrInvalidArgument", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(work), "other", "x")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a file was written outside the work dir: %v", err)
	}
	// A symlink that stays inside works.
	f, _, err := ws.OpenRegular("goodlink")
	must(t, err)
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "inside" {
		t.Errorf("goodlink read %q", b)
	}
	// A whole-work-dir archive keeps the planted links as links and never
	// follows them.
	var buf bytes.Buffer
	must(t, ws.WriteTar(&buf, "."))
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		if strings.HasPrefix(h.Name, "work/rootlink/") || strings.Contains(h.Name, "secret") && h.Typeflag != tar.TypeSymlink {
			t.Errorf("archive followed a symlink: %s", h.Name)
		}
	}
}

func TestWorkspaceUpload(t *testing.T) {
	t.Parallel()
	ws, work := newWorkspace(t)
	body := func(files map[string]string, n int) (*multipart.Reader, error) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for name, content := range files {
			for i := 0; i < n; i++ {
				h := textproto.MIMEHeader{}
				fn := name
				if n > 1 {
					fn = name + string(rune('a'+i))
				}
				h.Set("Content-Disposition", `form-data; name="src"; filename="`+fn+`"`)
				pw, err := mw.CreatePart(h)
				if err != nil {
					return nil, err
				}
				io.WriteString(pw, content)
			}
		}
		_ = mw.WriteField("note", "a plain field is ignored")
		mw.Close()
		return multipart.NewReader(&buf, mw.Boundary()), nil
	}
	mr, err := body(map[string]string{"sub/dir/a.txt": "hello"}, 1)
	must(t, err)
	got, err := ws.Upload(mr)
	must(t, err)
	if len(got) != 1 || got[0] != "sub/dir/a.txt" {
		t.Errorf("Upload = %v", got)
	}
	fi, err := os.Stat(filepath.Join(work, "sub/dir/a.txt"))
	must(t, err)
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v; want 0644", fi.Mode())
	}
	di, err := os.Stat(filepath.Join(work, "sub/dir"))
	must(t, err)
	if di.Mode().Perm() != 0o755 {
		t.Errorf("dir mode %v; want 0755", di.Mode())
	}
	if os.Geteuid() == 0 {
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != 1000 || st.Gid != 1000 {
			t.Errorf("owner %d:%d; want 1000:1000", st.Uid, st.Gid)
		}
	}

	mr, err = body(map[string]string{"many": "x"}, aproto.UploadMaxFiles+1)
	must(t, err)
	if _, err := ws.Upload(mr); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("21 files: %v; want ErrInvalidArgument", err)
	}
	for _, bad := range []string{"../x", "/etc/x", "rootlink/tmp/x", "in.txt/x"} {
		mr, err = body(map[string]string{bad: "x"}, 1)
		must(t, err)
		if _, err := ws.Upload(mr); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("upload %q: %v; want ErrInvalidArgument", bad, err)
		}
	}
	if _, err := ws.WriteFile("big", strings.NewReader("12345"), 4); !errors.Is(err, errdefs.ErrTooLarge) {
		t.Errorf("oversize: %v; want ErrTooLarge", err)
	}
	if _, err := os.Lstat(filepath.Join(work, "big")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the partial oversize file was kept: %v", err)
	}
}

func TestWorkspaceList(t *testing.T) {
	t.Parallel()
	ws, _ := newWorkspace(t)
	_, err := ws.WriteFile("d/f.txt", strings.NewReader("12345"), 100)
	must(t, err)
	l, err := ws.List("")
	must(t, err)
	types := map[string]string{}
	for _, f := range l.Files {
		types[f.Filename] = f.Type + " " + f.Mode
	}
	if l.Abspath != "/home/work" || types["d"] != "dir drwxr-xr-x" || types["in.txt"] != "file -rw-r--r--" || !strings.HasPrefix(types["rootlink"], "symlink l") {
		t.Errorf("List = %+v", l)
	}
	l, err = ws.List("d")
	must(t, err)
	if l.Abspath != "/home/work/d" || len(l.Files) != 1 || l.Files[0].Size != 5 {
		t.Errorf("List(d) = %+v", l)
	}
	if _, err := ws.List("in.txt"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("List(file) = %v", err)
	}
	if _, err := ws.List("nope"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("List(missing) = %v", err)
	}
}
