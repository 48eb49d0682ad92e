package media_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/media"
)

var update = flag.Bool("update", false, "rewrite the golden files (testdata/svg/*.golden.svg, testdata/drawing/*.svg) from the output")

// svgInputs returns the test inputs in testdata/svg, without the goldens.
func svgInputs(tb testing.TB) []string {
	tb.Helper()
	all, err := filepath.Glob(filepath.Join("testdata", "svg", "*.svg"))
	if err != nil {
		tb.Fatal(err)
	}
	var inputs []string
	for _, p := range all {
		if !strings.HasSuffix(p, ".golden.svg") {
			inputs = append(inputs, p)
		}
	}
	if len(inputs) == 0 {
		tb.Fatal("no inputs in testdata/svg")
	}
	return inputs
}

// TestSanitizeSVGGolden sanitises every testdata/svg/NAME.svg and compares
// the result with NAME.golden.svg (go test ./media -run Golden -update
// rewrites them). Every output also passes the safety checks.
func TestSanitizeSVGGolden(t *testing.T) {
	t.Parallel()
	for _, in := range svgInputs(t) {
		name := strings.TrimSuffix(filepath.Base(in), ".svg")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := media.SanitizeSVG(src)
			if err != nil {
				t.Fatalf("SanitizeSVG: %v", err)
			}
			if err := checkSanitized(got); err != nil {
				t.Fatalf("%v\noutput:\n%s", err, got)
			}
			golden := strings.TrimSuffix(in, ".svg") + ".golden.svg"
			if *update {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if want = bytes.TrimSuffix(want, []byte("\n")); !bytes.Equal(got, want) {
				t.Fatalf("output differs from %s (run with -update to rewrite it)\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

// TestSanitizeSVGFragments checks single decisions that the goldens show
// only in passing.
func TestSanitizeSVGFragments(t *testing.T) {
	t.Parallel()
	const open = `<svg xmlns="http://www.w3.org/2000/svg">`
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty root becomes self-closing", `<svg></svg>`, `<svg xmlns="http://www.w3.org/2000/svg"/>`},
		{"root without namespace gets it", `<svg width="1"/>`, `<svg xmlns="http://www.w3.org/2000/svg" width="1"/>`},
		{"byte order mark", "\xef\xbb\xbf<svg/>", `<svg xmlns="http://www.w3.org/2000/svg"/>`},
		{"prefixed root", `<s:svg xmlns:s="http://www.w3.org/2000/svg"><s:g/></s:svg>`, open + `<g/></svg>`},
		{"xlink declared only when used", `<svg xmlns:xlink="http://www.w3.org/1999/xlink"><use xlink:href="http://x"/></svg>`, open + `<use/></svg>`},
		{"undeclared xlink prefix", `<svg><use xlink:href="#a"/></svg>`, `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><use xlink:href="#a"/></svg>`},
		{"xlink bound elsewhere", `<svg xmlns:xlink="urn:x"><use xlink:href="#a"/></svg>`, open + `<use/></svg>`},
		{"duplicate attributes keep the first", `<svg><rect x="1" x="2"/></svg>`, open + `<rect x="1"/></svg>`},
		{"bad first duplicate lets the second in", `<svg><rect fill="url(http://x)" fill="red"/></svg>`, open + `<rect fill="red"/></svg>`},
		{"attribute escapes", `<svg><text font-family='a "b" &lt;c&gt; &amp;'>x</text></svg>`, open + `<text font-family="a &quot;b&quot; &lt;c&gt; &amp;">x</text></svg>`},
		{"style element dropped when empty", `<svg><style>@import "x.css";</style></svg>`, `<svg xmlns="http://www.w3.org/2000/svg"/>`},
		{"style attribute dropped when empty", `<svg><rect style="position: fixed"/></svg>`, open + `<rect/></svg>`},
		{"css escape in attribute", `<svg><rect fill="\75 rl(http://x)"/></svg>`, open + `<rect/></svg>`},
		{"url with space before the parenthesis", `<svg><rect fill="url (http://x)"/></svg>`, open + `<rect/></svg>`},
		{"unknown function", `<svg><rect fill="image(http://x)"/></svg>`, open + `<rect/></svg>`},
		{"javascript in text", `<svg><text>javascript:x</text></svg>`, open + `<text>javascript&#58;x</text></svg>`},
		{"a dropped element does not hide a javascript: in text", `<svg><text>JAVASCRIPT<script/>:x</text></svg>`, open + `<text>JAVASCRIPT&#58;x</text></svg>`},
		{"carriage return survives", `<svg><text>a&#13;b</text></svg>`, open + `<text>a&#xD;b</text></svg>`},
		{"css ]]> is escaped", `<svg><style>[a]]&gt;b{fill:red}</style></svg>`, open + `<style>[a]]&gt;b { fill: red }</style></svg>`},
		{"data uri only on image", `<svg><feImage href="data:image/png;base64,AAAA"/></svg>`, open + `<feImage/></svg>`},
		{"data uri padding", `<svg><image href="data:image/png;base64,AAA=A"/></svg>`, open + `<image/></svg>`},
		{"animation of event handler", `<svg><set attributeName="onload" to="alert(1)"/></svg>`, `<svg xmlns="http://www.w3.org/2000/svg"/>`},
		{"animation of prefixed href", `<svg><animate attributeName="x:href" values="#a"/></svg>`, `<svg xmlns="http://www.w3.org/2000/svg"/>`},
		{"set of href to script", `<svg><a><set attributeName="href" to="javascript:alert(1)"/></a><use href="#u"><set attributeName="href" to="#v"/></use></svg>`, open + `<use href="#u"/></svg>`},
		{"animation of href in another case", `<svg><g><set attributeName=" HREF " to="#a"/></g></svg>`, open + `<g/></svg>`},
		{"animation of style", `<svg><rect><set attributeName="style" to="fill: red"/></rect></svg>`, open + `<rect/></svg>`},
		{"animation of class", `<svg><rect><set attributeName="class" to="x"/></rect></svg>`, open + `<rect/></svg>`},
		{"animation of an unknown attribute", `<svg><rect><set attributeName="formaction" to="x"/></rect></svg>`, open + `<rect/></svg>`},
		{"animation with a css escape", `<svg><rect><animate attributeName="fill" values="red;\75 rl(http://x)"/></rect></svg>`, open + `<rect/></svg>`},
		{"animation to a fragment url", `<svg><rect><set attributeName="fill" to="url(#g)"/></rect></svg>`, open + `<rect/></svg>`},
		{"animation with an entity-encoded scheme", `<svg><rect><set attributeName="fill" to="&#x6a;avascript:x"/></rect></svg>`, open + `<rect/></svg>`},
		{"presentation animations are kept", `<svg><rect><set attributeName="display" to="none" begin="1s" fill="freeze"/><animate attributeName="fill" calcMode="discrete" dur="2s" keyTimes="0;0.5" values="#ff0000;#0000ff" repeatCount="indefinite"/><animateTransform attributeName="transform" type="rotate" values="0;30 1 1" dur="1s"/><animate attributeName="x" from="0" to="10" dur="1s"/></rect></svg>`,
			open + `<rect><set attributeName="display" to="none" begin="1s" fill="freeze"/><animate attributeName="fill" calcMode="discrete" dur="2s" keyTimes="0;0.5" values="#ff0000;#0000ff" repeatCount="indefinite"/><animateTransform attributeName="transform" type="rotate" values="0;30 1 1" dur="1s"/><animate attributeName="x" from="0" to="10" dur="1s"/></rect></svg>`},
		{"motion without attributeName is kept", `<svg><circle r="1"><animateMotion dur="1s" path="M0 0 L5 5"/></circle></svg>`, open + `<circle r="1"><animateMotion dur="1s" path="M0 0 L5 5"/></circle></svg>`},
		{"title holds text only", `<svg><title>a<tspan>b</tspan>c</title><desc><rect/>d</desc></svg>`, open + `<title>ac</title><desc>d</desc></svg>`},
		{"comment and processing instruction after the root", `<svg/><!-- c --><?pi x?>` + "\n", `<svg xmlns="http://www.w3.org/2000/svg"/>`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := media.SanitizeSVG([]byte(tc.in))
			if err != nil {
				t.Fatalf("SanitizeSVG(%q): %v", tc.in, err)
			}
			if string(got) != tc.want {
				t.Fatalf("SanitizeSVG(%q)\n got %s\nwant %s", tc.in, got, tc.want)
			}
			if err := checkSanitized(got); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSanitizeSVGRefuses checks the inputs that are refused as a whole.
func TestSanitizeSVGRefuses(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("<g>", media.MaxSVGDepth) + strings.Repeat("</g>", media.MaxSVGDepth)
	for _, tc := range []struct {
		name, in, msg string
	}{
		{"empty", "", "no root element"},
		{"only a comment", "<!-- x -->", "no root element"},
		{"html root", "<html><body/></html>", "not <svg>"},
		{"svg in the xhtml namespace", `<svg xmlns="http://www.w3.org/1999/xhtml"/>`, "not <svg>"},
		{"svg in another namespace", `<x:svg xmlns:x="urn:x"/>`, "not <svg>"},
		{"upper-case root", `<SVG/>`, "not <svg>"},
		{"two roots", "<svg/><svg/>", "second root"},
		{"text before the root", "hello <svg/>", "text outside"},
		{"unclosed element", "<svg><g></svg>", "syntax error"},
		{"unclosed root", "<svg><g/>", "syntax error"},
		{"unquoted attribute", "<svg width=1/>", "syntax error"},
		{"html entity", "<svg><text>&nbsp;</text></svg>", "entity"},
		{"entity from the doctype", `<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg><text>&x;</text></svg>`, "entity"},
		{"invalid utf-8", "<svg><text>\xff</text></svg>", "UTF-8"},
		{"foreign encoding", `<?xml version="1.0" encoding="ISO-8859-1"?><svg/>`, "encoding"},
		{"too deep", "<svg>" + deep + "</svg>", "nested deeper than 256"},
		{"too big", "<svg>" + strings.Repeat(" ", media.MaxSVGSize) + "</svg>", "over the limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := media.SanitizeSVG([]byte(tc.in))
			if err == nil {
				t.Fatalf("SanitizeSVG accepted it: %.200s", out)
			}
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("error %v does not wrap ErrInvalidArgument", err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not say %q", err, tc.msg)
			}
		})
	}
	t.Run("deepest allowed", func(t *testing.T) {
		t.Parallel()
		in := strings.Repeat("<g>", media.MaxSVGDepth-1) + strings.Repeat("</g>", media.MaxSVGDepth-1)
		if _, err := media.SanitizeSVG([]byte("<svg>" + in + "</svg>")); err != nil {
			t.Fatalf("depth %d refused: %v", media.MaxSVGDepth, err)
		}
	})
}

// FuzzSanitizeSVG: whatever the input, SanitizeSVG never panics, refuses
// with ErrInvalidArgument, or returns a document that passes
// checkSanitized.
func FuzzSanitizeSVG(f *testing.F) {
	for _, in := range svgInputs(f) {
		src, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	for _, s := range []string{
		`<svg><a xlink:href="javascript:alert(1)"><rect/></a></svg>`,
		`<svg><style>rect{fill:url(#a)}@media screen{g{stroke:red}}</style></svg>`,
		`<svg><image href="data:image/png;base64,AAAA"/></svg>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := media.SanitizeSVG(in)
		if err != nil {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Fatalf("error %v does not wrap ErrInvalidArgument", err)
			}
			return
		}
		if err := checkSanitized(out); err != nil {
			t.Fatalf("%v\ninput:  %q\noutput: %q", err, in, out)
		}
	})
}

// checkSanitized checks the promises SanitizeSVG makes about its output:
// strict XML with an <svg> root in the SVG namespace, no script or
// foreignObject element, no event-handler attribute, no "javascript:" in
// any case anywhere in the bytes or in a decoded attribute value, every
// href a fragment or (on <image>) a raster data: URI, and sanitising it
// again changes nothing.
func checkSanitized(out []byte) error {
	if hasFold(string(out), "javascript:") {
		return errors.New(`"javascript:" in the output`)
	}
	d := xml.NewDecoder(bytes.NewReader(out))
	d.Strict = true
	depth := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("the output does not parse: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 1 && (t.Name.Local != "svg" || t.Name.Space != "http://www.w3.org/2000/svg") {
				return fmt.Errorf("the root is %v, not svg", t.Name)
			}
			if t.Name.Space != "http://www.w3.org/2000/svg" {
				return fmt.Errorf("element %v outside the SVG namespace", t.Name)
			}
			if l := strings.ToLower(t.Name.Local); l == "script" || l == "foreignobject" {
				return fmt.Errorf("element %v in the output", t.Name)
			}
			for _, a := range t.Attr {
				if strings.HasPrefix(strings.ToLower(a.Name.Local), "on") {
					return fmt.Errorf("event handler %v=%q in the output", a.Name, a.Value)
				}
				if hasFold(stripASCIISpace(a.Value), "javascript:") {
					return fmt.Errorf("attribute %v=%q holds javascript:", a.Name, a.Value)
				}
				if a.Name.Local == "href" && !strings.HasPrefix(a.Value, "#") && !(t.Name.Local == "image" && isRasterDataURI(a.Value)) {
					return fmt.Errorf("%v=%q on <%s> is neither a fragment nor a raster data: URI on <image>", a.Name, a.Value, t.Name.Local)
				}
			}
		case xml.EndElement:
			depth--
		case xml.ProcInst, xml.Directive, xml.Comment:
			return fmt.Errorf("%T in the output", tok)
		}
	}
	again, err := media.SanitizeSVG(out)
	if err != nil {
		return fmt.Errorf("sanitising the output again: %w", err)
	}
	if !bytes.Equal(again, out) {
		return fmt.Errorf("not idempotent:\nonce:  %q\ntwice: %q", out, again)
	}
	return nil
}

func isRasterDataURI(v string) bool {
	for _, p := range []string{"data:image/png;base64,", "data:image/jpeg;base64,", "data:image/gif;base64,", "data:image/webp;base64,"} {
		if strings.HasPrefix(v, p) && len(v) > len(p) {
			return true
		}
	}
	return false
}

// stripASCIISpace removes ASCII white space and control characters, which
// browsers ignore in URL schemes.
func stripASCIISpace(s string) string {
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// hasFold reports whether s holds substr, ignoring ASCII case only (as URL
// schemes are matched).
func hasFold(s, substr string) bool {
	lower := []byte(s)
	for i, c := range lower {
		if 'A' <= c && c <= 'Z' {
			lower[i] = c + 'a' - 'A'
		}
	}
	return bytes.Contains(lower, []byte(substr))
}

// BenchmarkSanitizeSVG sanitises a drawing of about 100 KB: paths, text,
// gradients, a stylesheet and style attributes.
func BenchmarkSanitizeSVG(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="800" height="600" viewBox="0 0 800 600">`)
	sb.WriteString(`<defs><style>.s { stroke: #333; stroke-width: 0.5 } text { font-family: "DejaVu Sans", sans-serif }</style>`)
	sb.WriteString(`<linearGradient id="g"><stop offset="0" stop-color="#fff"/><stop offset="1" stop-color="#00f"/></linearGradient>`)
	sb.WriteString(`<path id="m" d="M 0 3 L 0 -3" style="stroke: #000; stroke-width: 0.8"/></defs>`)
	for i := 0; sb.Len() < 100_000; i++ {
		fmt.Fprintf(&sb, `<g id="p%d" transform="translate(%d %d)" onclick="x()">`, i, i%800, i%600)
		fmt.Fprintf(&sb, `<path class="s" d="M %d %d L %d %d C 1 2 3 4 5 6 Z" fill="url(#g)" style="fill-opacity: 0.%d; stroke-linecap: round"/>`, i, i+1, i+2, i+3, i%10)
		fmt.Fprintf(&sb, `<use xlink:href="#m" x="%d" y="0"/><text x="%d" y="10">label %d &amp; more</text>`, i, i, i)
		sb.WriteString(`<script>alert(1)</script></g>`)
	}
	sb.WriteString(`</svg>`)
	in := []byte(sb.String())
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := media.SanitizeSVG(in); err != nil {
			b.Fatal(err)
		}
	}
}
