//go:build !(linux && amd64)

package jail

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// The tracer reads x86-64 registers; elsewhere only noop mode works, and
// enforce and watch refuse to start rather than run code unconfined.

func installFilter([]unix.SockFilter) error {
	return fmt.Errorf("seccomp filter: unsupported on %s/%s", runtime.GOOS, runtime.GOARCH)
}

func supervise(o Options, _ Policy, _ string) int {
	fmt.Fprintf(os.Stderr, "bai-jail: mode %s is not supported on %s/%s; only noop is\n", o.Mode, runtime.GOOS, runtime.GOARCH)
	return 125
}
