package relpath_test

import (
	"errors"
	"strings"
	"testing"

	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/relpath"
)

func TestClean(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in, alias, want, err string
	}{
		{"", "", ".", ""},
		{"a/./b//c/", "", "a/b/c", ""},
		{"/home/work", "/home/work", ".", ""},
		{"/home/work/x/y", "/home/work", "x/y", ""},
		{"/home/workshop", "/home/work", "", "is absolute"},
		{"/etc/passwd", "", "", `path "/etc/passwd" is absolute; give a path relative to the root`},
		{"a/../../b", "", "", `contains ".."; paths must stay inside the root`},
		{"/home/work/../x", "/home/work", "", `path "/home/work/../x" contains ".."`},
		{"a\x00b", "", "", "NUL byte"},
		{"..x/y..", "", "..x/y..", ""},
	} {
		got, err := relpath.Clean(c.in, "the root", c.alias)
		if c.err == "" {
			if err != nil || got != c.want {
				t.Errorf("Clean(%q) = %q, %v; want %q", c.in, got, err, c.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.err) || !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Clean(%q) = %q, %v; want an invalid-argument error with %q", c.in, got, err, c.err)
		}
	}
}
