package kernelcore

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	client "baigo.dev/bai/clients/go"
)

// Outputs receives what a run produces, already in Jupyter's terms.
type Outputs struct {
	// Stream publishes text on stdout or stderr.
	Stream func(name, text string)
	// Display publishes a MIME bundle (display_data).
	Display func(data map[string]any)
}

// Translator turns the console items of one run into Jupyter outputs, in
// order and as they arrive. For Python it holds back stderr from the first
// line of a traceback on, because a traceback that ends the run belongs in
// the `error` message (where front ends render it as the cell's error, and
// nbconvert stops on it), not in a stderr stream before it. Whatever turns
// out not to be the run's final traceback (a printed traceback followed by
// more output, or a run that still succeeds) is released as stderr, in
// order.
type Translator struct {
	out Outputs
	// holdTracebacks selects the Python behaviour above.
	holdTracebacks bool

	pending string          // an incomplete stderr line that may begin a traceback
	held    strings.Builder // stderr from a traceback's first line on
	holding bool
}

// NewTranslator returns a Translator publishing to out; holdTracebacks is
// for runtimes that print Python tracebacks.
func NewTranslator(out Outputs, holdTracebacks bool) *Translator {
	return &Translator{out: out, holdTracebacks: holdTracebacks}
}

// Item translates one console item.
func (t *Translator) Item(it client.ConsoleItem) {
	switch it.Type {
	case "stderr":
		t.stderr(it.Text)
		return
	case "log":
		t.stderr(strings.TrimSuffix(it.Text, "\n") + "\n")
		return
	case "completion":
		return // answers of complete requests, not output
	}
	t.release()
	switch it.Type {
	case "stdout":
		if it.Text != "" {
			t.out.Stream("stdout", it.Text)
		}
	case "html":
		t.out.Display(MediaBundle("text/html", it.Text))
	case "media":
		t.out.Display(MediaBundle(it.MIME, it.Text))
	default:
		// An item type this kernel does not know yet: show its text
		// rather than lose it.
		if it.Text != "" {
			t.out.Stream("stdout", it.Text)
		}
	}
}

// Finish ends the run. When failed is true and stderr was held back from
// a traceback's first line, that text is returned for the error message
// instead of being published; otherwise everything held is published as
// stderr and "" is returned.
func (t *Translator) Finish(failed bool) string {
	if failed && t.holding {
		s := t.held.String()
		t.held.Reset()
		t.holding = false
		return s
	}
	t.release()
	return ""
}

// release publishes what was held back, as stderr.
func (t *Translator) release() {
	s := t.held.String() + t.pending
	t.held.Reset()
	t.holding, t.pending = false, ""
	if s != "" {
		t.out.Stream("stderr", s)
	}
}

func (t *Translator) stderr(s string) {
	if !t.holdTracebacks {
		if s != "" {
			t.out.Stream("stderr", s)
		}
		return
	}
	s = t.pending + s
	t.pending = ""
	var now strings.Builder
	for s != "" {
		line := s
		if nl := strings.IndexByte(s, '\n'); nl >= 0 {
			line = s[:nl+1]
		}
		s = s[len(line):]
		switch {
		case t.holding:
			t.held.WriteString(line)
		case !strings.HasSuffix(line, "\n") && mayBeginTraceback(line):
			t.pending = line // wait for the rest of the line to decide
		case beginsTraceback(strings.TrimSuffix(line, "\n")):
			t.holding = true
			t.held.WriteString(line)
		default:
			now.WriteString(line)
		}
	}
	if now.Len() > 0 {
		t.out.Stream("stderr", now.String())
	}
}

// Lines that begin what traceback.print_exception writes: the usual
// header, its exception-group form, and the bare location line of a
// SyntaxError raised while compiling a cell (no header then, because the
// runner strips its own frames).
var tracebackHeaders = []string{"Traceback (most recent call last):", "Exception Group Traceback (most recent call last):"}

const cellLocation = `  File "<cell `

func beginsTraceback(line string) bool {
	if strings.HasPrefix(line, cellLocation) {
		return true
	}
	trimmed := strings.TrimLeft(line, " +|")
	for _, h := range tracebackHeaders {
		if strings.HasPrefix(trimmed, h) {
			return true
		}
	}
	return false
}

// mayBeginTraceback reports whether an incomplete line could still turn
// into a traceback's first line.
func mayBeginTraceback(part string) bool {
	if strings.HasPrefix(cellLocation, part) || strings.HasPrefix(part, cellLocation) {
		return true
	}
	trimmed := strings.TrimLeft(part, " +|")
	for _, h := range tracebackHeaders {
		if strings.HasPrefix(h, trimmed) || strings.HasPrefix(trimmed, h) {
			return true
		}
	}
	return false
}

// mimeRE is the MIME type form Jupyter accepts as a bundle key.
var mimeRE = regexp.MustCompile(`^[\w\-+.]+/[\w\-+.]+$`)

// MediaBundle returns the display_data bundle of a media item: the data
// under its MIME type (text as is, binary images as the base64 the runner
// sent, which is also what Jupyter wants, JSON types as JSON as nbformat
// stores them) and a text/plain fallback for front ends that cannot show
// it, worded like bai_media's placeholder outside a REPL. A malformed
// MIME type gets the fallback alone.
func MediaBundle(mime, data string) map[string]any {
	plain := fmt.Sprintf("[media %s, %d bytes]", mime, mediaSize(mime, data))
	if !mimeRE.MatchString(mime) {
		return map[string]any{"text/plain": plain}
	}
	if mime == "text/plain" {
		return map[string]any{"text/plain": data}
	}
	var v any = data
	if isJSONMIME(mime) && json.Valid([]byte(data)) {
		v = json.RawMessage(data)
	}
	return map[string]any{mime: v, "text/plain": plain}
}

func isJSONMIME(mime string) bool {
	return mime == "application/json" || strings.HasSuffix(mime, "+json")
}

// mediaSize is the size of the content: decoded bytes for base64 data.
func mediaSize(mime, data string) int {
	if isTextMIME(mime) {
		return len(data)
	}
	if b, err := base64.StdEncoding.DecodeString(data); err == nil {
		return len(b)
	}
	return len(data)
}

func isTextMIME(mime string) bool {
	return strings.HasPrefix(mime, "text/") || strings.HasSuffix(mime, "+xml") || strings.HasSuffix(mime, "json") ||
		mime == "application/javascript" || mime == "application/x-bai-drawing"
}

// Exception is an error as Jupyter reports it in an error message and an
// error reply: a cell's exception, or a failure of the kernel itself
// (SessionError, TimeoutError) worded the same way.
type Exception struct {
	// Name is the exception's class name without its module
	// (ZeroDivisionError, KeyboardInterrupt): the ename.
	Name string
	// Value is the message after "Name: ", with any further lines: the
	// evalue.
	Value string
	// Traceback is the printed text, one line per element.
	Traceback []string
}

// Content is the content of the iopub error message. A traceback is
// never empty: without one, a line naming the error stands in, so front
// ends that show only the traceback still say what happened.
func (e *Exception) Content() map[string]any {
	tb := e.Traceback
	if len(tb) == 0 {
		tb = []string{e.Name + ": " + e.Value}
	}
	return map[string]any{"ename": e.Name, "evalue": e.Value, "traceback": tb}
}

// Reply is the content of a reply with status "error" (execute_reply
// adds its execution_count).
func (e *Exception) Reply() map[string]any {
	c := e.Content()
	c["status"] = "error"
	return c
}

// exceptionLineRE matches "Name" or "Name: message" (Name possibly dotted).
var exceptionLineRE = regexp.MustCompile(`^([A-Za-z_][\w.]*)(?::(?: (.*))?)?$`)

// exceptionNameRE recognises an exception line inside decorated output
// (exception groups draw "  | " borders).
var exceptionNameRE = regexp.MustCompile(`^([A-Za-z_][\w.]*(?:Error|Exception|Group|Interrupt|Exit|Warning|Iteration))(?::(?: (.*))?)?$`)

// ParsePythonTraceback finds the exception in text printed by
// traceback.print_exception: the first unindented "Name: value" line
// after the last indented (stack) line; its value runs to the end. ok is
// false when text holds no such line, in which case the result still
// carries the text and the last line as value.
func ParsePythonTraceback(text string) (pe Exception, ok bool) {
	text = strings.TrimRight(text, "\n")
	lines := strings.Split(text, "\n")
	pe.Traceback = lines
	last := -1
	for i, l := range lines {
		if strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t") {
			last = i
		}
	}
	for i := last + 1; i < len(lines); i++ {
		m := exceptionLineRE.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		pe.Name = shortName(m[1])
		pe.Value = strings.Join(append([]string{m[2]}, lines[i+1:]...), "\n")
		return pe, true
	}
	for _, l := range lines {
		m := exceptionNameRE.FindStringSubmatch(strings.TrimLeft(l, " |+-"))
		if m == nil {
			continue
		}
		pe.Name, pe.Value = shortName(m[1]), m[2]
		return pe, true
	}
	pe.Name = "Error"
	for i := len(lines) - 1; i >= 0; i-- {
		if s := strings.TrimSpace(lines[i]); s != "" {
			pe.Value = s
			break
		}
	}
	return pe, false
}

func shortName(dotted string) string {
	if i := strings.LastIndexByte(dotted, '.'); i >= 0 {
		return dotted[i+1:]
	}
	return dotted
}
