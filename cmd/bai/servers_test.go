package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"baigo.dev/bai/backend/server"
)

// TestBannerSecretOnlyOnTerminal: the start-up banner prints the secret key
// to a terminal only; to a buffer, a pipe or a file (a log) it names the
// credentials file instead.
func TestBannerSecretOnlyOnTerminal(t *testing.T) {
	creds := server.Credentials{Endpoint: "http://127.0.0.1:8081", AccessKey: "AKIATESTTESTTESTTEST", SecretKey: "S3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr3tS3cr"}
	dir := t.TempDir()
	banner := func(w io.Writer) {
		cmd := &cobra.Command{}
		cmd.SetOut(w)
		printCredentials(cmd, creds, dir)
	}

	var buf bytes.Buffer
	banner(&buf)
	f, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	banner(f)
	f.Close()
	logged, _ := os.ReadFile(f.Name())
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	banner(pw)
	pw.Close()
	piped, _ := io.ReadAll(pr)
	for what, out := range map[string]string{"buffer": buf.String(), "file": string(logged), "pipe": string(piped)} {
		if strings.Contains(out, creds.SecretKey) {
			t.Errorf("%s: the banner holds the secret key:\n%s", what, out)
		}
		for _, want := range []string{creds.AccessKey, filepath.Join(dir, "credentials.json"), "not a terminal"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: the banner lacks %q:\n%s", what, want, out)
			}
		}
		if strings.Contains(out, "secret key:") {
			t.Errorf("%s: a \"secret key:\" line would be read as the key by scripts:\n%s", what, out)
		}
	}

	term, read := openPTY(t)
	banner(term)
	term.Close()
	if out := read(); !strings.Contains(out, "secret key:    "+creds.SecretKey) || !strings.Contains(out, "BACKEND_SECRET_KEY="+creds.SecretKey) {
		t.Errorf("terminal: the banner lacks the secret key:\n%s", out)
	}
}

// openPTY opens a pseudo-terminal; read returns what was written to its
// terminal end once that end is closed.
func openPTY(t *testing.T) (term *os.File, read func() string) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	return s, func() string {
		b, _ := io.ReadAll(m) // ends with EIO once the terminal end is closed
		return string(b)
	}
}
