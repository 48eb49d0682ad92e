package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"baigo.dev/bai/internal/servertest"
)

// TestFilesAgainstManager drives the file commands and batch runs against
// a real in-process manager and agent (process runtime, real runner).
// It changes the working directory, so it does not run in parallel.
func TestFilesAgainstManager(t *testing.T) {
	s := servertest.New(t, servertest.Options{Agent: true})
	env := envOf(map[string]string{"BACKEND_ENDPOINT": s.URL, "BACKEND_ACCESS_KEY": s.Creds.AccessKey, "BACKEND_SECRET_KEY": s.Creds.SecretKey})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("proj/main.py", "import helper\nprint(helper.greet())\n")
	write("proj/helper.py", "def greet():\n    return 'hello from helper'\n")
	write("proj/data/in.txt", "data\n")

	// Batch run of a directory: its contents land in /home/work.
	r := bai(ctx, env, "", "run", "python", filepath.Join(dir, "proj"))
	if r.code != 0 || r.stdout != "hello from helper\n" {
		t.Fatalf("batch run of a dir: %+v", r)
	}
	// Several files with explicit steps; the failed step's code is the exit code.
	main, helper := filepath.Join(dir, "proj/main.py"), filepath.Join(dir, "proj/helper.py")
	r = bai(ctx, env, "", "run", "--build", "echo building", "--exec", "python3 main.py", "python", main, helper)
	if r.code != 0 || r.stdout != "building\nhello from helper\n" {
		t.Fatalf("batch run with steps: %+v", r)
	}
	r = bai(ctx, env, "", "run", "--build", "exit 3", "python", main, helper)
	if r.code != 3 || !strings.Contains(r.stderr, "build failed") {
		t.Fatalf("failed build: %+v", r)
	}
	r = bai(ctx, env, "", "run", "--exec", "python3 -c 'import sys; sys.exit(5)'", "python", main)
	if r.code != 5 {
		t.Fatalf("failed exec: %+v", r)
	}

	// Upload, list and download in a kept session.
	r = bai(ctx, env, "", "run", "--keep", "--name", "filesess", "python", "-c", "1")
	if r.code != 0 {
		t.Fatalf("create kept session: %+v", r)
	}
	t.Chdir(dir)
	r = bai(ctx, env, "", "session", "upload", "filesess", "proj", filepath.Join(dir, "proj/main.py"))
	if r.code != 0 || !strings.Contains(r.stderr, "proj/data/in.txt") {
		t.Fatalf("upload: %+v", r)
	}
	r = bai(ctx, env, "", "session", "ls-files", "filesess", "proj")
	if r.code != 0 || !strings.Contains(r.stdout, "data/") || !strings.Contains(r.stdout, "helper.py") {
		t.Fatalf("ls-files: %+v", r)
	}
	out := filepath.Join(t.TempDir(), "out")
	r = bai(ctx, env, "", "session", "download", "filesess", "proj", "main.py", "-o", out)
	if r.code != 0 {
		t.Fatalf("download: %+v", r)
	}
	for name, want := range map[string]string{"proj/data/in.txt": "data\n", "proj/helper.py": "def greet():\n    return 'hello from helper'\n", "main.py": "import helper\nprint(helper.greet())\n"} {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || string(b) != want {
			t.Errorf("downloaded %s = %q, %v", name, b, err)
		}
	}
	r = bai(ctx, env, "", "session", "download", "filesess", "../etc")
	if r.code == 0 || !strings.Contains(r.stderr, "..") {
		t.Errorf("download with ..: %+v", r)
	}
}
