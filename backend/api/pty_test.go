package api_test

import (
	"strings"
	"testing"

	"baigo.dev/bai/internal/servertest"
)

// TestPtyBadInput covers the terminal stream refusing, before anything is
// started or upgraded, another tenant's session or an unknown one (404)
// and a session that is not RUNNING (409). (The process runtime's one
// image declares the terminal app, so the 400 for an image without it is
// covered end to end, in e2e's TestPtyStream.)
func TestPtyBadInput(t *testing.T) {
	s := servertest.New(t, servertest.Options{Agent: true})
	if r := s.Do("POST", "/session", map[string]any{"image": "python", "name": "pty-1"}, nil); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	if r := s.Do("POST", "/session", map[string]any{"image": "python", "name": "pty-gone"}, nil); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	if r := s.Do("DELETE", "/session/pty-gone", nil, nil); r.Status != 200 {
		t.Fatalf("destroy: %d %s", r.Status, r.Body)
	}
	run(t, s, []scenario{
		{name: "unknown session", method: "GET", path: "/stream/session/nosuch/pty", status: 404, contains: []string{`session \"nosuch\"`}},
		{name: "unknown kernel", method: "GET", path: "/stream/kernel/nosuch/pty", status: 404, contains: []string{`session \"nosuch\"`}},
		{name: "session not running", method: "GET", path: "/stream/session/pty-gone/pty", status: 409, contains: []string{"pty-gone"}},
	})
	ak, sk := s.AddUser(t, "pty-intruder@example.com")
	for _, p := range []string{"/stream/session/pty-1/pty", "/stream/kernel/pty-1/pty"} {
		// The session's own not-found answer, not a missing route's.
		if r := s.DoAs(ak, sk, "GET", p, nil, nil); r.Status != 404 || !strings.Contains(string(r.Body), `session \"pty-1\"`) {
			t.Errorf("GET %s as another tenant = %d, want 404: %s", p, r.Status, r.Body)
		}
	}
	if r := s.Do("DELETE", "/session/pty-1", nil, nil); r.Status != 200 {
		t.Fatalf("destroy: %d %s", r.Status, r.Body)
	}
}
