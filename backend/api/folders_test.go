package api_test

import (
	"bytes"
	"mime/multipart"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"baigo.dev/bai/internal/servertest"
)

// multipartBody builds an upload body with one file part per name.
func folderUploadBody(t *testing.T, files map[string]string) ([]byte, map[string]string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for name, content := range files {
		fw, err := mw.CreateFormFile("src", name)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write([]byte(content))
	}
	mw.Close()
	return b.Bytes(), map[string]string{"Content-Type": mw.FormDataContentType()}
}

func TestFoldersAPI(t *testing.T) {
	s := servertest.New(t, servertest.Options{Agent: true})
	s.WaitImages(t)
	if r := s.Do("POST", "/folders", map[string]any{"name": "data"}, nil); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var created struct {
		ID string `json:"id"`
	}
	s.Do("GET", "/folders/data", nil, nil).JSON(t, &created)
	dir := filepath.Join(s.Cfg.DataDir, "vfolders", created.ID)

	body, hdr := folderUploadBody(t, map[string]string{"sub/hello.txt": "hello vfolder"})
	steps := []struct {
		method, path string
		body         any
		hdr          map[string]string
		status       int
		want         string
	}{
		{"POST", "/folders", map[string]any{"name": "data"}, nil, 409, "already exists"},
		{"POST", "/folders", map[string]any{"name": "a/b"}, nil, 400, "must not contain"},
		{"POST", "/folders", map[string]any{"name": ".."}, nil, 400, ""},
		{"POST", "/folders", map[string]any{"name": "x..y"}, nil, 400, ""},
		{"POST", "/folders", map[string]any{"name": "nul\x00name"}, nil, 400, ""},
		{"POST", "/folders", map[string]any{"name": ""}, nil, 400, ""},
		{"POST", "/folders", map[string]any{"name": strings.Repeat("n", 65)}, nil, 400, ""},
		{"POST", "/folders/data/upload", body, hdr, 201, "sub/hello.txt"},
		{"GET", "/folders/data/files?path=sub", nil, nil, 200, `"name":"hello.txt"`},
		{"GET", "/folders/data/download?file=sub/hello.txt", nil, nil, 200, "hello vfolder"},
		{"GET", "/folders/data/download?file=../etc/passwd", nil, nil, 400, ".."},
		{"GET", "/folders/data/download?file=/etc/passwd", nil, nil, 400, "absolute"},
		{"GET", "/folders/data/download?file=link/passwd", nil, nil, 400, "outside the folder"},
		{"GET", "/folders/data/files?path=link", nil, nil, 400, "outside the folder"},
		{"POST", "/folders/data/mkdir", map[string]any{"path": "made/deep"}, nil, 201, ""},
		{"POST", "/folders/data/move_file", map[string]any{"src": "sub/hello.txt", "dst": "made/deep/hi.txt"}, nil, 204, ""},
		{"GET", "/folders/data/download?file=made/deep/hi.txt", nil, nil, 200, "hello vfolder"},
		{"POST", "/folders/data/move_file", map[string]any{"src": "made", "dst": "../out"}, nil, 400, ".."},
		{"DELETE", "/folders/data/delete_files", map[string]any{"files": []string{"made"}}, nil, 409, "not empty"},
		{"DELETE", "/folders/data/delete_files", map[string]any{"files": []string{"made"}, "recursive": true}, nil, 204, ""},
		{"GET", "/folders/data/files", nil, nil, 200, `"sub"`},
		{"POST", "/folders/data/rename", map[string]any{"new_name": "bad/name"}, nil, 400, ""},
		{"POST", "/folders/data/rename", map[string]any{"new_name": "data2"}, nil, 204, ""},
		{"GET", "/folders/data", nil, nil, 404, `folder \"data\"`},
		{"GET", "/folders", nil, nil, 200, `"name":"data2"`},
		{"POST", "/session", map[string]any{"image": "python", "name": "mount-missing", "config": map[string]any{"mounts": []string{"nope"}}}, nil, 404, `folder \"nope\"`},
	}
	// A symlink planted in the folder (as session code could) must not
	// lead out of it.
	if err := os.Symlink("/etc", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	for _, st := range steps {
		r := s.Do(st.method, st.path, st.body, st.hdr)
		if r.Status != st.status || !strings.Contains(string(r.Body), st.want) {
			t.Errorf("%s %s = %d %s; want %d containing %q", st.method, st.path, r.Status, r.Body, st.status, st.want)
		}
	}
	if r := s.Do("DELETE", "/folders/data2", nil, nil); r.Status != 204 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("folder directory still there after delete: %v", err)
	}
}

func TestFoldersQuota(t *testing.T) {
	s := servertest.New(t, servertest.Options{})
	// The limits are set through the admin API, as operators do.
	if r := s.Do("PUT", "/resource-policies/tiny", map[string]any{"max_vfolder_count": 1, "max_vfolder_size": 100}, nil); r.Status != 200 ||
		!strings.Contains(string(r.Body), `"max_vfolder_size":100`) {
		t.Fatalf("set policy: %d %s", r.Status, r.Body)
	}
	if r := s.Do("PUT", "/resource-policies/tiny", map[string]any{"max_vfolder_size": -1}, nil); r.Status != 400 {
		t.Errorf("negative max_vfolder_size: %d %s", r.Status, r.Body)
	}
	ak, sk := s.AddUser(t, "quota@example.com")
	if r := s.Do("PUT", "/keypairs/"+ak+"/resource-policy", map[string]any{"resource_policy": "tiny"}, nil); r.Status != 204 {
		t.Fatalf("assign policy: %d %s", r.Status, r.Body)
	}
	if r := s.DoAs(ak, sk, "POST", "/folders", map[string]any{"name": "only"}, nil); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	if r := s.DoAs(ak, sk, "POST", "/folders", map[string]any{"name": "second"}, nil); r.Status != 412 || !strings.Contains(string(r.Body), "max_vfolder_count") {
		t.Errorf("second folder = %d %s; want 412 naming max_vfolder_count", r.Status, r.Body)
	}
	body, hdr := folderUploadBody(t, map[string]string{"fits.txt": strings.Repeat("a", 60)})
	if r := s.DoAs(ak, sk, "POST", "/folders/only/upload", body, hdr); r.Status != 201 {
		t.Fatalf("upload within quota: %d %s", r.Status, r.Body)
	}
	// 60 + 60 > 100: the second file is refused midway and leaves nothing.
	body, hdr = folderUploadBody(t, map[string]string{"over.txt": strings.Repeat("b", 60)})
	r := s.DoAs(ak, sk, "POST", "/folders/only/upload", body, hdr)
	if r.Status != 412 || !strings.Contains(string(r.Body), "max_vfolder_size") {
		t.Errorf("upload over quota = %d %s; want 412 naming max_vfolder_size", r.Status, r.Body)
	}
	r = s.DoAs(ak, sk, "GET", "/folders/only/files", nil, nil)
	if strings.Contains(string(r.Body), "over.txt") || !strings.Contains(string(r.Body), "fits.txt") {
		t.Errorf("listing after the refused upload: %s", r.Body)
	}
	tmp, err := os.ReadDir(filepath.Join(s.Cfg.DataDir, "vfolders", ".tmp"))
	if err != nil || len(tmp) != 0 {
		t.Errorf("temp files left behind: %v %v", tmp, err)
	}
}

func TestFoldersTenancyAndSharing(t *testing.T) {
	s := servertest.New(t, servertest.Options{Agent: true})
	s.WaitImages(t)
	if r := s.Do("POST", "/folders", map[string]any{"name": "private"}, nil); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	body, hdr := folderUploadBody(t, map[string]string{"secret.txt": "top secret"})
	if r := s.Do("POST", "/folders/private/upload", body, hdr); r.Status != 201 {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	ak, sk := s.AddUser(t, "other@example.com")
	evil, ehdr := folderUploadBody(t, map[string]string{"evil.txt": "x"})
	denied := []struct {
		method, path string
		body         any
		hdr          map[string]string
	}{
		{"GET", "/folders/private", nil, nil},
		{"DELETE", "/folders/private", nil, nil},
		{"POST", "/folders/private/rename", map[string]any{"new_name": "mine"}, nil},
		{"GET", "/folders/private/files", nil, nil},
		{"GET", "/folders/private/download?file=secret.txt", nil, nil},
		{"POST", "/folders/private/upload", evil, ehdr},
		{"POST", "/folders/private/mkdir", map[string]any{"path": "x"}, nil},
		{"POST", "/folders/private/move_file", map[string]any{"src": "secret.txt", "dst": "y"}, nil},
		{"DELETE", "/folders/private/delete_files", map[string]any{"files": []string{"secret.txt"}}, nil},
		{"POST", "/folders/private/invite", map[string]any{"invitee": ak, "perm": "rw"}, nil},
		{"POST", "/session", map[string]any{"image": "python", "name": "steal-mount", "config": map[string]any{"mounts": []string{"private"}}}, nil},
	}
	for _, d := range denied {
		r := s.DoAs(ak, sk, d.method, d.path, d.body, d.hdr)
		if r.Status != 404 || strings.Contains(string(r.Body), "top secret") {
			t.Errorf("%s %s as another tenant = %d %s; want 404", d.method, d.path, r.Status, r.Body)
		}
	}
	if r := s.DoAs(ak, sk, "GET", "/folders", nil, nil); strings.Contains(string(r.Body), "private") {
		t.Errorf("another tenant's listing shows the folder: %s", r.Body)
	}

	// Shared read-only by email: the invitee reads but cannot write.
	if r := s.Do("POST", "/folders/private/invite", map[string]any{"invitee": "other@example.com", "perm": "ro"}, nil); r.Status != 201 {
		t.Fatalf("invite: %d %s", r.Status, r.Body)
	}
	if r := s.DoAs(ak, sk, "GET", "/folders/private", nil, nil); r.Status != 404 {
		t.Errorf("a pending invitation already grants access: %d %s", r.Status, r.Body)
	}
	var invs struct {
		Invitations []struct {
			ID      string `json:"id"`
			VFolder string `json:"vfolder_name"`
			Perm    string `json:"perm"`
		} `json:"invitations"`
	}
	s.DoAs(ak, sk, "GET", "/folders/invitations/list", nil, nil).JSON(t, &invs)
	if len(invs.Invitations) != 1 || invs.Invitations[0].VFolder != "private" || invs.Invitations[0].Perm != "ro" {
		t.Fatalf("invitations: %+v", invs)
	}
	if r := s.Do("POST", "/folders/invitations/accept", map[string]any{"inv_id": invs.Invitations[0].ID}, nil); r.Status != 404 {
		t.Errorf("the inviter accepted the invitee's invitation: %d %s", r.Status, r.Body)
	}
	if r := s.DoAs(ak, sk, "POST", "/folders/invitations/accept", map[string]any{"inv_id": invs.Invitations[0].ID}, nil); r.Status != 204 {
		t.Fatalf("accept: %d %s", r.Status, r.Body)
	}
	steps := []struct {
		method, path string
		body         any
		hdr          map[string]string
		status       int
		want         string
	}{
		{"GET", "/folders", nil, nil, 200, `"permission":"ro"`},
		{"GET", "/folders/private/download?file=secret.txt", nil, nil, 200, "top secret"},
		{"POST", "/folders/private/upload", evil, ehdr, 403, "read-only"},
		{"POST", "/folders/private/mkdir", map[string]any{"path": "x"}, nil, 403, "read-only"},
		{"DELETE", "/folders/private/delete_files", map[string]any{"files": []string{"secret.txt"}}, nil, 403, "read-only"},
		{"DELETE", "/folders/private", nil, nil, 403, "owner"},
		{"POST", "/folders/private/invite", map[string]any{"invitee": s.Creds.AccessKey}, nil, 403, "owner"},
	}
	for _, st := range steps {
		r := s.DoAs(ak, sk, st.method, st.path, st.body, st.hdr)
		if r.Status != st.status || !strings.Contains(string(r.Body), st.want) {
			t.Errorf("invitee %s %s = %d %s; want %d containing %q", st.method, st.path, r.Status, r.Body, st.status, st.want)
		}
	}
}
