package kernel_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"baigo.dev/bai/agent/kernel"
	"baigo.dev/bai/agent/scratch"
	"baigo.dev/bai/common/errdefs"
)

// TestScratchCapped: with a scratch size, a kernel's work dir is its own
// file system: the session gets ENOSPC past the cap and stays usable, file
// uploads fail cleanly, an agent restart keeps the mount of a live kernel,
// and destroy and the clean-up at start leave no mount or image behind.
func TestScratchCapped(t *testing.T) {
	f, err := dockerRuntime(t)
	if err != nil {
		t.Skipf("capped scratch dirs need docker: %v", err)
	}
	dataDir, agentID := shortTempDir(t), "agent-scratch-"+uuid.NewString()[:6]
	if err := scratch.Probe(context.Background(), dataDir); err != nil {
		t.Skipf("this machine cannot make capped scratch dirs: %v", err)
	}
	cfg := kernel.Config{AgentID: agentID, DataDir: dataDir, RunnerPath: runnerPath(t), Chown: true,
		UID: 1000, GID: 1000, PidsLimit: 256, ScratchSize: 32 << 20}
	mounted := func(id string) bool {
		ok, err := scratch.IsMountPoint(filepath.Join(dataDir, "kernels", id, "work"))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	first := newEnvConfig(t, f, cfg)
	keep := first.create(t, f)
	stopped := first.create(t, f)
	if !mounted(keep) {
		t.Fatal("work dir is not a mount point")
	}
	out, _ := first.exec(t, keep, query(`
import errno, os
st = os.statvfs("/home/work")
print("size", st.f_blocks * st.f_frsize >> 20, "owner", os.stat("/home/work").st_uid, sorted(os.listdir("/home/work")))
try:
    with open("/home/work/fill", "wb") as fh:
        while True:
            fh.write(b"x" * (1 << 20))
except OSError as e:
    print("fill", errno.errorcode[e.errno])
os.remove("/home/work/fill")
open("/home/work/kept", "w").write("yes")
`))
	if !strings.Contains(out["stdout"], "owner 1000 []") || !strings.Contains(out["stdout"], "fill ENOSPC") {
		t.Fatalf("in the session: %q %q", out["stdout"], out["stderr"])
	}

	// Uploads land on the capped file system and fail cleanly past it.
	ws, err := first.m.Workspace(keep)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ws.WriteFile("up/small.txt", strings.NewReader("hello"), 1<<30); err != nil {
		t.Fatalf("small upload: %v", err)
	}
	_, err = ws.WriteFile("big.bin", zeros{}, 64<<20)
	_ = ws.Close()
	if !errors.Is(err, errdefs.ErrTooLarge) || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("upload past the cap: %v", err)
	}

	// The agent goes away; one container stops; a dir of a kernel long
	// gone still has its mount.
	first.m.Close()
	c, _ := f.rt.List(t.Context(), map[string]string{"ai.backend.kernel-id": stopped})
	if b, err := exec.Command("docker", "stop", "-t", "1", c[0].ID).CombinedOutput(); err != nil {
		t.Fatalf("docker stop: %v: %s", err, b)
	}
	left := filepath.Join(dataDir, "kernels", "leftover")
	if err := os.MkdirAll(filepath.Join(left, "work"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := scratch.Mount(t.Context(), filepath.Join(left, scratch.ImageName), filepath.Join(left, "work"), 16<<20); err != nil {
		t.Fatal(err)
	}

	second := newEnvConfig(t, f, cfg)
	if _, err := second.m.Adopt(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !mounted(keep) {
		t.Fatal("the adopted kernel lost its mount")
	}
	out, _ = second.exec(t, keep, query(`print(open("/home/work/kept").read(), open("/home/work/up/small.txt").read())`))
	if out["stdout"] != "yes hello\n" {
		t.Fatalf("after adoption: %q %q", out["stdout"], out["stderr"])
	}
	for _, id := range []string{stopped, "leftover"} {
		if mounted(id) {
			t.Errorf("%s: still mounted after the clean-up at start", id)
		}
		if _, err := os.Stat(filepath.Join(dataDir, "kernels", id)); !os.IsNotExist(err) {
			t.Errorf("%s: kernel dir left: %v", id, err)
		}
	}
	if _, err := second.m.Destroy(t.Context(), keep); err != nil {
		t.Fatal(err)
	}
	if mounted(keep) {
		t.Error("still mounted after destroy")
	}
	if _, err := os.Stat(filepath.Join(dataDir, "kernels", keep)); !os.IsNotExist(err) {
		t.Errorf("kernel dir left after destroy: %v", err)
	}
}

// zeros is an endless reader of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
