// Command sleeper stands in for the kernel runner in the runtime conformance
// suite: it prints a greeting, then exits with BAI_TEST_EXIT if set, or
// waits for SIGTERM.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

func main() {
	fmt.Println("sleeper started")
	fmt.Fprintln(os.Stderr, "sleeper stderr")
	if v := os.Getenv("BAI_TEST_EXIT"); v != "" {
		n, _ := strconv.Atoi(v)
		os.Exit(n)
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	<-ch
}
