package media

import (
	"encoding/xml"
	"strings"
	"unicode"
	"unicode/utf8"
)

// svgElements are the elements SanitizeSVG keeps (besides the root <svg>):
// shapes, text, structure, paint servers, clipping, masking, filters and
// declarative animation. Anything else (script, foreignObject, a, iframe,
// metadata, unknown elements) is dropped with its subtree.
var svgElements = setOf(
	"svg", "g", "defs", "symbol", "use",
	"path", "rect", "circle", "ellipse", "line", "polyline", "polygon",
	"text", "tspan", "textPath", "title", "desc",
	"linearGradient", "radialGradient", "stop", "pattern",
	"clipPath", "mask", "marker", "image", "style",
	"filter", "feBlend", "feColorMatrix", "feComponentTransfer", "feComposite",
	"feConvolveMatrix", "feDiffuseLighting", "feDisplacementMap", "feDistantLight",
	"feDropShadow", "feFlood", "feFuncA", "feFuncB", "feFuncG", "feFuncR",
	"feGaussianBlur", "feImage", "feMerge", "feMergeNode", "feMorphology",
	"feOffset", "fePointLight", "feSpecularLighting", "feSpotLight", "feTile",
	"feTurbulence",
	"animate", "animateTransform", "animateMotion", "set", "mpath",
)

// animationElements are kept only when animationSafe says so.
var animationElements = setOf("animate", "animateTransform", "animateMotion", "set")

// presentationAttrs are the SVG presentation attributes; each is also a
// CSS property, so they are allowed in style attributes and stylesheets too.
var presentationAttrs = []string{
	"alignment-baseline", "baseline-shift", "clip", "clip-path", "clip-rule",
	"color", "color-interpolation", "color-interpolation-filters", "color-rendering",
	"cursor", "direction", "display", "dominant-baseline", "enable-background",
	"fill", "fill-opacity", "fill-rule", "filter", "flood-color", "flood-opacity",
	"font", "font-family", "font-size", "font-size-adjust", "font-stretch",
	"font-style", "font-variant", "font-weight",
	"glyph-orientation-horizontal", "glyph-orientation-vertical",
	"image-rendering", "isolation", "kerning", "letter-spacing", "lighting-color",
	"marker", "marker-end", "marker-mid", "marker-start", "mask", "mask-type",
	"mix-blend-mode", "opacity", "overflow", "paint-order", "pointer-events",
	"shape-rendering", "stop-color", "stop-opacity",
	"stroke", "stroke-dasharray", "stroke-dashoffset", "stroke-linecap",
	"stroke-linejoin", "stroke-miterlimit", "stroke-opacity", "stroke-width",
	"text-anchor", "text-decoration", "text-rendering",
	"transform", "transform-origin", "transform-box",
	"unicode-bidi", "vector-effect", "visibility", "word-spacing", "writing-mode",
}

// svgAttrs are the attributes without a namespace that SanitizeSVG keeps:
// the presentation attributes, geometry, paint-server, filter and animation
// parameters, identification and accessibility. No name starts with "on".
var svgAttrs = setOf(append([]string{
	// identification and accessibility
	"id", "class", "lang", "role", "aria-label", "aria-labelledby",
	"aria-describedby", "aria-hidden",
	// references and inline CSS, both cleaned
	"href", "style",
	// viewports
	"version", "baseProfile", "viewBox", "preserveAspectRatio",
	// geometry
	"x", "y", "z", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry",
	"fx", "fy", "fr", "width", "height", "d", "points", "pathLength",
	// text
	"dx", "dy", "rotate", "textLength", "lengthAdjust", "startOffset",
	"method", "spacing", "side",
	// paint servers, clipping, masking, markers
	"gradientUnits", "gradientTransform", "spreadMethod", "offset",
	"patternUnits", "patternContentUnits", "patternTransform",
	"clipPathUnits", "maskUnits", "maskContentUnits",
	"markerUnits", "markerWidth", "markerHeight", "refX", "refY", "orient",
	// filters
	"filterUnits", "primitiveUnits", "in", "in2", "result", "mode", "operator",
	"k1", "k2", "k3", "k4", "type", "values", "tableValues", "slope",
	"intercept", "amplitude", "exponent", "stdDeviation", "edgeMode", "order",
	"kernelMatrix", "divisor", "bias", "targetX", "targetY", "kernelUnitLength",
	"preserveAlpha", "surfaceScale", "diffuseConstant", "specularConstant",
	"specularExponent", "scale", "xChannelSelector", "yChannelSelector",
	"radius", "baseFrequency", "numOctaves", "seed", "stitchTiles",
	"azimuth", "elevation", "pointsAtX", "pointsAtY", "pointsAtZ",
	"limitingConeAngle",
	// animation
	"attributeName", "attributeType", "begin", "dur", "end", "min", "max",
	"restart", "repeatCount", "repeatDur", "calcMode", "keyTimes",
	"keySplines", "keyPoints", "from", "to", "by", "additive", "accumulate",
	"path",
}, presentationAttrs...)...)

// cssFuncs are the CSS functions allowed in attribute values and CSS
// declarations: colours, arithmetic, transforms, filters, timing and
// shapes. None of them loads anything; url() is checked on its own and
// every other function (image-set, image, element, cross-fade, src, var,
// attr, expression, ...) makes the value refused.
var cssFuncs = setOf(
	"rgb", "rgba", "hsl", "hsla", "hwb", "lab", "lch", "oklab", "oklch",
	"color", "color-mix", "icc-color",
	"calc", "min", "max", "clamp",
	"matrix", "matrix3d", "translate", "translatex", "translatey", "translatez",
	"translate3d", "scale", "scalex", "scaley", "scalez", "scale3d",
	"rotate", "rotatex", "rotatey", "rotatez", "rotate3d", "skew", "skewx",
	"skewy", "perspective",
	"blur", "brightness", "contrast", "drop-shadow", "grayscale", "hue-rotate",
	"invert", "opacity", "saturate", "sepia",
	"cubic-bezier", "steps", "linear",
	"path", "circle", "ellipse", "inset", "polygon", "rect",
)

// badValueWords make an attribute value or CSS declaration refused when
// they appear in it once it is lower-cased and stripped of white space and
// control characters.
var badValueWords = []string{"javascript:", "vbscript:", "expression(", "-moz-binding", "behavior:"}

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// svgElement returns the name under which an input element is written, and
// false when it is dropped. Elements in the SVG namespace or in none are
// considered; any other namespace (XHTML, unknown ones, an undeclared
// prefix) is dropped.
func svgElement(n xml.Name) (string, bool) {
	if n.Space != nsSVG && n.Space != "" {
		return "", false
	}
	return n.Local, svgElements[n.Local]
}

// svgAttrName returns the name under which an input attribute is written,
// and false when it is dropped: event handlers (any "on*"), namespace
// declarations (the root gets its own), attributes not in svgAttrs, and
// namespaced attributes other than xlink:href, xml:space and xml:lang.
func svgAttrName(n xml.Name) (string, bool) {
	if len(n.Local) >= 2 && asciiLowerByte(n.Local[0]) == 'o' && asciiLowerByte(n.Local[1]) == 'n' {
		return "", false
	}
	switch n.Space {
	case "":
		return n.Local, svgAttrs[n.Local]
	case nsXLink, "xlink": // "xlink" is the prefix left unresolved when undeclared
		return "xlink:href", n.Local == "href"
	case nsXML:
		return "xml:" + n.Local, n.Local == "space" || n.Local == "lang"
	}
	return "", false
}

// animatableAttrs are the attributes an animation element (<animate>,
// <set>, <animateTransform>) may target: the presentation attributes and
// geometry. Everything else is refused, above all href and xlink:href (the
// classic <set attributeName="href" to="javascript:..."> that turns a
// harmless link target into script once the animation runs), the "on*"
// event handlers, style and class.
var animatableAttrs = setOf(append([]string{
	"x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry",
	"fx", "fy", "fr", "width", "height", "d", "points", "pathLength",
	"dx", "dy", "rotate", "textLength", "startOffset", "offset",
	"viewBox", "preserveAspectRatio", "stdDeviation",
	"gradientTransform", "patternTransform",
}, presentationAttrs...)...)

// animationSafe reports whether an animation element may be kept: its
// attributeName, when it has one, must be in animatableAttrs as written
// (no prefix, no other case), and its from, to, by and values must each be
// a safe value (safeValue) holding no url() or data: at all, so that no
// animation ever sets a reference, an event handler or CSS that loads
// anything.
func animationSafe(attrs []xml.Attr) bool {
	for _, a := range attrs {
		if a.Name.Space != "" {
			continue
		}
		switch a.Name.Local {
		case "attributeName":
			if !animatableAttrs[strings.TrimSpace(a.Value)] {
				return false
			}
		case "from", "to", "by", "values":
			if !safeValue(a.Value) {
				return false
			}
			n := squash(a.Value)
			if strings.Contains(n, "url(") || strings.Contains(n, "data:") {
				return false
			}
		}
	}
	return true
}

// cleanAttrValue returns the value to write for attribute name of element
// elem, and false when the attribute is dropped.
func cleanAttrValue(elem, name, v string) (string, bool) {
	switch name {
	case "href", "xlink:href":
		return cleanHref(elem, v)
	case "style":
		c := cleanDeclarations(stripComments(v))
		return c, c != ""
	}
	return v, safeValue(v)
}

// cleanHref allows a same-document fragment ("#id") everywhere and, on
// <image>, a base64 data: URI of a PNG, JPEG, GIF or WebP image. Every
// other reference (http:, file:, javascript:, relative URLs, SVG data) is
// refused.
func cleanHref(elem, v string) (string, bool) {
	v = strings.TrimFunc(v, isSpaceOrControl)
	if isFragment(v) {
		return v, true
	}
	if elem == "image" {
		return cleanDataImage(v)
	}
	return "", false
}

// dataImageTypes are the image types an <image> may embed.
var dataImageTypes = setOf("image/png", "image/jpeg", "image/gif", "image/webp")

// cleanDataImage accepts "data:image/<type>;base64,<payload>" for the
// types in dataImageTypes and returns it with the type lower-cased and
// white space removed from the payload.
func cleanDataImage(v string) (string, bool) {
	if len(v) < 5 || asciiLower(v[:5]) != "data:" {
		return "", false
	}
	meta, payload, ok := strings.Cut(v[5:], ",")
	if !ok {
		return "", false
	}
	mime, ok := strings.CutSuffix(asciiLower(meta), ";base64")
	if !ok || !dataImageTypes[mime] {
		return "", false
	}
	var b strings.Builder
	b.Grow(len("data:;base64,") + len(mime) + len(payload))
	b.WriteString("data:" + mime + ";base64,")
	pad := 0
	for i := 0; i < len(payload); i++ {
		c := payload[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			continue
		case c == '=':
			pad++
		case pad > 0:
			return "", false // data after padding
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '+', c == '/':
		default:
			return "", false
		}
		b.WriteByte(c)
	}
	n := b.Len() - len("data:;base64,") - len(mime)
	if n == 0 || pad > 2 || (pad > 0 && n%4 != 0) || n%4 == 1 {
		return "", false
	}
	return b.String(), true
}

// isFragment reports whether v is "#" followed by an id made of letters,
// digits, '-', '_' and '.'.
func isFragment(v string) bool {
	if len(v) < 2 || v[0] != '#' {
		return false
	}
	for _, r := range v[1:] {
		switch {
		case r < utf8.RuneSelf:
			if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.') {
				return false
			}
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			return false
		}
	}
	return true
}

// safeValue reports whether an attribute value or CSS value may be kept:
// no CSS escape or comment (which could hide a function name), none of
// badValueWords, and only the functions in cssFuncs, with url() pointing
// into the document.
func safeValue(v string) bool {
	if !strings.ContainsAny(v, `(:\/`) {
		return true // no function, scheme, escape or comment: most values
	}
	if strings.ContainsRune(v, '\\') || strings.Contains(v, "/*") {
		return false
	}
	n := squash(v)
	for _, w := range badValueWords {
		if strings.Contains(n, w) {
			return false
		}
	}
	for i := 0; i < len(n); i++ {
		if n[i] != '(' {
			continue
		}
		j := i
		for j > 0 && isIdentByte(n[j-1]) {
			j--
		}
		switch fn := n[j:i]; {
		case fn == "":
		case fn == "url":
			end := strings.IndexByte(n[i+1:], ')')
			if end < 0 {
				return false
			}
			arg := n[i+1 : i+1+end]
			if len(arg) >= 2 && (arg[0] == '"' || arg[0] == '\'') && arg[len(arg)-1] == arg[0] {
				arg = arg[1 : len(arg)-1]
			}
			if !isFragment(arg) {
				return false
			}
		case !cssFuncs[fn]:
			return false
		}
	}
	return true
}

func isIdentByte(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c >= utf8.RuneSelf
}

// squash lower-cases the ASCII letters of s and removes ASCII white space
// and control characters, the form in which browsers match URL schemes and
// in which "java\tscript:" or "URL (" is seen for what it is.
func squash(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c == 0x7f {
			continue
		}
		b.WriteByte(asciiLowerByte(c))
	}
	return b.String()
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = asciiLowerByte(b[j])
			}
			return string(b)
		}
	}
	return s
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }
