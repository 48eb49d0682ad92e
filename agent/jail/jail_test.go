//go:build linux && amd64

package jail_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"baigo.dev/bai/agent/jail"
)

// The test binary doubles as bai-jail: with this variable set it runs
// jail.Main, so the jail re-executing itself (/proc/self/exe) works too.
const asJail = "BAI_JAIL_TEST_AS_JAIL"

func TestMain(m *testing.M) {
	if os.Getenv(asJail) == "1" {
		os.Exit(jail.Main(os.Args[1:]))
	}
	os.Exit(m.Run())
}

type result struct {
	stdout, stderr, log string
	code                int
	signaled            syscall.Signal
}

// runJail runs script with /bin/sh under the jail with the given policy
// (YAML, diff_to_default unless it says otherwise) and mode.
func runJail(t *testing.T, policy, mode, script string, extra ...string) result {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "test.yml"), []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	logR, logW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer logR.Close()
	args := append([]string{"--mode", mode, "--policy", "test", "--policy-dir", dir, "--log-fd", "3"}, extra...)
	args = append(args, "--", "/bin/sh", "-c", script)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = []string{asJail + "=1", "PATH=/usr/bin:/bin", "HOME=/tmp", "SECRET_TOKEN=hunter2", "KEEP_ME=yes"}
	cmd.Dir = workDir(t)
	cmd.ExtraFiles = []*os.File{logW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logW.Close()
	logc := make(chan string, 1)
	go func() {
		var b bytes.Buffer
		_, _ = b.ReadFrom(logR)
		logc <- b.String()
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("jail did not finish: stdout %q stderr %q", stdout.String(), stderr.String())
	}
	r := result{stdout: stdout.String(), stderr: stderr.String(), log: <-logc}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		ws := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			r.signaled = ws.Signal()
		}
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

// workDir is a per-test directory under /tmp (the default policy allows
// writing there).
func workDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("/tmp", "jailtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

const diff = "diff_to_default: true\n"

// standalone is a policy without diff_to_default: the default's syscall
// allowlist and whatever rest says.
func standalone(rest string) string {
	return "allowed_syscalls: [" + strings.Join(jail.Default().AllowedSyscalls, ", ") + "]\n" + rest
}

func TestJailRunsAllowedPrograms(t *testing.T) {
	r := runJail(t, diff, jail.ModeEnforce, `echo hello; echo oops >&2; printf data > f.txt; cat f.txt; ls . >/dev/null; exit 7`)
	if r.stdout != "hello\ndata" || r.stderr != "oops\n" || r.code != 7 || r.log != "" {
		t.Fatalf("got %+v", r)
	}
}

func TestJailPropagatesSignalDeath(t *testing.T) {
	r := runJail(t, diff, jail.ModeEnforce, `kill -KILL $$`)
	if r.signaled != syscall.SIGKILL {
		t.Fatalf("want the jail to die of SIGKILL like the program, got %+v", r)
	}
}

func TestJailPathRules(t *testing.T) {
	outside := filepath.Join(workDir(t), "outside")
	if err := os.Mkdir(outside, 0o777); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(victim, 0o666); err != nil { // past the umask
		t.Fatal(err)
	}
	// A policy that stands alone: the default's syscalls, but only the
	// test's own directory is writable.
	pol := func(cwd string) string {
		return standalone(fmt.Sprintf("whitelist_paths:\n  open: [%s, /dev/null, /proc/self]\n  unlink: [%s]\n  chmod: [%s]\n  exec: [/usr, /bin]\n", cwd, cwd, cwd))
	}
	cases := []struct {
		name, script, wantLog string
	}{
		{"write", `echo x > ` + victim + ` && echo WROTE`, `refused openat("` + victim + `")`},
		{"create", `: > ` + outside + `/new && echo WROTE`, `refused openat(`},
		{"unlink", `rm -f ` + victim + ` && echo WROTE`, `refused unlinkat(`},
		{"rename", `mv ` + victim + ` ./stolen && echo WROTE`, `refused rename`},
		{"chmod", `chmod 600 ` + victim + ` && echo WROTE`, `refused fchmodat(`},
		{"mkdir", `mkdir ` + outside + `/d && echo WROTE`, `refused mkdir`},
		{"symlink-out", `ln -s ` + victim + ` link && echo x > link && echo WROTE`, `is not under whitelist_paths.open`},
		{"relative-escape", `cd ` + outside + ` && echo x > ../outside/victim && echo WROTE`, `refused openat(`},
		{"proc-of-another", `echo 1000 > /proc/1/oom_score_adj && echo WROTE`, `/proc/1/oom_score_adj is not under`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cwd := workDir(t)
			p := pol(cwd)
			script := "cd " + cwd + " && " + c.script
			r := runJail(t, p, jail.ModeEnforce, script)
			if strings.Contains(r.stdout, "WROTE") || !strings.Contains(r.log, c.wantLog) {
				t.Fatalf("enforce: want refusal logged as %q, got %+v", c.wantLog, r)
			}
			if !strings.Contains(r.stderr, "Operation not permitted") {
				t.Fatalf("enforce: the program should see EPERM, got %+v", r)
			}
			if b, _ := os.ReadFile(victim); string(b) != "keep" {
				t.Fatalf("victim changed: %q", b)
			}
			if fi, _ := os.Stat(victim); fi.Mode().Perm() != 0o666 {
				t.Fatalf("victim mode changed: %v", fi.Mode())
			}
		})
	}
	t.Run("allowed-inside", func(t *testing.T) {
		cwd := workDir(t)
		r := runJail(t, pol(cwd), jail.ModeEnforce, "cd "+cwd+` && mkdir d && echo x > d/f && chmod 600 d/f && mv d/f g && ln -s g h && cat h && rm g h && rmdir d && echo OK`)
		if r.stdout != "x\nOK\n" || r.log != "" {
			t.Fatalf("got %+v", r)
		}
	})
	t.Run("proc-self", func(t *testing.T) {
		r := runJail(t, diff, jail.ModeEnforce, `echo 500 > /proc/self/oom_score_adj && echo OK`)
		if r.stdout != "OK\n" || r.log != "" {
			t.Fatalf("writing the caller's own /proc entry should pass: %+v", r)
		}
	})
}

func TestJailWatchAndNoopModes(t *testing.T) {
	target := filepath.Join(workDir(t), "outside-watch")
	pol := standalone("whitelist_paths:\n  exec: [/usr, /bin]\n")
	r := runJail(t, pol, jail.ModeWatch, `echo x > `+target+` && echo WROTE`)
	if r.stdout != "WROTE\n" || !strings.Contains(r.log, `would refuse openat("`+target+`")`) {
		t.Fatalf("watch: want the write to pass and be logged, got %+v", r)
	}
	os.Remove(target)
	r = runJail(t, pol, jail.ModeNoop, `echo x > `+target+` && echo WROTE`)
	if r.stdout != "WROTE\n" || r.log != "" {
		t.Fatalf("noop: want no jail at all, got %+v", r)
	}
}

func TestJailSyscallAllowlist(t *testing.T) {
	// uname(1) calls uname(2), which this policy removes.
	r := runJail(t, "diff_to_default: true\nallowed_syscalls: [-uname]\n", jail.ModeEnforce, `uname -s; echo rc=$?`)
	if strings.Contains(r.stdout, "Linux") || !strings.Contains(r.stdout, "rc=1") || !strings.Contains(r.log, "refused uname() by uname[") {
		t.Fatalf("got %+v", r)
	}
	// ptrace, and a syscall outside every list (io_uring), are refused by
	// the default policy.
	py := `import ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
print("ptrace", libc.ptrace(0, 0, 0, 0), errno.errorcode[ctypes.get_errno()])
print("io_uring", libc.syscall(425, 1, 0), errno.errorcode[ctypes.get_errno()])
`
	r = runJail(t, diff, jail.ModeEnforce, "python3 -c '"+py+"'")
	if !strings.Contains(r.stdout, "ptrace -1 EPERM") || !strings.Contains(r.stdout, "io_uring -1 EPERM") {
		t.Fatalf("got %+v", r)
	}
}

func TestJailTIOCSTI(t *testing.T) {
	py := `import fcntl, termios, pty, os
m, s = pty.openpty()
try:
    fcntl.ioctl(s, termios.TIOCSTI, b"x")
    print("INJECTED")
except OSError as e:
    print("refused", e.errno == 1)
`
	r := runJail(t, diff, jail.ModeEnforce, "python3 -c '"+py+"'")
	if r.stdout != "refused True\n" || !strings.Contains(r.log, "terminal input injection") {
		t.Fatalf("got %+v", r)
	}
}

func TestJailExecAndForkAllowances(t *testing.T) {
	r := runJail(t, "diff_to_default: true\nexec_allowance: 1\n", jail.ModeEnforce, `/bin/true && echo one; /bin/true && echo two`)
	if r.stdout != "one\n" || !strings.Contains(r.log, "exec_allowance (1) used up") {
		t.Fatalf("exec allowance: got %+v", r)
	}
	r = runJail(t, standalone("whitelist_paths:\n  open: [/tmp]\n  exec: [/usr/bin, /bin]\n"), jail.ModeEnforce,
		`/usr/bin/true && echo usr; cp /usr/bin/true ./t && ./t && echo copied`)
	// /bin and /usr/bin may be the same directory (merged /usr); the
	// copy in the work directory is outside the exec allowlist either way.
	if !strings.Contains(r.stdout, "usr\n") || strings.Contains(r.stdout, "copied") || !strings.Contains(r.log, "is not under whitelist_paths.exec") {
		t.Fatalf("exec paths: got %+v", r)
	}
	r = runJail(t, "diff_to_default: true\nfork_allowance: 2\n", jail.ModeEnforce, `/bin/true; echo one; /bin/true; echo two; /bin/true; echo three`)
	if !strings.Contains(r.log, "fork_allowance (2) used up") || r.stdout != "one\ntwo\n" || !strings.Contains(r.stderr, "fork") {
		t.Fatalf("fork allowance: got %+v", r)
	}
	// Threads are not processes: a policy that forbids forking still lets
	// a program start threads.
	py := `import threading, os
ts = [threading.Thread(target=lambda: None) for _ in range(8)]
[t.start() for t in ts]; [t.join() for t in ts]
print("threads ok")
try:
    os.fork()
    print("FORKED")
except OSError as e:
    print("fork refused", e.errno)
`
	r = runJail(t, "diff_to_default: true\nfork_allowance: 0\n", jail.ModeEnforce, "exec python3 -c '"+py+"'")
	if r.stdout != "threads ok\nfork refused 1\n" {
		t.Fatalf("threads under fork_allowance 0: got %+v", r)
	}
	r = runJail(t, "diff_to_default: true\nmax_child_procs: 3\n", jail.ModeEnforce, `sleep 2 & sleep 2 & sleep 2 & echo started; wait`)
	if !strings.Contains(r.log, "max_child_procs (3) reached") {
		t.Fatalf("max child procs: got %+v", r)
	}
}

func TestJailSignals(t *testing.T) {
	// The jail is the program's parent; the runner and PID 1 are outside.
	r := runJail(t, diff, jail.ModeEnforce, `kill -TERM $PPID; echo rc=$?; kill -TERM 1; echo rc=$?; kill -KILL -1; echo rc=$?`)
	if r.stdout != "rc=1\nrc=1\nrc=1\n" || strings.Count(r.log, "refused kill(") != 3 {
		t.Fatalf("got %+v", r)
	}
	// The run's own process group holds the jail: the jail delivers the
	// signal to everyone else in it and stays.
	r = runJail(t, diff, jail.ModeEnforce, `trap "echo got TERM" TERM; sleep 30 & until [ "$(cat /proc/$!/comm)" = sleep ]; do :; done; kill -TERM 0; wait; echo after`)
	if r.stdout != "got TERM\nafter\n" || r.code != 0 {
		t.Fatalf("group signal: got %+v", r)
	}
	// Signals among the program's own processes pass.
	r = runJail(t, diff, jail.ModeEnforce, `sleep 30 & kill $!; wait $!; echo status=$?`)
	if r.stdout != "status=143\n" || r.log != "" {
		t.Fatalf("own child: got %+v", r)
	}
}

func TestJailKillsLeftoversAtExit(t *testing.T) {
	r := runJail(t, diff, jail.ModeEnforce, `setsid sleep 300 >/dev/null 2>&1 & echo $!`)
	pid, err := strconv.Atoi(strings.TrimSpace(r.stdout))
	if err != nil {
		t.Fatalf("got %+v", r)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(b), ") Z ") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("background process %d outlived the jail", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestJailEnvironment(t *testing.T) {
	r := runJail(t, "diff_to_default: true\nextra_envs: {GREETING: hi}\n", jail.ModeEnforce,
		`echo "path=$PATH secret=${SECRET_TOKEN:-none} keep=${KEEP_ME:-none} greeting=$GREETING jail=${`+asJail+`:-none}"`, "--keep-env", "KEEP_ME")
	if r.stdout != "path=/usr/bin:/bin secret=none keep=yes greeting=hi jail=none\n" {
		t.Fatalf("got %+v", r)
	}
}

func TestJailInheritsDescriptors(t *testing.T) {
	// The REPL helpers talk over descriptors 3 and up; the jail's log
	// descriptor must not leak to the program.
	r := runJail(t, diff, jail.ModeEnforce, `[ -e /proc/$$/fd/3 ] && echo LEAK; echo done`)
	if r.stdout != "done\n" {
		t.Fatalf("the log descriptor leaked to the program: %+v", r)
	}
}

func TestJailBadInvocation(t *testing.T) {
	r := runJail(t, "allowed_syscalls: [no_such_call]\n", jail.ModeEnforce, `echo hi`)
	if r.code != 125 || !strings.Contains(r.stderr, `unknown syscall "no_such_call"`) || r.stdout != "" {
		t.Fatalf("got %+v", r)
	}
}
