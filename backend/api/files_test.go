package api_test

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"testing"

	"baigo.dev/bai/internal/servertest"
)

// formFile is one file part of an upload.
type formFile struct {
	name string
	data []byte
}

// multipartBody encodes files as Backend.AI's clients do: one "src" part
// per file, its filename the path under /home/work.
func multipartBody(t *testing.T, files ...formFile) ([]byte, map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="src"; filename=%q`, f.name))
		h.Set("Content-Type", "application/octet-stream")
		pw, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		pw.Write(f.data)
	}
	mw.Close()
	return buf.Bytes(), map[string]string{"Content-Type": mw.FormDataContentType()}
}

// tarParts reads a multipart/mixed answer of tar archives into
// name → content (directories as "<dir>").
func tarParts(t *testing.T, r servertest.Response) (int, map[string]string) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("download content type %q: %v", r.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(bytes.NewReader(r.Body), params["boundary"])
	out := map[string]string{}
	n := 0
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return n, out
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if ct := p.Header.Get("Content-Type"); ct != "application/x-tar" {
			t.Errorf("part content type %q", ct)
		}
		tr := tar.NewReader(p)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Typeflag == tar.TypeDir {
				out[h.Name] = "<dir>"
				continue
			}
			b, _ := io.ReadAll(tr)
			out[h.Name] = string(b)
		}
	}
}

func TestSessionFiles(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, servertest.Options{Agent: true})
	if r := s.Do("POST", "/session", map[string]any{"image": "python", "name": "files1"}, nil); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}

	// Several files, subdirectories, one over the manager's 4 MiB body
	// limit (uploads have their own).
	big := bytes.Repeat([]byte("0123456789abcdef"), 5<<20/16)
	body, hdr := multipartBody(t,
		formFile{"a.txt", []byte("alpha\n")},
		formFile{"sub/dir/b.py", []byte("print('from b')\n")},
		formFile{"big.bin", big})
	if r := s.Do("POST", "/session/files1/upload", body, hdr); r.Status != 204 {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	res := execute(t, s, "files1", "import os\nexec(open('sub/dir/b.py').read())\nprint(os.path.getsize('big.bin'))\nos.symlink('/', 'esc')\nos.symlink('/etc', 'escdir')\nos.symlink('a.txt', 'good')")
	if got := text(res, "stdout"); got != fmt.Sprintf("from b\n%d\n", len(big)) {
		t.Fatalf("uploaded files seen by the kernel: %q %+v", got, res)
	}

	// Listing.
	r := s.Do("GET", "/session/files1/files?path=", nil, nil)
	if r.Status != 200 {
		t.Fatalf("list: %d %s", r.Status, r.Body)
	}
	var list struct{ Files, Errors, Abspath string }
	r.JSON(t, &list)
	var entries []struct {
		Filename, Mode, Type, Mtime string
		Size                        int64
	}
	if err := json.Unmarshal([]byte(list.Files), &entries); err != nil {
		t.Fatalf("files is not a JSON text of entries: %v: %s", err, r.Body)
	}
	kinds := map[string]string{}
	for _, e := range entries {
		kinds[e.Filename] = e.Type
		if e.Mtime == "" || e.Mode == "" {
			t.Errorf("entry lacks mtime or mode: %+v", e)
		}
	}
	if list.Abspath != "/home/work" || kinds["a.txt"] != "file" || kinds["sub"] != "dir" || kinds["esc"] != "symlink" {
		t.Errorf("listing: %s", r.Body)
	}
	run(t, s, []scenario{
		{name: "list subdir", method: "GET", path: "/session/files1/files?path=sub/dir", status: 200, contains: []string{`"abspath":"/home/work/sub/dir"`, `b.py`}},
		{name: "list by json body", method: "GET", path: "/session/files1/files", body: map[string]any{"path": "sub"}, status: 200, contains: []string{`"abspath":"/home/work/sub"`}},
		{name: "list v4 prefix", method: "GET", path: "/kernel/files1/files", hdr: map[string]string{"X-BackendAI-Version": "v4.20190615"}, status: 200, contains: []string{`a.txt`}},
		{name: "list missing", method: "GET", path: "/session/files1/files?path=nope", status: 404},
		{name: "list traversal", method: "GET", path: "/session/files1/files?path=../..", status: 400, contains: []string{`..`}},
		{name: "list absolute", method: "GET", path: "/session/files1/files?path=/etc", status: 400, contains: []string{"absolute"}},
		{name: "list through symlink", method: "GET", path: "/session/files1/files?path=esc", status: 400, contains: []string{"outside"}},
		{name: "list through dir symlink", method: "GET", path: "/session/files1/files?path=escdir", status: 400},
		{name: "single", method: "GET", path: "/session/files1/download_single?file=a.txt", status: 200, contains: []string{"alpha\n"}},
		{name: "single via inner symlink", method: "GET", path: "/session/files1/download_single?file=good", status: 200, contains: []string{"alpha\n"}},
		{name: "single dir", method: "GET", path: "/session/files1/download_single?file=sub", status: 400, contains: []string{"directory"}},
		{name: "single missing", method: "GET", path: "/session/files1/download_single?file=nope", status: 404},
		{name: "single escape", method: "GET", path: "/session/files1/download_single?file=esc/etc/passwd", status: 400},
		{name: "single escape dir", method: "GET", path: "/session/files1/download_single?file=escdir/passwd", status: 400},
		{name: "single traversal", method: "GET", path: "/session/files1/download_single?file=../../../etc/passwd", status: 400},
		{name: "download escape", method: "POST", path: "/session/files1/download", body: map[string]any{"files": []string{"a.txt", "esc"}}, status: 400},
		{name: "download nothing", method: "POST", path: "/session/files1/download", body: map[string]any{"files": []string{}}, status: 400},
		{name: "not multipart", method: "POST", path: "/session/files1/upload", body: map[string]any{"files": 1}, status: 400, contains: []string{"multipart"}},
	})
	if r := s.Do("GET", "/session/files1/download_single?file=big.bin", nil, nil); r.Status != 200 || !bytes.Equal(r.Body, big) || r.Header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("download_single big.bin: %d, %d bytes, %q", r.Status, len(r.Body), r.Header.Get("Content-Type"))
	}

	// Download: one tar per path, by JSON body and by query.
	for _, req := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/session/files1/download", map[string]any{"files": []string{"a.txt", "sub"}}},
		{"GET", "/session/files1/download", map[string]any{"files": []string{"a.txt", "sub"}}},
		{"GET", "/session/files1/download?files=a.txt&files=sub", nil},
	} {
		r := s.Do(req.method, req.path, req.body, nil)
		if r.Status != 200 {
			t.Fatalf("%s %s: %d %s", req.method, req.path, r.Status, r.Body)
		}
		n, got := tarParts(t, r)
		if n != 2 || got["a.txt"] != "alpha\n" || got["sub/dir/b.py"] != "print('from b')\n" || got["sub/"] != "<dir>" {
			t.Errorf("%s %s: %d parts %v", req.method, req.path, n, got)
		}
	}

	// Confinement and limits of uploads.
	for _, tc := range []struct {
		name   string
		files  []formFile
		status int
		want   string
	}{
		{"over the agent's general 16 MiB body limit", []formFile{{"mid.bin", make([]byte, 17<<20)}}, 204, ""},
		{"traversal", []formFile{{"../../evil.txt", []byte("x")}}, 400, "paths must stay inside"},
		{"absolute", []formFile{{"/tmp/evil.txt", []byte("x")}}, 400, "absolute"},
		{"through symlink to /", []formFile{{"esc/tmp/evil.txt", []byte("x")}}, 400, "outside"},
		{"through symlink to a dir", []formFile{{"escdir/evil.txt", []byte("x")}}, 400, "outside"},
		{"too many", func() []formFile {
			var fs []formFile
			for i := 0; i < 21; i++ {
				fs = append(fs, formFile{fmt.Sprintf("many/%d.txt", i), []byte("x")})
			}
			return fs
		}(), 400, "at most 20"},
		{"file too large", []formFile{{"huge.bin", make([]byte, 64<<20+1)}}, 413, "larger than 67108864"},
	} {
		body, hdr := multipartBody(t, tc.files...)
		r := s.Do("POST", "/session/files1/upload", body, hdr)
		if r.Status != tc.status || !bytes.Contains(r.Body, []byte(tc.want)) {
			t.Errorf("upload %s: %d, want %d and %q: %s", tc.name, r.Status, tc.status, tc.want, r.Body)
		}
	}
	res = execute(t, s, "files1", "import os\nprint(os.path.exists('/tmp/evil.txt'), os.path.exists('huge.bin'))")
	if got := text(res, "stdout"); got != "False False\n" {
		t.Errorf("after refused uploads: %q", got)
	}

	// Another tenant sees nothing.
	ak, sk := s.AddUser(t, "files-other@example.com")
	body, hdr = multipartBody(t, formFile{"x.txt", []byte("x")})
	for _, c := range []struct {
		m, p string
		body any
		hdr  map[string]string
	}{
		{"POST", "/session/files1/upload", body, hdr},
		{"GET", "/session/files1/files", nil, nil},
		{"GET", "/session/files1/download_single?file=a.txt", nil, nil},
		{"POST", "/session/files1/download", map[string]any{"files": []string{"a.txt"}}, nil},
	} {
		if r := s.DoAs(ak, sk, c.m, c.p, c.body, c.hdr); r.Status != 404 {
			t.Errorf("other tenant %s %s = %d %s", c.m, c.p, r.Status, r.Body)
		}
	}

	// A session that no longer runs: 409.
	if r := s.Do("DELETE", "/session/files1", nil, nil); r.Status != 200 {
		t.Fatalf("destroy: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/session/files1/files", nil, nil); r.Status != 409 {
		t.Errorf("files of a terminated session: %d %s", r.Status, r.Body)
	}
}

// TestOldVersionMultipartUpload: clients before v4.20181215 sign the body's
// hash, but an empty one for multipart bodies, as Backend.AI's SDK does.
func TestOldVersionMultipartUpload(t *testing.T) {
	s := servertest.New(t, servertest.Options{Agent: true})
	if r := s.Do("POST", "/kernel/create", map[string]any{"lang": "python", "clientSessionToken": "oldup"}, map[string]string{"X-BackendAI-Version": "v3.20170615"}); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("src", "old.txt")
	fw.Write([]byte("from an old client"))
	mw.Close()
	r := s.Do("POST", "/kernel/oldup/upload", body.Bytes(), map[string]string{"X-BackendAI-Version": "v3.20170615", "Content-Type": mw.FormDataContentType()})
	if r.Status != 204 {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
}

// TestOldVersionBodyCapped: an old client's body is read whole to check
// its hash before the signature is known good, so it is capped even on the
// routes whose bodies otherwise stream to disk uncapped (folder uploads).
func TestOldVersionBodyCapped(t *testing.T) {
	s := servertest.New(t, servertest.Options{})
	if r := s.Do("POST", "/folders", map[string]any{"name": "capped"}, nil); r.Status != 201 {
		t.Fatalf("create folder: %d %s", r.Status, r.Body)
	}
	big := bytes.Repeat([]byte("x"), 5<<20)
	r := s.Do("POST", "/folders/capped/upload", big, map[string]string{"X-BackendAI-Version": "v3.20170615", "Content-Type": "application/octet-stream"})
	if r.Status != 413 {
		t.Fatalf("old-version 5 MiB non-multipart body: %d %s, want 413", r.Status, r.Body)
	}
}
