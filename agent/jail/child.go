package jail

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// execProgram replaces the jail with argv[0] (looked up in env's PATH).
func execProgram(argv []string, env []string) int {
	bin, err := lookPath(argv[0], envValue(env, "PATH"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "bai-jail: %v\n", err)
		return 127
	}
	err = unix.Exec(bin, argv, env)
	fmt.Fprintf(os.Stderr, "bai-jail: exec %s: %v\n", bin, err)
	return 126
}

// lookPath finds file like a shell would, in the program's PATH (not the
// jail's own environment, which may differ).
func lookPath(file, pathEnv string) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	if pathEnv == "" {
		pathEnv = "/usr/local/bin:/usr/bin:/bin"
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: not found in PATH", file)
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// childMain runs in the re-executed jail under ptrace: it installs the
// filter on this thread and execs the program, which inherits the filter.
func childMain(args []string) int {
	o, err := parseArgs(args, os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bai-jail: %v\n", err)
		return 125
	}
	pol, _, err := Load(o.Policy, o.PolicyDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bai-jail: %v\n", err)
		return 125
	}
	env := pol.FilterEnv(os.Environ(), o.Keep)
	bin, err := lookPath(o.Argv[0], envValue(env, "PATH"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "bai-jail: %v\n", err)
		return 127
	}
	if err := installFilter(pol.Program()); err != nil {
		fmt.Fprintf(os.Stderr, "bai-jail: %v\n", err)
		return 125
	}
	err = unix.Exec(bin, o.Argv, env)
	if errors.Is(err, unix.EPERM) {
		fmt.Fprintf(os.Stderr, "bai-jail: exec %s: refused by the jail policy\n", bin)
	} else {
		fmt.Fprintf(os.Stderr, "bai-jail: exec %s: %v\n", bin, err)
	}
	return 126
}
