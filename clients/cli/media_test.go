package cli_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"baigo.dev/bai/clients/go/clienttest"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/media"
)

// TestRunMediaDir checks `bai run --media-dir`: each media item lands in
// its own file as it arrives, drawings are rendered per canvas at the
// end, existing files are kept, and what cannot be saved is said.
func TestRunMediaDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "out")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A file from an earlier run is not overwritten.
	if err := os.WriteFile(filepath.Join(dir, "media-1.png"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	png := []byte("\x89PNG\r\n\x1a\nnot really")
	svg := `<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>`
	draw := func(canvas, cmds string, full bool) string {
		f := "false"
		if full {
			f = "true"
		}
		return `{"canvas":"` + canvas + `","width":40,"height":30,"bgcolor":"#ffffff","full":` + f + `,"commands":[` + cmds + `]}`
	}
	steps := []apitypes.ExecuteResult{
		{Status: "continued", Console: [][2]any{
			{"stdout", "start\n"},
			{"media", []any{"image/png", base64.StdEncoding.EncodeToString(png)}},
			{"media", []any{media.DrawingMIME, draw("a", `["obj",1,"circle",{"x":5,"y":5,"r":3}]`, true)}},
			{"media", []any{"image/svg+xml", svg}},
		}},
		{Status: "continued", Console: [][2]any{
			{"media", []any{media.DrawingMIME, draw("b", `["obj",1,"rect",{"x":1,"y":1,"w":3,"h":3}]`, true)}},
			{"media", []any{media.DrawingMIME, draw("a", `["upd",1,{"x":20}]`, false)}},
			{"html", "<b>hi</b>"},
			{"media", []any{"text/plain", "[SVG output dropped: bad]"}},
			{"media", []any{"application/pdf", "JVBERi0="}},
			{"media", []any{"image/gif", "not base64!"}},
			{"media", []any{media.DrawingMIME, "{broken"}},
		}},
		{Status: "finished", ExitCode: intp(0), Console: [][2]any{{"stdout", "end\n"}}},
	}
	srv := clienttest.New(t)
	srv.SetExec((&scripted{steps: steps}).exec)
	r := bai(context.Background(), srv.Env(), "", "run", "--media-dir", dir, "python", "-c", "x")
	if r.code != 0 || r.stdout != "start\nend\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	for _, w := range []string{
		"[media image/png, 24 bytes] saved as " + filepath.Join(dir, "media-2.png"),
		"[media image/svg+xml, 74 bytes] saved as " + filepath.Join(dir, "media-3.svg"),
		"[html, 9 bytes] saved as " + filepath.Join(dir, "media-4.html"),
		"[media text/plain] [SVG output dropped: bad] saved as " + filepath.Join(dir, "media-5.txt"),
		"[media application/pdf, 8 bytes] not saved: bai does not save application/pdf",
		"[media image/gif, 11 bytes] not saved: its data is not base64",
		"[media application/x-bai-drawing, 7 bytes] not saved: not a drawing document",
		"[drawing, 2 documents] saved as " + filepath.Join(dir, "drawing-1.svg"),
		"[drawing, 1 document] saved as " + filepath.Join(dir, "drawing-2.svg"),
	} {
		if !strings.Contains(r.stderr, w+"\n") {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
	want := map[string][]byte{
		"media-1.png": []byte("old"), "media-2.png": png, "media-3.svg": []byte(svg),
		"media-4.html": []byte("<b>hi</b>"), "media-5.txt": []byte("[SVG output dropped: bad]"),
	}
	for name, data := range want {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: %q (%v), want %q", name, got, err, data)
		}
	}
	for _, name := range []string{"drawing-1.svg", "drawing-2.svg"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		clean, err := media.SanitizeSVG(got)
		if err != nil || !bytes.Equal(clean, got) {
			t.Errorf("%s does not pass SanitizeSVG unchanged (%v):\n%s", name, err, got)
		}
	}
	a, _ := os.ReadFile(filepath.Join(dir, "drawing-1.svg"))
	if !bytes.Contains(a, []byte(`<circle cx="20"`)) || !bytes.Contains(a, []byte(`attributeName="cx"`)) {
		t.Errorf("drawing-1.svg does not hold canvas a's moving circle:\n%s", a)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 7 {
		t.Errorf("%d files in %s, want 7", len(entries), dir)
	}
}

// TestRunMediaDirUnusable: a --media-dir that cannot be a directory fails
// before any session is created.
func TestRunMediaDirUnusable(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	srv := clienttest.New(t)
	r := bai(context.Background(), srv.Env(), "", "run", "--media-dir", file, "python", "-c", "x")
	if r.code != 1 || !strings.Contains(r.stderr, "--media-dir") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}
