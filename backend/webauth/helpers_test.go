package webauth

import (
	"encoding/json"
	"testing"
	"time"

	"baigo.dev/bai/backend/config"
	"baigo.dev/bai/ent/user"
)

func TestLocalPath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/app/sessions": "/app/sessions", "/app/x?tab=2#top": "/app/x?tab=2#top", "/": "/",
		"": "/", "app": "/", "//evil.example/x": "/", "/\\evil.example": "/", "https://evil.example/": "/",
		"/a\\b": "/", "/a\nb": "/", "javascript:alert(1)": "/", "/%2F%2Fevil": "/%2F%2Fevil",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRoleFromClaims(t *testing.T) {
	t.Parallel()
	s := &Service{cfg: config.Web{OIDC: config.OIDC{RoleClaim: "groups", SuperadminValues: []string{"bai-root"}, AdminValues: []string{"bai-ops", "staff"}}}}
	kc := &Service{cfg: config.Web{OIDC: config.OIDC{RoleClaim: "realm_access.roles", AdminValues: []string{"ops"}}}}
	off := &Service{}
	for _, c := range []struct {
		s      *Service
		claims string
		want   user.Role
		known  bool
	}{
		{s, `{"groups": ["staff", "bai-root"]}`, user.RoleSuperadmin, true},
		{s, `{"groups": ["staff"]}`, user.RoleAdmin, true},
		{s, `{"groups": "bai-ops"}`, user.RoleAdmin, true},
		{s, `{"groups": ["other", 5]}`, user.RoleUser, true},
		{s, `{}`, user.RoleUser, true},
		{kc, `{"realm_access": {"roles": ["ops"]}}`, user.RoleAdmin, true},
		{kc, `{"realm_access": "ops"}`, user.RoleUser, true},
		{off, `{"groups": ["bai-root"]}`, user.RoleUser, false},
	} {
		var m map[string]any
		if err := json.Unmarshal([]byte(c.claims), &m); err != nil {
			t.Fatal(err)
		}
		if got, known := c.s.roleOf(m); got != c.want || known != c.known {
			t.Errorf("%s with claim %q: %s %v, want %s %v", c.claims, c.s.cfg.OIDC.RoleClaim, got, known, c.want, c.known)
		}
	}
}

func TestFailureWindow(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	f := newFailures(3, time.Minute, func() time.Time { return now })
	for i := 0; i < 3; i++ {
		if f.blocked("a") {
			t.Fatalf("blocked after %d failures", i)
		}
		f.add("a")
	}
	if !f.blocked("a") || f.blocked("b") {
		t.Fatal("3 failures of a: a must be blocked, b not")
	}
	now = now.Add(59 * time.Second)
	if !f.blocked("a") {
		t.Error("unblocked before the window passed")
	}
	now = now.Add(time.Second)
	if f.blocked("a") {
		t.Error("still blocked after the window")
	}
	f.prune()
	if len(f.at) != 0 {
		t.Errorf("prune kept %v", f.at)
	}
}
