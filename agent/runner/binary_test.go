package runner_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"baigo.dev/bai/common/kproto"
)

// buildRunner builds cmd/bai-runner the way the Makefile does.
func buildRunner(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "bai-runner")
	cmd := exec.Command("go", "build", "-o", bin, "baigo.dev/bai/cmd/bai-runner")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

func vmRSSKiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestBinaryMemoryAndSIGTERM runs the static binary as a container would,
// reports its idle resident set and checks a clean exit on SIGTERM.
func TestBinaryMemoryAndSIGTERM(t *testing.T) {
	needPython(t)
	bin := buildRunner(t)
	dir := shortTempDir(t)
	work := t.TempDir()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		kproto.EnvIPCDir+"="+dir, kproto.EnvRuntimeType+"=python",
		kproto.EnvRuntimePath+"=python3", kproto.EnvWorkDir+"="+work)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	a := dialAgent(t, dir)
	a.expect(kproto.OpReady)
	r := a.code("import os; print(os.getpid()); print(os.getcwd())")
	lines := strings.Fields(r.stdout)
	if len(lines) != 2 || lines[1] != work {
		t.Fatalf("%+v", r)
	}
	pyPID, _ := strconv.Atoi(lines[0])
	for i := 0; i < 50; i++ {
		a.code("print(1)")
	}
	rss := vmRSSKiB(t, cmd.Process.Pid)
	t.Logf("bai-runner idle VmRSS after 52 runs: %d KiB (%.1f MiB)", rss, float64(rss)/1024)
	if rss > 10*1024 {
		t.Errorf("runner RSS %d KiB is over the 10 MiB budget", rss)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("runner did not exit on SIGTERM")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := syscall.Kill(pyPID, 0)
		if errors.Is(err, syscall.ESRCH) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("python %d still alive after the runner exited", pyPID)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}

// TestPrintRoundTrip measures what the agent measures: send `print(1)`,
// receive stdout and finished.
func TestPrintRoundTrip(t *testing.T) {
	_, a := connect(t)
	const n = 300
	d := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		start := time.Now()
		r := a.code("print(1)")
		d = append(d, time.Since(start))
		if r.stdout != "1\n" {
			t.Fatalf("%+v", r)
		}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	t.Logf("print(1) round trip through zmq over %d runs: min %v, median %v, p90 %v, max %v", n, d[0], d[n/2], d[n*9/10], d[n-1])
}

func BenchmarkPrintRoundTrip(b *testing.B) {
	_, a := connect(b)
	for b.Loop() {
		a.send(kproto.OpCode, "print(1)")
		a.collect(kproto.OpFinished, nil)
	}
}

// buildJail builds cmd/bai-jail the way the Makefile does.
func buildJail(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bai-jail")
	cmd := exec.Command("go", "build", "-o", bin, "baigo.dev/bai/cmd/bai-jail")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestBinaryUnderJail runs the runner as the agent does with the jail
// enforcing: user code is the jail's child, its refused calls fail with
// EPERM and are logged on the runner's stderr (the container's log), the
// runner's own variables are hidden, interrupts still reach the program,
// and the Python process survives between runs.
func TestBinaryUnderJail(t *testing.T) {
	// The default policy lets programs run from the system's directories,
	// as in a kernel image, not from a home directory's Python.
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("needs /usr/bin/python3")
	}
	bin, jailBin := buildRunner(t), buildJail(t)
	dir := shortTempDir(t)
	work := t.TempDir()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		kproto.EnvIPCDir+"="+dir, kproto.EnvRuntimeType+"=python",
		kproto.EnvRuntimePath+"=/usr/bin/python3", kproto.EnvWorkDir+"="+work,
		kproto.EnvJailMode+"=enforce", kproto.EnvJailPath+"="+jailBin,
		kproto.EnvJailPolicyDir+"="+t.TempDir(), kproto.EnvJailKeepEnv+"=USER_VAR", "USER_VAR=kept")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("runner log:\n%s", stderr.String())
		}
	})
	a := dialAgent(t, dir)
	a.expect(kproto.OpReady)

	r := a.code("import os\nprint(open('/proc/%d/comm' % os.getppid()).read().strip(), os.environ.get('USER_VAR'), os.environ.get('" + kproto.EnvIPCDir + "'))")
	if r.stdout != "bai-jail kept None\n" {
		t.Fatalf("parent, kept and hidden variables: %+v (runner log %s)", r, stderr.String())
	}
	r = a.code("x = 41\ntry:\n    open('/etc/bai-jail-test', 'w')\nexcept PermissionError as e:\n    print('refused', e.errno)")
	if r.stdout != "refused 1\n" {
		t.Fatalf("write outside the allowlist: %+v", r)
	}
	if _, err := os.Stat("/etc/bai-jail-test"); err == nil {
		os.Remove("/etc/bai-jail-test")
		t.Fatal("the file was created")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(stderr.String(), `bai-jail: refused openat("/etc/bai-jail-test")`) {
		if time.Now().After(deadline) {
			t.Fatalf("refusal not in the runner's log: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	a.send(kproto.OpCode, "import time\nprint('sleeping', flush=True)\ntime.sleep(30)")
	if m := a.recv(); m.Op != kproto.OpStdout || string(m.Payload) != "sleeping\n" {
		t.Fatalf("got %s %q", m.Op, m.Payload)
	}
	start := time.Now()
	a.send(kproto.OpInterrupt, "")
	r = a.collect(kproto.OpFinished, nil)
	if !strings.Contains(r.stderr, "KeyboardInterrupt") || time.Since(start) > 10*time.Second {
		t.Fatalf("interrupt through the jail: %+v after %v", r, time.Since(start))
	}
	r = a.code("print(x + 1)")
	if r.stdout != "42\n" {
		t.Fatalf("state lost between runs: %+v", r)
	}
}
