package api_test

import (
	"bytes"
	"mime/multipart"
	"strings"
	"testing"

	"baigo.dev/bai/internal/servertest"
)

// TestTenantIsolationMatrix sends every session endpoint, by name and by
// id, as a keypair that does not own the session: each must answer 404 (so
// nothing leaks about what exists) and leave the session untouched.
func TestTenantIsolationMatrix(t *testing.T) {
	s := servertest.New(t, servertest.Options{Agent: true})
	r := s.Do("POST", "/session", map[string]any{"image": "python", "name": "owned-1"}, nil)
	if r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var cr struct {
		SessionID string `json:"sessionId"`
	}
	r.JSON(t, &cr)
	if r := s.Do("POST", "/session/owned-1", map[string]any{"mode": "query", "code": "secret = 'x'\nopen('data.txt','w').write('private')"}, nil); r.Status != 200 {
		t.Fatalf("execute: %d %s", r.Status, r.Body)
	}
	ak, sk := s.AddUser(t, "intruder@example.com")

	var upload bytes.Buffer
	mw := multipart.NewWriter(&upload)
	fw, _ := mw.CreateFormFile("src", "evil.txt")
	fw.Write([]byte("x"))
	mw.Close()

	for _, ref := range []string{"owned-1", cr.SessionID} {
		for _, prefix := range []string{"/session/", "/kernel/"} {
			base := prefix + ref
			cases := []struct {
				method, path string
				body         any
				hdr          map[string]string
			}{
				{"GET", base, nil, nil},
				{"DELETE", base, nil, nil},
				{"DELETE", base + "?forced=true", nil, nil},
				{"PATCH", base, nil, nil},
				{"POST", base, map[string]any{"mode": "query", "code": "print(secret)"}, nil},
				{"POST", base + "/interrupt", nil, nil},
				{"POST", base + "/complete", map[string]any{"code": "sec"}, nil},
				{"GET", base + "/logs", nil, nil},
				{"POST", base + "/upload", upload.Bytes(), map[string]string{"Content-Type": mw.FormDataContentType()}},
				{"GET", base + "/download?files=data.txt", nil, nil},
				{"POST", base + "/download", map[string]any{"files": []string{"data.txt"}}, nil},
				{"GET", base + "/download_single?file=data.txt", nil, nil},
				{"GET", base + "/files?path=", nil, nil},
			}
			for _, c := range cases {
				r := s.DoAs(ak, sk, c.method, c.path, c.body, c.hdr)
				if r.Status != 404 {
					t.Errorf("%s %s as another tenant = %d, want 404: %s", c.method, c.path, r.Status, r.Body)
				}
				if strings.Contains(string(r.Body), "private") {
					t.Errorf("%s %s leaked data: %s", c.method, c.path, r.Body)
				}
			}
		}
	}
	// The execute stream refuses before upgrading.
	if r := s.DoAs(ak, sk, "GET", "/stream/session/owned-1/execute", nil, nil); r.Status != 404 {
		t.Errorf("stream as another tenant = %d", r.Status)
	}
	// Nothing was touched: still RUNNING, state and files intact.
	r = s.Do("POST", "/session/owned-1", map[string]any{"mode": "query", "code": "print(secret, open('data.txt').read())"}, nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), `x private`) {
		t.Fatalf("owner's session after the attempts: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/session/owned-1/files?path=", nil, nil); strings.Contains(string(r.Body), "evil.txt") {
		t.Errorf("an intruder's upload landed: %s", r.Body)
	}
}
