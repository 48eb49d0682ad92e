package media_test

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestPythonUnitTests runs the bai_media unittest suite with the host's
// python3, so the Python library is covered by `go test`.
func TestPythonUnitTests(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed; skipping the bai_media unit tests")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-m", "unittest", "discover", "-s", "python/tests")
	// Keep __pycache__ directories out of the source tree.
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3 -m unittest: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
