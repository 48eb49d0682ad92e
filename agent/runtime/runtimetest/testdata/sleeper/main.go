// Command sleeper stands in for the kernel runner in the runtime conformance
// suite: it prints a greeting, then exits with BAI_TEST_EXIT if set, or
// waits for SIGTERM. With BAI_TEST_WORK set, it also waits for a file named
// "go" in its working directory, then burns some cpu, writes and syncs a
// file there, and prints "work done", so the suite can watch the usage
// statistics grow.
package main

import (
	"bytes"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// Work done on BAI_TEST_WORK.
const (
	workCPU   = 300 * time.Millisecond
	workBytes = 4 << 20
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func work() {
	for {
		if _, err := os.Stat("go"); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	end := cpuTime() + workCPU
	n := 0
	for cpuTime() < end {
		for i := 0; i < 1e6; i++ {
			n += i
		}
	}
	f, err := os.Create("written")
	if err == nil {
		_, err = f.Write(bytes.Repeat([]byte{byte(n)}, workBytes))
		if err == nil {
			err = f.Sync()
		}
		f.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "work failed:", err)
		return
	}
	fmt.Println("work done")
}

func main() {
	fmt.Println("sleeper started")
	fmt.Fprintln(os.Stderr, "sleeper stderr")
	if v := os.Getenv("BAI_TEST_EXIT"); v != "" {
		n, _ := strconv.Atoi(v)
		os.Exit(n)
	}
	if os.Getenv("BAI_TEST_WORK") != "" {
		go work()
	}
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
	<-ch
}
