package kernel_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"baigo.dev/bai/agent/kernel"
	"baigo.dev/bai/agent/runtime"
	"baigo.dev/bai/common/aproto"
)

// specRecorder is a runtime that records the spec of Create and refuses
// it, so that the kernel environment can be checked without a runner.
type specRecorder struct {
	runtime.Runtime
	mu    sync.Mutex
	specs []runtime.Spec
}

var errRecorded = errors.New("recorded")

func (r *specRecorder) Create(_ context.Context, s runtime.Spec) (string, error) {
	r.mu.Lock()
	r.specs = append(r.specs, s)
	r.mu.Unlock()
	return "", errRecorded
}

// makeLibDir makes a kernel library dir with the given entries: "hook"
// (a placeholder libbaihook.so), "python" (python/bai_media).
func makeLibDir(t *testing.T, entries ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, e := range entries {
		switch e {
		case "hook":
			if err := os.WriteFile(filepath.Join(dir, "libbaihook.so"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		case "python":
			if err := os.MkdirAll(filepath.Join(dir, "python", "bai_media"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func TestKernelEnv(t *testing.T) {
	full := makeLibDir(t, "hook", "python")
	hookOnly := makeLibDir(t, "hook")
	missing := filepath.Join(t.TempDir(), "nope")
	tests := []struct {
		name        string
		libDir      string
		runtimeType string
		cpu         float64
		userEnv     map[string]string
		wantLibDir  string
		want        map[string]string // "" means: must be absent
	}{
		{
			name: "full lib dir, python", libDir: full, runtimeType: "python", cpu: 1, wantLibDir: full,
			want: map[string]string{
				"LD_PRELOAD": "/opt/bai/lib/libbaihook.so", "PYTHONPATH": "/opt/bai/lib/python",
				"MPLBACKEND": "module://bai_media.mpl_backend", "BAI_CPU_COUNT": "1", "BAI_HOOK_UNBUFFER": "",
			},
		},
		{
			name: "fractional cpu rounds up, c unbuffers", libDir: full, runtimeType: "c", cpu: 1.5, wantLibDir: full,
			want: map[string]string{"BAI_CPU_COUNT": "2", "BAI_HOOK_UNBUFFER": "1"},
		},
		{
			name: "user values kept after ours", libDir: full, runtimeType: "python", cpu: 2, wantLibDir: full,
			userEnv: map[string]string{"LD_PRELOAD": "/x.so", "PYTHONPATH": "/mine", "MPLBACKEND": "Agg", "BAI_CPU_COUNT": "64"},
			want: map[string]string{
				"LD_PRELOAD": "/opt/bai/lib/libbaihook.so:/x.so", "PYTHONPATH": "/opt/bai/lib/python:/mine",
				"MPLBACKEND": "Agg", "BAI_CPU_COUNT": "2",
			},
		},
		{
			name: "hook only", libDir: hookOnly, runtimeType: "go", cpu: 0.25, wantLibDir: hookOnly,
			want: map[string]string{
				"LD_PRELOAD": "/opt/bai/lib/libbaihook.so", "PYTHONPATH": "", "MPLBACKEND": "",
				"BAI_CPU_COUNT": "1", "BAI_HOOK_UNBUFFER": "1",
			},
		},
		{
			name: "missing lib dir", libDir: missing, runtimeType: "rust", cpu: 4, wantLibDir: "",
			want: map[string]string{"LD_PRELOAD": "", "PYTHONPATH": "", "MPLBACKEND": "", "BAI_CPU_COUNT": "4", "BAI_HOOK_UNBUFFER": "1"},
		},
		{
			name: "no lib dir, no cpu", libDir: "", runtimeType: "python", wantLibDir: "",
			want: map[string]string{"LD_PRELOAD": "", "BAI_CPU_COUNT": ""},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := &specRecorder{}
			m := kernel.New(kernel.Config{AgentID: "a", DataDir: t.TempDir(), RunnerPath: "/bin/true", LibDir: tc.libDir},
				rec, quietLog(), nil)
			res := map[string]float64{"mem": 1 << 28}
			if tc.cpu > 0 {
				res["cpu"] = tc.cpu
			}
			_, err := m.Create(t.Context(), aproto.CreateKernel{
				KernelID: uuid.NewString(), Image: "bai/x:1", RuntimeType: tc.runtimeType,
				Resources: res, Environ: tc.userEnv,
			})
			if !errors.Is(err, errRecorded) || len(rec.specs) != 1 {
				t.Fatalf("create: %v, %d specs", err, len(rec.specs))
			}
			s := rec.specs[0]
			if s.LibDir != tc.wantLibDir {
				t.Errorf("LibDir = %q, want %q", s.LibDir, tc.wantLibDir)
			}
			for k, want := range tc.want {
				got, ok := s.Env[k]
				switch {
				case want == "" && ok:
					t.Errorf("%s = %q, want it unset", k, got)
				case want != "" && got != want:
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

// TestKernelLibDir runs real kernels with a kernel library dir holding the
// real hook and a Python package: the package imports, and the hook makes
// Python see the session's one cpu.
func TestKernelLibDir(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed; cannot build the hook")
	}
	libDir := filepath.Join(shortTempDir(t), "kernel-lib")
	if out, err := exec.Command("sh", "../hook/build.sh", libDir).CombinedOutput(); err != nil {
		t.Fatalf("build hook: %v\n%s", err, out)
	}
	pkg := filepath.Join(libDir, "python", "bai_media")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pkg, "__init__.py"), []byte("MARK = 42\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Containers run as uid 1000 and must traverse the dirs.
	for d := libDir; d != filepath.Dir(filepath.Dir(libDir)); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range runtimes(t) {
		t.Run(f.name, func(t *testing.T) {
			m := kernel.New(kernel.Config{
				AgentID: "agent-lib-" + uuid.NewString()[:6], DataDir: shortTempDir(t), RunnerPath: runnerPath(t),
				LibDir: libDir, Chown: f.chown, UID: 1000, GID: 1000, PidsLimit: 256,
			}, f.rt, quietLog(), nil)
			t.Cleanup(m.Close)
			e := &env{m: m}
			id := uuid.NewString()
			if _, err := m.Create(t.Context(), aproto.CreateKernel{
				KernelID: id, SessionID: uuid.NewString(), Image: f.image,
				RuntimeType: "python", RuntimePath: "/usr/bin/python3",
				Resources: map[string]float64{"cpu": 1, "mem": 512 << 20},
			}); err != nil {
				t.Fatalf("create kernel: %v", err)
			}
			t.Cleanup(func() { _, _ = m.Destroy(context.Background(), id) })
			out, res := e.exec(t, id, query("import os, bai_media\nprint(os.cpu_count(), bai_media.MARK, os.environ['MPLBACKEND'])"))
			if res.Status != kernel.StatusFinished {
				t.Fatalf("result = %+v, output %v", res, out)
			}
			if got := strings.TrimSpace(out["stdout"]); got != "1 42 module://bai_media.mpl_backend" {
				t.Errorf("stdout = %q (stderr %q)", got, out["stderr"])
			}
		})
	}
}
