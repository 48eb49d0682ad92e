package api_test

import (
	"strings"
	"testing"

	"baigo.dev/bai/internal/servertest"
)

// TestDeleteResourcePolicy: a policy no keypair uses can be deleted; one
// in use is a conflict, the default policy and unknown names are refused,
// and only superadmins may delete.
func TestDeleteResourcePolicy(t *testing.T) {
	s := servertest.New(t, servertest.Options{})
	if r := s.Do("PUT", "/resource-policies/scratch", map[string]any{"max_concurrent_sessions": 1}, nil); r.Status != 200 {
		t.Fatalf("create policy: %d %s", r.Status, r.Body)
	}
	ak, sk := s.AddUser(t, "policy@example.com")
	if r := s.Do("PUT", "/keypairs/"+ak+"/resource-policy", map[string]any{"resource_policy": "scratch"}, nil); r.Status != 204 {
		t.Fatalf("assign policy: %d %s", r.Status, r.Body)
	}
	for _, c := range []struct {
		name, path string
		as         bool // as the plain user
		status     int
		contains   string
	}{
		{"a user may not", "/admin/resource-policies/scratch", true, 403, ""},
		{"in use", "/resource-policies/scratch", false, 409, "used by 1 keypair"},
		{"the default", "/resource-policies/default", false, 400, "cannot be deleted"},
		{"unknown", "/resource-policies/nope", false, 404, ""},
	} {
		var r servertest.Response
		if c.as {
			r = s.DoAs(ak, sk, "DELETE", c.path, nil, nil)
		} else {
			r = s.Do("DELETE", c.path, nil, nil)
		}
		if r.Status != c.status || !strings.Contains(string(r.Body), c.contains) {
			t.Errorf("%s: %d %s, want %d with %q", c.name, r.Status, r.Body, c.status, c.contains)
		}
	}
	if r := s.Do("PUT", "/keypairs/"+ak+"/resource-policy", map[string]any{"resource_policy": "default"}, nil); r.Status != 204 {
		t.Fatalf("move the keypair: %d %s", r.Status, r.Body)
	}
	if r := s.Do("DELETE", "/admin/resource-policies/scratch", nil, nil); r.Status != 204 {
		t.Fatalf("delete unused policy: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/resource-policies", nil, nil); strings.Contains(string(r.Body), `"scratch"`) {
		t.Errorf("deleted policy still listed: %s", r.Body)
	}
}
