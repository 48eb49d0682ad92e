package media

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"baigo.dev/bai/common/errdefs"
)

// Limits of SanitizeSVG.
const (
	// MaxSVGSize is the largest document, in bytes, that SanitizeSVG reads
	// and the largest it writes.
	MaxSVGSize = 8 << 20
	// MaxSVGDepth is how deeply SanitizeSVG lets elements nest.
	MaxSVGDepth = 256
)

// The namespaces SanitizeSVG knows. Every element it writes is in nsSVG;
// nsXLink is declared on the root only when an xlink:href is kept.
const (
	nsSVG   = "http://www.w3.org/2000/svg"
	nsXLink = "http://www.w3.org/1999/xlink"
	nsXML   = "http://www.w3.org/XML/1998/namespace"
)

// SanitizeSVG reads an SVG document and writes a new one that is safe to
// show with <img> or inline in a page: it holds only allowlisted SVG
// elements and presentation attributes, no script, no event handler, no
// reference outside the document except raster images as data: URIs on
// <image>, and no CSS that could load anything or run code.
//
// The input is parsed strictly (well-formed XML, no entities other than
// XML's own, no DTD) and the output is written from scratch, so it is
// always well-formed, has xmlns="http://www.w3.org/2000/svg" on its root,
// and sanitising it again gives the same bytes. Elements that are not
// allowed are dropped with their whole subtree; attributes and CSS
// declarations that are not allowed are dropped one by one.
//
// An input over MaxSVGSize bytes, nested deeper than MaxSVGDepth, not
// well-formed, or whose root is not <svg> is refused with an error that
// wraps errdefs.ErrInvalidArgument.
func SanitizeSVG(in []byte) ([]byte, error) {
	if len(in) > MaxSVGSize {
		return nil, fmt.Errorf("svg: %d bytes, over the limit of %d: %w", len(in), MaxSVGSize, errdefs.ErrInvalidArgument)
	}
	in = bytes.TrimPrefix(in, []byte("\xef\xbb\xbf"))
	d := xml.NewDecoder(bytes.NewReader(in))
	d.Strict = true
	s := &svgWriter{}
	s.out.Grow(len(in) + 64)
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("svg: %w: %w", err, errdefs.ErrInvalidArgument)
		}
		if err := s.token(tok); err != nil {
			return nil, err
		}
	}
	if !s.rootDone {
		return nil, fmt.Errorf("svg: no root element: %w", errdefs.ErrInvalidArgument)
	}
	out := s.out.Bytes()
	if s.usesXLink {
		decl := ` xmlns:xlink="` + nsXLink + `"`
		out = append(out[:s.xlinkAt], append([]byte(decl), out[s.xlinkAt:]...)...)
	}
	if len(out) > MaxSVGSize {
		return nil, fmt.Errorf("svg: sanitised document is %d bytes, over the limit of %d: %w", len(out), MaxSVGSize, errdefs.ErrInvalidArgument)
	}
	return out, nil
}

// svgWriter holds the state of one SanitizeSVG call: where it is in the
// input and what it has written.
type svgWriter struct {
	out       bytes.Buffer
	depth     int      // elements open in the input
	skipFrom  int      // depth of the dropped element being skipped; 0 when none
	open      []string // names of the elements open in the output
	pending   bool     // the last start tag lacks its closing '>' (it may become '/>')
	rootDone  bool     // the root element has started
	xlinkAt   int      // offset in out where the root's xmlns:xlink goes
	usesXLink bool     // an xlink:href was written
	style     *strings.Builder
	styleAt   int // depth of the <style> element whose text is collected in style
}

func (s *svgWriter) token(tok xml.Token) error {
	switch t := tok.(type) {
	case xml.StartElement:
		return s.start(t)
	case xml.EndElement:
		s.end()
	case xml.CharData:
		return s.text(t)
	}
	// Comments, processing instructions and directives (DOCTYPE) are dropped.
	return nil
}

func (s *svgWriter) start(el xml.StartElement) error {
	s.depth++
	if s.depth > MaxSVGDepth {
		return fmt.Errorf("svg: elements nested deeper than %d: %w", MaxSVGDepth, errdefs.ErrInvalidArgument)
	}
	if s.skipFrom > 0 {
		return nil
	}
	if s.depth == 1 {
		if s.rootDone {
			return fmt.Errorf("svg: a second root element <%s>: %w", el.Name.Local, errdefs.ErrInvalidArgument)
		}
		if el.Name.Local != "svg" || (el.Name.Space != nsSVG && el.Name.Space != "") {
			return fmt.Errorf("svg: the root element is <%s> in namespace %q, not <svg>: %w", el.Name.Local, el.Name.Space, errdefs.ErrInvalidArgument)
		}
		s.rootDone = true
		s.out.WriteString(`<svg xmlns="` + nsSVG + `"`)
		s.xlinkAt = s.out.Len()
		s.writeAttrs("svg", el.Attr)
		s.pending = true
		s.open = append(s.open, "svg")
		return nil
	}
	// <title> and <desc> hold text only (and inline in HTML their content
	// is parsed as HTML, where a start tag would mean something else).
	parent := s.open[len(s.open)-1]
	name, ok := svgElement(el.Name)
	if !ok || s.style != nil || parent == "title" || parent == "desc" ||
		(animationElements[name] && !animationSafe(el.Attr)) {
		s.skipFrom = s.depth
		return nil
	}
	if name == "style" {
		// Its text is collected and written, sanitised, at its end.
		s.style = &strings.Builder{}
		s.styleAt = s.depth
		return nil
	}
	s.closePending()
	s.out.WriteByte('<')
	s.out.WriteString(name)
	s.writeAttrs(name, el.Attr)
	s.pending = true
	s.open = append(s.open, name)
	return nil
}

func (s *svgWriter) end() {
	defer func() { s.depth-- }()
	if s.skipFrom > 0 {
		if s.depth == s.skipFrom {
			s.skipFrom = 0
		}
		return
	}
	if s.style != nil && s.depth == s.styleAt {
		css := cleanStylesheet(s.style.String())
		s.style = nil
		if css != "" {
			s.closePending()
			s.out.WriteString("<style>")
			writeText(&s.out, css, true)
			s.out.WriteString("</style>")
		}
		return
	}
	name := s.open[len(s.open)-1]
	s.open = s.open[:len(s.open)-1]
	if s.pending {
		s.out.WriteString("/>")
		s.pending = false
		return
	}
	s.out.WriteString("</" + name + ">")
}

func (s *svgWriter) text(data xml.CharData) error {
	if s.depth == 0 {
		if len(bytes.TrimLeft(data, " \t\r\n")) > 0 {
			return fmt.Errorf("svg: text outside the root element: %w", errdefs.ErrInvalidArgument)
		}
		return nil
	}
	if s.skipFrom > 0 {
		return nil
	}
	if s.style != nil {
		s.style.Write(data)
		return nil
	}
	s.closePending()
	writeText(&s.out, string(data), false)
	return nil
}

// closePending ends a start tag that is still open, because the element
// gets content.
func (s *svgWriter) closePending() {
	if s.pending {
		s.out.WriteByte('>')
		s.pending = false
	}
}

// writeAttrs writes the allowed attributes of element elem, with cleaned
// values, in their input order; of attributes with the same name only the
// first allowed one is kept.
func (s *svgWriter) writeAttrs(elem string, attrs []xml.Attr) {
	// Most elements have a handful of attributes: a linear search over
	// the kept names until there are many of them, then a set.
	var seen [16]string
	kept := seen[:0]
	var keptSet map[string]bool
	for _, a := range attrs {
		name, ok := svgAttrName(a.Name)
		if !ok || slices.Contains(kept, name) || keptSet[name] {
			continue
		}
		v, ok := cleanAttrValue(elem, name, a.Value)
		if !ok {
			continue
		}
		if len(kept) < cap(kept) {
			kept = append(kept, name)
		} else {
			if keptSet == nil {
				keptSet = make(map[string]bool)
			}
			keptSet[name] = true
		}
		if name == "xlink:href" {
			s.usesXLink = true
		}
		s.out.WriteByte(' ')
		s.out.WriteString(name)
		s.out.WriteString(`="`)
		writeAttrValue(&s.out, v)
		s.out.WriteByte('"')
	}
}

// writeText writes character data escaped for XML. Outside a stylesheet
// the colon of a "javascript:" is written as a character reference, so
// that the string never appears in the output bytes even in inert text
// (the text that a reader sees is unchanged). A stylesheet holds neither
// '<' nor '&' (cleanStylesheet drops them) and keeps its '>' as is.
func writeText(b *bytes.Buffer, s string, css bool) {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch c := s[i]; c {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			if css {
				b.WriteString(s[last:i])
				last = i
				if !bytes.HasSuffix(b.Bytes(), []byte("]]")) {
					continue
				}
			}
			esc = "&gt;"
		case '\r':
			esc = "&#xD;"
		case ':':
			if css {
				continue
			}
			b.WriteString(s[last:i])
			last = i
			if !hasSuffixFold(b.Bytes(), "javascript") {
				continue
			}
			esc = "&#58;"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(esc)
		last = i + 1
	}
	b.WriteString(s[last:])
}

// writeAttrValue writes an attribute value escaped for a double-quoted
// XML attribute; tabs and line breaks are written as character references
// so that attribute-value normalisation keeps them.
func writeAttrValue(b *bytes.Buffer, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '"':
			esc = "&quot;"
		case '\t':
			esc = "&#x9;"
		case '\n':
			esc = "&#xA;"
		case '\r':
			esc = "&#xD;"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(esc)
		last = i + 1
	}
	b.WriteString(s[last:])
}

// hasSuffixFold reports whether b ends with the lower-case ASCII suffix,
// ignoring ASCII case.
func hasSuffixFold(b []byte, suffix string) bool {
	if len(b) < len(suffix) {
		return false
	}
	b = b[len(b)-len(suffix):]
	for i := range len(suffix) {
		if asciiLowerByte(b[i]) != suffix[i] {
			return false
		}
	}
	return true
}

func asciiLowerByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
