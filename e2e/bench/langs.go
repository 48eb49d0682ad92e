package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"text/tabwriter"
	"time"

	"baigo.dev/bai/e2e/compat"
	"baigo.dev/bai/e2e/langs"
)

// langRow is one language's line of the per-language table.
type langRow struct {
	key, image  string
	cold, base  time.Duration
	rtt         time.Duration // 0 when not measured
	err         string
	coldRuns    int
	rttMeasured bool
}

// selectLangs resolves the -langs flag against the local images: "all"
// picks every contract language with an image, "none" or "" none.
func selectLangs(ctx context.Context, flagValue string, log *slog.Logger) ([]langs.Lang, map[string]string, error) {
	v := strings.TrimSpace(flagValue)
	if v == "" || v == "none" {
		return nil, nil, nil
	}
	images, err := langs.LocalImages(ctx)
	if err != nil {
		return nil, nil, err
	}
	want := map[string]bool{}
	if v != "all" {
		for _, k := range strings.Split(v, ",") {
			if _, ok := langs.ByKey(strings.TrimSpace(k)); !ok {
				return nil, nil, fmt.Errorf("-langs: unknown language %q (known: %s)", k, strings.Join(langs.Keys(), ","))
			}
			want[strings.TrimSpace(k)] = true
		}
	}
	var out []langs.Lang
	refs := map[string]string{}
	for _, l := range langs.All() {
		if len(want) > 0 && !want[l.Key] {
			continue
		}
		r := images[l.Key]
		if len(r) == 0 {
			log.Warn("language skipped: no image", "lang", l.Key, "contract_image", l.DockerRef())
			continue
		}
		refs[l.Key] = r[0]
		for _, x := range r {
			if x == l.DockerRef() {
				refs[l.Key] = x
			}
		}
		out = append(out, l)
	}
	return out, refs, nil
}

// benchLangs measures every selected language: create → first hello output
// against docker run of the same program with the image's toolchain, and
// the round trip of a trivial statement for REPL languages.
func benchLangs(ctx context.Context, c *compat.Client, ls []langs.Lang, refs map[string]string, coldRuns, rttRuns int, track func(string), log *slog.Logger) []langRow {
	var rows []langRow
	for _, l := range ls {
		log.Info("language", "lang", l.Key, "image", refs[l.Key])
		row := langRow{key: l.Key, image: refs[l.Key], coldRuns: coldRuns}
		if err := benchLang(ctx, c, l, refs[l.Key], coldRuns, rttRuns, track, &row); err != nil {
			row.err = err.Error()
			log.Warn("language failed", "lang", l.Key, "err", err)
		}
		rows = append(rows, row)
		if ctx.Err() != nil {
			break
		}
	}
	return rows
}

func benchLang(ctx context.Context, c *compat.Client, l langs.Lang, ref string, coldRuns, rttRuns int, track func(string), row *langRow) error {
	// Untimed warm-up of both sides (page cache, first compile of a
	// toolchain's own files).
	if _, id, err := coldStartCode(ctx, c, l.Key, fmt.Sprintf("bench-%s-warm-%d", l.Key, os.Getpid()), l.Hello, "hello"); err != nil {
		track(id)
		return fmt.Errorf("warm-up create: %w", err)
	} else if err := destroy(ctx, c, id); err != nil {
		track(id)
		return err
	}
	if _, err := dockerRunProgram(ctx, ref, l); err != nil {
		return fmt.Errorf("warm-up docker run: %w", err)
	}
	var ours, base []time.Duration
	for i := range coldRuns {
		d, id, err := coldStartCode(ctx, c, l.Key, fmt.Sprintf("bench-%s-cold-%d-%d", l.Key, os.Getpid(), i), l.Hello, "hello")
		if err != nil {
			track(id)
			return err
		}
		ours = append(ours, d)
		if err := destroy(ctx, c, id); err != nil {
			track(id)
			return err
		}
		b, err := dockerRunProgram(ctx, ref, l)
		if err != nil {
			return err
		}
		base = append(base, b)
	}
	row.cold, row.base = pct(ours, 50), pct(base, 50)

	if !l.REPL || rttRuns <= 0 {
		return nil
	}
	name := fmt.Sprintf("bench-%s-rtt-%d", l.Key, os.Getpid())
	res, err := c.Create(ctx, compat.CreateOptions{Image: l.Key, Name: name})
	if err != nil {
		return err
	}
	defer func() {
		if err := destroy(context.WithoutCancel(ctx), c, res.ID()); err != nil {
			track(res.ID())
		}
	}()
	if err := waitRunning(ctx, c, res); err != nil {
		return err
	}
	var rtt []time.Duration
	for i := range rttRuns + 3 {
		start := time.Now()
		r, err := c.RunCode(ctx, name, l.Trivial)
		if err != nil {
			return fmt.Errorf("round trip: %w", err)
		}
		if r.Status != "finished" || r.Exit() != 0 {
			return fmt.Errorf("round trip of %q: status %s exit %d stderr %q", l.Trivial, r.Status, r.Exit(), r.Stderr())
		}
		if i >= 3 {
			rtt = append(rtt, time.Since(start))
		}
	}
	row.rtt, row.rttMeasured = pct(rtt, 50), true
	return nil
}

// coldStartCode creates a session from image and runs code until its
// stdout contains want.
func coldStartCode(ctx context.Context, c *compat.Client, image, name, code, want string) (time.Duration, string, error) {
	start := time.Now()
	res, err := c.Create(ctx, compat.CreateOptions{Image: image, Name: name})
	if err != nil {
		return 0, "", err
	}
	if err := waitRunning(ctx, c, res); err != nil {
		return 0, res.ID(), err
	}
	runID := compat.NewRunID()
	mode := "query"
	var seen strings.Builder
	for {
		r, _, err := c.Execute(ctx, name, mode, runID, code, nil)
		if err != nil {
			return 0, res.ID(), err
		}
		items, err := r.Items()
		if err != nil {
			return 0, res.ID(), err
		}
		for _, it := range items {
			if s, ok := it.Data.(string); ok {
				if it.Type == "stdout" && strings.Contains(s, want) {
					return time.Since(start), res.ID(), nil
				}
				seen.WriteString(it.Type + ":" + s)
			}
		}
		if r.Status != "continued" {
			return 0, res.ID(), fmt.Errorf("hello finished %s without %q on stdout (console %q)", r.Status, want, clip(seen.String(), 300))
		}
		mode, code = "continue", ""
	}
}

// dockerRunProgram times `docker run --rm -i --cpus 1 IMAGE sh -c 'cat >
// main.EXT && <toolchain>'` with the hello program on stdin, until "hello"
// is read. The baseline gets the same single cpu as a default session:
// compilers such as javac run their own threads and are much faster with
// the whole machine, which would compare different resources.
func dockerRunProgram(ctx context.Context, ref string, l langs.Lang) (time.Duration, error) {
	args := append([]string{"run", "--rm", "-i", "--cpus", "1", ref}, l.BaselineCommand()...)
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdin = strings.NewReader(l.Hello)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	line, rerr := bufio.NewReader(stdout).ReadString('\n')
	took := time.Since(start)
	_, _ = io.Copy(io.Discard, stdout)
	werr := cmd.Wait()
	if rerr != nil || strings.TrimSpace(line) != "hello" || werr != nil {
		return 0, fmt.Errorf("docker run %s printed %q (stderr %q): %v %v", ref, line, clip(stderr.String(), 300), rerr, werr)
	}
	return took, nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func printLangTable(out io.Writer, rows []langRow, coldRuns, rttRuns int) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(out, "\nper-language (create→first hello output vs docker run --cpus 1 of the same program (a default session has 1 cpu), median of %d; trivial-statement round trip, median of %d)\n\n", coldRuns, rttRuns)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "lang\timage\tbai create→hello\tdocker run --rm\tratio\tresult (≤1.20×)\tquery round trip")
	fmt.Fprintln(tw, "----\t-----\t----------------\t---------------\t-----\t---------------\t----------------")
	for _, r := range rows {
		if r.err != "" && r.cold == 0 {
			fmt.Fprintf(tw, "%s\t%s\terror (below)\t-\t-\tMISS\t-\n", r.key, r.image)
			continue
		}
		ratio := float64(r.cold) / float64(r.base)
		rtt := "-"
		if r.rttMeasured {
			rtt = ms(r.rtt)
		} else if r.err != "" {
			rtt = "error (below)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2f×\t%s\t%s\n", r.key, r.image, ms(r.cold), ms(r.base), ratio, verdict(ratio <= 1.2), rtt)
	}
	_ = tw.Flush()
	for _, r := range rows {
		if r.err != "" {
			fmt.Fprintf(out, "  %s: %s\n", r.key, clip(r.err, 400))
		}
	}
}
