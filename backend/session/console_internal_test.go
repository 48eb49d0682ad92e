package session

import (
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/google/uuid"
)

// TestSanitizeConsole covers the shapes of console items that the
// API-level test (backend/api/media_test.go) cannot make the real runner
// send: the {"type", "data"} form, SVG data that is not text, and
// malformed media items, which are left alone.
func TestSanitizeConsole(t *testing.T) {
	t.Parallel()
	const in = `[
		["stdout", "<svg><script/></svg>"],
		["media", ["image/svg+xml", "<svg><script>x</script><rect/></svg>"]],
		["media", {"type": "image/svg+xml", "data": "<svg onload=\"x()\"/>"}],
		["media", {"type": "image/svg+xml", "data": 42}],
		["media", ["Image/SVG+xml ; charset=utf-8", "<html/>"]],
		["media", ["image/svg"]],
		["media", "image/svg+xml"],
		["media", ["image/png", "<svg/>"]],
		["html", "<svg><script/></svg>"]
	]`
	const want = `[
		["stdout", "<svg><script/></svg>"],
		["media", ["image/svg+xml", "<svg xmlns=\"http://www.w3.org/2000/svg\"><rect/></svg>"]],
		["media", {"type": "image/svg+xml", "data": "<svg xmlns=\"http://www.w3.org/2000/svg\"/>"}],
		["media", {"type": "text/plain", "data": "[SVG output dropped: its data is a float64, not the text of an SVG document]"}],
		["media", ["text/plain", "[SVG output dropped: svg: the root element is <html> in namespace \"\", not <svg>: invalid argument]"]],
		["media", ["image/svg"]],
		["media", "image/svg+xml"],
		["media", ["image/png", "<svg/>"]],
		["html", "<svg><script/></svg>"]
	]`
	var items, wantItems [][2]any
	if err := json.Unmarshal([]byte(in), &items); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(want), &wantItems); err != nil {
		t.Fatal(err)
	}
	sanitizeConsole(slog.New(slog.NewTextHandler(io.Discard, nil)), uuid.New(), items)
	got, _ := json.Marshal(items)
	w, _ := json.Marshal(wantItems)
	if string(got) != string(w) {
		t.Fatalf("got  %s\nwant %s", got, w)
	}
}
