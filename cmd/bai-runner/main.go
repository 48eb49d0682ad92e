// Command bai-runner is the kernel runner: the in-container daemon that the
// agent mounts into every kernel container and runs as its entrypoint. See
// package baigo.dev/bai/agent/runner.
package main

import (
	"os"

	"baigo.dev/bai/agent/runner"
)

func main() { os.Exit(runner.Main()) }
