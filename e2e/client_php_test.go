package e2e_test

import (
	"regexp"
	"strconv"
	"testing"
	"time"
)

var phpSummaryRE = regexp.MustCompile(`(?m)^(\d+) passed, (\d+) failed, (\d+) skipped$`)

// TestClientPHP runs the PHP client's tests (unit and live: sessions,
// execute with continue and input, batch, files, the execute WebSocket
// stream, SSE events, interrupt, errors) with Debian's php-cli against the
// shared server.
func TestClientPHP(t *testing.T) {
	t.Parallel()
	clientLibRequire(t, "php", "Debian's php-cli")
	out := clientLibRun(t, 6*time.Minute, "php", "clients/php/tests/run.php")
	m := phpSummaryRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatal("no summary line in the output")
	}
	passed, _ := strconv.Atoi(m[1])
	if m[2] != "0" || m[3] != "0" || passed < 20 {
		t.Errorf("want every test to run and pass, got %s passed, %s failed, %s skipped", m[1], m[2], m[3])
	}
}
