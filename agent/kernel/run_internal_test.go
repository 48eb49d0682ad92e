package kernel

import (
	"strings"
	"testing"
	"unicode/utf8"

	"baigo.dev/bai/common/kproto"
)

// An endless printer nobody reads: the run holds at most maxUnread bytes
// plus one notice, merges text without copying it over and over, and
// resumes once a client reads.
func TestUnreadOutputCap(t *testing.T) {
	r := newRun("r1", "query")
	line := strings.Repeat("x", 1023) + "\n"
	for i := 0; i < (maxUnread>>10)*3; i++ { // 3× the cap, 1 KiB at a time
		r.item(kproto.OpStdout, line)
	}
	if r.held > maxUnread+200 {
		t.Fatalf("holding %d bytes, cap %d", r.held, maxUnread)
	}
	res, ok := r.take(true)
	if !ok {
		t.Fatal("nothing to take")
	}
	var out, errOut string
	for _, it := range res.Console {
		switch it[0] {
		case kproto.OpStdout:
			out += it[1].(string)
		case kproto.OpStderr:
			errOut += it[1].(string)
		}
	}
	if len(out) != maxUnread {
		t.Errorf("kept %d bytes of stdout, want %d", len(out), maxUnread)
	}
	if strings.Count(errOut, "output dropped") != 1 {
		t.Errorf("notice: %q", errOut)
	}
	// Read: output flows again.
	r.item(kproto.OpStdout, "after\n")
	res, _ = r.take(true)
	if len(res.Console) != 1 || res.Console[0][1] != "after\n" {
		t.Errorf("after a read: %v", res.Console)
	}
}

// A chunk that crosses the cap is cut to fit, at a character boundary.
func TestUnreadOutputCapCutsAtCharacter(t *testing.T) {
	r := newRun("r2", "query")
	chunk := "x" + strings.Repeat("é", 1500) // 3001 bytes: never lands on the cap
	for r.held < maxUnread {
		r.item(kproto.OpStdout, chunk)
	}
	res, _ := r.take(true)
	out := res.Console[0][1].(string)
	if len(out) > maxUnread || len(out) < maxUnread-1 || !utf8.ValidString(out) {
		t.Errorf("kept %d bytes (cap %d), valid UTF-8: %v", len(out), maxUnread, utf8.ValidString(out))
	}
}
