package api_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/sign"
	"baigo.dev/bai/internal/servertest"
)

const chunkType = "application/offset+octet-stream"

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// chunkHdr are the headers of a PATCH at offset.
func chunkHdr(offset int) map[string]string {
	return map[string]string{"Content-Type": chunkType, "Upload-Offset": strconv.Itoa(offset)}
}

// requestUpload asks for a resumable upload and returns its URL.
func requestUpload(t *testing.T, s *servertest.Server, ak, sk, folder, path string, size int) string {
	t.Helper()
	r := s.DoAs(ak, sk, "POST", "/folders/"+folder+"/request-upload", map[string]any{"path": path, "size": size}, nil)
	var out struct {
		Token  string `json:"token"`
		URL    string `json:"url"`
		Offset *int64 `json:"offset"`
	}
	if r.Status != 201 {
		t.Fatalf("request-upload %s: %d %s", path, r.Status, r.Body)
	}
	r.JSON(t, &out)
	if len(out.Token) != 32 || out.URL != "/folders/"+folder+"/uploads/"+out.Token || out.Offset == nil || *out.Offset != 0 {
		t.Fatalf("request-upload answer: %s", r.Body)
	}
	return out.URL
}

// stagingDir is the test server's staging folder of resumable uploads.
func stagingDir(s *servertest.Server) string {
	return filepath.Join(s.Cfg.DataDir, "vfolders", ".uploads")
}

func stagedEntries(t *testing.T, s *servertest.Server) []string {
	t.Helper()
	ents, err := os.ReadDir(stagingDir(s))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestFolderResumableUpload(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, servertest.Options{})
	ak, sk := s.Creds.AccessKey, s.Creds.SecretKey
	for _, f := range []string{"big", "other"} {
		if r := s.Do("POST", "/folders", map[string]any{"name": f}, nil); r.Status != 201 {
			t.Fatalf("create %s: %d %s", f, r.Status, r.Body)
		}
	}
	payload := randomBytes(t, 300)
	u := requestUpload(t, s, ak, sk, "big", "sub/data.bin", len(payload))
	token := filepath.Base(u)

	// Staged outside the folder: neither listed nor downloadable.
	if _, err := os.Stat(filepath.Join(stagingDir(s), token)); err != nil {
		t.Fatalf("staged data: %v", err)
	}
	type step = struct {
		method, path string
		body         any
		hdr          map[string]string
		status       int
		want, offset string
	}
	// Three pieces, with the refusals in between.
	run := func(steps []step) {
		t.Helper()
		for _, st := range steps {
			r := s.Do(st.method, st.path, st.body, st.hdr)
			if r.Status != st.status || !strings.Contains(string(r.Body), st.want) {
				t.Errorf("%s %s = %d %s; want %d containing %q", st.method, st.path, r.Status, r.Body, st.status, st.want)
			}
			if st.offset != "" && r.Header.Get("Upload-Offset") != st.offset {
				t.Errorf("%s %s: Upload-Offset %q, want %q", st.method, st.path, r.Header.Get("Upload-Offset"), st.offset)
			}
		}
	}
	run([]step{
		{"GET", "/folders/big/files", nil, nil, 200, `"items":[]`, ""},
		{"HEAD", u, nil, nil, 200, "", "0"},
		{"GET", u, nil, nil, 200, `"offset":0,"path":"sub/data.bin","size":300`, "0"},
		{"PATCH", u, payload[:100], chunkHdr(0), 204, "", "100"},
		{"PATCH", u, payload[:100], chunkHdr(0), 409, "at offset 100, not 0", "100"},
		{"PATCH", u, append(append([]byte{}, payload[100:]...), 'x'), chunkHdr(100), 413, "declared size of 300", ""},
		{"PATCH", u, payload[100:200], nil, 400, "Content-Type application/offset+octet-stream", ""},
		{"PATCH", u, payload[100:200], map[string]string{"Content-Type": chunkType}, 400, "Upload-Offset", ""},
		{"PATCH", u, payload[100:200], chunkHdr(100), 204, "", "200"},
		{"HEAD", u, nil, nil, 200, "", "200"},
		{"GET", "/folders/big/files", nil, nil, 200, `"items":[]`, ""},
		{"GET", "/folders/big/download?file=sub/data.bin", nil, nil, 404, "", ""},
		// The token belongs to folder big.
		{"HEAD", "/folders/other/uploads/" + token, nil, nil, 404, "", ""},
		{"PATCH", "/folders/other/uploads/" + token, payload[200:], chunkHdr(200), 404, "no pending upload", ""},
		{"PATCH", "/folders/big/uploads/" + strings.Repeat("0", 32), payload[200:], chunkHdr(200), 404, "no pending upload", ""},
		{"PATCH", "/folders/big/uploads/..%2F..%2Fetc", payload[200:], chunkHdr(200), 404, "", ""},
	})
	r := s.Do("PATCH", u, payload[200:], chunkHdr(200))
	if r.Status != 204 || r.Header.Get("Upload-Complete") != "1" || r.Header.Get("Upload-Offset") != "300" {
		t.Fatalf("last PATCH = %d %v %s; want 204 with Upload-Complete: 1 and Upload-Offset: 300", r.Status, r.Header, r.Body)
	}
	if r := s.Do("GET", "/folders/big/download?file=sub/data.bin", nil, nil); r.Status != 200 || !bytes.Equal(r.Body, payload) {
		t.Fatalf("download after completion: %d, %d bytes, equal %v", r.Status, len(r.Body), bytes.Equal(r.Body, payload))
	}
	run([]step{
		{"HEAD", u, nil, nil, 404, "", ""},
		{"PATCH", u, nil, chunkHdr(300), 404, "no pending upload", ""},
		{"POST", "/folders/big/request-upload", map[string]any{"path": "../x", "size": 1}, nil, 400, "..", ""},
		{"POST", "/folders/big/request-upload", map[string]any{"path": "/etc/x", "size": 1}, nil, 400, "absolute", ""},
		{"POST", "/folders/big/request-upload", map[string]any{"path": "", "size": 1}, nil, 400, "path", ""},
		{"POST", "/folders/big/request-upload", map[string]any{"path": "x"}, nil, 400, "size", ""},
		{"POST", "/folders/big/request-upload", map[string]any{"path": "x", "size": -1}, nil, 400, "size", ""},
		{"POST", "/folders/missing/request-upload", map[string]any{"path": "x", "size": 1}, nil, 404, "missing", ""},
		{"POST", "/folders/big/request-upload", map[string]any{"path": "sub", "size": 1}, nil, 400, "is a directory", ""},
		{"POST", "/folders/big/request-upload", map[string]any{"path": "sub/data.bin/x", "size": 1}, nil, 400, "not a directory", ""},
	})
	if left := stagedEntries(t, s); len(left) != 0 {
		t.Errorf("staging after completion holds %v", left)
	}

	// A 0-byte upload lands at its first, empty, PATCH.
	u0 := requestUpload(t, s, ak, sk, "big", "empty.txt", 0)
	if r := s.Do("PATCH", u0, nil, chunkHdr(0)); r.Status != 204 || r.Header.Get("Upload-Complete") != "1" {
		t.Fatalf("empty upload's PATCH = %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/folders/big/files", nil, nil); !strings.Contains(string(r.Body), `"name":"empty.txt"`) {
		t.Errorf("empty upload not listed: %s", r.Body)
	}

	// A file that cannot land keeps its bytes until the way is clear.
	ul := requestUpload(t, s, ak, sk, "big", "later", 3)
	if r := s.Do("POST", "/folders/big/mkdir", map[string]any{"path": "later/sub"}, nil); r.Status != 201 {
		t.Fatalf("mkdir: %d %s", r.Status, r.Body)
	}
	run([]step{
		{"PATCH", ul, []byte("abc"), chunkHdr(0), 400, "PATCH an empty body at Upload-Offset 3", "3"},
		{"HEAD", ul, nil, nil, 200, "", "3"},
		{"DELETE", "/folders/big/delete_files", map[string]any{"files": []string{"later"}, "recursive": true}, nil, 204, "", ""},
		{"PATCH", ul, nil, chunkHdr(3), 204, "", "3"},
		{"GET", "/folders/big/download?file=later", nil, nil, 200, "abc", ""},
	})

	// A body of unannounced length past the size is refused whole.
	uc := requestUpload(t, s, ak, sk, "big", "chunked.bin", 10)
	if r := s.Do("PATCH", uc, []byte("12345"), chunkHdr(0)); r.Status != 204 {
		t.Fatalf("PATCH: %d %s", r.Status, r.Body)
	}
	st := rawPatch(t, s, ak, sk, uc, 5, []byte("6789012"), -1, true)
	if !strings.HasPrefix(st, "HTTP/1.1 413") {
		t.Errorf("chunked body past the size: %q", st)
	}
	if r := s.Do("HEAD", uc, nil, nil); r.Header.Get("Upload-Offset") != "5" {
		t.Errorf("offset after the refused chunked body: %q, want 5", r.Header.Get("Upload-Offset"))
	}

	// Abort removes the staged data.
	if r := s.Do("DELETE", uc, nil, nil); r.Status != 204 {
		t.Fatalf("abort: %d %s", r.Status, r.Body)
	}
	if r := s.Do("HEAD", uc, nil, nil); r.Status != 404 {
		t.Errorf("HEAD after abort: %d", r.Status)
	}
	if r := s.Do("DELETE", uc, nil, nil); r.Status != 404 {
		t.Errorf("second abort: %d %s", r.Status, r.Body)
	}

	// Deleting the folder removes its pending uploads.
	requestUpload(t, s, ak, sk, "other", "x.bin", 10)
	if left := stagedEntries(t, s); len(left) != 2 {
		t.Fatalf("staging holds %v, want one upload (data and metadata)", left)
	}
	if r := s.Do("DELETE", "/folders/other", nil, nil); r.Status != 204 {
		t.Fatalf("delete folder: %d %s", r.Status, r.Body)
	}
	if left := stagedEntries(t, s); len(left) != 0 {
		t.Errorf("staging after the folder's deletion holds %v", left)
	}
}

// TestFolderResumableTenancy: tokens are per access key, even on a folder
// shared read-write; a read-only share cannot start an upload.
func TestFolderResumableTenancy(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, servertest.Options{})
	if r := s.Do("POST", "/folders", map[string]any{"name": "shared"}, nil); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	u := requestUpload(t, s, s.Creds.AccessKey, s.Creds.SecretKey, "shared", "mine.bin", 10)
	ak, sk := s.AddUser(t, "guest@example.com")
	denied := func(who string) {
		t.Helper()
		for _, d := range []struct {
			method string
			body   any
			hdr    map[string]string
		}{
			{"HEAD", nil, nil}, {"GET", nil, nil}, {"PATCH", []byte("0123456789"), chunkHdr(0)}, {"DELETE", nil, nil},
		} {
			if r := s.DoAs(ak, sk, d.method, u, d.body, d.hdr); r.Status != 404 {
				t.Errorf("%s: %s of the owner's token = %d %s; want 404", who, d.method, r.Status, r.Body)
			}
		}
	}
	denied("a stranger")
	if r := s.DoAs(ak, sk, "POST", "/folders/shared/request-upload", map[string]any{"path": "x", "size": 1}, nil); r.Status != 404 {
		t.Errorf("a stranger's request-upload = %d %s; want 404", r.Status, r.Body)
	}

	invite := func(perm string) {
		t.Helper()
		if r := s.Do("POST", "/folders/shared/invite", map[string]any{"invitee": ak, "perm": perm}, nil); r.Status != 201 {
			t.Fatalf("invite: %d %s", r.Status, r.Body)
		}
		var invs struct {
			Invitations []struct {
				ID string `json:"id"`
			} `json:"invitations"`
		}
		s.DoAs(ak, sk, "GET", "/folders/invitations/list", nil, nil).JSON(t, &invs)
		if len(invs.Invitations) != 1 {
			t.Fatalf("invitations: %+v", invs)
		}
		if r := s.DoAs(ak, sk, "POST", "/folders/invitations/accept", map[string]any{"inv_id": invs.Invitations[0].ID}, nil); r.Status != 204 {
			t.Fatalf("accept: %d %s", r.Status, r.Body)
		}
	}
	invite("ro")
	if r := s.DoAs(ak, sk, "POST", "/folders/shared/request-upload", map[string]any{"path": "x", "size": 1}, nil); r.Status != 403 || !strings.Contains(string(r.Body), "read-only") {
		t.Errorf("read-only invitee's request-upload = %d %s; want 403", r.Status, r.Body)
	}
	invite("rw")
	denied("a read-write invitee")
	gu := requestUpload(t, s, ak, sk, "shared", "theirs.bin", 3)
	if r := s.Do("HEAD", gu, nil, nil); r.Status != 404 {
		t.Errorf("the owner's HEAD of the invitee's token = %d; want 404", r.Status)
	}
	if r := s.DoAs(ak, sk, "PATCH", gu, []byte("abc"), chunkHdr(0)); r.Status != 204 || r.Header.Get("Upload-Complete") != "1" {
		t.Errorf("invitee's PATCH = %d %s", r.Status, r.Body)
	}
}

// TestFolderResumableQuota: request-upload reserves the declared size, and
// the quota is checked again on the folder's real usage at completion.
func TestFolderResumableQuota(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, servertest.Options{})
	if r := s.Do("PUT", "/resource-policies/tiny", map[string]any{"max_vfolder_size": 100}, nil); r.Status != 200 {
		t.Fatalf("set policy: %d %s", r.Status, r.Body)
	}
	ak, sk := s.AddUser(t, "quota@example.com")
	if r := s.Do("PUT", "/keypairs/"+ak+"/resource-policy", map[string]any{"resource_policy": "tiny"}, nil); r.Status != 204 {
		t.Fatalf("assign policy: %d %s", r.Status, r.Body)
	}
	if r := s.DoAs(ak, sk, "POST", "/folders", map[string]any{"name": "q"}, nil); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	ua := requestUpload(t, s, ak, sk, "q", "a.bin", 60)
	// 60 reserved + 60 > 100.
	r := s.DoAs(ak, sk, "POST", "/folders/q/request-upload", map[string]any{"path": "b.bin", "size": 60}, nil)
	if r.Status != 412 || !strings.Contains(string(r.Body), "max_vfolder_size") || !strings.Contains(string(r.Body), "reserve 60") {
		t.Errorf("request past the reservations = %d %s; want 412 naming max_vfolder_size", r.Status, r.Body)
	}
	ub := requestUpload(t, s, ak, sk, "q", "b.bin", 40)
	if r := s.DoAs(ak, sk, "DELETE", ub, nil, nil); r.Status != 204 {
		t.Fatalf("abort: %d %s", r.Status, r.Body)
	}
	// A multipart upload does not see reservations: 50 bytes land, and
	// a.bin no longer fits when it completes.
	body, hdr := folderUploadBody(t, map[string]string{"m.txt": strings.Repeat("m", 50)})
	if r := s.DoAs(ak, sk, "POST", "/folders/q/upload", body, hdr); r.Status != 201 {
		t.Fatalf("multipart upload: %d %s", r.Status, r.Body)
	}
	if r := s.DoAs(ak, sk, "PATCH", ua, randomBytes(t, 30), chunkHdr(0)); r.Status != 204 {
		t.Fatalf("first half: %d %s", r.Status, r.Body)
	}
	r = s.DoAs(ak, sk, "PATCH", ua, randomBytes(t, 30), chunkHdr(30))
	if r.Status != 412 || !strings.Contains(string(r.Body), "max_vfolder_size") || r.Header.Get("Upload-Complete") != "" {
		t.Errorf("completion past the quota = %d %v %s; want 412", r.Status, r.Header, r.Body)
	}
	if r := s.DoAs(ak, sk, "HEAD", ua, nil, nil); r.Status != 404 {
		t.Errorf("HEAD after the refused completion: %d; want 404 (staged data deleted)", r.Status)
	}
	if left := stagedEntries(t, s); len(left) != 0 {
		t.Errorf("staging after the refused completion holds %v", left)
	}
	if r := s.DoAs(ak, sk, "GET", "/folders/q/files", nil, nil); strings.Contains(string(r.Body), "a.bin") {
		t.Errorf("refused file listed: %s", r.Body)
	}
	// 50 used + 60 > 100.
	if r := s.DoAs(ak, sk, "POST", "/folders/q/request-upload", map[string]any{"path": "c.bin", "size": 60}, nil); r.Status != 412 {
		t.Errorf("request past the usage = %d %s; want 412", r.Status, r.Body)
	}
}

// TestFolderResumableCutBody: a PATCH whose connection closes mid-body
// keeps exactly the bytes that arrived; HEAD reports them and the upload
// resumes from there to a byte-identical file.
func TestFolderResumableCutBody(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, servertest.Options{})
	ak, sk := s.Creds.AccessKey, s.Creds.SecretKey
	if r := s.Do("POST", "/folders", map[string]any{"name": "cut"}, nil); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	payload := randomBytes(t, 3<<20)
	u := requestUpload(t, s, ak, sk, "cut", "d/blob.bin", len(payload))
	const sent = 1<<20 + 12345
	// Announce the whole file, send part of it, hang up.
	rawPatch(t, s, ak, sk, u, 0, payload[:sent], int64(len(payload)), false)
	deadline := time.Now().Add(20 * time.Second)
	var off string
	for time.Now().Before(deadline) {
		off = s.Do("HEAD", u, nil, nil).Header.Get("Upload-Offset")
		if off == strconv.Itoa(sent) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if off != strconv.Itoa(sent) {
		t.Fatalf("offset after the cut: %s, want %d", off, sent)
	}
	staged, err := os.ReadFile(filepath.Join(stagingDir(s), filepath.Base(u)))
	if err != nil || !bytes.Equal(staged, payload[:sent]) {
		t.Fatalf("staged bytes (%d, %v) are not the %d sent", len(staged), err, sent)
	}
	// The handler of the cut request may still hold the upload: resume
	// as a client does, from the offset the server reports.
	for {
		r := s.Do("PATCH", u, payload[sent:], chunkHdr(sent))
		if r.Status == 204 {
			if r.Header.Get("Upload-Complete") != "1" {
				t.Fatalf("resumed PATCH did not complete: %v", r.Header)
			}
			break
		}
		if r.Status != 409 || time.Now().After(deadline) {
			t.Fatalf("resumed PATCH = %d %s", r.Status, r.Body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := s.Do("GET", "/folders/cut/download?file=d/blob.bin", nil, nil)
	if r.Status != 200 || !bytes.Equal(r.Body, payload) {
		t.Fatalf("download: %d, %d bytes, identical %v", r.Status, len(r.Body), bytes.Equal(r.Body, payload))
	}
}

// rawPatch sends a signed PATCH over a raw connection: length -1 sends
// body chunked; otherwise it announces length and sends body, which may be
// shorter. With wait it returns the status line; without, it hangs up
// right after the bytes.
func rawPatch(t *testing.T, s *servertest.Server, ak, sk, path string, offset int, body []byte, length int64, wait bool) string {
	t.Helper()
	host := strings.TrimPrefix(s.URL, "http://")
	now := time.Now().UTC()
	date := now.Format("2006-01-02T15:04:05.000000+00:00")
	sr := sign.Request{Method: "PATCH", PathQuery: path, Date: date, Host: host, ContentType: chunkType, Version: sign.NewestVersion}
	var b bytes.Buffer
	fmt.Fprintf(&b, "PATCH %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nUpload-Offset: %d\r\n%s: %s\r\n%s: %s\r\nAuthorization: %s\r\nConnection: close\r\n",
		path, host, chunkType, offset, apitypes.HeaderDate, date, apitypes.HeaderVersion, sign.NewestVersion, sign.Authorization(ak, sign.Signature(sk, sr, now)))
	if length < 0 {
		fmt.Fprintf(&b, "Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n", len(body), body)
	} else {
		fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", length, body)
	}
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	if !wait {
		return ""
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	n, _ := conn.Read(buf)
	return string(buf[:n])
}
