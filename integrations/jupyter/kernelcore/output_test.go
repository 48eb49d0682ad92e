package kernelcore_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/integrations/jupyter/kernelcore"
)

// sink records the outputs of a Translator as "stream:name:text" and
// "display:mime1,mime2".
type sink struct{ got []string }

func (s *sink) outputs() kernelcore.Outputs {
	return kernelcore.Outputs{
		Stream: func(name, text string) { s.got = append(s.got, "stream:"+name+":"+text) },
		Display: func(data map[string]any) {
			var keys []string
			for _, k := range []string{"text/html", "image/svg+xml", "image/png", "application/x-bai-drawing", "text/plain"} {
				if _, ok := data[k]; ok {
					keys = append(keys, k)
				}
			}
			s.got = append(s.got, "display:"+strings.Join(keys, ","))
		},
	}
}

const zeroDiv = "Traceback (most recent call last):\n  File \"<cell 3>\", line 1, in <module>\n    1/0\n    ~^~\nZeroDivisionError: division by zero\n"

func TestTranslator(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		python     bool
		items      []client.ConsoleItem
		failed     bool
		want       []string
		wantHeld   string
		wantOutput int
	}{
		{
			name:   "stdout, stderr and media in order",
			python: true,
			items: []client.ConsoleItem{
				{Type: "stdout", Text: "a\n"}, {Type: "stderr", Text: "warn\n"},
				{Type: "media", MIME: "image/svg+xml", Text: "<svg/>"}, {Type: "html", Text: "<b>x</b>"},
				{Type: "media", MIME: "image/png", Text: "iVBORw0KGgo="},
			},
			want: []string{"stream:stdout:a\n", "stream:stderr:warn\n", "display:image/svg+xml,text/plain", "display:text/html,text/plain", "display:image/png,text/plain"},
		},
		{
			name:     "final traceback is held for the error",
			python:   true,
			items:    []client.ConsoleItem{{Type: "stdout", Text: "before\n"}, {Type: "stderr", Text: zeroDiv}},
			failed:   true,
			want:     []string{"stream:stdout:before\n"},
			wantHeld: zeroDiv,
		},
		{
			name:   "traceback split across items and mid-line",
			python: true,
			items: []client.ConsoleItem{
				{Type: "stderr", Text: "note\nTrace"}, {Type: "stderr", Text: "back (most recent call last):\n  File"},
				{Type: "stderr", Text: " \"<cell 3>\", line 1, in <module>\n    1/0\n    ~^~\nZeroDivisionError: division by zero\n"},
			},
			failed:   true,
			want:     []string{"stream:stderr:note\n"},
			wantHeld: zeroDiv,
		},
		{
			name:   "printed traceback followed by output is stderr",
			python: true,
			items: []client.ConsoleItem{
				{Type: "stderr", Text: zeroDiv}, {Type: "stdout", Text: "after\n"},
			},
			want: []string{"stream:stderr:" + zeroDiv, "stream:stdout:after\n"},
		},
		{
			name:   "traceback of a successful run is stderr",
			python: true,
			items:  []client.ConsoleItem{{Type: "stderr", Text: zeroDiv}},
			want:   []string{"stream:stderr:" + zeroDiv},
		},
		{
			name:     "compile-time syntax error without header",
			python:   true,
			items:    []client.ConsoleItem{{Type: "stderr", Text: "  File \"<cell 2>\", line 1\n    return 1\n    ^^^^^^^^\nSyntaxError: 'return' outside function\n"}},
			failed:   true,
			wantHeld: "  File \"<cell 2>\", line 1\n    return 1\n    ^^^^^^^^\nSyntaxError: 'return' outside function\n",
		},
		{
			name:   "partial stderr line that cannot begin a traceback goes out at once",
			python: true,
			items:  []client.ConsoleItem{{Type: "stderr", Text: "progress 10%"}},
			want:   []string{"stream:stderr:progress 10%"},
		},
		{
			name:   "other languages stream stderr as it comes",
			python: false,
			items:  []client.ConsoleItem{{Type: "stderr", Text: zeroDiv}},
			failed: true,
			want:   []string{"stream:stderr:" + zeroDiv},
		},
		{
			name:   "bad MIME type falls back to text",
			python: true,
			items:  []client.ConsoleItem{{Type: "media", MIME: "not a type", Text: "x"}, {Type: "completion", Text: "zip"}},
			want:   []string{"display:text/plain"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &sink{}
			tr := kernelcore.NewTranslator(s.outputs(), tt.python)
			for _, it := range tt.items {
				tr.Item(it)
			}
			held := tr.Finish(tt.failed)
			if fmt.Sprintf("%q", s.got) != fmt.Sprintf("%q", tt.want) {
				t.Errorf("outputs %q\nwant    %q", s.got, tt.want)
			}
			if held != tt.wantHeld {
				t.Errorf("held %q, want %q", held, tt.wantHeld)
			}
		})
	}
}

func TestMediaBundle(t *testing.T) {
	t.Parallel()
	b := kernelcore.MediaBundle("image/png", "iVBORw0KGgo=") // 8 bytes once decoded
	if b["image/png"] != "iVBORw0KGgo=" || b["text/plain"] != "[media image/png, 8 bytes]" {
		t.Fatalf("png bundle %v", b)
	}
	b = kernelcore.MediaBundle("text/html", "<p>é</p>")
	if b["text/html"] != "<p>é</p>" || b["text/plain"] != "[media text/html, 9 bytes]" {
		t.Fatalf("html bundle %v", b)
	}
}

func TestParsePythonTraceback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text, ename, evalue string
		ok                        bool
	}{
		{"name error", "Traceback (most recent call last):\n  File \"<cell 1>\", line 1, in <module>\n    x\nNameError: name 'x' is not defined\n", "NameError", "name 'x' is not defined", true},
		{"zero division", zeroDiv, "ZeroDivisionError", "division by zero", true},
		{"message on several lines", "Traceback (most recent call last):\n  File \"<cell 1>\", line 2, in f\nValueError: bad\nthing\n", "ValueError", "bad\nthing", true},
		{"no message", "Traceback (most recent call last):\n  File \"<cell 4>\", line 2, in <module>\n    time.sleep(60)\nKeyboardInterrupt\n", "KeyboardInterrupt", "", true},
		{"module-qualified", "Traceback (most recent call last):\n  File \"<cell 1>\", line 1, in <module>\njson.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)\n", "JSONDecodeError", "Expecting value: line 1 column 1 (char 0)", true},
		{"chained: the last one counts", "Traceback (most recent call last):\n  File \"<cell 1>\", line 2, in <module>\nKeyError: 'a'\n\nDuring handling of the above exception, another exception occurred:\n\nTraceback (most recent call last):\n  File \"<cell 1>\", line 4, in <module>\nRuntimeError: wrapped\n", "RuntimeError", "wrapped", true},
		{"syntax error", "Traceback (most recent call last):\n  File \"/usr/lib/python3.11/ast.py\", line 50, in parse\n    return compile(source, filename, mode, flags,\n           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n  File \"<cell 2>\", line 1\n    x = (\n        ^\nSyntaxError: '(' was never closed\n", "SyntaxError", "'(' was never closed", true},
		{"exception group", "  + Exception Group Traceback (most recent call last):\n  |   File \"<cell 1>\", line 1, in <module>\n  | ExceptionGroup: many (1 sub-exception)\n  +-+---------------- 1 ----------------\n    | ValueError: one\n    +------------------------------------\n", "ExceptionGroup", "many (1 sub-exception)", true},
		{"not a traceback", "something odd\nhappened here\n", "Error", "happened here", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pe, ok := kernelcore.ParsePythonTraceback(tt.text)
			if pe.Name != tt.ename || pe.Value != tt.evalue || ok != tt.ok {
				t.Fatalf("got %q %q %v, want %q %q %v", pe.Name, pe.Value, ok, tt.ename, tt.evalue, tt.ok)
			}
			if strings.Join(pe.Traceback, "\n") != strings.TrimRight(tt.text, "\n") {
				t.Fatalf("traceback lines %q", pe.Traceback)
			}
		})
	}
}

func TestMediaBundleJSON(t *testing.T) {
	t.Parallel()
	b := kernelcore.MediaBundle("application/vnd.custom+json", `{"k":1}`)
	if raw, ok := b["application/vnd.custom+json"].(json.RawMessage); !ok || string(raw) != `{"k":1}` {
		t.Errorf("JSON media must be embedded as JSON, as nbformat stores it: %#v", b)
	}
	b = kernelcore.MediaBundle("application/json", `{not json`)
	if b["application/json"] != `{not json` {
		t.Errorf("invalid JSON stays text: %#v", b)
	}
}

func TestExceptionContent(t *testing.T) {
	t.Parallel()
	e := kernelcore.Exception{Name: "SessionError", Value: "gone"}
	c := e.Reply()
	if c["status"] != "error" || c["ename"] != "SessionError" || c["evalue"] != "gone" || fmt.Sprint(c["traceback"]) != "[SessionError: gone]" {
		t.Errorf("reply without a traceback %v", c)
	}
	pe, _ := kernelcore.ParsePythonTraceback(zeroDiv)
	if c := pe.Content(); c["status"] != nil || len(c["traceback"].([]string)) != 5 {
		t.Errorf("error content %v", c)
	}
}
