package php_test

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestUnit runs the unit tests of the PHP client (tests/run.php --unit);
// the live tests need a server, which the e2e module provides.
func TestUnit(t *testing.T) {
	php, err := exec.LookPath("php")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("php missing (CI=true): install Debian's php-cli")
		}
		t.Skip("php missing: install Debian's php-cli to run the PHP client's unit tests")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, php, "tests/run.php", "--unit").CombinedOutput()
	if err != nil {
		t.Fatalf("php tests/run.php --unit: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
