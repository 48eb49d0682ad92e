package media_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"baigo.dev/bai/media"
)

// pythonForDrawings returns a Python 3 to run bai_media with: Debian's
// /usr/bin/python3 where there is one (bai_media needs nothing but the
// standard library, so any python3 does otherwise).
func pythonForDrawings(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed; skipping the drawings of the real bai_media library")
	}
	return py
}

// TestRenderDrawingFromPython runs the programs in
// testdata/drawing/python with the real bai_media library (a fake __bai__
// channel records what it emits), renders each canvas's stream, and
// checks the SVG's last frame against the Python reference renderer
// (Canvas.to_svg) of the final state: the same shapes, in the same order,
// with the same attributes.
func TestRenderDrawingFromPython(t *testing.T) {
	t.Parallel()
	py := pythonForDrawings(t)
	programs, err := filepath.Glob(filepath.Join("testdata", "drawing", "python", "*.py"))
	if err != nil {
		t.Fatal(err)
	}
	programs = slices.DeleteFunc(programs, func(p string) bool { return filepath.Base(p) == "capture.py" })
	if len(programs) == 0 {
		t.Fatal("no programs in testdata/drawing/python")
	}
	for _, prog := range programs {
		t.Run(strings.TrimSuffix(filepath.Base(prog), ".py"), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, py, filepath.Join("testdata", "drawing", "python", "capture.py"), prog)
			cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: %v\n%s", prog, err, stderr.Bytes())
			}
			var captured struct {
				Docs []struct {
					MIME string `json:"mime"`
					Data string `json:"data"`
				} `json:"docs"`
				Final map[string]string `json:"final"`
			}
			if err := json.Unmarshal(out, &captured); err != nil {
				t.Fatalf("capture output: %v", err)
			}
			byCanvas := map[string][][]byte{}
			for _, d := range captured.Docs {
				if d.MIME != media.DrawingMIME {
					t.Fatalf("emitted %s, not a drawing", d.MIME)
				}
				var head struct{ Canvas string }
				if err := json.Unmarshal([]byte(d.Data), &head); err != nil {
					t.Fatal(err)
				}
				byCanvas[head.Canvas] = append(byCanvas[head.Canvas], []byte(d.Data))
			}
			if len(byCanvas) != len(captured.Final) {
				t.Fatalf("%d canvases emitted, %d made", len(byCanvas), len(captured.Final))
			}
			for id, docs := range byCanvas {
				start := time.Now()
				svg, err := media.RenderDrawing(docs, media.DrawingOptions{})
				if err != nil {
					t.Fatalf("canvas %s: %v", id, err)
				}
				took := time.Since(start)
				if note := drawingComment.Find(svg); note != nil {
					t.Errorf("canvas %s: bai_media's output was partly skipped:\n%s", id, note)
				}
				if err := checkDrawing(svg, 0); err != nil {
					t.Fatalf("canvas %s: %v\n%s", id, err, svg)
				}
				got, err := lastFrame(svg)
				if err != nil {
					t.Fatalf("canvas %s: %v\n%s", id, err, svg)
				}
				want, err := pythonFrame(captured.Final[id])
				if err != nil {
					t.Fatalf("canvas %s: Python's to_svg: %v", id, err)
				}
				if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
					t.Errorf("canvas %s: the last frame differs from Canvas.to_svg\ngot:\n%s\nwant:\n%s", id, g, w)
				}
				anims := bytes.Count(svg, []byte("<animate"))
				if len(docs) > 1 && anims == 0 {
					t.Errorf("canvas %s: %d documents but no animation", id, len(docs))
				}
				t.Logf("canvas %s: %d documents -> %d bytes, %d animations, %d shapes at the end, in %s",
					id, len(docs), len(svg), anims, len(got)-1, took.Round(time.Microsecond))
			}
		})
	}
}

// xmlElem is an element read by readElems: its name, attributes, text and
// children.
type xmlElem struct {
	name  string
	attrs map[string]string
	text  string
	kids  []*xmlElem
}

func readElems(doc string) (*xmlElem, error) {
	d := xml.NewDecoder(strings.NewReader(doc))
	d.Strict = true
	var stack []*xmlElem
	var root *xmlElem
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return root, nil
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			e := &xmlElem{name: t.Name.Local, attrs: map[string]string{}}
			for _, a := range t.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.kids = append(p.kids, e)
			} else {
				root = e
			}
			stack = append(stack, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(t)
			}
		}
	}
}

// shapeLine writes a shape as one comparable line: its name, its
// attributes sorted (colours with their opacity folded back into
// "#rrggbbaa", the identity rotation left out) and its text.
func shapeLine(name string, attrs map[string]string, text string) string {
	a := map[string]string{}
	for k, v := range attrs {
		a[k] = v
	}
	for _, p := range []string{"fill", "stroke"} {
		if op, ok := a[p+"-opacity"]; ok {
			f, _ := strconv.ParseFloat(op, 64)
			a[p] += fmt.Sprintf("%02x", int(math.Round(f*255)))
			delete(a, p+"-opacity")
		}
	}
	if a["transform"] == "rotate(0)" {
		delete(a, "transform")
	}
	delete(a, "display")
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(name)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%q", k, a[k])
	}
	if text != "" {
		fmt.Fprintf(&b, " text=%q", text)
	}
	return b.String()
}

// lastFrame lists what RenderDrawing's SVG shows once its animation has
// ended: its attributes hold the last frame. The first line is the
// background colour.
func lastFrame(svg []byte) ([]string, error) {
	root, err := readElems(string(svg))
	if err != nil {
		return nil, err
	}
	if len(root.kids) != 2 || root.kids[1].name != "g" || len(root.kids[1].kids) == 0 {
		return nil, errors.New("not <svg><defs/><g>background, shapes...</g></svg>")
	}
	g := root.kids[1]
	bg := g.kids[0]
	out := []string{shapeLine("background", map[string]string{"fill": bg.attrs["fill"], "fill-opacity": bg.attrs["fill-opacity"]}, "")}
	if _, ok := bg.attrs["fill-opacity"]; !ok {
		out[0] = shapeLine("background", map[string]string{"fill": bg.attrs["fill"]}, "")
	}
	for _, e := range g.kids[1:] {
		if e.attrs["display"] == "none" {
			continue
		}
		if e.name != "g" {
			out = append(out, shapeLine(e.name, e.attrs, e.text))
			continue
		}
		// A text shape whose text changed: the <text> shown last.
		for _, k := range e.kids {
			if k.name == "text" && k.attrs["display"] != "none" {
				a := map[string]string{}
				for n, v := range e.attrs {
					a[n] = v
				}
				a["x"], a["y"] = k.attrs["x"], k.attrs["y"]
				out = append(out, shapeLine("text", a, k.text))
			}
		}
	}
	return out, nil
}

// pythonFrame lists what Canvas.to_svg draws, like lastFrame.
func pythonFrame(svg string) ([]string, error) {
	root, err := readElems(svg)
	if err != nil {
		return nil, err
	}
	if len(root.kids) == 0 {
		return nil, errors.New("no background")
	}
	out := []string{shapeLine("background", map[string]string{"fill": root.kids[0].attrs["fill"]}, "")}
	for _, e := range root.kids[1:] {
		out = append(out, shapeLine(e.name, e.attrs, e.text))
	}
	return out, nil
}
