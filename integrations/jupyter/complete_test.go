package jupyter_test

import (
	"fmt"
	"testing"

	"baigo.dev/bai/integrations/jupyter"
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
			status, indent := jupyter.IsCompletePython(tt.code)
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
			got, start, stop := jupyter.CompletionRange(tt.code, tt.cursor, tt.matches, tt.trim)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) || start != tt.start || stop != tt.stop {
				t.Fatalf("got %q %d:%d, want %q %d:%d", got, start, stop, tt.want, tt.start, tt.stop)
			}
		})
	}
}
