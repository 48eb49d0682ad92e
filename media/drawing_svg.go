package media

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"baigo.dev/bai/common/errdefs"
)

// The SVG writer of RenderDrawing: it turns the timelines that
// drawing.go recorded into elements and discrete SMIL animations.

// attrDefaults are the values that stand for "" (absent) in the timelines
// of attributes that are left out when they are absent all the time.
var attrDefaults = map[string]string{"fill-opacity": "1", "stroke-opacity": "1", "transform": "0"}

// attrTL is an attribute and its timeline.
type attrTL struct {
	name string
	tl   timeline
}

// drawWriter writes the SVG document.
type drawWriter struct {
	bytes.Buffer
	r        *drawRender
	keyTimes []string // the key time of each frame, nil when there is one frame
	dur      string   // the animation's duration
}

func (r *drawRender) write(clipID string) ([]byte, error) {
	w := &drawWriter{r: r}
	if len(r.times) > 1 {
		total := r.times[len(r.times)-1] + r.opt.Hold.Milliseconds()
		w.dur = fmtNum(float64(total)/1000) + "s"
		w.keyTimes = make([]string, len(r.times))
		for i, t := range r.times {
			w.keyTimes[i] = strconv.FormatFloat(math.Round(float64(t)/float64(total)*1e6)/1e6, 'f', -1, 64)
		}
	}
	tooBig := func() error {
		return fmt.Errorf("drawing: the SVG would be over %d bytes (%d shapes over %d frames): %w", r.opt.MaxSize, len(r.shapes), len(r.times), errdefs.ErrTooLarge)
	}
	size := fmtNum(r.maxW) + " " + fmtNum(r.maxH)
	w.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" height="` + fmtNum(r.maxH) + `" viewBox="0 0 ` + size + `" width="` + fmtNum(r.maxW) + `">` + "\n")
	if len(r.notes) > 0 {
		// No newline after it: without the comment (SanitizeSVG drops
		// comments) the document is what it would be with nothing skipped.
		w.WriteString("<!-- bai drawing: skipped input:\n")
		for _, n := range r.notes {
			w.WriteString("  " + n + "\n")
		}
		if r.dropped > 0 {
			fmt.Fprintf(w, "  and %d more\n", r.dropped)
		}
		w.WriteString("-->")
	}
	// The canvas: a clip to its current size, and its background.
	w.WriteString(`<defs><clipPath id="` + clipID + `">`)
	w.element("rect", []attrTL{{"height", r.height}, {"width", r.width}}, nil)
	w.WriteString("</clipPath></defs>\n")
	w.WriteString(`<g clip-path="url(#` + clipID + `)">` + "\n")
	w.element("rect", []attrTL{{"fill", r.bg}, {"fill-opacity", r.bgOpacity}, {"height", r.height}, {"width", r.width}}, nil)
	w.WriteByte('\n')
	for _, s := range r.shapes {
		attrs := make([]attrTL, len(s.attrs))
		for i, a := range kindAttrs[s.kind] {
			attrs[i] = attrTL{attrNames[a], s.attrs[i]}
		}
		if !visibleSometime(attrs) {
			continue
		}
		w.shape(s, attrs)
		w.WriteByte('\n')
		if w.Len() > r.opt.MaxSize {
			return nil, tooBig()
		}
	}
	w.WriteString("</g>\n</svg>")
	if w.Len() > r.opt.MaxSize {
		return nil, tooBig()
	}
	return w.Bytes(), nil
}

func visibleSometime(attrs []attrTL) bool {
	for _, a := range attrs {
		if a.name == "display" {
			return slices.ContainsFunc(a.tl, func(c change) bool { return c.val != "none" })
		}
	}
	return true
}

func (w *drawWriter) shape(s *drawShape, attrs []attrTL) {
	if s.kind != kindText {
		w.element(kindNames[s.kind], attrs, nil)
		return
	}
	if len(s.text) == 1 || w.keyTimes == nil {
		w.element("text", attrs, func() { writeText(&w.Buffer, s.text.last(), false) })
		return
	}
	// SMIL cannot animate text content, so each text the shape shows is
	// its own <text>, shown while it is current, in a <g> that holds the
	// other attributes.
	var x, y timeline
	common := attrs[:0:0]
	for _, a := range attrs {
		switch a.name {
		case "x":
			x = a.tl
		case "y":
			y = a.tl
		default:
			common = append(common, a)
		}
	}
	w.element("g", common, func() {
		var order []string
		seen := map[string]bool{}
		for _, c := range s.text {
			if !seen[c.val] {
				seen[c.val] = true
				order = append(order, c.val)
			}
		}
		for _, v := range order {
			disp, vx, vy := whileCurrent(s.text, v, x, y)
			w.element("text", []attrTL{{"display", disp}, {"x", vx}, {"y", vy}},
				func() { writeText(&w.Buffer, v, false) })
		}
	})
}

// whileCurrent returns, for the text v of a text shape whose texts are
// in text, when v shows, and its x and y limited to the frames where v is
// current: what x and y do while another text shows does not matter, and
// leaving it out keeps the output linear in the number of changes.
func whileCurrent(text timeline, v string, x, y timeline) (disp, vx, vy timeline) {
	var ti, xi, yi int
	cur, cx, cy := text[0].val, x[0].val, y[0].val
	for {
		f := -1
		for _, tl := range []struct {
			t timeline
			i int
		}{{text, ti}, {x, xi}, {y, yi}} {
			if tl.i < len(tl.t) && (f < 0 || tl.t[tl.i].frame < f) {
				f = tl.t[tl.i].frame
			}
		}
		if f < 0 {
			return disp, vx, vy
		}
		for ti < len(text) && text[ti].frame == f {
			cur = text[ti].val
			ti++
		}
		for xi < len(x) && x[xi].frame == f {
			cx = x[xi].val
			xi++
		}
		for yi < len(y) && y[yi].frame == f {
			cy = y[yi].val
			yi++
		}
		if len(disp) == 0 {
			f = 0 // the first values hold from the start
		}
		if cur == v {
			disp.set(f, "inline")
			vx.set(f, cx)
			vy.set(f, cy)
		} else {
			disp.set(f, "none")
			if len(vx) == 0 {
				vx.set(f, cx)
				vy.set(f, cy)
			}
		}
	}
}

// element writes one element whose attributes follow the timelines: a
// static attribute for a timeline with one value, else the last value
// and an animation child. Attributes are written sorted by name.
func (w *drawWriter) element(name string, attrs []attrTL, content func()) {
	attrs = slices.DeleteFunc(slices.Clone(attrs), func(a attrTL) bool {
		if len(a.tl) != 1 {
			return len(a.tl) == 0
		}
		_, hasDefault := attrDefaults[a.name]
		return (hasDefault && a.tl[0].val == "") || // absent all the time
			(a.name == "display" && a.tl[0].val == "inline") // shown all the time
	})
	slices.SortFunc(attrs, func(a, b attrTL) int { return cmp.Compare(a.name, b.name) })
	w.WriteByte('<')
	w.WriteString(name)
	animated := false
	for _, a := range attrs {
		v := orDefault(a.name, a.tl.last())
		if a.name == "transform" {
			v = "rotate(" + v + ")"
		}
		w.attr(a.name, v)
		animated = animated || (len(a.tl) > 1 && w.keyTimes != nil)
	}
	if !animated && content == nil {
		w.WriteString("/>")
		return
	}
	w.WriteByte('>')
	at := w.Len()
	for _, a := range attrs {
		if len(a.tl) > 1 && w.keyTimes != nil {
			w.animate(a.name, a.tl)
		}
	}
	if content != nil {
		content()
	}
	if w.Len() == at {
		// Empty, as SanitizeSVG writes it.
		w.Truncate(at - 1)
		w.WriteString("/>")
		return
	}
	w.WriteString("</" + name + ">")
}

// attr writes one attribute, escaped as SanitizeSVG escapes it.
func (w *drawWriter) attr(name, v string) {
	w.WriteByte(' ')
	w.WriteString(name)
	w.WriteString(`="`)
	writeAttrValue(&w.Buffer, v)
	w.WriteByte('"')
}

func orDefault(name, v string) string {
	if v == "" {
		if d, ok := attrDefaults[name]; ok {
			return d
		}
	}
	return v
}

// animate writes a discrete animation of one attribute over the frames.
func (w *drawWriter) animate(name string, tl timeline) {
	// The first value holds from the start; frames that share a key time
	// fold into the last of them, then neighbours with equal values fold.
	type kv struct{ key, val string }
	steps := []kv{{w.keyTimes[0], orDefault(name, tl[0].val)}}
	for _, c := range tl[1:] {
		k, v := w.keyTimes[c.frame], orDefault(name, c.val)
		n := len(steps)
		if steps[n-1].key == k {
			steps[n-1].val = v
			if n > 1 && steps[n-2].val == v {
				steps = steps[:n-1]
			}
			continue
		}
		if steps[n-1].val != v {
			steps = append(steps, kv{k, v})
		}
	}
	if len(steps) < 2 {
		return
	}
	keys := make([]string, len(steps))
	vals := make([]string, len(steps))
	for i, s := range steps {
		keys[i], vals[i] = s.key, s.val
	}
	// Attributes in name order: attributeName, calcMode, dur, fill,
	// keyTimes, repeatCount, type, values.
	el := "animate"
	if name == "transform" {
		el = "animateTransform"
	}
	w.WriteString("<" + el)
	w.attr("attributeName", name)
	w.attr("calcMode", "discrete")
	w.attr("dur", w.dur)
	if !w.r.opt.Loop {
		w.attr("fill", "freeze")
	}
	w.attr("keyTimes", strings.Join(keys, ";"))
	if w.r.opt.Loop {
		w.attr("repeatCount", "indefinite")
	}
	if name == "transform" {
		w.attr("type", "rotate")
	}
	w.attr("values", strings.Join(vals, ";"))
	w.WriteString("/>")
}
