package jupyter_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/integrations/jupyter"
)

func TestInstall(t *testing.T) {
	t.Parallel()
	// Naming and language facts are kernelcore's (and tested there);
	// here is what Install writes.
	testImages := []apitypes.ImageInfo{{Name: "python:3.11-debian", Aliases: []string{"python"}, RuntimeType: "python"},
		{Name: "c:gcc12-debian", RuntimeType: "c"}, {Name: "nodejs:18-debian", RuntimeType: "nodejs"}}
	dir := t.TempDir()
	exe := "/opt/bai/bin/bai"
	done, err := jupyter.Install(testImages, jupyter.InstallOptions{Dir: dir, NamePrefix: "bai-", Executable: exe, Images: []string{"python", "c:gcc12-debian"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 2 || done[0].Name != "bai-c" || done[1].Name != "bai-python" {
		t.Fatalf("installed %+v", done)
	}
	path := filepath.Join(dir, "bai-python", "kernel.json")
	var spec map[string]any
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	wantArgv := `["/opt/bai/bin/bai","jupyter","kernel","--image","python:3.11-debian","--connection-file","{connection_file}"]`
	if a, _ := json.Marshal(spec["argv"]); string(a) != wantArgv || spec["language"] != "python" || spec["interrupt_mode"] != "message" {
		t.Fatalf("kernel.json %s", b)
	}
	if _, ok := spec["env"]; ok {
		t.Fatalf("env written without keys: %s", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, want 0644", fi.Mode())
	}

	// With keys: the same kernelspec is replaced by one only its owner reads.
	env := map[string]string{"BACKEND_ENDPOINT": "http://m:8081", "BACKEND_ACCESS_KEY": "AK", "BACKEND_SECRET_KEY": "SK"}
	if _, err := jupyter.Install(testImages, jupyter.InstallOptions{Dir: dir, NamePrefix: "bai-", Executable: exe, Env: env, Images: []string{"python"}}); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	di, _ := os.Stat(filepath.Dir(path))
	if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
		t.Fatalf("modes file %v dir %v, want 0600 and 0700", fi.Mode(), di.Mode())
	}
	b, _ = os.ReadFile(path)
	if err := json.Unmarshal(b, &spec); err != nil || fmt.Sprint(spec["env"]) != fmt.Sprint(map[string]any{"BACKEND_ACCESS_KEY": "AK", "BACKEND_ENDPOINT": "http://m:8081", "BACKEND_SECRET_KEY": "SK"}) {
		t.Fatalf("kernel.json with keys %s", b)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "bai-python", ".kernel-*")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}

	if _, err := jupyter.Install(testImages, jupyter.InstallOptions{Dir: dir, Executable: exe, Images: []string{"cobol"}}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("unknown image: err %v, want ErrNotFound", err)
	}
	if _, err := jupyter.Install(testImages, jupyter.InstallOptions{Dir: dir, Executable: "bai"}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("relative executable: err %v, want ErrInvalidArgument", err)
	}
}

func TestSessionName(t *testing.T) {
	t.Parallel()
	if got := jupyter.SessionName("5b1a7c7e-2f4e-4a8e-9d7c-0f1e2d3c4b5a"); got != "jupyter-5b1a7c7e-2f4e-4a8e-9d7c-0f1e2d3c4b5a" {
		t.Errorf("name %q", got)
	}
	long := jupyter.SessionName("a/b c0123456789012345678901234567890123456789012345678901234567890123456789")
	if len(long) > 64 || long[:13] != "jupyter-a-b-c" {
		t.Errorf("long name %q", long)
	}
}
