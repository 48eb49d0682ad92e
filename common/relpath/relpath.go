// Package relpath checks the paths clients give to the file APIs (a
// session's /home/work on the agent, a virtual folder on the manager): one
// rule set, so both refuse the same things with the same words. Only the
// lexical check lives here; each side then opens the result through os.Root,
// which also refuses symlinks that lead out.
package relpath

import (
	"fmt"
	"path"
	"strings"

	"baigo.dev/bai/common/errdefs"
)

// Clean returns p relative to its root ("." for the root itself). where
// names the root in messages; alias, when not empty, is an absolute path
// that stands for the root (p may start with it). NUL bytes, other absolute
// paths and ".." components are refused with errdefs.ErrInvalidArgument;
// messages quote p as given.
func Clean(p, where, alias string) (string, error) {
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("path %q contains a NUL byte: %w", p, errdefs.ErrInvalidArgument)
	}
	rel := p
	if alias != "" && (p == alias || strings.HasPrefix(p, alias+"/")) {
		rel = strings.TrimPrefix(strings.TrimPrefix(p, alias), "/")
	}
	if strings.HasPrefix(rel, "/") {
		return "", fmt.Errorf("path %q is absolute; give a path relative to %s: %w", p, where, errdefs.ErrInvalidArgument)
	}
	for _, c := range strings.Split(rel, "/") {
		if c == ".." {
			return "", fmt.Errorf("path %q contains \"..\"; paths must stay inside %s: %w", p, where, errdefs.ErrInvalidArgument)
		}
	}
	if rel == "" {
		return ".", nil
	}
	return path.Clean(rel), nil
}
