package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"baigo.dev/bai/common/types"
	"baigo.dev/bai/e2e/compat"
)

// The jail's overhead: the same workloads inside one session's container,
// started through bai-jail in noop mode (the jail execs the program and is
// gone: the baseline) and in enforce mode (the default), alternating, in
// one run. The programs time themselves, so docker exec's own cost is not
// counted. On a shared VM single runs of the same workload vary by ±25%,
// so each is kept short and repeated many times, alternating the modes,
// and the table gives medians with their interquartile ranges.

// jailProbe is the workload program, compiled in the session. Modes:
//
//	allowed  syscalls the filter allows without the tracer: getppid, stat,
//	         open for reading, read, close, write to /dev/null
//	checked  open for writing, which the tracer checks against the path
//	         allowlist (one round trip to the jail per call)
//	run ...  fork and exec the rest of the arguments, wait (a compile job)
//
// It prints the elapsed nanoseconds.
const jailProbe = `
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
	long long start = now();
	if (argc > 1 && strcmp(argv[1], "allowed") == 0) {
		int null = open("/dev/null", O_WRONLY);
		char buf[256];
		struct stat st;
		for (int i = 0; i < 100000; i++) {
			getppid();
			stat("/usr/bin/gcc", &st);
			write(null, buf, 64);
			if (i % 4 == 0) {
				int fd = open("/etc/hostname", O_RDONLY);
				read(fd, buf, sizeof buf);
				close(fd);
			}
		}
	} else if (argc > 1 && strcmp(argv[1], "checked") == 0) {
		for (int i = 0; i < 5000; i++) {
			int fd = open("/tmp/jail-bench-out", O_WRONLY | O_CREAT | O_TRUNC, 0644);
			if (fd < 0) { perror("open"); return 1; }
			close(fd);
		}
	} else if (argc > 2 && strcmp(argv[1], "run") == 0) {
		pid_t pid = fork();
		if (pid == 0) { execvp(argv[2], argv + 2); _exit(127); }
		int status;
		waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) { fprintf(stderr, "job failed\n"); return 1; }
	} else {
		fprintf(stderr, "usage: probe allowed|checked|run CMD...\n");
		return 2;
	}
	printf("%lld\n", now() - start);
	return 0;
}
`

const jailHello = `#include <stdio.h>
int main(void) { puts("hello"); return 0; }
`

type jailWorkload struct {
	name string
	args []string
}

var jailWorkloads = []jailWorkload{
	{"allowlisted syscalls (400k getppid/stat/write/open-read)", []string{"/tmp/probe", "allowed"}},
	{"checked calls (5k open for writing)", []string{"/tmp/probe", "checked"}},
	{"compile and run (gcc hello.c && ./hello)", []string{"/tmp/probe", "run", "sh", "-c", "gcc -O0 -o /tmp/hello /tmp/hello.c && /tmp/hello >/dev/null"}},
}

// benchJail measures the workloads in a session of image (a C image).
func benchJail(ctx context.Context, c *compat.Client, image string, rounds int, track func(string), log *slog.Logger, out io.Writer) error {
	name := fmt.Sprintf("bench-jail-%d", os.Getpid())
	res, err := c.Create(ctx, compat.CreateOptions{Image: image, Name: name})
	if err != nil {
		return fmt.Errorf("jail bench session: %w", err)
	}
	track(res.ID())
	if err := waitRunning(ctx, c, res); err != nil {
		return err
	}
	ids, err := exec.CommandContext(ctx, "docker", "ps", "-q", "--filter", "label="+types.LabelSessionID+"="+res.ID()).Output()
	if err != nil || len(strings.Fields(string(ids))) != 1 {
		return fmt.Errorf("container of session %s: %q %v", res.ID(), ids, err)
	}
	cid := strings.Fields(string(ids))[0]
	// In the container, as the session's user; sources on stdin.
	dexec := func(stdin string, args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "docker", append([]string{"exec", "-i", "-u", "1000:1000", "-w", "/tmp", cid}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, stderr.String())
		}
		return string(b), nil
	}
	if _, err := dexec(jailProbe, "sh", "-c", "cat > /tmp/probe.c && gcc -O2 -o /tmp/probe /tmp/probe.c"); err != nil {
		return err
	}
	if _, err := dexec(jailHello, "sh", "-c", "cat > /tmp/hello.c"); err != nil {
		return err
	}
	const jailBin = "/opt/bai/lib/bai-jail"
	modes := []string{"noop", "enforce"}
	fmt.Fprintf(out, "\njail overhead (session image %s; %d rounds alternating noop and enforce; median [interquartile range])\n\n", image, rounds)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "workload\tenforce\tnoop (baseline)\tratio of medians\ttarget")
	fmt.Fprintln(tw, "--------\t-------\t---------------\t----------------\t------")
	for _, w := range jailWorkloads {
		times := map[string][]time.Duration{}
		for r := 0; r < rounds+1; r++ {
			for _, m := range modes {
				args := append([]string{jailBin, "--mode", m, "--policy", "c", "--"}, w.args...)
				s, err := dexec("", args...)
				if err != nil {
					return err
				}
				ns, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
				if err != nil {
					return fmt.Errorf("%s in %s mode printed %q", w.name, m, s)
				}
				if r > 0 { // the first round warms caches
					times[m] = append(times[m], time.Duration(ns))
				}
			}
		}
		enf, base := quantile(times["enforce"], 0.5), quantile(times["noop"], 0.5)
		ratio := float64(enf) / float64(base)
		target := "≤ 1.10×"
		if strings.HasPrefix(w.name, "checked") {
			target = "(no target: a tracer round trip per call)"
		} else if ratio <= 1.10 {
			target += " ok"
		} else {
			target += " MISSED"
		}
		iqr := func(d []time.Duration) string {
			return fmt.Sprintf("[%v–%v]", quantile(d, 0.25).Round(time.Millisecond/10), quantile(d, 0.75).Round(time.Millisecond/10))
		}
		fmt.Fprintf(tw, "%s\t%v %s\t%v %s\t%.2f×\t%s\n", w.name, enf.Round(time.Millisecond/10), iqr(times["enforce"]),
			base.Round(time.Millisecond/10), iqr(times["noop"]), ratio, target)
		log.Info("jail bench", "workload", w.name, "enforce", enf, "noop", base)
	}
	return tw.Flush()
}

// quantile is the q-quantile of d (nearest rank).
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(q*float64(len(s)-1)+0.5)]
}
