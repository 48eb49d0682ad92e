package jupytergw

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	client "baigo.dev/bai/clients/go"
)

// protocolVersion is the Jupyter messaging protocol version we speak.
const protocolVersion = "5.3"

// dateLayout is how Jupyter writes times: ISO 8601, microseconds, UTC "Z".
// jupyter-server parses a kernel model's last_activity with exactly
// "%Y-%m-%dT%H:%M:%S.%fZ", so this must not change.
const dateLayout = "2006-01-02T15:04:05.000000Z"

// Channels of the Jupyter protocol carried over the one WebSocket.
const (
	chShell   = "shell"
	chIOPub   = "iopub"
	chStdin   = "stdin"
	chControl = "control"
)

// Header is a Jupyter message header.
type Header struct {
	MsgID    string `json:"msg_id"`
	Username string `json:"username"`
	Session  string `json:"session"`
	Date     string `json:"date"`
	MsgType  string `json:"msg_type"`
	Version  string `json:"version"`
}

// inMsg is a message from a client. The header is kept raw too, so that
// the parent_header of our answers is exactly what the client sent.
type inMsg struct {
	RawHeader json.RawMessage `json:"header"`
	Content   json.RawMessage `json:"content"`
	Metadata  json.RawMessage `json:"metadata"`
	Channel   string          `json:"channel"`
	Header    Header          `json:"-"`
}

// decodeMsg parses one JSON text frame of the channels socket.
func decodeMsg(data []byte) (*inMsg, error) {
	var m inMsg
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("message is not JSON: %w", err)
	}
	if len(m.RawHeader) == 0 || string(m.RawHeader) == "null" {
		return nil, fmt.Errorf("message has no header")
	}
	if err := json.Unmarshal(m.RawHeader, &m.Header); err != nil {
		return nil, fmt.Errorf("message header: %w", err)
	}
	if m.Header.MsgType == "" {
		return nil, fmt.Errorf("message header has no msg_type")
	}
	if m.Channel == "" {
		// Old clients leave the channel out of shell requests.
		m.Channel = chShell
	}
	if len(m.Content) == 0 || string(m.Content) == "null" {
		m.Content = json.RawMessage("{}")
	}
	return &m, nil
}

// outMsg is a message to a client. msg_id and msg_type are repeated at the
// top level as jupyter_client's Session.deserialize does: jupyter-server's
// gateway client logs them from there.
type outMsg struct {
	Channel      string          `json:"channel"`
	Header       Header          `json:"header"`
	MsgID        string          `json:"msg_id"`
	MsgType      string          `json:"msg_type"`
	ParentHeader json.RawMessage `json:"parent_header"`
	Metadata     map[string]any  `json:"metadata"`
	Content      any             `json:"content"`
	Buffers      []any           `json:"buffers"`
}

// newMsg builds a message of the kernel whose Jupyter session id is
// session, answering parent (nil for none).
func newMsg(channel, msgType, session string, parent *inMsg, content any, now time.Time) outMsg {
	id := uuid.NewString()
	ph := json.RawMessage("{}")
	if parent != nil {
		ph = parent.RawHeader
	}
	return outMsg{
		Channel: channel,
		Header: Header{MsgID: id, Username: "bai", Session: session, Date: now.UTC().Format(dateLayout),
			MsgType: msgType, Version: protocolVersion},
		MsgID: id, MsgType: msgType, ParentHeader: ph,
		Metadata: map[string]any{}, Content: content, Buffers: []any{},
	}
}

// output is one iopub message an execute step produced.
type output struct {
	msgType string // stream or display_data
	content map[string]any
}

// consoleOutputs turns the console items of one execute step into iopub
// stream and display_data contents, in order.
func consoleOutputs(items []client.ConsoleItem) []output {
	var out []output
	for _, it := range items {
		switch it.Type {
		case "stdout", "stderr":
			if it.Text != "" {
				out = append(out, output{"stream", map[string]any{"name": it.Type, "text": it.Text}})
			}
		case "media":
			if it.MIME != "" {
				out = append(out, displayData(it.MIME, it.Text))
			}
		case "html":
			out = append(out, displayData("text/html", it.Text))
		case "log":
			// Kernel log records are diagnostics, not program output:
			// they go where a Jupyter kernel's warnings go.
			if it.Text != "" {
				out = append(out, output{"stream", map[string]any{"name": "stderr", "text": strings.TrimSuffix(it.Text, "\n") + "\n"}})
			}
		}
	}
	return out
}

// displayData builds a display_data content for one media item. Binary
// images stay base64 text, as nbformat stores them; JSON types are embedded
// as JSON. text/plain is always there because frontends and nbconvert fall
// back to it (the same placeholder bai_media prints outside a kernel).
func displayData(mime, data string) output {
	var v any = data
	if isJSONMime(mime) && json.Valid([]byte(data)) {
		v = json.RawMessage(data)
	}
	d := map[string]any{mime: v}
	if mime != "text/plain" {
		d["text/plain"] = fmt.Sprintf("[media %s, %d bytes]", mime, len(data))
	}
	return output{"display_data", map[string]any{"data": d, "metadata": map[string]any{}, "transient": map[string]any{}}}
}

func isJSONMime(mime string) bool {
	return mime == "application/json" || strings.HasSuffix(mime, "+json")
}

// splitTraceback separates the traceback at the end of a failed run's last
// stderr text from what the program printed to stderr before it, so the
// traceback is shown once, in the error message, and not also as a stream.
// It recognises Python's "Traceback (most recent call last):" and the
// header-less SyntaxError form (a `  File "...", line N` block); otherwise
// only the last line is taken, when it reads like an exception.
func splitTraceback(stderr string) (before, tb string) {
	if i := lineIndex(stderr, "Traceback (most recent call last):"); i >= 0 {
		return stderr[:i], stderr[i:]
	}
	trimmed := strings.TrimRight(stderr, "\n")
	last := trimmed[strings.LastIndex(trimmed, "\n")+1:]
	if _, _, ok := parseExceptionLine(last, false); !ok {
		return stderr, ""
	}
	if i := lastLineIndex(trimmed, `  File "`); i >= 0 {
		return stderr[:i], stderr[i:]
	}
	return stderr[:len(trimmed)-len(last)], stderr[len(trimmed)-len(last):]
}

// lineIndex returns the offset of the first line of s starting with prefix.
func lineIndex(s, prefix string) int {
	for off := 0; off < len(s); {
		if strings.HasPrefix(s[off:], prefix) {
			return off
		}
		nl := strings.IndexByte(s[off:], '\n')
		if nl < 0 {
			break
		}
		off += nl + 1
	}
	return -1
}

// lastLineIndex returns the offset of the last line of s starting with prefix.
func lastLineIndex(s, prefix string) int {
	found := -1
	for off := 0; off < len(s); {
		if strings.HasPrefix(s[off:], prefix) {
			found = off
		}
		nl := strings.IndexByte(s[off:], '\n')
		if nl < 0 {
			break
		}
		off += nl + 1
	}
	return found
}

var (
	// excLineRE matches "NameError: name 'x' is not defined", a dotted
	// "json.decoder.JSONDecodeError: ...", or a bare "KeyboardInterrupt".
	excLineRE = regexp.MustCompile(`^([A-Za-z_][\w.]*)(?::\s?(.*))?$`)
	// excNameRE is what a bare name must look like to count as an
	// exception when no traceback header vouches for it.
	excNameRE = regexp.MustCompile(`(Error|Exception|Interrupt|Exit|Warning)$`)
)

// parseExceptionLine reads "Name: value" from the last line of a traceback.
// inTraceback relaxes the check to any identifier (a traceback header was
// seen, so the last line is the exception whatever its class is called).
func parseExceptionLine(line string, inTraceback bool) (ename, evalue string, ok bool) {
	m := excLineRE.FindStringSubmatch(strings.TrimSpace(line))
	if m == nil {
		return "", "", false
	}
	name := m[1]
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:] // IPython reports the class name alone
	}
	if name == "" || (!inTraceback && !excNameRE.MatchString(name)) {
		return "", "", false
	}
	return name, m[2], true
}

// errorContent builds the error (and error execute_reply) content of a run
// that ended with exitCode, from the traceback text split off its stderr
// (may be empty).
func errorContent(tb string, exitCode int) map[string]any {
	tb = strings.TrimRight(tb, "\n")
	var lines []string
	if tb != "" {
		lines = strings.Split(tb, "\n")
	}
	ename, evalue := "Error", fmt.Sprintf("the program ended with exit code %d", exitCode)
	if len(lines) > 0 {
		// The exception is what follows the last indented line (source
		// lines, SyntaxError carets); its message may span several lines.
		start := 0
		for i, l := range lines {
			if strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t") {
				start = i + 1
			}
		}
		if start >= len(lines) {
			start = len(lines) - 1
		}
		inTraceback := strings.HasPrefix(tb, "Traceback") || strings.HasPrefix(tb, "  File")
		if n, v, ok := parseExceptionLine(lines[start], inTraceback); ok {
			ename, evalue = n, strings.Join(append([]string{v}, lines[start+1:]...), "\n")
		}
	}
	if len(lines) == 0 {
		lines = []string{ename + ": " + evalue}
	}
	return map[string]any{"ename": ename, "evalue": evalue, "traceback": lines}
}

// completionToken is the part before the cursor that completions replace:
// the dotted name the kernel's completer also extracts.
var completionToken = regexp.MustCompile(`[A-Za-z_][\w.]*$`)

// completionRange cuts code at cursorPos (counted in Unicode code points,
// as protocol 5.2+ does) and returns the text before the cursor and where
// the replaced token starts.
func completionRange(code string, cursorPos int) (before string, start int) {
	runes := []rune(code)
	if cursorPos < 0 || cursorPos > len(runes) {
		cursorPos = len(runes)
	}
	before = string(runes[:cursorPos])
	tok := completionToken.FindString(before)
	return before, cursorPos - utf8.RuneCountInString(tok)
}

// isComplete answers is_complete_request with a heuristic, as a console
// frontend needs to decide whether Enter runs the code: open brackets,
// strings and trailing backslashes ask for more lines everywhere; for
// Python a line ending in ":" or an indented block not yet closed by an
// empty line does too. It returns the status and the indent to offer.
func isComplete(code, language string) (status, indent string) {
	python := strings.HasPrefix(strings.ToLower(language), "python")
	var stack []rune
	var quote string // the open string's delimiter, if any
	rs := []rune(code)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		if quote != "" {
			switch {
			case c == '\\':
				i++
			case strings.HasPrefix(string(rs[i:]), quote):
				i += len(quote) - 1
				quote = ""
			case c == '\n' && len(quote) == 1:
				return "invalid", ""
			}
			continue
		}
		switch c {
		case '#':
			if python {
				for i < len(rs) && rs[i] != '\n' {
					i++
				}
			}
		case '\'', '"':
			q := string(c)
			if python && strings.HasPrefix(string(rs[i:]), strings.Repeat(q, 3)) {
				q = strings.Repeat(q, 3)
				i += 2
			}
			quote = q
		case '(', '[', '{':
			stack = append(stack, c)
		case ')', ']', '}':
			open := map[rune]rune{')': '(', ']': '[', '}': '{'}[c]
			if len(stack) == 0 || stack[len(stack)-1] != open {
				return "invalid", ""
			}
			stack = stack[:len(stack)-1]
		}
	}
	if quote != "" {
		if len(quote) == 3 {
			return "incomplete", ""
		}
		return "invalid", ""
	}
	if len(stack) > 0 {
		return "incomplete", ""
	}
	trimmed := strings.TrimRight(code, " \t\n")
	if trimmed == "" {
		return "complete", ""
	}
	if strings.HasSuffix(trimmed, "\\") {
		return "incomplete", ""
	}
	if !python {
		return "complete", ""
	}
	lines := strings.Split(strings.TrimRight(code, " \t"), "\n")
	last := lines[len(lines)-1]
	if strings.TrimSpace(last) == "" && len(lines) > 1 {
		// An empty line closes the block, as in the Python REPL.
		return "complete", ""
	}
	lastIndent := last[:len(last)-len(strings.TrimLeft(last, " \t"))]
	if strings.HasSuffix(strings.TrimRight(stripComment(last), " \t"), ":") {
		return "incomplete", lastIndent + "    "
	}
	if lastIndent != "" {
		return "incomplete", lastIndent
	}
	return "complete", ""
}

// stripComment drops a trailing # comment from a line (not one inside a
// string; good enough for the heuristic).
func stripComment(line string) string {
	inQuote := rune(0)
	for i, c := range line {
		switch {
		case inQuote != 0 && c == inQuote:
			inQuote = 0
		case inQuote == 0 && (c == '\'' || c == '"'):
			inQuote = c
		case inQuote == 0 && c == '#':
			return line[:i]
		}
	}
	return line
}
