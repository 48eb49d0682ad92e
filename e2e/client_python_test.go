package e2e_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clientLibRun runs a client library's test command from the repository
// root against the shared server, with BAI_CLIENT_REQUIRE_LIVE=1 so its
// live tests fail instead of skipping when the keypair did not arrive. It
// fails the test on a non-zero exit and returns the combined output.
func clientLibRun(t *testing.T, limit time.Duration, name string, args ...string) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = root
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BACKEND_") && !strings.HasPrefix(kv, "BAI_CLIENT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, sharedEnv()...)
	cmd.Env = append(cmd.Env, "BAI_CLIENT_REQUIRE_LIVE=1", "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	t.Logf("%s %s:\n%s", name, strings.Join(args, " "), out)
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%s did not finish within %s", name, limit)
	case errors.As(err, &ee):
		t.Fatalf("%s %s exited with %d (output above)", name, strings.Join(args, " "), ee.ExitCode())
	case err != nil:
		t.Fatalf("%s: %v", name, err)
	}
	return string(out)
}

// clientLibRequire skips (fails under CI=true) when a library's runtime is
// missing.
func clientLibRequire(t *testing.T, path, install string) {
	t.Helper()
	if _, err := exec.LookPath(path); err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s missing (CI=true): install %s", path, install)
	}
	t.Skipf("%s missing: install %s to run this test", path, install)
}

var pyRanRE = regexp.MustCompile(`(?m)^Ran (\d+) tests? in `)

// TestClientPython runs the Python client's unittest suite (unit and live
// tests: sessions, execute with continue and input, batch, files, the
// execute WebSocket stream, SSE events, interrupt, errors) with Debian's
// python3 against the shared server.
func TestClientPython(t *testing.T) {
	t.Parallel()
	clientLibRequire(t, "/usr/bin/python3", "Debian's python3")
	out := clientLibRun(t, 6*time.Minute, "/usr/bin/python3", "-m", "unittest", "discover", "-s", "clients/python/tests", "-v")
	m := pyRanRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatal("no \"Ran N tests\" line in the output")
	}
	// A live module that skipped, or found no tests, would still exit 0.
	if n, _ := strconv.Atoi(m[1]); n < 40 {
		t.Errorf("only %d tests ran; the live tests were not discovered", n)
	}
	if strings.Contains(out, "skipped") {
		t.Error("some tests were skipped; against the shared server every test must run")
	}
}
