package api_test

import (
	"strings"
	"testing"

	"baigo.dev/bai/internal/servertest"
)

// TestSessionTemplates walks a template through create, list, get, update
// and delete, checks that bad bodies are refused and that another tenant
// sees none of it, and starts a session from it with overrides.
func TestSessionTemplates(t *testing.T) {
	s := servertest.New(t, servertest.Options{Agent: true})

	for _, bad := range []struct {
		body any
		want string
	}{
		{map[string]any{"name": "t", "template": map[string]any{}}, `\"image\"`},
		{map[string]any{"name": "t", "template": map[string]any{"image": "no-such-image"}}, "unknown image"},
		{map[string]any{"name": "t", "template": map[string]any{"image": "python", "type": "weird"}}, `\"type\"`},
		{map[string]any{"name": "t", "template": map[string]any{"image": "python", "imgae": "x"}}, "imgae"},
		{map[string]any{"name": "t", "template": map[string]any{"image": "python", "config": map[string]any{"resources": map[string]any{"cpu": "lots"}}}}, "cpu"},
		{map[string]any{"name": "", "template": map[string]any{"image": "python"}}, `\"name\"`},
		{map[string]any{"name": "t"}, `\"template\"`},
	} {
		r := s.Do("POST", "/template/session", bad.body, nil)
		if r.Status != 400 || !strings.Contains(string(r.Body), bad.want) {
			t.Errorf("create %v = %d %s, want 400 naming %s", bad.body, r.Status, r.Body, bad.want)
		}
	}

	body := map[string]any{"name": "py-env", "template": map[string]any{
		"image":  "python",
		"config": map[string]any{"environ": map[string]any{"GREETING": "from-template", "KEEP": "kept"}},
	}}
	r := s.Do("POST", "/template/session", body, nil)
	if r.Status != 201 {
		t.Fatalf("create template: %d %s", r.Status, r.Body)
	}
	var tpl struct {
		ID       string         `json:"id"`
		Name     string         `json:"name"`
		Template map[string]any `json:"template"`
	}
	r.JSON(t, &tpl)
	if tpl.ID == "" || tpl.Name != "py-env" || tpl.Template["image"] != "python" {
		t.Fatalf("created template: %s", r.Body)
	}
	if r := s.Do("GET", "/template/session", nil, nil); r.Status != 200 || !strings.Contains(string(r.Body), tpl.ID) {
		t.Fatalf("list: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/template/session/"+tpl.ID, nil, nil); r.Status != 200 || !strings.Contains(string(r.Body), "from-template") {
		t.Fatalf("get: %d %s", r.Status, r.Body)
	}

	// Another tenant: 404 for everything, and an empty list.
	ak, sk := s.AddUser(t, "other-tenant@example.com")
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/template/session/" + tpl.ID, nil},
		{"PUT", "/template/session/" + tpl.ID, body},
		{"DELETE", "/template/session/" + tpl.ID, nil},
		{"POST", "/session/_/create-from-template", map[string]any{"template_id": tpl.ID, "name": "stolen-1"}},
	} {
		if r := s.DoAs(ak, sk, c.method, c.path, c.body, nil); r.Status != 404 {
			t.Errorf("%s %s as another tenant = %d, want 404: %s", c.method, c.path, r.Status, r.Body)
		}
	}
	if r := s.DoAs(ak, sk, "GET", "/template/session", nil, nil); r.Status != 200 || strings.Contains(string(r.Body), tpl.ID) {
		t.Errorf("another tenant's list shows the template: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/template/session/not-a-uuid", nil, nil); r.Status != 404 {
		t.Errorf("get malformed id = %d, want 404", r.Status)
	}

	// Update keeps validating.
	if r := s.Do("PUT", "/template/session/"+tpl.ID, map[string]any{"name": "x", "template": map[string]any{"image": "nope"}}, nil); r.Status != 400 {
		t.Errorf("update to an unknown image = %d, want 400: %s", r.Status, r.Body)
	}
	body["name"] = "py-env-2"
	if r := s.Do("PUT", "/template/session/"+tpl.ID, body, nil); r.Status != 200 || !strings.Contains(string(r.Body), "py-env-2") {
		t.Fatalf("update: %d %s", r.Status, r.Body)
	}

	// Create from the template; config.environ is overridden as a whole,
	// the rest of the template (the image) is kept.
	r = s.Do("POST", "/session/_/create-from-template", map[string]any{
		"template_id": tpl.ID, "name": "from-tpl-1",
		"config": map[string]any{"environ": map[string]any{"GREETING": "overridden"}},
	}, nil)
	if r.Status != 201 {
		t.Fatalf("create from template: %d %s", r.Status, r.Body)
	}
	defer s.Do("DELETE", "/session/from-tpl-1", nil, nil)
	r = s.Do("POST", "/session/from-tpl-1", map[string]any{"mode": "query", "code": "import os; print(os.environ.get('GREETING'), os.environ.get('KEEP'))"}, nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), "overridden None") {
		t.Errorf("environment of the session from the template: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/session/from-tpl-1", nil, nil); !strings.Contains(string(r.Body), `"python`) {
		t.Errorf("session image not from the template: %s", r.Body)
	}
	if r := s.Do("POST", "/session/_/create-from-template", map[string]any{"template_id": tpl.ID, "name": "from-tpl-2", "type": "weird"}, nil); r.Status != 400 {
		t.Errorf("override with a bad type = %d, want 400: %s", r.Status, r.Body)
	}
	if r := s.Do("POST", "/session/_/create-from-template", map[string]any{"name": "from-tpl-3"}, nil); r.Status != 400 {
		t.Errorf("no template_id = %d, want 400: %s", r.Status, r.Body)
	}

	if r := s.Do("DELETE", "/template/session/"+tpl.ID, nil, nil); r.Status != 204 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/template/session/"+tpl.ID, nil, nil); r.Status != 404 {
		t.Errorf("get after delete = %d, want 404", r.Status)
	}
}
