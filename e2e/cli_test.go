package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"baigo.dev/bai/e2e/devserver"
)

// cliResult is what one CLI invocation produced.
type cliResult struct {
	stdout, stderr string
	code           int
	took           time.Duration
}

// bai runs the CLI with the given keypair environment.
func bai(t *testing.T, env []string, limit time.Duration, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(st.binDir, "bai"), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = t.TempDir()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := cliResult{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("bai %v did not finish within %s; stdout %q stderr %q", args, limit, r.stdout, r.stderr)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("bai %v: %v", args, err)
	}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic:") {
		t.Errorf("bai %v panicked:\n%s", args, r.stderr)
	}
	return r
}

func sharedEnv() []string {
	return []string{
		"BACKEND_ENDPOINT=" + st.shared.Creds.Endpoint,
		"BACKEND_ACCESS_KEY=" + st.shared.Creds.AccessKey,
		"BACKEND_SECRET_KEY=" + st.shared.Creds.SecretKey,
	}
}

func TestCLIRun(t *testing.T) {
	t.Parallel()
	env := sharedEnv()
	script := filepath.Join(t.TempDir(), "script.py")
	if err := os.WriteFile(script, []byte("import sys\nprint('from a script', sum(range(10)))\nprint('warn', file=sys.stderr)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"inline", []string{"run", "python", "-c", "print(1+1)"}, 0, "2\n", ""},
		{"script file", []string{"run", "python", script}, 0, "from a script 45\n", "warn"},
		{"exit code", []string{"run", "python", "-c", "import sys; sys.exit(3)"}, 3, "", ""},
		{"exception", []string{"run", "python", "-c", "raise ValueError('boom')"}, -1, "", "ValueError"},
	}
	t.Run("stdin input", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(st.binDir, "bai"), "run", "python", "-c", "print(input() + '!')")
		cmd.Env = append(os.Environ(), env...)
		cmd.Stdin = strings.NewReader("hi\n")
		out, err := cmd.Output()
		if err != nil || !strings.HasSuffix(string(out), "hi!\n") {
			t.Errorf("stdout %q err %v, want it to end in hi!", out, err)
		}
	})
	t.Run("keep", func(t *testing.T) {
		name := uniqueName(t)
		r := bai(t, env, 90*time.Second, "run", "--keep", "--name", name, "python", "-c", "x = 'kept'")
		c := st.shared.Client()
		si, _, err := c.Info(testCtx(t, 10*time.Second), name)
		if err != nil {
			t.Fatalf("after run --keep (exit %d, stderr %q): %v", r.code, r.stderr, err)
		}
		remember(si.SessionID)
		t.Cleanup(func() { destroyQuietly(t, c, si.SessionID) })
		if si.Status != "RUNNING" {
			t.Errorf("kept session is %s", si.Status)
		}
		if got := run(t, c, name, "print(x)"); got.Stdout() != "kept\n" {
			t.Errorf("state of the kept session: stdout %q stderr %q", got.Stdout(), got.Stderr())
		}
	})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := bai(t, env, 90*time.Second, tc.args...)
			switch {
			case tc.wantCode == -1 && r.code == 0:
				t.Errorf("exit code 0, want non-zero")
			case tc.wantCode >= 0 && r.code != tc.wantCode:
				t.Errorf("exit code %d, want %d (stdout %q stderr %q)", r.code, tc.wantCode, r.stdout, r.stderr)
			}
			if tc.wantStdout != "" && r.stdout != tc.wantStdout {
				t.Errorf("stdout %q, want %q (stderr %q)", r.stdout, tc.wantStdout, r.stderr)
			}
			if tc.wantStderr != "" && !strings.Contains(r.stderr, tc.wantStderr) {
				t.Errorf("stderr %q lacks %q", r.stderr, tc.wantStderr)
			}
			t.Logf("bai %s took %s", strings.Join(tc.args, " "), r.took.Round(time.Millisecond))
		})
	}
}

func TestCLISessions(t *testing.T) {
	t.Parallel()
	env := sharedEnv()
	c := st.shared.Client()
	name, id := newSession(t, c)

	if r := bai(t, env, 30*time.Second, "session", "ls"); r.code != 0 || !strings.Contains(r.stdout, name) {
		t.Errorf("session ls: exit %d stdout %q stderr %q, want it to list %s", r.code, r.stdout, r.stderr, name)
	}
	if r := bai(t, env, 30*time.Second, "session", "info", name); r.code != 0 || !strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, "RUNNING") {
		t.Errorf("session info: exit %d stdout %q stderr %q, want id and RUNNING", r.code, r.stdout, r.stderr)
	}
	if r := bai(t, env, 30*time.Second, "session", "logs", name); r.code != 0 {
		t.Errorf("session logs: exit %d stderr %q", r.code, r.stderr)
	}
	if r := bai(t, env, 30*time.Second, "images"); r.code != 0 || !strings.Contains(r.stdout, imageName) {
		t.Errorf("images: exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := bai(t, env, 60*time.Second, "session", "rm", name); r.code != 0 {
		t.Fatalf("session rm: exit %d stderr %q", r.code, r.stderr)
	}
	waitNoContainers(t, id, 10*time.Second)
	if si, resp, err := c.Info(testCtx(t, 10*time.Second), id); err == nil && si.Status != "TERMINATED" {
		t.Errorf("after rm: status %s", si.Status)
	} else if err != nil && (resp == nil || resp.Status != http.StatusNotFound) {
		t.Errorf("after rm: %v", err)
	}
	if r := bai(t, env, 30*time.Second, "session", "info", "e2e-no-such-session"); r.code == 0 || r.stderr == "" {
		t.Errorf("info of an unknown session: exit %d stderr %q, want an error", r.code, r.stderr)
	}
	if r := bai(t, env, 30*time.Second, "run", "nosuchlang", "-c", "1"); r.code == 0 || !strings.Contains(r.stderr, "python") {
		t.Errorf("run with an unknown image: exit %d stderr %q, want an error listing the images", r.code, r.stderr)
	}
}

func TestCLIErrors(t *testing.T) {
	t.Parallel()
	closed, err := devserver.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  []string
		any  []string // the message must contain one of these (lower case)
	}{
		{"bad secret", []string{
			"BACKEND_ENDPOINT=" + st.shared.Creds.Endpoint,
			"BACKEND_ACCESS_KEY=" + st.shared.Creds.AccessKey,
			"BACKEND_SECRET_KEY=" + strings.Repeat("z", 40),
		}, []string{"401", "auth", "signature", "credential", "key"}},
		{"unknown access key", []string{
			"BACKEND_ENDPOINT=" + st.shared.Creds.Endpoint,
			"BACKEND_ACCESS_KEY=AKIANOSUCHKEY0000000",
			"BACKEND_SECRET_KEY=" + st.shared.Creds.SecretKey,
		}, []string{"401", "auth", "signature", "credential", "key"}},
		{"unreachable server", []string{
			"BACKEND_ENDPOINT=http://" + closed,
			"BACKEND_ACCESS_KEY=" + st.shared.Creds.AccessKey,
			"BACKEND_SECRET_KEY=" + st.shared.Creds.SecretKey,
		}, []string{closed, "connect", "unreachable", "refused"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, args := range [][]string{{"session", "ls"}, {"run", "python", "-c", "print(1)"}} {
				r := bai(t, tc.env, 30*time.Second, args...)
				if r.code == 0 {
					t.Errorf("bai %v: exit 0, want an error", args)
				}
				msg := strings.ToLower(r.stderr)
				ok := false
				for _, s := range tc.any {
					ok = ok || strings.Contains(msg, s)
				}
				if !ok {
					t.Errorf("bai %v: stderr %q mentions none of %v", args, r.stderr, tc.any)
				}
				if r.took > 20*time.Second {
					t.Errorf("bai %v took %s to fail", args, r.took)
				}
			}
		})
	}
}
