package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/common/errdefs"
)

// TestPtyStream drives the manager's terminal stream (GET
// /stream/session/{name}/pty) on real Docker through the Go SDK and the
// CLI: the terminal app starts on demand, keystrokes run in a shell traced
// by bai-jail, a resize reaches the shell as its pty size and as SIGWINCH,
// exit closes the stream, another keypair gets 404 and an image without
// the terminal app 400.
func TestPtyStream(t *testing.T) {
	t.Parallel()
	cc := st.shared.Client()
	cr := st.shared.Creds
	sdk := sdkAs(t, cr.AccessKey, cr.SecretKey)
	name, _ := newSession(t, cc)
	ctx := testCtx(t, 4*time.Minute)

	// No start-service first: the stream starts the terminal itself.
	tc, err := sdk.Terminal(ctx, name)
	if err != nil {
		t.Fatalf("open the terminal: %v", err)
	}
	defer tc.Close()
	out := readTerminal(tc)
	typeIn := func(s string) {
		t.Helper()
		if _, err := tc.Write([]byte(s)); err != nil {
			t.Fatalf("type %q: %v", s, err)
		}
	}

	typeIn("echo hi\n")
	if got, ok := out.waitLine("hi", 30*time.Second); !ok {
		t.Fatalf("no line %q from the terminal; output %q", "hi", got)
	}
	typeIn("grep -q 'TracerPid:[[:space:]]*[1-9]' /proc/$$/status && echo jailed || echo free\n")
	if got, ok := out.waitLine("jailed", 30*time.Second); !ok {
		t.Errorf("the terminal's shell is not traced by bai-jail; output %q", got)
	}

	// A foreground program waiting for SIGWINCH sees the resize, and so
	// does the pty.
	typeIn(`sh -c 'trap "echo got-winch; exit 0" WINCH; echo ready; while :; do sleep 0.05; done'` + "\n")
	if got, ok := out.waitLine("ready", 30*time.Second); !ok {
		t.Fatalf("the SIGWINCH waiter did not start; output %q", got)
	}
	if err := tc.Resize(100, 30); err != nil {
		t.Fatal(err)
	}
	if got, ok := out.waitLine("got-winch", 30*time.Second); !ok {
		t.Errorf("no SIGWINCH after the resize (under bai-jail); output %q", got)
	}
	typeIn("stty size\n")
	if got, ok := out.waitLine("30 100", 30*time.Second); !ok {
		t.Errorf("stty size after resizing to 100x30; output %q", got)
	}

	typeIn("exit\n")
	if err := out.waitEnd(30 * time.Second); err != nil {
		t.Errorf("after exit: %v, want the stream closed normally (io.EOF)", err)
	}

	t.Run("another keypair", func(t *testing.T) {
		ak, sk := addKeypair(t)
		_, err := sdkAs(t, ak, sk).Terminal(ctx, name)
		var ae *client.APIError
		if !errors.As(err, &ae) || ae.Status != 404 || !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("another keypair's terminal: %v, want 404", err)
		}
	})

	t.Run("image without terminal", func(t *testing.T) {
		// The c image's ai.backend.service-ports label is empty.
		if err := exec.Command("docker", "image", "inspect", "bai/c:gcc12-debian").Run(); err != nil {
			t.Skip("no c image (bai/c:gcc12-debian); build it with make images LANGS=c")
		}
		cname := newLangSession(t, cc, "c")
		_, err := sdk.Terminal(ctx, cname)
		var ae *client.APIError
		if !errors.As(err, &ae) || ae.Status != 400 || !strings.Contains(ae.Msg, `declares no app "terminal"`) || !strings.Contains(ae.Msg, "offers: none") {
			t.Fatalf("terminal of a c session: %v, want 400 naming what the image offers", err)
		}
	})

	t.Run("cli with piped stdin", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(cctx, filepath.Join(st.binDir, "bai"), "terminal", name)
		cmd.Env = append(os.Environ(), sharedEnv()...)
		cmd.Stdin = strings.NewReader("echo hi; exit\n")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if cctx.Err() != nil {
			t.Fatalf("bai terminal did not end after exit; stdout %q stderr %q", stdout.String(), stderr.String())
		}
		if err != nil {
			t.Fatalf("bai terminal: %v; stdout %q stderr %q", err, stdout.String(), stderr.String())
		}
		if !hasLine(stdout.String(), "hi") {
			t.Errorf("bai terminal printed no line %q: %q", "hi", stdout.String())
		}
		t.Logf("bai terminal %s: %q", name, stdout.String())
	})

	t.Run("cli on a terminal", func(t *testing.T) {
		master, tty := openPTY(t, 90, 20)
		cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(cctx, filepath.Join(st.binDir, "bai"), "terminal", name)
		cmd.Env = append(os.Environ(), sharedEnv()...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		out := readTerminal(master)
		typeIn := func(s string) {
			t.Helper()
			if _, err := master.WriteString(s); err != nil {
				t.Fatalf("type %q: %v", s, err)
			}
		}
		// Keys go in raw: Enter is a carriage return, as a terminal sends.
		typeIn("stty size\r")
		if got, ok := out.waitLine("20 90", 30*time.Second); !ok {
			t.Fatalf("the remote pty did not take the local size 90x20; output %q", got)
		}
		// The local window changes: bai gets SIGWINCH and resizes.
		if err := unix.IoctlSetWinsize(int(master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Col: 120, Row: 40}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			typeIn("stty size\r")
			if _, ok := out.waitLine("40 120", 2*time.Second); ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the remote pty did not follow the local resize to 120x40; output %q", out.seen)
			}
		}
		// Ctrl-C is a key for the remote shell, not a signal to bai.
		// (sh prints the marker, so bash's fork, during which it would
		// take a SIGINT as its own, is over.)
		typeIn("sh -c 'echo started; exec sleep 60'\r")
		if got, ok := out.waitLine("started", 30*time.Second); !ok {
			t.Fatalf("the sleep did not start; output %q", got)
		}
		typeIn("\x03")
		typeIn("echo alive\r")
		if got, ok := out.waitLine("alive", 20*time.Second); !ok {
			t.Fatalf("after Ctrl-C the remote shell did not answer at once; output %q", got)
		}
		typeIn("exit\r")
		if err := out.waitExit(exited, 30*time.Second); err != nil {
			t.Fatalf("bai terminal after exit: %v; output %q", err, out.all.String())
		}
		t.Logf("bai terminal %s on a pty: %q", name, out.all.String())
		// The local terminal is back in cooked mode.
		tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
		if err != nil {
			t.Fatal(err)
		}
		if tio.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != unix.ICANON|unix.ECHO|unix.ISIG {
			t.Errorf("bai terminal left the local terminal in raw mode: lflag %#x", tio.Lflag)
		}
	})
}

// openPTY opens a pseudo-terminal of cols x rows, closed at cleanup.
func openPTY(t *testing.T, cols, rows uint16) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { master.Close() })
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Col: cols, Row: rows}); err != nil {
		t.Fatal(err)
	}
	return master, tty
}

// termOutput collects a terminal's output from a goroutine that reads it
// continuously (which is also what answers the manager's pings).
type termOutput struct {
	chunks chan []byte
	end    chan error
	seen   string          // output not yet matched by waitLine
	all    strings.Builder // everything, for the log
}

func readTerminal(r io.Reader) *termOutput {
	o := &termOutput{chunks: make(chan []byte, 64), end: make(chan error, 1)}
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				o.chunks <- bytes.Clone(buf[:n])
			}
			if err != nil {
				close(o.chunks)
				o.end <- err
				return
			}
		}
	}()
	return o
}

// waitLine reads until a line shows exactly want and forgets the output up
// to it; it returns what was read when it gives up.
func (o *termOutput) waitLine(want string, limit time.Duration) (string, bool) {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		if i := lineEnd(o.seen, want); i >= 0 {
			o.seen = o.seen[i:]
			return "", true
		}
		select {
		case p, ok := <-o.chunks:
			if !ok {
				return o.seen + " [stream ended]", false
			}
			o.seen += string(p)
			o.all.Write(p)
		case <-timer.C:
			return o.seen, false
		}
	}
}

// waitExit collects output until the process whose Wait result exited
// carries ends.
func (o *termOutput) waitExit(exited <-chan error, limit time.Duration) error {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		select {
		case p, ok := <-o.chunks:
			if !ok {
				o.chunks = nil // the pty's reader ended; wait on
				continue
			}
			o.seen += string(p)
			o.all.Write(p)
		case err := <-exited:
			return err
		case <-timer.C:
			return errors.New("still running")
		}
	}
}

// waitEnd waits for the stream to end and returns nil for io.EOF.
func (o *termOutput) waitEnd(limit time.Duration) error {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-o.chunks:
			if !ok {
				if err := <-o.end; err != io.EOF {
					return err
				}
				return nil
			}
		case <-timer.C:
			return errors.New("still open")
		}
	}
}

// lineEnd returns the offset just past the first complete line of s that
// shows exactly want, or -1.
func lineEnd(s, want string) int {
	off := 0
	for {
		i := strings.IndexByte(s[off:], '\n')
		if i < 0 {
			return -1
		}
		if shownLine(s[off:off+i]) == want {
			return off + i + 1
		}
		off += i + 1
	}
}

// hasLine tells whether some line of s shows exactly want.
func hasLine(s, want string) bool {
	for _, l := range strings.Split(s, "\n") {
		if shownLine(l) == want {
			return true
		}
	}
	return false
}

// shownLine is what a terminal shows of a line: the shell's bracketed-paste
// toggles and prompts end in carriage returns, so what follows the last one.
func shownLine(l string) string {
	l = strings.TrimRight(l, "\r")
	if i := strings.LastIndexByte(l, '\r'); i >= 0 {
		l = l[i+1:]
	}
	return l
}
