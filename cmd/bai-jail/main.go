// Command bai-jail confines a program and its descendants to a policy: a
// seccomp allowlist plus ptrace-enforced path, exec, fork and signal rules.
// The agent mounts it into every session container (see agent/jail).
//
//	bai-jail [--mode enforce|watch|noop] [--policy NAME] [--policy-dir DIR]
//	         [--log-fd N] [--keep-env K1,K2] -- program [args...]
package main

import (
	"os"

	"baigo.dev/bai/agent/jail"
)

func main() {
	os.Exit(jail.Main(os.Args[1:]))
}
