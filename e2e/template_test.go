package e2e_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"baigo.dev/bai/common/apitypes"
)

// TestTemplateBootstrap stores a session template carrying a bootstrap
// script with the CLI, starts a Docker session from it (the script's file
// is there for the first execute, its output in the logs, an -e override
// replaces the template's environment), and starts another whose script
// fails: that one ends in ERROR naming the failure, and its container goes.
func TestTemplateBootstrap(t *testing.T) {
	t.Parallel()
	env := sharedEnv()
	c := sdkAs(t, st.shared.Creds.AccessKey, st.shared.Creds.SecretKey)
	dir := t.TempDir()

	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	okFile := write("ok.json", `{"image": "python", "config": {"environ": {"GREETING": "from-template"}},
		"bootstrap_script": "echo bootstrap-ran\nmkdir -p data && printf seeded > data/seed.txt"}`)
	badFile := write("bad.json", `{"name": "bad-boot", "template": {"image": "python",
		"bootstrap_script": "echo about to fail\necho missing-dependency >&2\nexit 7"}}`)

	create := func(file string) string {
		r := bai(t, env, 30*time.Second, "template", "create", "-f", file)
		id := strings.TrimSpace(r.stdout)
		if r.code != 0 || id == "" {
			t.Fatalf("template create -f %s: code %d stdout %q stderr %q", file, r.code, r.stdout, r.stderr)
		}
		t.Cleanup(func() { bai(t, env, 30*time.Second, "template", "rm", id) })
		return id
	}
	okID, badID := create(okFile), create(badFile)
	if r := bai(t, env, 30*time.Second, "template", "ls"); r.code != 0 || !strings.Contains(r.stdout, okID) || !strings.Contains(r.stdout, "bad-boot") {
		t.Fatalf("template ls: code %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := bai(t, env, 30*time.Second, "template", "get", okID); r.code != 0 || !strings.Contains(r.stdout, "bootstrap-ran") {
		t.Fatalf("template get: code %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := bai(t, env, 30*time.Second, "template", "create", "-f", write("typo.json", `{"image": "python", "bootstrap_scrpit": "x"}`)); r.code == 0 || !strings.Contains(r.stderr, "bootstrap_scrpit") {
		t.Errorf("a template with a misspelt field: code %d stderr %q", r.code, r.stderr)
	}

	destroy := func(name string) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = c.DestroySession(ctx, name, true)
	}

	// The good template, with an environment override.
	okName := uniqueName(t) + "-ok"
	t.Cleanup(func() { destroy(okName) })
	r := bai(t, env, 3*time.Minute, "session", "create", "--template", okID, "--name", okName, "-e", "GREETING=overridden")
	if r.code != 0 || !strings.Contains(r.stdout, "RUNNING") {
		t.Fatalf("session create --template: code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	ctx := testCtx(t, 2*time.Minute)
	si, err := c.GetSession(ctx, okName)
	if err != nil {
		t.Fatal(err)
	}
	remember(si.SessionID)
	res, err := c.Execute(ctx, okName, apitypes.Execute{Mode: "query", Code: "import os; print(open('data/seed.txt').read(), os.environ.get('GREETING'))"})
	if err != nil {
		t.Fatal(err)
	}
	var out string
	for _, it := range res.Console {
		if s, ok := it[1].(string); ok && it[0] == "stdout" {
			out += s
		}
	}
	if !strings.Contains(out, "seeded overridden") {
		t.Errorf("first execute: %q (status %s, console %v)", out, res.Status, res.Console)
	}
	logs, err := c.Logs(ctx, okName)
	if err != nil || !strings.Contains(logs, "bootstrap-ran") {
		t.Errorf("logs: %v %q", err, logs)
	}

	// The failing one.
	badName := uniqueName(t) + "-bad"
	t.Cleanup(func() { destroy(badName) })
	r = bai(t, env, 3*time.Minute, "session", "create", "--template", badID, "--name", badName)
	if r.code == 0 {
		t.Fatalf("session from a failing bootstrap: code 0, stdout %q", r.stdout)
	}
	si, err = c.GetSession(ctx, badName)
	if err != nil {
		t.Fatal(err)
	}
	remember(si.SessionID)
	if si.Status != "ERROR" || !strings.HasPrefix(si.StatusInfo, "bootstrap script failed (exit 7): ") || !strings.Contains(si.StatusInfo, "missing-dependency") {
		t.Fatalf("failed bootstrap: status %s, info %q", si.Status, si.StatusInfo)
	}
	if !strings.Contains(r.stderr, "missing-dependency") {
		t.Errorf("CLI stderr does not say why: %q", r.stderr)
	}
}
