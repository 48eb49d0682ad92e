package kernelcore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"baigo.dev/bai/integrations/jupyter/kernelcore"
)

func TestIsCompletePython(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code, status, indent string
	}{
		{"", "complete", ""},
		{"1", "complete", ""},
		{"print('hello, world')", "complete", ""},
		{"x = [1, 2]\ny = x[1:]", "complete", ""},
		{"f = lambda: 1", "complete", ""},
		{"d = {'a': 1}", "complete", ""},
		{"s = 'a:b(' # not code: (", "complete", ""},
		{"def f():\n    return 1\n\n", "complete", ""},
		{"for i in range(3):", "incomplete", "    "},
		{"for i in range(3):  # loop", "incomplete", "    "},
		{"if x:\n    if y:", "incomplete", "        "},
		{"if x:\n    pass", "incomplete", "    "},
		{"if x:\n    pass\n", "incomplete", "    "},
		{"if x:\n    pass\n\n", "complete", ""},
		{"x = (1,", "incomplete", ""},
		{"x = [\n  1,\n", "incomplete", ""},
		{"f(a,\n  b)", "complete", ""},
		{"s = '''abc", "incomplete", ""},
		{"s = \"\"\"a\nb\"\"\"", "complete", ""},
		{"x = 1 + \\", "incomplete", ""},
		{"@decorator", "incomplete", "    "},
		{"x = )", "invalid", ""},
		{"x = (]", "invalid", ""},
		{"s = 'abc", "invalid", ""},
		{"s = 'it\\'s'", "complete", ""},
		{"s = r'\\\\'", "complete", ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.code), func(t *testing.T) {
			t.Parallel()
			status, indent := kernelcore.IsCompletePython(tt.code)
			if status != tt.status || indent != tt.indent {
				t.Fatalf("got %s %q, want %s %q", status, indent, tt.status, tt.indent)
			}
		})
	}
}

func TestCompletionRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code        string
		cursor      int
		matches     []string
		trim        bool
		want        []string
		start, stop int
	}{
		{"zi", 2, []string{"zip("}, true, []string{"zip"}, 0, 2},
		{"zi", 2, []string{"zip("}, false, []string{"zip("}, 0, 2},
		{"x = os.pa", 9, []string{"os.path", "os.pardir"}, true, []string{"os.path", "os.pardir"}, 4, 9},
		{"x = os.pa", 9, []string{"path", "pardir"}, true, []string{"path", "pardir"}, 7, 9},
		{"print(my_v) + 1", 10, []string{"my_var"}, true, []string{"my_var"}, 6, 10},
		{"é = my_v", 8, []string{"my_var"}, true, []string{"my_var"}, 4, 8}, // code points, not bytes
		{"x = ", 4, nil, true, []string{}, 4, 4},
		{"abc", 99, []string{"abcd"}, true, []string{"abcd"}, 0, 3},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q@%d", tt.code, tt.cursor), func(t *testing.T) {
			t.Parallel()
			got, start, stop := kernelcore.CompletionRange(tt.code, tt.cursor, tt.matches, tt.trim)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || start != tt.start || stop != tt.stop {
				t.Fatalf("got %q %d:%d, want %q %d:%d", got, start, stop, tt.want, tt.start, tt.stop)
			}
		})
	}
}

func TestIsCompleteReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code   string
		python bool
		want   string
	}{
		{"for i in x:", true, `{"indent":"    ","status":"incomplete"}`},
		{"print(1)", true, `{"status":"complete"}`},
		{"int main() {", false, `{"status":"unknown"}`},
	}
	for _, tt := range tests {
		content, _ := json.Marshal(map[string]any{"code": tt.code})
		if got, _ := json.Marshal(kernelcore.IsCompleteReply(content, tt.python)); string(got) != tt.want {
			t.Errorf("IsCompleteReply(%q, %v) = %s, want %s", tt.code, tt.python, got, tt.want)
		}
	}
}

func TestCompleteReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		content string
		answer  []any
		err     error
		asked   string
		want    string
	}{
		{`{"code":"y = pri","cursor_pos":7}`, []any{"print("}, nil, "y = pri",
			`{"cursor_end":7,"cursor_start":4,"matches":["print"],"metadata":{},"status":"ok"}`},
		{`{"code":"é = os.pa + 1","cursor_pos":9}`, []any{"os.path", 5}, nil, "é = os.pa",
			`{"cursor_end":9,"cursor_start":4,"matches":["os.path"],"metadata":{},"status":"ok"}`},
		{`{"code":"   "}`, nil, nil, "",
			`{"cursor_end":3,"cursor_start":3,"matches":[],"metadata":{},"status":"ok"}`},
		{`{"code":"pri"}`, nil, errors.New("session gone"), "pri",
			`{"cursor_end":3,"cursor_start":0,"matches":[],"metadata":{},"status":"ok"}`},
	}
	for _, tt := range tests {
		asked := ""
		reply, err := kernelcore.CompleteReply(context.Background(), json.RawMessage(tt.content), true, func(_ context.Context, before string) ([]any, error) {
			asked = before
			return tt.answer, tt.err
		})
		got, _ := json.Marshal(reply)
		if string(got) != tt.want || asked != tt.asked || !errors.Is(err, tt.err) {
			t.Errorf("CompleteReply(%s) = %s, %v (asked %q), want %s (asked %q)", tt.content, got, err, asked, tt.want, tt.asked)
		}
	}
}
