package media

import "strings"

// The CSS that SanitizeSVG keeps, in style attributes and <style>
// elements, is re-written from what it parsed: declarations of allowed
// properties with safe values (safeValue), rules whose selectors use a
// plain character set, and @media and @keyframes blocks holding such rules.
// Everything else, @import and @font-face included, is dropped. The
// output has no comment, escape, '<' or '&', so it reads the same whether
// the document is parsed as XML or inline in HTML.

// cssProps are the properties kept in CSS: the presentation attributes,
// geometry properties, and animations and transitions (whose keyframes
// are cleaned like any other rule).
var cssProps = setOf(append([]string{
	"cx", "cy", "r", "rx", "ry", "x", "y", "width", "height", "d",
	"text-decoration-line", "text-decoration-color", "text-decoration-style",
	"white-space", "font-kerning",
	"animation", "animation-name", "animation-duration",
	"animation-timing-function", "animation-delay", "animation-iteration-count",
	"animation-direction", "animation-fill-mode", "animation-play-state",
	"transition", "transition-property", "transition-duration",
	"transition-timing-function", "transition-delay",
}, presentationAttrs...)...)

// maxCSSNesting bounds how deeply @media and @keyframes blocks may nest.
const maxCSSNesting = 3

const cssSpace = " \t\n\r\f"

func isCSSNewline(c byte) bool { return c == '\n' || c == '\r' || c == '\f' }

// cleanStylesheet returns the rules of a stylesheet that are kept, one a
// line, or "" when none is.
func cleanStylesheet(css string) string {
	return strings.Join(cleanRules(stripComments(css), 0), "\n")
}

// cleanRules parses a list of rules and at-rules and returns the kept ones.
func cleanRules(s string, depth int) []string {
	var out []string
	for {
		s = strings.TrimLeft(s, cssSpace)
		if s == "" {
			return out
		}
		i := indexTop(s, "{;")
		if i < 0 {
			return out // a rule without a block: dropped, like the rest
		}
		if s[i] == ';' {
			// A statement at-rule (@import, @charset, @namespace) or
			// garbage: dropped.
			s = s[i+1:]
			continue
		}
		prelude := s[:i]
		end := matchBrace(s, i)
		block := s[i+1 : end]
		s = s[min(end+1, len(s)):]
		if strings.HasPrefix(prelude, "@") {
			if r, ok := cleanAtRule(prelude[1:], block, depth); ok {
				out = append(out, r)
			}
			continue
		}
		sel, ok := cleanSelector(prelude)
		if !ok {
			continue
		}
		if d := cleanDeclarations(block); d != "" {
			out = append(out, sel+" { "+d+" }")
		}
	}
}

// cleanAtRule keeps @media and @keyframes blocks and drops every other
// block at-rule (@font-face, @supports, @page, ...).
func cleanAtRule(prelude, block string, depth int) (string, bool) {
	n := 0
	for n < len(prelude) && isIdentByte(asciiLowerByte(prelude[n])) {
		n++
	}
	name, rest := asciiLower(prelude[:n]), prelude[n:]
	if depth >= maxCSSNesting || (name != "media" && name != "keyframes") {
		return "", false
	}
	q, ok := cleanAtPrelude(rest, name == "keyframes")
	if !ok {
		return "", false
	}
	inner := cleanRules(block, depth+1)
	if len(inner) == 0 {
		return "", false
	}
	head := "@" + name
	if q != "" {
		head += " " + q
	}
	return head + " {\n" + strings.Join(inner, "\n") + "\n}", true
}

// cleanAtPrelude checks a media query list or a keyframes name: plain
// characters only, no string, no URL, no script.
func cleanAtPrelude(q string, keyframes bool) (string, bool) {
	q, ok := collapseSpace(q)
	if !ok || (keyframes && q == "") {
		return "", false
	}
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case isIdentByte(asciiLowerByte(c)):
		case keyframes:
			return "", false
		case strings.IndexByte(" ():,./", c) >= 0:
		default:
			return "", false
		}
	}
	return q, !hasBadWord(squash(q))
}

// cleanSelector checks a selector (or keyframe selector): letters, digits,
// white space and the punctuation of selectors, strings included; no
// escape, no '<', '&', '@', '/', '!', brace or semicolon.
func cleanSelector(p string) (string, bool) {
	p, ok := collapseSpace(p)
	if !ok || p == "" {
		return "", false
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !isIdentByte(asciiLowerByte(c)) && strings.IndexByte(" *#.,:()[]=^$|~+>'\"%", c) < 0 {
			return "", false
		}
	}
	return p, !hasBadWord(squash(p))
}

func hasBadWord(squashed string) bool {
	if strings.Contains(squashed, "url(") {
		return true
	}
	for _, w := range badValueWords {
		if strings.Contains(squashed, w) {
			return true
		}
	}
	return false
}

// cleanDeclarations cleans a declaration list (a style attribute, or the
// block of a rule, comments already stripped) and returns the kept
// declarations as "name: value" joined by "; ", or "" when none is kept.
func cleanDeclarations(s string) string {
	var kept []string
	for _, d := range splitTop(s, ';') {
		name, value, ok := strings.Cut(d, ":")
		if !ok {
			continue
		}
		name = asciiLower(strings.Trim(name, cssSpace))
		if !cssProps[name] {
			continue
		}
		value, ok = collapseSpace(value)
		if !ok || value == "" || strings.ContainsAny(value, "\\{}<>&@;") || !safeValue(value) {
			continue
		}
		kept = append(kept, name+": "+value)
	}
	return strings.Join(kept, "; ")
}

// stripComments replaces each CSS comment outside strings by a space; an
// unterminated comment runs to the end.
func stripComments(s string) string {
	if !strings.Contains(s, "/*") {
		return s
	}
	var b strings.Builder
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote || isCSSNewline(c) {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			b.WriteByte(' ')
			end := strings.Index(s[i+2:], "*/")
			if end < 0 {
				return b.String()
			}
			i += 2 + end + 1
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// splitTop splits s at each sep that is outside strings and brackets.
func splitTop(s string, sep byte) []string {
	var parts []string
	var quote byte
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			if c == quote || isCSSNewline(c) {
				quote = 0
			}
			continue
		}
		switch c {
		case '"', '\'':
			quote = c
		case '(', '[', '{':
			depth++
		case ')', ']', '}':
			if depth > 0 {
				depth--
			}
		case sep:
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

// indexTop returns the index of the first byte of s in chars that is
// outside strings, parentheses and square brackets, or -1.
func indexTop(s, chars string) int {
	var quote byte
	depth := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			if c == quote || isCSSNewline(c) {
				quote = 0
			}
			continue
		}
		switch c {
		case '"', '\'':
			quote = c
		case '(', '[':
			depth++
		case ')', ']':
			if depth > 0 {
				depth--
			}
		default:
			if depth == 0 && strings.IndexByte(chars, c) >= 0 {
				return i
			}
		}
	}
	return -1
}

// matchBrace returns the index of the '}' that closes the '{' at s[open],
// or len(s) when the block runs to the end.
func matchBrace(s string, open int) int {
	var quote byte
	depth := 0
	for i := open; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			if c == quote || isCSSNewline(c) {
				quote = 0
			}
			continue
		}
		switch c {
		case '"', '\'':
			quote = c
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return len(s)
}

// collapseSpace trims s and turns each run of white space outside strings
// into one space. It refuses a string that is unterminated or holds a line
// break.
func collapseSpace(s string) (string, bool) {
	var b strings.Builder
	var quote byte
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if quote != 0 {
			if isCSSNewline(c) {
				return "", false
			}
			if c == quote {
				quote = 0
			}
			b.WriteByte(c)
			continue
		}
		if strings.IndexByte(cssSpace, c) >= 0 {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		if c == '"' || c == '\'' {
			quote = c
		}
		b.WriteByte(c)
	}
	if quote != 0 {
		return "", false
	}
	return b.String(), true
}
