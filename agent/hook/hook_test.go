package hook_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const testImage = "bai/python:3.11-debian"

// artifacts are built once for all tests.
type artifacts struct {
	libDir string // holds libbaihook.so
	lib    string
	cpus   string // testdata/cpus.c
	prompt string // testdata/prompt.c
}

var (
	buildOnce sync.Once
	built     artifacts
	buildErr  error
	buildRoot string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "baihook-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	buildRoot = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func build(t *testing.T) artifacts {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("gcc not installed; cannot build the hook")
	}
	buildOnce.Do(func() {
		a := artifacts{libDir: filepath.Join(buildRoot, "lib")}
		a.lib = filepath.Join(a.libDir, "libbaihook.so")
		if out, err := exec.Command("sh", "build.sh", a.libDir).CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build.sh: %v\n%s", err, out)
			return
		}
		for _, p := range []struct {
			dst  *string
			name string
		}{{&a.cpus, "cpus"}, {&a.prompt, "prompt"}} {
			*p.dst = filepath.Join(buildRoot, p.name)
			src := filepath.Join("testdata", p.name+".c")
			if out, err := exec.Command("gcc", "-O2", "-o", *p.dst, src).CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("gcc %s: %v\n%s", src, err, out)
				return
			}
		}
		// Containers run as uid 1000 and must read the bind-mounted dir.
		for _, d := range []string{buildRoot, a.libDir} {
			if err := os.Chmod(d, 0o755); err != nil {
				buildErr = err
				return
			}
		}
		built = a
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

// run runs a command with the given extra environment and returns its
// trimmed stdout.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(cleanEnv(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\nstderr: %s", name, args, err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("%s %v wrote to stderr: %q", name, args, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// cleanEnv is the test's environment without the variables the hook reads.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "LD_PRELOAD", "BAI_CPU_COUNT", "BAI_HOOK_UNBUFFER":
			continue
		}
		env = append(env, kv)
	}
	return env
}

func parseCounts(t *testing.T, out string) map[string]int {
	t.Helper()
	m := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("bad line %q in %q", line, out)
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("bad count in %q: %v", line, err)
		}
		m[k] = n
	}
	if len(m) != 5 {
		t.Fatalf("want 5 counts, got %q", out)
	}
	return m
}

func TestCPUCountFromEnv(t *testing.T) {
	a := build(t)
	real := parseCounts(t, run(t, nil, a.cpus))
	tests := []struct {
		name  string
		env   string
		count func(key string) int // expected value per key
	}{
		{"one", "BAI_CPU_COUNT=1", func(string) int { return 1 }},
		{"more than the host", "BAI_CPU_COUNT=4096", func(k string) int { return real[k] }},
		{"zero is ignored", "BAI_CPU_COUNT=0", nil},
		{"garbage is ignored", "BAI_CPU_COUNT=two", nil},
		{"unset", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := []string{"LD_PRELOAD=" + a.lib}
			if tc.env != "" {
				env = append(env, tc.env)
			}
			got := parseCounts(t, run(t, env, a.cpus))
			for k, v := range got {
				if tc.count != nil {
					if want := tc.count(k); v != want {
						t.Errorf("%s = %d, want %d", k, v, want)
					}
					continue
				}
				// Without a usable env var the cgroup of the test may
				// still limit the answer, never beyond the real value.
				if v < 1 || v > real[k] {
					t.Errorf("%s = %d, want 1..%d", k, v, real[k])
				}
			}
		})
	}
}

func TestCPUCountTools(t *testing.T) {
	a := build(t)
	tests := []struct {
		name string
		argv []string
	}{
		{"nproc", []string{"nproc"}},
		{"getconf", []string{"getconf", "_NPROCESSORS_ONLN"}},
		{"python os.cpu_count", []string{"python3", "-c", "import os; print(os.cpu_count())"}},
		{"python sched_getaffinity", []string{"python3", "-c", "import os; print(len(os.sched_getaffinity(0)))"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := exec.LookPath(tc.argv[0]); err != nil {
				t.Skipf("%s not installed", tc.argv[0])
			}
			realOut := run(t, nil, tc.argv[0], tc.argv[1:]...)
			if got := run(t, []string{"LD_PRELOAD=" + a.lib, "BAI_CPU_COUNT=1"}, tc.argv[0], tc.argv[1:]...); got != "1" {
				t.Errorf("with BAI_CPU_COUNT=1: got %q, want 1 (real %s)", got, realOut)
			}
			if got := run(t, []string{"LD_PRELOAD=" + a.lib, "BAI_CPU_COUNT=4096"}, tc.argv[0], tc.argv[1:]...); got != realOut {
				t.Errorf("with BAI_CPU_COUNT=4096: got %q, want the real %q", got, realOut)
			}
		})
	}
}

// TestCPUCountCgroupQuota runs the hook in a container limited by a CFS
// quota, without BAI_CPU_COUNT, so the count must come from the cgroup.
func TestCPUCountCgroupQuota(t *testing.T) {
	a := build(t)
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker CLI not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", testImage).CombinedOutput(); err != nil {
		t.Skipf("docker or image %s unavailable (build it with agent/images/build.sh): %v: %s", testImage, err, strings.TrimSpace(string(out)))
	}
	tests := []struct {
		name  string
		flags []string
		want  string
	}{
		{"quota of one cpu", []string{"--cpus=1"}, "1 1 1"},
		{"quota of half a cpu rounds up", []string{"--cpus=0.5"}, "1 1 1"},
	}
	script := `import os, subprocess
print(os.cpu_count(), len(os.sched_getaffinity(0)), subprocess.check_output(["nproc"], text=True).strip())`
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"run", "--rm", "--network=none", "--user=1000:1000",
				"-v", a.libDir + ":/opt/bai/lib:ro",
				"-e", "LD_PRELOAD=/opt/bai/lib/libbaihook.so",
				"--entrypoint", "python3"}, tc.flags...)
			args = append(args, testImage, "-c", script)
			cmd := exec.CommandContext(ctx, "docker", args...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("docker run: %v\n%s", err, stderr.String())
			}
			if got := strings.TrimSpace(string(out)); got != tc.want {
				t.Errorf("cpu_count, affinity, nproc = %q, want %q (stderr %q)", got, tc.want, stderr.String())
			}
		})
	}
}

// TestPromptBeforeInput drives a printf-then-scanf program through pipes:
// with BAI_HOOK_UNBUFFER=1 the prompt must arrive while the program waits
// for input, not only at exit.
func TestPromptBeforeInput(t *testing.T) {
	a := build(t)
	for _, mode := range []string{"1", "2"} {
		t.Run("BAI_HOOK_UNBUFFER="+mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, a.prompt)
			cmd.Env = append(cleanEnv(), "LD_PRELOAD="+a.lib, "BAI_HOOK_UNBUFFER="+mode)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Wait() }()
			defer stdin.Close()
			r := bufio.NewReader(stdout)
			want := "Enter a number: "
			got := make([]byte, len(want))
			// No input has been written yet: the program is blocked in
			// scanf, so this read only succeeds if the prompt was flushed.
			// The context deadline kills the program otherwise.
			if _, err := io.ReadFull(r, got); err != nil {
				t.Fatalf("reading the prompt before any input: %v (got %q)", err, got)
			}
			if string(got) != want {
				t.Fatalf("prompt = %q, want %q", got, want)
			}
			if _, err := io.WriteString(stdin, "42\n"); err != nil {
				t.Fatal(err)
			}
			rest, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if string(rest) != "got 42\n" {
				t.Errorf("after input: %q, want %q", rest, "got 42\n")
			}
		})
	}
}

// TestQuietWithoutSettings checks that the hook changes nothing observable
// for an ordinary program: same output, nothing on stderr.
func TestQuietWithoutSettings(t *testing.T) {
	a := build(t)
	plain := run(t, nil, "sh", "-c", "echo hi; printf 'a\\nb\\n' | sort -r")
	hooked := run(t, []string{"LD_PRELOAD=" + a.lib}, "sh", "-c", "echo hi; printf 'a\\nb\\n' | sort -r")
	if plain != hooked {
		t.Errorf("hooked output %q differs from plain %q", hooked, plain)
	}
}
