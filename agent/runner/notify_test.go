package runner

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// recorder is an Output that keeps text items in order, merging runs of
// the same stream.
type recorder struct{ items []string }

func (r *recorder) Text(op string, p []byte) {
	if n := len(r.items); n > 0 && strings.HasPrefix(r.items[n-1], op+":") {
		r.items[n-1] += string(p)
		return
	}
	r.items = append(r.items, op+":"+string(p))
}

func (r *recorder) Send(string, []byte) {}

// TestOutputFilterOrder runs a program that alternates stdout and stderr
// (including `>&2`, which points fd 1 at stderr, and a child process) and
// checks the exact interleaving arrives, which two pipes alone cannot give.
func TestOutputFilterOrder(t *testing.T) {
	script := `for i in 1 2 3 4 5 6 7 8 9 10; do echo "o$i"; echo "e$i" >&2; printf 'p%s\n' "$i"; sh -c 'echo "c'$i'" 1>&2'; done; echo big; head -c 300000 /dev/zero | tr '\0' x; echo`
	var want []string
	for i := 1; i <= 10; i++ {
		want = append(want, fmt.Sprintf("stdout:o%d\n", i), fmt.Sprintf("stderr:e%d\n", i), fmt.Sprintf("stdout:p%d\n", i), fmt.Sprintf("stderr:c%d\n", i))
	}
	want = append(want, "stdout:big\n"+strings.Repeat("x", 300000)+"\n")
	for round := 0; round < 5; round++ {
		var out recorder
		var sh shellRun
		code, err := sh.run(context.Background(), Config{WorkDir: t.TempDir()}, script, &out, nil)
		if err != nil || code != 0 {
			t.Fatalf("run: %d %v", code, err)
		}
		if strings.Join(out.items, "|") != strings.Join(want, "|") {
			t.Fatalf("round %d: order differs:\n got %.300q\nwant %.300q", round, out.items, want)
		}
	}
}

func TestOutputFilterLeavesRedirectsAlone(t *testing.T) {
	dir := t.TempDir()
	var out recorder
	var sh shellRun
	code, err := sh.run(context.Background(), Config{WorkDir: dir}, `echo to-file > f.txt; cat f.txt; echo done`, &out, nil)
	if err != nil || code != 0 {
		t.Fatalf("run: %d %v", code, err)
	}
	if got := strings.Join(out.items, "|"); got != "stdout:to-file\ndone\n" {
		t.Fatalf("got %q", got)
	}
}
