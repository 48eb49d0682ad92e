package media

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The shapes of the drawing format (python/README.md): their kinds,
// properties and the SVG attributes they become. Properties and
// attributes are small enums rather than map keys: a drawing may hold
// hundreds of thousands of shapes, each with a dozen of them.

type shapeKind uint8

const (
	kindLine shapeKind = iota
	kindRect
	kindCircle
	kindEllipse
	kindPolygon
	kindText
	nKinds
)

// kindNames are the format's names of the kinds, which are also the SVG
// elements that draw them.
var kindNames = [nKinds]string{"line", "rect", "circle", "ellipse", "polygon", "text"}

func kindByName(name string) (shapeKind, bool) {
	for k, n := range kindNames {
		if n == name {
			return shapeKind(k), true
		}
	}
	return 0, false
}

type propID uint8

const (
	pX propID = iota
	pY
	pX1
	pY1
	pX2
	pY2
	pW
	pH
	pR
	pRX
	pRY
	pLW
	pRot
	pSize // the last number
	pStroke
	pFill
	pHidden
	pPoints
	pText
	pFont
	pAlign
	nProps
)

var propNames = [nProps]string{
	"x", "y", "x1", "y1", "x2", "y2", "w", "h", "r", "rx", "ry", "lw", "rot", "size",
	"stroke", "fill", "hidden", "points", "text", "font", "align",
}

func propByName(name string) (propID, bool) {
	for p, n := range propNames {
		if n == name {
			return propID(p), true
		}
	}
	return 0, false
}

// kindGeometry are the properties of each kind that an obj must give.
var kindGeometry = [nKinds][]propID{
	kindLine:    {pX1, pY1, pX2, pY2},
	kindRect:    {pX, pY, pW, pH},
	kindCircle:  {pX, pY, pR},
	kindEllipse: {pX, pY, pRX, pRY},
	kindPolygon: {pX, pY, pPoints},
	kindText:    {pX, pY, pText},
}

// hasProp reports whether shapes of kind k have property p.
func hasProp(k shapeKind, p propID) bool {
	switch p {
	case pStroke, pFill, pLW, pRot, pHidden:
		return true
	case pSize, pFont, pAlign:
		return k == kindText
	}
	for _, g := range kindGeometry[k] {
		if g == p {
			return true
		}
	}
	return false
}

// shapeProps are a shape's current, validated properties.
type shapeProps struct {
	num          [pSize + 1]float64
	stroke, fill color
	hidden       bool
	points       [][2]float64
	text, font   string
	align        string
}

// defaultProps are the properties an obj may leave out, with the values
// bai_media's constructors give them.
func defaultProps(k shapeKind) shapeProps {
	black := color{set: true, rgb: "#000000", a: 255}
	p := shapeProps{stroke: black}
	p.num[pLW] = 1
	if k == kindText {
		p.stroke, p.fill = color{}, black
		p.num[pSize] = 12
		p.font, p.align = "sans-serif", "left"
	}
	return p
}

// set validates one property value, as encoding/json decoded it, and
// stores it; it reports false, changing nothing, for an invalid value.
func (p *shapeProps) set(id propID, v any) bool {
	switch id {
	case pR, pRX, pRY, pLW, pSize:
		f, ok := parseNum(v)
		if !ok || f < 0 {
			return false
		}
		p.num[id] = f
	case pStroke, pFill:
		c, ok := parseColor(v)
		if !ok {
			return false
		}
		if id == pStroke {
			p.stroke = c
		} else {
			p.fill = c
		}
	case pHidden:
		b, ok := v.(bool)
		if !ok {
			return false
		}
		p.hidden = b
	case pPoints:
		pts, ok := v.([]any)
		if !ok || len(pts) < 2 || len(pts) > MaxDrawingPoints {
			return false
		}
		out := make([][2]float64, len(pts))
		for i, pt := range pts {
			xy, ok := pt.([]any)
			if !ok || len(xy) != 2 {
				return false
			}
			x, okx := parseNum(xy[0])
			y, oky := parseNum(xy[1])
			if !okx || !oky {
				return false
			}
			out[i] = [2]float64{x, y}
		}
		p.points = out
	case pText:
		t, ok := v.(string)
		if !ok || len(t) > MaxDrawingText {
			return false
		}
		p.text = xmlChars(t)
	case pFont:
		f, ok := v.(string)
		if !ok || !validFont(f) {
			return false
		}
		p.font = f
	case pAlign:
		a, ok := v.(string)
		if !ok || (a != "left" && a != "center" && a != "right") {
			return false
		}
		p.align = a
	default: // the other numbers
		f, ok := parseNum(v)
		if !ok {
			return false
		}
		p.num[id] = f
	}
	return true
}

func parseNum(v any) (float64, bool) {
	f, ok := v.(float64)
	return f, ok && validCoord(f)
}

// validCoord refuses NaN, infinities and numbers so large that they mean
// nothing on a canvas (JSON has no NaN, but a stream may hold 1e308).
func validCoord(f float64) bool { return !math.IsNaN(f) && math.Abs(f) <= MaxDrawingCoord }

// validFont accepts a CSS font-family list of plain names: letters,
// digits, spaces, commas, quotes, '-', '_' and '.', at most 200 bytes.
// That leaves no way to reach url(), an escape or another declaration.
func validFont(f string) bool {
	if f == "" || len(f) > 200 {
		return false
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(" ,'\"-_.", c) >= 0) {
			return false
		}
	}
	return true
}

// xmlChars replaces the characters XML 1.0 cannot hold (most C0
// controls, U+FFFE and U+FFFF; decoding made invalid UTF-8 and lone
// surrogates U+FFFD already) with U+FFFD.
func xmlChars(s string) string {
	ok := func(r rune) bool {
		return r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xd7ff) || (r >= 0xe000 && r <= 0xfffd) || r >= 0x10000
	}
	for _, r := range s {
		if !ok(r) {
			return strings.Map(func(r rune) rune {
				if ok(r) {
					return r
				}
				return utf8.RuneError
			}, s)
		}
	}
	return s
}

// color is a parsed drawing colour: unset (null, nothing drawn) or an RGB
// value with an alpha channel.
type color struct {
	set bool
	rgb string // "#rrggbb", lower case
	a   int    // 0-255
}

// paint returns the colour as SVG paint and opacity: "none" or "#rrggbb",
// and the opacity, "" when opaque. Renderers that do not know 8-digit
// hex colours still get the alpha right.
func (c color) paint() (string, string) {
	if !c.set {
		return "none", ""
	}
	if c.a == 255 {
		return c.rgb, ""
	}
	return c.rgb, fmtNum(math.Round(float64(c.a)/255*1000) / 1000)
}

// parseColor accepts nil (JSON null) and the "#rgb", "#rrggbb" and
// "#rrggbbaa" strings of the format (any case). Anything else, CSS names
// and functions included, is refused: a colour ends up in an attribute,
// and nothing but hex digits gets there.
func parseColor(v any) (color, bool) {
	if v == nil {
		return color{}, true
	}
	s, ok := v.(string)
	if !ok || len(s) < 4 || s[0] != '#' {
		return color{}, false
	}
	h := strings.ToLower(s[1:])
	for i := 0; i < len(h); i++ {
		if !('0' <= h[i] && h[i] <= '9' || 'a' <= h[i] && h[i] <= 'f') {
			return color{}, false
		}
	}
	switch len(h) {
	case 3:
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	case 6:
	case 8:
		a, _ := strconv.ParseUint(h[6:], 16, 8)
		return color{set: true, rgb: "#" + h[:6], a: int(a)}, true
	default:
		return color{}, false
	}
	return color{set: true, rgb: "#" + h, a: 255}, true
}

type attrID uint8

// The SVG attributes of shapes, in the order of their names, so that
// writing them in enum order writes them sorted.
const (
	aCX attrID = iota
	aCY
	aDisplay
	aFill
	aFillOpacity
	aFontFamily
	aFontSize
	aHeight
	aPoints
	aR
	aRX
	aRY
	aStroke
	aStrokeOpacity
	aStrokeWidth
	aTextAnchor
	aTransform
	aWidth
	aX
	aX1
	aX2
	aY
	aY1
	aY2
	nAttrs
)

var attrNames = [nAttrs]string{
	"cx", "cy", "display", "fill", "fill-opacity", "font-family", "font-size",
	"height", "points", "r", "rx", "ry", "stroke", "stroke-opacity",
	"stroke-width", "text-anchor", "transform", "width", "x", "x1", "x2", "y", "y1", "y2",
}

// kindAttrs are the attributes of each kind, in enum order.
var kindAttrs = func() [nKinds][]attrID {
	common := []attrID{aDisplay, aFill, aFillOpacity, aStroke, aStrokeOpacity, aStrokeWidth, aTransform}
	geom := [nKinds][]attrID{
		kindLine:    {aX1, aX2, aY1, aY2},
		kindRect:    {aHeight, aWidth, aX, aY},
		kindCircle:  {aCX, aCY, aR},
		kindEllipse: {aCX, aCY, aRX, aRY},
		kindPolygon: {aPoints},
		kindText:    {aFontFamily, aFontSize, aTextAnchor, aX, aY},
	}
	var out [nKinds][]attrID
	for k := range nKinds {
		var set [nAttrs]bool
		for _, a := range append(append([]attrID{}, common...), geom[k]...) {
			set[a] = true
		}
		for a := range nAttrs {
			if set[a] {
				out[k] = append(out[k], a)
			}
		}
	}
	return out
}()

var textAnchors = map[string]string{"left": "start", "center": "middle", "right": "end"}

// shapeAttrs writes into out the SVG attributes (but display) of a shape
// of kind k with properties p. Paint is a colour and an opacity ("" when
// opaque); transform is the argument list of rotate() ("" when none).
func shapeAttrs(k shapeKind, p *shapeProps, out *[nAttrs]string) {
	n := func(id propID) string { return fmtNum(p.num[id]) }
	out[aStroke], out[aStrokeOpacity] = p.stroke.paint()
	if k == kindLine {
		out[aFill], out[aFillOpacity] = "none", ""
	} else {
		out[aFill], out[aFillOpacity] = p.fill.paint()
	}
	out[aStrokeWidth] = n(pLW)
	ax, ay := p.num[pX], p.num[pY]
	switch k {
	case kindLine:
		ax, ay = p.num[pX1], p.num[pY1]
		out[aX1], out[aY1], out[aX2], out[aY2] = n(pX1), n(pY1), n(pX2), n(pY2)
	case kindRect:
		// SVG draws nothing for a negative size, a canvas draws the
		// mirrored rectangle.
		x, w := ax, p.num[pW]
		if w < 0 {
			x, w = x+w, -w
		}
		y, h := ay, p.num[pH]
		if h < 0 {
			y, h = y+h, -h
		}
		out[aX], out[aY], out[aWidth], out[aHeight] = fmtNum(x), fmtNum(y), fmtNum(w), fmtNum(h)
	case kindCircle:
		out[aCX], out[aCY], out[aR] = n(pX), n(pY), n(pR)
	case kindEllipse:
		out[aCX], out[aCY], out[aRX], out[aRY] = n(pX), n(pY), n(pRX), n(pRY)
	case kindPolygon:
		var b strings.Builder
		for i, pt := range p.points {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(fmtNum(ax + pt[0]))
			b.WriteByte(',')
			b.WriteString(fmtNum(ay + pt[1]))
		}
		out[aPoints] = b.String()
	case kindText:
		out[aX], out[aY] = n(pX), n(pY)
		out[aFontSize], out[aFontFamily], out[aTextAnchor] = n(pSize), p.font, textAnchors[p.align]
	}
	out[aTransform] = ""
	if rot := math.Mod(p.num[pRot], 360); rot != 0 {
		out[aTransform] = fmtNum(rot) + " " + fmtNum(ax) + " " + fmtNum(ay)
	}
}

// fmtNum formats a number with at most three decimals and no exponent.
func fmtNum(f float64) string {
	f = math.Round(f*1000) / 1000
	if f == 0 {
		f = 0 // no "-0"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
