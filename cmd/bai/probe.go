package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"baigo.dev/bai/agent/resources/gpu"
)

// probeGPUs prints the GPUs an agent would offer, one per line with the
// source they came from, or "no GPUs: <reason>". Only a malformed fake spec
// is an error: a host without GPUs is a normal answer.
func probeGPUs(w io.Writer, fakeSpec string) error {
	if strings.TrimSpace(fakeSpec) != "" {
		if _, err := gpu.ParseFake(fakeSpec); err != nil {
			return err
		}
	}
	devs, source, reason := gpu.Discover(fakeSpec)
	if len(devs) == 0 {
		_, err := fmt.Fprintf(w, "no GPUs: %s\n", reason)
		return err
	}
	fmt.Fprintf(w, "source: %s\n", source)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INDEX\tMODEL\tMEMORY\tUUID")
	for _, d := range devs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", d.Index, d.Model, gib(d.MemoryBytes), d.UUID)
	}
	return tw.Flush()
}

// gib renders bytes in GiB with at most one decimal, e.g. "80 GiB".
func gib(n int64) string {
	if n <= 0 {
		return "unknown"
	}
	return strings.TrimSuffix(strconv.FormatFloat(float64(n)/(1<<30), 'f', 1, 64), ".0") + " GiB"
}
