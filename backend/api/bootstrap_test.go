package api_test

import (
	"strings"
	"testing"

	"baigo.dev/bai/internal/servertest"
)

// TestBootstrapScript runs a session's bootstrap script before its first
// execute, and turns a failing script into an ERROR session that says why.
func TestBootstrapScript(t *testing.T) {
	s := servertest.New(t, servertest.Options{Agent: true})

	r := s.Do("POST", "/session", map[string]any{"image": "python", "name": "boot-ok",
		"bootstrap_script": "echo prepared-by-bootstrap\nprintf ready > boot.txt"}, nil)
	if r.Status != 201 || !strings.Contains(string(r.Body), `"RUNNING"`) {
		t.Fatalf("create with a bootstrap script: %d %s", r.Status, r.Body)
	}
	defer s.Do("DELETE", "/session/boot-ok", nil, nil)
	r = s.Do("POST", "/session/boot-ok", map[string]any{"mode": "query", "code": "print(open('boot.txt').read())"}, nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), "ready") {
		t.Fatalf("first execute does not see the script's file: %d %s", r.Status, r.Body)
	}
	if r := s.Do("GET", "/session/boot-ok/logs", nil, nil); !strings.Contains(string(r.Body), "prepared-by-bootstrap") {
		t.Errorf("logs lack the script's output: %d %s", r.Status, r.Body)
	}

	// A failing script, started from a template that carries it.
	r = s.Do("POST", "/template/session", map[string]any{"name": "bad-boot", "template": map[string]any{
		"image": "python", "bootstrap_script": "echo first line\necho broken-step >&2\nexit 3"}}, nil)
	if r.Status != 201 {
		t.Fatalf("create template: %d %s", r.Status, r.Body)
	}
	var tpl struct {
		ID string `json:"id"`
	}
	r.JSON(t, &tpl)
	r = s.Do("POST", "/session/_/create-from-template", map[string]any{"template_id": tpl.ID, "name": "boot-bad"}, nil)
	if r.Status != 201 {
		t.Fatalf("create from template: %d %s", r.Status, r.Body)
	}
	r = s.Do("GET", "/session/boot-bad", nil, nil)
	var info struct {
		Status     string `json:"status"`
		StatusInfo string `json:"statusInfo"`
	}
	r.JSON(t, &info)
	if info.Status != "ERROR" || !strings.HasPrefix(info.StatusInfo, "bootstrap script failed (exit 3): ") || !strings.Contains(info.StatusInfo, "broken-step") {
		t.Fatalf("failed bootstrap: status %s, info %q", info.Status, info.StatusInfo)
	}
	// The kernel is gone: nothing runs it any more.
	if r := s.Do("POST", "/session/boot-bad", map[string]any{"mode": "query", "code": "1"}, nil); r.Status == 200 {
		t.Errorf("execute on the failed session = 200: %s", r.Body)
	}
}
