package media_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/media"
)

// drawingCase is one testdata/drawing/NAME.json: a drawing stream, the
// options to render it with, and either the golden NAME.svg or the error
// it must give.
type drawingCase struct {
	// Docs are the documents, each as JSON; RawDocs are documents given
	// as the exact bytes of each string (for input that is not JSON).
	Docs    []json.RawMessage `json:"docs"`
	RawDocs []string          `json:"raw_docs"`
	Options struct {
		Canvas      string  `json:"canvas"`
		Loop        bool    `json:"loop"`
		FrameMS     int     `json:"frame_ms"`
		HoldMS      int     `json:"hold_ms"`
		TimesMS     []int64 `json:"times_ms"`
		MaxCommands int     `json:"max_commands"`
		MaxSize     int     `json:"max_size"`
	} `json:"options"`
	// Error, when set, is a fragment of the error RenderDrawing must give.
	Error string `json:"error"`
	// Notes are fragments the output's comment must hold.
	Notes []string `json:"notes"`
}

func (c *drawingCase) docs() [][]byte {
	var out [][]byte
	for _, d := range c.Docs {
		out = append(out, []byte(d))
	}
	for _, d := range c.RawDocs {
		out = append(out, []byte(d))
	}
	return out
}

func (c *drawingCase) options() media.DrawingOptions {
	o := media.DrawingOptions{
		Canvas: c.Options.Canvas, Loop: c.Options.Loop,
		FrameInterval: time.Duration(c.Options.FrameMS) * time.Millisecond,
		Hold:          time.Duration(c.Options.HoldMS) * time.Millisecond,
		MaxCommands:   c.Options.MaxCommands, MaxSize: c.Options.MaxSize,
	}
	for _, t := range c.Options.TimesMS {
		o.Times = append(o.Times, time.Duration(t)*time.Millisecond)
	}
	return o
}

func drawingCases(tb testing.TB) map[string]*drawingCase {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "drawing", "*.json"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no cases in testdata/drawing (%v)", err)
	}
	out := map[string]*drawingCase{}
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		var c drawingCase
		d := json.NewDecoder(bytes.NewReader(src))
		d.DisallowUnknownFields()
		if err := d.Decode(&c); err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		out[strings.TrimSuffix(p, ".json")] = &c
	}
	return out
}

var drawingComment = regexp.MustCompile(`(?s)<!-- bai drawing: skipped input:\n(.*?)-->`)

// checkDrawing checks the promises RenderDrawing makes about its output:
// within the size limit, well-formed, and, once its note comment is
// removed, a fixed point of SanitizeSVG (so sanitising keeps every
// animation) that passes checkSanitized.
func checkDrawing(out []byte, maxSize int) error {
	if maxSize <= 0 || maxSize > media.MaxSVGSize {
		maxSize = media.MaxSVGSize
	}
	if len(out) > maxSize {
		return fmt.Errorf("output of %d bytes, over %d", len(out), maxSize)
	}
	if n := len(drawingComment.FindAllIndex(out, -1)); n > 1 || bytes.Count(out, []byte("<!--")) != n {
		return fmt.Errorf("%d comments, not at most one note", bytes.Count(out, []byte("<!--")))
	}
	bare := drawingComment.ReplaceAll(out, nil)
	clean, err := media.SanitizeSVG(bare)
	if err != nil {
		return fmt.Errorf("SanitizeSVG refuses the output: %w", err)
	}
	if !bytes.Equal(clean, bare) {
		return fmt.Errorf("SanitizeSVG changes the output:\nbefore: %s\nafter:  %s", bare, clean)
	}
	return checkSanitized(bare)
}

// TestRenderDrawingGolden renders every testdata/drawing/NAME.json and
// compares the SVG with NAME.svg (go test ./media -run Golden -update
// rewrites them), or checks the error the case expects.
func TestRenderDrawingGolden(t *testing.T) {
	t.Parallel()
	for base, c := range drawingCases(t) {
		t.Run(filepath.Base(base), func(t *testing.T) {
			t.Parallel()
			out, err := media.RenderDrawing(c.docs(), c.options())
			if c.Error != "" {
				if err == nil {
					t.Fatalf("no error, want one with %q; output:\n%s", c.Error, out)
				}
				if !errors.Is(err, errdefs.ErrInvalidArgument) && !errors.Is(err, errdefs.ErrTooLarge) {
					t.Errorf("error %v wraps neither ErrInvalidArgument nor ErrTooLarge", err)
				}
				if !strings.Contains(err.Error(), c.Error) {
					t.Fatalf("error %q does not say %q", err, c.Error)
				}
				return
			}
			if err != nil {
				t.Fatalf("RenderDrawing: %v", err)
			}
			if err := checkDrawing(out, c.Options.MaxSize); err != nil {
				t.Fatalf("%v\noutput:\n%s", err, out)
			}
			again, err := media.RenderDrawing(c.docs(), c.options())
			if err != nil || !bytes.Equal(again, out) {
				t.Fatalf("a second rendering differs (err %v)", err)
			}
			note := string(drawingComment.Find(out))
			for _, n := range c.Notes {
				if !strings.Contains(note, n) {
					t.Errorf("the note comment lacks %q:\n%s", n, note)
				}
			}
			if len(c.Notes) == 0 && note != "" {
				t.Errorf("unexpected note comment:\n%s", note)
			}
			golden := base + ".svg"
			if *update {
				if err := os.WriteFile(golden, append(out, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if want = bytes.TrimSuffix(want, []byte("\n")); !bytes.Equal(out, want) {
				t.Fatalf("output differs from %s (run with -update to rewrite it)\ngot:\n%s\nwant:\n%s", golden, out, want)
			}
		})
	}
}

// TestRenderDrawingLimits feeds streams far over each limit: each is
// refused quickly with ErrTooLarge instead of growing without bound.
func TestRenderDrawingLimits(t *testing.T) {
	t.Parallel()
	head := `{"canvas":"c","width":100,"height":100,"bgcolor":"#ffffff","full":%t,"commands":[`
	stream := func(docs, cmdsPerDoc int, cmd func(doc, i int) string) [][]byte {
		out := make([][]byte, docs)
		for d := range docs {
			var b strings.Builder
			fmt.Fprintf(&b, head, d == 0)
			for i := range cmdsPerDoc {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(cmd(d, i))
			}
			b.WriteString("]}")
			out[d] = []byte(b.String())
		}
		return out
	}
	bg := func(int, int) string { return `["bg","#000000"]` }
	points := strings.Repeat("[1,2],", media.MaxDrawingPoints-1) + "[3,4]"
	for _, tc := range []struct {
		name string
		docs [][]byte
		opt  media.DrawingOptions
		msg  string
	}{
		{"a million commands in one document", stream(1, 1_000_000, bg), media.DrawingOptions{}, "more than 200000 commands"},
		{"commands over many documents", stream(1000, 300, bg), media.DrawingOptions{}, "more than 200000 commands"},
		{"a lower command limit", stream(10, 10, bg), media.DrawingOptions{MaxCommands: 50}, "more than 50 commands"},
		{"too many documents", stream(media.MaxDrawingDocs+1, 0, bg), media.DrawingOptions{}, "documents, over the limit"},
		{"too many bytes", [][]byte{bytes.Repeat([]byte(" "), media.MaxDrawingInput+1)}, media.DrawingOptions{}, "bytes of documents, over the limit"},
		{"too many visible shapes", stream(1, 150_000, func(_, i int) string {
			return fmt.Sprintf(`["obj",%d,"rect",{"x":%d,"y":1,"w":2,"h":3,"fill":"#ff0000"}]`, i+1, i%100)
		}), media.DrawingOptions{}, "would be over 8388608 bytes"},
		{"a big polygon moved in every frame", stream(media.MaxDrawingDocs, 1, func(d, _ int) string {
			if d == 0 {
				return `["obj",1,"polygon",{"x":0,"y":0,"points":[` + points + `]}]`
			}
			return fmt.Sprintf(`["upd",1,{"x":%d}]`, d)
		}), media.DrawingOptions{}, "would be over 8388608 bytes"},
		{"a lower size limit", stream(1, 100, func(_, i int) string {
			return fmt.Sprintf(`["obj",%d,"circle",{"x":1,"y":1,"r":%d}]`, i+1, i)
		}), media.DrawingOptions{MaxSize: 2000}, "would be over 2000 bytes"},
		{"an animation over an hour", stream(2, 0, bg), media.DrawingOptions{Times: []time.Duration{0, 2 * time.Hour}}, "over the limit of 1h0m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			out, err := media.RenderDrawing(tc.docs, tc.opt)
			if err == nil {
				t.Fatalf("accepted: %d bytes", len(out))
			}
			if !errors.Is(err, errdefs.ErrTooLarge) {
				t.Errorf("error %v does not wrap ErrTooLarge", err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
			t.Logf("refused in %s: %v", time.Since(start).Round(time.Millisecond), err)
		})
	}
}

// TestRenderDrawingOptions checks the options that goldens do not cover.
func TestRenderDrawingOptions(t *testing.T) {
	t.Parallel()
	doc := []byte(`{"canvas":"c","width":10,"height":10,"bgcolor":null,"full":true,"commands":[]}`)
	for _, tc := range []struct {
		name string
		docs [][]byte
		opt  media.DrawingOptions
		msg  string
	}{
		{"no documents", nil, media.DrawingOptions{}, "no documents"},
		{"times of another length", [][]byte{doc, doc}, media.DrawingOptions{Times: []time.Duration{0}}, "1 times for 2 documents"},
		{"times going back", [][]byte{doc, doc}, media.DrawingOptions{Times: []time.Duration{2, 1}}, "before that of document 1"},
		{"negative time", [][]byte{doc}, media.DrawingOptions{Times: []time.Duration{-1}}, "negative"},
		{"negative interval", [][]byte{doc}, media.DrawingOptions{FrameInterval: -1}, "frame interval"},
		{"huge interval", [][]byte{doc}, media.DrawingOptions{FrameInterval: 1 << 62}, "frame interval"},
		{"unknown canvas", [][]byte{doc}, media.DrawingOptions{Canvas: "other"}, `no document for canvas "other"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := media.RenderDrawing(tc.docs, tc.opt)
			if err == nil || !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want ErrInvalidArgument saying %q", err, tc.msg)
			}
		})
	}
}

// fuzzDocs splits a fuzz input into documents, one a line.
func fuzzDocs(in []byte) [][]byte {
	var docs [][]byte
	for _, l := range bytes.Split(in, []byte("\n")) {
		if len(l) > 0 {
			docs = append(docs, l)
		}
	}
	return docs
}

// FuzzRenderDrawing: whatever the stream (documents one a line), the
// renderer never panics, refuses with ErrInvalidArgument or ErrTooLarge,
// or writes a bounded document that passes checkDrawing: well-formed,
// and unchanged by SanitizeSVG apart from its note, so no animation is
// lost to it.
func FuzzRenderDrawing(f *testing.F) {
	for _, c := range drawingCases(f) {
		var b bytes.Buffer
		for _, d := range c.docs() {
			var compact bytes.Buffer
			if json.Compact(&compact, d) == nil {
				d = compact.Bytes()
			}
			if bytes.IndexByte(d, '\n') < 0 {
				b.Write(d)
				b.WriteByte('\n')
			}
		}
		f.Add(b.Bytes(), c.Options.Loop)
	}
	f.Fuzz(func(t *testing.T, in []byte, loop bool) {
		const maxSize = 64 << 10 // small outputs keep the fuzzer fast
		out, err := media.RenderDrawing(fuzzDocs(in), media.DrawingOptions{Loop: loop, MaxCommands: 2000, MaxSize: maxSize})
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) && !errors.Is(err, errdefs.ErrTooLarge) {
				t.Fatalf("error %v wraps neither ErrInvalidArgument nor ErrTooLarge", err)
			}
			return
		}
		if err := checkDrawing(out, maxSize); err != nil {
			t.Fatalf("%v\ninput:  %q\noutput: %q", err, in, out)
		}
	})
}

// BenchmarkRenderDrawing renders what a turtle drawing a 2000-step spiral
// with animate=True emits: 4000 diffs, each adding a line and moving and
// turning the sprite.
func BenchmarkRenderDrawing(b *testing.B) {
	docs := [][]byte{[]byte(`{"canvas":"t","width":400,"height":400,"bgcolor":"#ffffff","full":true,"commands":[` +
		`["obj",1,"polygon",{"x":200,"y":200,"points":[[9,0],[-6,-6],[-3,0],[-6,6]],"stroke":"#000000","fill":"#000000","lw":1,"rot":0,"hidden":false}]]}`)}
	x, y, heading := 200.0, 200.0, 0.0
	for i := range 2000 {
		nx, ny := x+float64(i%50)/10, y+float64(i%37)/10-1.8
		docs = append(docs, fmt.Appendf(nil, `{"canvas":"t","width":400,"height":400,"bgcolor":"#ffffff","full":false,"commands":[`+
			`["obj",%d,"line",{"x1":%.3f,"y1":%.3f,"x2":%.3f,"y2":%.3f,"stroke":"#0000ff","fill":null,"lw":1,"rot":0,"hidden":false}],`+
			`["upd",1,{"x":%.3f,"y":%.3f}]]}`, i+2, x, y, nx, ny, nx, ny))
		heading = float64((i * 7) % 360)
		docs = append(docs, fmt.Appendf(nil, `{"canvas":"t","width":400,"height":400,"bgcolor":"#ffffff","full":false,"commands":[["upd",1,{"rot":%g}]]}`, heading))
		x, y = nx, ny
	}
	var size int
	b.ReportAllocs()
	for b.Loop() {
		out, err := media.RenderDrawing(docs, media.DrawingOptions{FrameInterval: 20 * time.Millisecond})
		if err != nil {
			b.Fatal(err)
		}
		size = len(out)
	}
	b.ReportMetric(float64(size), "svg-bytes")
}
