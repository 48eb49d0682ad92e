package jupytergw

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/common/apitypes"
)

func TestSplitTracebackAndErrorContent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, stderr         string
		exit                 int
		before, ename, value string
		tbLines              int
	}{
		{"name error", "Traceback (most recent call last):\n  File \"<cell 1>\", line 1, in <module>\nNameError: name 'x' is not defined\n",
			1, "", "NameError", "name 'x' is not defined", 3},
		{"printed before", "careful\nTraceback (most recent call last):\n  File \"<cell 1>\", line 1, in <module>\nZeroDivisionError: division by zero\n",
			1, "careful\n", "ZeroDivisionError", "division by zero", 3},
		{"keyboard interrupt", "Traceback (most recent call last):\n  File \"<cell 4>\", line 1, in <module>\nKeyboardInterrupt\n",
			1, "", "KeyboardInterrupt", "", 3},
		{"syntax error", "  File \"<cell 2>\", line 1\n    x =\n       ^\nSyntaxError: invalid syntax\n",
			1, "", "SyntaxError", "invalid syntax", 4},
		{"dotted class", "Traceback (most recent call last):\n  File \"<cell 1>\", line 2, in <module>\njson.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)\n",
			1, "", "JSONDecodeError", "Expecting value: line 1 column 1 (char 0)", 3},
		{"multi-line message", "Traceback (most recent call last):\n  File \"<cell 1>\", line 1, in <module>\nValueError: first\nsecond\n",
			1, "", "ValueError", "first\nsecond", 4},
		{"custom class", "Traceback (most recent call last):\n  File \"<cell 1>\", line 3, in <module>\nBoom: big\n",
			1, "", "Boom", "big", 3},
		{"chained", "Traceback (most recent call last):\n  File \"a\", line 1\nKeyError: 'k'\n\nDuring handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\n  File \"b\", line 3\nRuntimeError: again\n",
			1, "", "RuntimeError", "again", 9},
		{"other language", "main.c: segfault somewhere\n", 139, "main.c: segfault somewhere\n", "Error", "the program ended with exit code 139", 1},
		{"exit without output", "", 3, "", "Error", "the program ended with exit code 3", 1},
		{"bare error line", "boom\nRuntimeError: no traceback here\n", 1, "boom\n", "RuntimeError", "no traceback here", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, tb := splitTraceback(tc.stderr)
			if before != tc.before {
				t.Errorf("before %q, want %q", before, tc.before)
			}
			if before+tb != tc.stderr {
				t.Errorf("split lost text: %q + %q", before, tb)
			}
			c := errorContent(tb, tc.exit)
			if c["ename"] != tc.ename || c["evalue"] != tc.value {
				t.Errorf("ename %q evalue %q, want %q %q", c["ename"], c["evalue"], tc.ename, tc.value)
			}
			if lines := c["traceback"].([]string); len(lines) != tc.tbLines {
				t.Errorf("traceback %q has %d lines, want %d", lines, len(lines), tc.tbLines)
			}
		})
	}
}

func TestTakeTracebackKeepsEarlierOutput(t *testing.T) {
	t.Parallel()
	items := []client.ConsoleItem{
		{Type: "stderr", Text: "early warning\n"},
		{Type: "stdout", Text: "out\n"},
		{Type: "stderr", Text: "late\nTraceback (most recent call last):\n  File \"<cell 1>\", line 1\nOSError: nope\n"},
	}
	got, tb := takeTraceback(items)
	if !strings.HasPrefix(tb, "Traceback") || got[2].Text != "late\n" || got[0].Text != "early warning\n" {
		t.Errorf("takeTraceback: %+v, %q", got, tb)
	}
	if items[2].Text == "late\n" {
		t.Error("takeTraceback changed its input")
	}
}

func TestConsoleOutputs(t *testing.T) {
	t.Parallel()
	raw := [][2]any{
		{"stdout", "a\n"},
		{"stderr", "b\n"},
		{"stdout", ""},
		{"media", []any{"image/png", "iVBORw0KGgo="}},
		{"media", map[string]any{"type": "application/vnd.custom+json", "data": `{"k":1}`}},
		{"html", "<i>x</i>"},
		{"log", []any{"warning", 1.0, "runner", "careful"}},
		{"completion", []any{"x"}},
	}
	items := make([]client.ConsoleItem, len(raw))
	for i, r := range raw {
		items[i] = client.DecodeConsole(r)
	}
	out := consoleOutputs(items)
	b, _ := json.Marshal(out[4].content)
	var kinds []string
	for _, o := range out {
		kinds = append(kinds, o.msgType)
	}
	want := []string{"stream", "stream", "display_data", "display_data", "display_data", "stream"}
	if !reflect.DeepEqual(kinds, want) {
		t.Fatalf("kinds %v, want %v", kinds, want)
	}
	if d := out[2].content["data"].(map[string]any); d["image/png"] != "iVBORw0KGgo=" || !strings.Contains(d["text/plain"].(string), "image/png") {
		t.Errorf("png display_data %v", d)
	}
	if d := out[3].content["data"].(map[string]any); string(d["application/vnd.custom+json"].(json.RawMessage)) != `{"k":1}` {
		t.Errorf("JSON media must be embedded as JSON: %v", d)
	}
	if !strings.Contains(string(b), `"text/html":"\u003ci\u003ex\u003c/i\u003e"`) {
		t.Errorf("html display_data %s", b)
	}
	if out[5].content["name"] != "stderr" || out[5].content["text"] != "careful\n" {
		t.Errorf("log item %v", out[5].content)
	}
}

func TestIsComplete(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code, lang     string
		status, indent string
	}{
		{"print(1)", "python", "complete", ""},
		{"", "python", "complete", ""},
		{"print(1", "python", "incomplete", ""},
		{"x = [1,\n 2", "python", "incomplete", ""},
		{"for i in x:", "python", "incomplete", "    "},
		{"if a:  # why", "python", "incomplete", "    "},
		{"for i in x:\n    print(i)", "python", "incomplete", "    "},
		{"for i in x:\n    print(i)\n\n", "python", "complete", ""},
		{"s = '''abc", "python", "incomplete", ""},
		{"s = '''abc'''", "python", "complete", ""},
		{"s = 'abc", "python", "invalid", ""},
		{"x = 1 + \\", "python", "incomplete", ""},
		{"print(1))", "python", "invalid", ""},
		{"d = {'a': (1, 2)}", "python", "complete", ""},
		{"s = 'a)' # (", "python", "complete", ""},
		{"int main() {", "c", "incomplete", ""},
		{"int main() { return 0; }", "c", "complete", ""},
		{"for x:", "c", "complete", ""},
	}
	for _, tc := range tests {
		status, indent := isComplete(tc.code, tc.lang)
		if status != tc.status || indent != tc.indent {
			t.Errorf("isComplete(%q, %s) = %q %q, want %q %q", tc.code, tc.lang, status, indent, tc.status, tc.indent)
		}
	}
}

func TestCompletionRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code   string
		cursor int
		before string
		start  int
	}{
		{"pri", 3, "pri", 0},
		{"x = os.pa", 9, "x = os.pa", 4},
		{"é = os.pa + 1", 9, "é = os.pa", 4}, // code points, not bytes
		{"print(x)", 6, "print(", 6},
		{"abc", 99, "abc", 0},
	}
	for _, tc := range tests {
		before, start := completionRange(tc.code, tc.cursor)
		if before != tc.before || start != tc.start {
			t.Errorf("completionRange(%q, %d) = %q %d, want %q %d", tc.code, tc.cursor, before, start, tc.before, tc.start)
		}
	}
}

func TestDecodeMsg(t *testing.T) {
	t.Parallel()
	bad := []string{`not json`, `{}`, `{"header": null}`, `{"header": {"msg_id": "1"}}`, `{"header": "x"}`}
	for _, s := range bad {
		if _, err := decodeMsg([]byte(s)); err == nil {
			t.Errorf("decodeMsg(%s): no error", s)
		}
	}
	m, err := decodeMsg([]byte(`{"header": {"msg_id": "1", "msg_type": "execute_request", "extra": 5}, "content": {"code": "1"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.Channel != "shell" || m.Header.MsgType != "execute_request" {
		t.Errorf("decoded %+v", m)
	}
	out := newMsg(chIOPub, "status", "sess", m, map[string]any{"execution_state": "busy"}, time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC))
	b, _ := json.Marshal(out)
	for _, want := range []string{`"parent_header":{"msg_id":"1","msg_type":"execute_request","extra":5}`, `"date":"2026-01-02T03:04:05.000006Z"`,
		`"msg_type":"status"`, `"channel":"iopub"`, `"buffers":[]`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("message %s lacks %s", b, want)
		}
	}
}

func TestSpecsFromImages(t *testing.T) {
	t.Parallel()
	sl := specsFromImages([]apitypes.ImageInfo{
		{Name: "python:3.11-debian"}, {Name: "python:3.12-debian"}, {Name: "nodejs:18-debian"}, {Name: "weird:1"},
	})
	var names []string
	for n := range sl.Kernelspecs {
		names = append(names, n)
	}
	for _, want := range []string{"bai-python-3.11-debian", "bai-python-3.12-debian", "bai-nodejs", "bai-weird"} {
		if sl.Kernelspecs[want] == nil {
			t.Errorf("no spec %s among %v", want, names)
		}
	}
	if sl.Default != "bai-nodejs" {
		t.Errorf("default %q, want the first by name when there is no bai-python", sl.Default)
	}
	if l := sl.Kernelspecs["bai-nodejs"].Spec.Language; l != "javascript" {
		t.Errorf("nodejs language %q", l)
	}
	if v := sl.Kernelspecs["bai-python-3.12-debian"].langInfo["version"]; v != "3.12" {
		t.Errorf("version %v", v)
	}
}
