package python_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// python is Debian's interpreter; the library targets it (3.11).
const python = "/usr/bin/python3"

// TestUnit runs the unit tests of bai_client. BACKEND_* are removed from the
// environment so the live tests skip here: they need a server, which the
// e2e module provides.
func TestUnit(t *testing.T) {
	if _, err := os.Stat(python); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing (CI=true): install Debian's python3", python)
		}
		t.Skipf("%s missing: install Debian's python3 to run the bai_client unit tests", python)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-m", "unittest", "discover", "-s", "tests", "-v")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BACKEND_") && !strings.HasPrefix(kv, "BAI_CLIENT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	// Keep __pycache__ directories out of the source tree.
	cmd.Env = append(cmd.Env, "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3 -m unittest: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
