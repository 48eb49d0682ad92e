package e2e_test

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestJailInSession: user code runs as a child of bai-jail, which refuses
// what its policy does not allow with EPERM and logs each refusal in the
// session's container log, while the session keeps working.
func TestJailInSession(t *testing.T) {
	t.Parallel()
	c := st.shared.Client()
	name, _ := newSession(t, c)
	code := `
import ctypes, errno, fcntl, os, pty, signal, termios
libc = ctypes.CDLL(None, use_errno=True)
def errname(fn):
    try:
        r = fn()
        if r == -1:
            return errno.errorcode[ctypes.get_errno()]
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]
parent = os.getppid()
print("parent", open("/proc/%d/comm" % parent).read().strip())
runner = int(open("/proc/%d/stat" % parent).read().rsplit(")", 1)[1].split()[1])
print("ptrace-runner", errname(lambda: libc.ptrace(16, runner, 0, 0)))
print("kill-runner", errname(lambda: os.kill(runner, signal.SIGKILL)))
print("kill-jail", errname(lambda: os.kill(parent, signal.SIGKILL)))
print("kill-init", errname(lambda: os.kill(1, signal.SIGTERM)))
print("kill-all", errname(lambda: os.kill(-1, signal.SIGKILL)))
print("io_uring", errname(lambda: libc.syscall(425, 1, 0)))
m, s = pty.openpty()
print("tiocsti", errname(lambda: fcntl.ioctl(s, termios.TIOCSTI, b"x")))
print("write-opt", errname(lambda: open("/opt/planted", "w")))
print("proc-runner-mem", errname(lambda: open("/proc/%d/mem" % runner, "r+b")))
print("env-ipc", os.environ.get("BAI_IPC_DIR"))
print("runner-environ", errname(lambda: open("/proc/%d/environ" % runner, "rb").read()))
print("runner-mem-read", errname(lambda: open("/proc/%d/mem" % runner, "rb")))
status = dict(l.split(":", 1) for l in open("/proc/self/status") if ":" in l)
# Docker's default profile stays beneath the jail's filter.
print("seccomp", status["Seccomp"].strip(), "filters>=2", int(status.get("Seccomp_filters", "0")) >= 2)
`
	r := run(t, c, name, code)
	out := r.Stdout()
	for _, want := range []string{"parent bai-jail", "ptrace-runner EPERM", "kill-runner EPERM", "kill-jail EPERM",
		"kill-init EPERM", "kill-all EPERM", "io_uring EPERM", "tiocsti EPERM", "write-opt EPERM", "proc-runner-mem EPERM", "env-ipc None", "runner-environ EACCES", "runner-mem-read EACCES", "seccomp 2 filters>=2 True"} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("want %q in:\n%s%s", want, out, r.Stderr())
		}
	}
	if r := run(t, c, name, "print(6 * 7)"); !strings.Contains(r.Stdout(), "42") {
		t.Fatalf("session unusable after the refusals: %+v", r)
	}
	// Every refusal is in the session's log, for its owner to read.
	deadline := time.Now().Add(10 * time.Second)
	for {
		logs, err := c.Logs(context.Background(), name)
		if err == nil && strings.Contains(logs, "bai-jail: refused ptrace()") && strings.Contains(logs, `bai-jail: refused openat("/opt/planted")`) &&
			strings.Contains(logs, "terminal input injection") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("refusals missing from the session log (err %v):\n%s", err, logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
