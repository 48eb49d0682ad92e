package e2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMediaSVGSanitized: a program in a real session prints, through
// bai_media, SVG with a <script>, an onload handler and a
// <set attributeName="href"> to javascript:, and SVG that does not parse;
// the client receives the first without any of them and a text/plain
// note in place of the second.
func TestMediaSVGSanitized(t *testing.T) {
	t.Parallel()
	c := st.shared.Client()
	name, _ := newSession(t, c)
	code := `from bai_media import display_svg
display_svg('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" onload="alert(1)">'
            '<script>alert(2)</script>'
            '<a href="javascript:alert(3)"><rect width="4" height="4"/></a>'
            '<circle r="3" fill="red"><set attributeName="href" to="javascript:alert(4)"/>'
            '<animate attributeName="fill" values="red;blue" dur="1s"/></circle></svg>')
display_svg('<svg xmlns="http://www.w3.org/2000/svg"><g></svg>')
print("shown")
`
	r := run(t, c, name, code)
	if r.Status != "finished" || r.Exit() != 0 || r.Stdout() != "shown\n" {
		t.Fatalf("status %s exit %d stdout %q stderr %q", r.Status, r.Exit(), r.Stdout(), r.Stderr())
	}
	var media [][]any
	for _, it := range r.Console {
		if it.Type != "media" {
			continue
		}
		m, ok := it.Data.([]any)
		if !ok || len(m) != 2 {
			t.Fatalf("media item %v is not [type, data]", it.Data)
		}
		media = append(media, m)
	}
	if len(media) != 2 {
		t.Fatalf("%d media items, want 2: %v", len(media), r.Console)
	}
	want := `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">` +
		`<circle r="3" fill="red"><animate attributeName="fill" values="red;blue" dur="1s"/></circle></svg>`
	if media[0][0] != "image/svg+xml" || media[0][1] != want {
		t.Errorf("first SVG arrived as %q\nwant %q", media[0], want)
	}
	for _, bad := range []string{"script", "onload", "javascript", "alert"} {
		if s, _ := media[0][1].(string); strings.Contains(strings.ToLower(s), bad) {
			t.Errorf("the SVG the client got holds %q: %s", bad, s)
		}
	}
	note, _ := media[1][1].(string)
	if media[1][0] != "text/plain" || !strings.Contains(note, "SVG output dropped") || !strings.Contains(note, "syntax error") {
		t.Errorf("the SVG that does not parse arrived as %q", media[1])
	}
}

// TestCLIRunMediaDir: `bai run --media-dir` against a real session saves
// the SVG (sanitised by the manager) and renders the program's animated
// drawing to an SVG file.
func TestCLIRunMediaDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "media")
	code := `from bai_media import Canvas, display_svg
display_svg('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="2" height="2"/></svg>')
c = Canvas(120, 80, "white")
ball = c.circle(10, 40, 8, fill="red")
label = c.text(60, 75, "a < b", align="center")
c.show()
for i in range(10):
    ball.move(10, 0)
    c.update()
print("ok")
`
	r := bai(t, sharedEnv(), 2*time.Minute, "run", "--media-dir", dir, "python", "-c", code)
	if r.code != 0 || r.stdout != "ok\n" {
		t.Fatalf("exit %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
	for _, w := range []string{"saved as " + filepath.Join(dir, "media-1.svg"), "[drawing, 11 documents] saved as " + filepath.Join(dir, "drawing-1.svg")} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
	svg, err := os.ReadFile(filepath.Join(dir, "media-1.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `<svg xmlns="http://www.w3.org/2000/svg"><rect width="2" height="2"/></svg>`; string(svg) != want {
		t.Errorf("media-1.svg is %q, want %q", svg, want)
	}
	drawing, err := os.ReadFile(filepath.Join(dir, "drawing-1.svg"))
	if err != nil {
		t.Fatal(err)
	}
	d := string(drawing)
	for _, w := range []string{`<svg xmlns="http://www.w3.org/2000/svg" height="80" viewBox="0 0 120 80" width="120">`,
		`<circle cx="110" cy="40" fill="#ff0000"`, `<animate attributeName="cx"`, `values="10;20;30;40;50;60;70;80;90;100;110"`, `>a &lt; b</text>`} {
		if !strings.Contains(d, w) {
			t.Errorf("drawing-1.svg lacks %q:\n%s", w, d)
		}
	}
	if strings.Contains(d, "<script") || strings.Contains(d, "<!--") {
		t.Errorf("drawing-1.svg holds a script or a note:\n%s", d)
	}
}
