package kernelcore

import (
	"context"
	"encoding/json"
	"strings"
	"unicode"
)

// Statuses of an is_complete_reply.
const (
	CodeComplete   = "complete"
	CodeIncomplete = "incomplete"
	CodeInvalid    = "invalid"
	CodeUnknown    = "unknown"
)

// IsCompletePython guesses whether a console should run Python code now or
// read another line, without a Python parser: the session's interpreter is
// remote, and a round trip per key press would be too slow. It answers
// incomplete (with the indent for the next line) for an open bracket or
// triple-quoted string, a trailing backslash, a line ending in ':', or an
// indented block not yet closed by an empty line; invalid for a closing
// bracket without its opener and a one-line string left open; complete
// otherwise.
func IsCompletePython(code string) (status, indent string) {
	var stack []rune
	lastSignificant := rune(0) // last non-space rune outside comments and strings
	block := false             // a line opened a block (ended in ':')
	rs := []rune(code)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == '#':
			for i < len(rs) && rs[i] != '\n' {
				i++
			}
			i-- // let the loop see the newline
		case c == '\\':
			if i+1 == len(rs) || (i+2 == len(rs) && rs[i+1] == '\n') {
				return CodeIncomplete, lineIndent(lastLine(code))
			}
			i++ // the escaped character, usually a newline
		case c == '\'' || c == '"':
			triple := i+2 < len(rs) && rs[i+1] == c && rs[i+2] == c
			end, closed := scanString(rs, i, triple)
			if !closed {
				if triple {
					return CodeIncomplete, ""
				}
				return CodeInvalid, ""
			}
			i = end
			lastSignificant = c
		case c == '(' || c == '[' || c == '{':
			stack = append(stack, c)
			lastSignificant = c
		case c == ')' || c == ']' || c == '}':
			if len(stack) == 0 || stack[len(stack)-1] != opener(c) {
				return CodeInvalid, ""
			}
			stack = stack[:len(stack)-1]
			lastSignificant = c
		case c == '\n':
			if len(stack) == 0 && lastSignificant == ':' {
				block = true
			}
		case !unicode.IsSpace(c):
			lastSignificant = c
		}
	}
	if len(stack) > 0 {
		return CodeIncomplete, ""
	}
	last := lastNonBlankLine(code)
	if last == "" {
		return CodeComplete, ""
	}
	if lastSignificant == ':' || strings.HasPrefix(strings.TrimSpace(last), "@") {
		return CodeIncomplete, lineIndent(last) + "    "
	}
	// An indented last line is inside a block, which a console ends with
	// an empty line, as Python's own REPL does.
	if ind := lineIndent(last); block && ind != "" && !endsWithEmptyLine(code) {
		return CodeIncomplete, ind
	}
	return CodeComplete, ""
}

// scanString returns the index of the closing quote of the string starting
// at rs[start], and whether it was closed. Backslashes escape in every
// kind of string as far as finding the end goes (also in raw strings).
func scanString(rs []rune, start int, triple bool) (int, bool) {
	q := rs[start]
	i := start + 1
	if triple {
		i = start + 3
	}
	for ; i < len(rs); i++ {
		switch rs[i] {
		case '\\':
			i++
		case '\n':
			if !triple {
				return i, false
			}
		case q:
			if !triple {
				return i, true
			}
			if i+2 < len(rs) && rs[i+1] == q && rs[i+2] == q {
				return i + 2, true
			}
		}
	}
	return len(rs), false
}

func opener(c rune) rune {
	switch c {
	case ')':
		return '('
	case ']':
		return '['
	}
	return '{'
}

func lastLine(code string) string {
	code = strings.TrimRight(code, "\n")
	if i := strings.LastIndexByte(code, '\n'); i >= 0 {
		return code[i+1:]
	}
	return code
}

func lastNonBlankLine(code string) string {
	lines := strings.Split(code, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.TrimSpace(lines[i]) != "" {
			return lines[i]
		}
	}
	return ""
}

func lineIndent(line string) string {
	return line[:len(line)-len(strings.TrimLeft(line, " \t"))]
}

// endsWithEmptyLine reports whether the last non-blank line is followed by
// an empty line (the user pressed Enter twice).
func endsWithEmptyLine(code string) bool {
	trimmed := strings.TrimRight(code, " \t\n")
	return strings.Count(code[len(trimmed):], "\n") >= 2
}

// CompletionRange maps the matches of our complete endpoint onto the text
// they replace: the identifier (with dots) that ends at cursor in code,
// measured in Unicode code points as the protocol counts. When every
// match extends the whole dotted name it is replaced; else only its last
// part. Python's rlcompleter appends "(" to callables; that is dropped
// (trimParen), as IPython does.
func CompletionRange(code string, cursor int, matches []string, trimParen bool) (out []string, start, end int) {
	rs := []rune(code)
	if cursor < 0 || cursor > len(rs) {
		cursor = len(rs)
	}
	i := cursor
	for i > 0 && isNameRune(rs[i-1]) {
		i--
	}
	token := string(rs[i:cursor])
	out = make([]string, 0, len(matches))
	for _, m := range matches {
		if trimParen {
			m = strings.TrimSuffix(m, "(")
		}
		if m != "" {
			out = append(out, m)
		}
	}
	all := true
	for _, m := range out {
		if !strings.HasPrefix(m, token) {
			all = false
			break
		}
	}
	if all {
		return out, i, cursor
	}
	seg := token
	if j := strings.LastIndexByte(token, '.'); j >= 0 {
		seg = token[j+1:]
	}
	return out, cursor - len([]rune(seg)), cursor
}

func isNameRune(r rune) bool {
	return r == '_' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// IsCompleteReply answers an is_complete_request (its content as sent):
// the Python heuristic of IsCompletePython for Python, "unknown" for other
// languages, which tells a console to decide by itself.
func IsCompleteReply(content json.RawMessage, python bool) map[string]any {
	var req struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(content, &req)
	if !python {
		return map[string]any{"status": CodeUnknown}
	}
	status, indent := IsCompletePython(req.Code)
	reply := map[string]any{"status": status}
	if status == CodeIncomplete {
		reply["indent"] = indent
	}
	return reply
}

// CompleteReply answers a complete_request (its content as sent). ask
// returns the session's completions of the code before the cursor (POST
// /session/{name}/complete); it is not called when that is blank. The
// reply is always usable: when ask fails it has no matches, and the error
// is returned for the log, since a completion popup is no place for it.
func CompleteReply(ctx context.Context, content json.RawMessage, python bool, ask func(ctx context.Context, before string) ([]any, error)) (map[string]any, error) {
	var req struct {
		Code      string `json:"code"`
		CursorPos *int   `json:"cursor_pos"`
	}
	_ = json.Unmarshal(content, &req)
	rs := []rune(req.Code)
	cursor := len(rs)
	if req.CursorPos != nil && *req.CursorPos >= 0 && *req.CursorPos <= len(rs) {
		cursor = *req.CursorPos
	}
	var err error
	var matches []string
	if before := string(rs[:cursor]); strings.TrimSpace(before) != "" {
		var raw []any
		raw, err = ask(ctx, before)
		for _, r := range raw {
			if s, ok := r.(string); ok {
				matches = append(matches, s)
			}
		}
	}
	out, start, end := CompletionRange(req.Code, cursor, matches, python)
	return map[string]any{"status": "ok", "matches": out, "cursor_start": start, "cursor_end": end, "metadata": map[string]any{}}, err
}
