package api_test

import (
	"testing"

	"baigo.dev/bai/internal/servertest"
)

// TestAppsBadInput covers start-service and the app proxy refusing what
// they must refuse, before anything is started or upgraded: another
// tenant's session (404), an app the image does not declare (400), an app
// that is not running or a session that is not RUNNING (409).
func TestAppsBadInput(t *testing.T) {
	s := servertest.New(t, servertest.Options{Agent: true})
	if r := s.Do("POST", "/session", map[string]any{"image": "python", "name": "apps-1"}, nil); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	if r := s.Do("POST", "/session", map[string]any{"image": "python", "name": "apps-gone"}, nil); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	if r := s.Do("DELETE", "/session/apps-gone", nil, nil); r.Status != 200 {
		t.Fatalf("destroy: %d %s", r.Status, r.Body)
	}
	run(t, s, []scenario{
		{name: "undeclared app", method: "POST", path: "/session/apps-1/start-service", body: map[string]any{"app": "jupyter"}, status: 400, contains: []string{`declares no app \"jupyter\"`, "terminal"}},
		{name: "no app", method: "POST", path: "/session/apps-1/start-service", body: map[string]any{}, status: 400, contains: []string{`\"app\" is required`}},
		{name: "other port", method: "POST", path: "/session/apps-1/start-service", body: map[string]any{"app": "terminal", "port": 9999}, status: 400, contains: []string{"7681"}},
		{name: "no body", method: "POST", path: "/session/apps-1/start-service", status: 400},
		{name: "unknown session", method: "POST", path: "/session/nosuch/start-service", body: map[string]any{"app": "terminal"}, status: 404},
		{name: "session not running", method: "POST", path: "/session/apps-gone/start-service", body: map[string]any{"app": "terminal"}, status: 409},
		{name: "proxy undeclared app", method: "GET", path: "/stream/session/apps-1/tcpproxy?app=jupyter", status: 400, contains: []string{"declares no app"}},
		{name: "proxy without app", method: "GET", path: "/stream/session/apps-1/httpproxy", status: 400},
		{name: "proxy app not started", method: "GET", path: "/stream/session/apps-1/tcpproxy?app=terminal", status: 409, contains: []string{"not running", "start-service"}},
		{name: "proxy unknown session", method: "GET", path: "/stream/session/nosuch/httpproxy?app=terminal", status: 404},
	})

	ak, sk := s.AddUser(t, "app-intruder@example.com")
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/session/apps-1/start-service", map[string]any{"app": "terminal"}},
		{"POST", "/kernel/apps-1/start-service", map[string]any{"app": "terminal"}},
		{"POST", "/session/apps-1/start-service", map[string]any{"app": "jupyter"}},
		{"GET", "/stream/session/apps-1/tcpproxy?app=terminal", nil},
		{"GET", "/stream/session/apps-1/httpproxy?app=terminal", nil},
		{"GET", "/stream/kernel/apps-1/tcpproxy?app=jupyter", nil},
	} {
		if r := s.DoAs(ak, sk, c.method, c.path, c.body, nil); r.Status != 404 {
			t.Errorf("%s %s as another tenant = %d, want 404: %s", c.method, c.path, r.Status, r.Body)
		}
	}
}
