package e2e_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"baigo.dev/bai/common/types"
	"baigo.dev/bai/e2e/compat"
	"baigo.dev/bai/e2e/langs"
)

// langsFlag limits TestLanguages to some languages (comma separated keys).
var langsFlag = flag.String("langs", "", "comma-separated language keys for TestLanguages (default: every contract language)")

// langParallel is how many languages run at once (the machine is small).
const langParallel = 2

// TestLanguages is the per-language conformance table: every contract
// language whose image exists runs the same eight checks in its own session.
// Under CI=true a missing image is a failure.
func TestLanguages(t *testing.T) {
	t.Parallel()
	ci := os.Getenv("CI") == "true"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	images, err := langs.LocalImages(ctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, k := range strings.Split(*langsFlag, ",") {
		if k = strings.TrimSpace(k); k != "" {
			want[k] = true
		}
	}
	sem := make(chan struct{}, langParallel)
	for _, l := range langs.All() {
		if len(want) > 0 && !want[l.Key] {
			continue
		}
		t.Run(l.Key, func(t *testing.T) {
			refs := images[l.Key]
			if len(refs) == 0 {
				msg := fmt.Sprintf("no image labelled ai.backend.runtime-type=%s (contract: %s); build it with make images LANGS=%s", l.Key, l.DockerRef(), l.Key)
				if ci {
					t.Fatal(msg + " (CI=true: a missing image is a failure)")
				}
				t.Skip(msg)
			}
			if !contains(refs, l.DockerRef()) {
				t.Logf("image tag differs from the contract: have %v, contract %s", refs, l.DockerRef())
			}
			t.Parallel()
			sem <- struct{}{}
			defer func() { <-sem }()
			start := time.Now()
			t.Cleanup(func() { t.Logf("%s: whole table took %s", l.Key, time.Since(start).Round(time.Millisecond)) })
			runLangTable(t, l)
		})
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// runLangTable runs the conformance cases of one language in one session.
func runLangTable(t *testing.T, l langs.Lang) {
	c := st.shared.Client()
	name := newLangSession(t, c, l.Key)

	// limit bounds a single case; compiled languages compile every snippet.
	limit := 30 * time.Second
	if l.Compiled {
		limit = 60 * time.Second
	}
	// drive runs one case; when the run fails half-way (a stall, an
	// unexpected prompt), it interrupts it and waits until the session
	// answers again, so one broken case does not fail the ones after it.
	drive := func(t *testing.T, ctx context.Context, spec compat.ExecSpec) (*compat.DriveRun, error) {
		t.Helper()
		r, err := c.Drive(ctx, name, spec)
		if err != nil {
			ictx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, _ = c.Interrupt(ictx, name)
			cancel()
			waitIdle(t, c, name, l)
		}
		return r, err
	}
	hello := func(t *testing.T, when string) {
		t.Helper()
		r, err := drive(t, testCtx(t, limit), compat.ExecSpec{Mode: "query", Code: l.Hello})
		if err != nil {
			t.Errorf("hello %s: %v (console %s)", when, err, showConsole(r))
			return
		}
		if r.Stdout() != "hello\n" || r.Exit() != 0 || r.Status != "finished" {
			t.Errorf("hello %s: status %s exit %d console %s; want stdout \"hello\\n\", finished, exit 0", when, r.Status, r.Exit(), showConsole(r))
		}
	}

	t.Run("1 hello", func(t *testing.T) {
		r, err := drive(t, testCtx(t, limit), compat.ExecSpec{Mode: "query", Code: l.Hello})
		if err != nil {
			t.Fatalf("%v (console %s)", err, showConsole(r))
		}
		if r.Stdout() != "hello\n" || r.Exit() != 0 || r.Status != "finished" {
			t.Errorf("status %s exit %d console %s; want stdout exactly \"hello\\n\", finished, exit 0", r.Status, r.Exit(), showConsole(r))
		}
		if r.Stderr() != "" {
			t.Errorf("unexpected stderr %q", r.Stderr())
		}
	})

	t.Run("2 stdout stderr order", func(t *testing.T) {
		r, err := drive(t, testCtx(t, limit), compat.ExecSpec{Mode: "query", Code: l.Order})
		if err != nil {
			t.Fatalf("%v (console %s)", err, showConsole(r))
		}
		want := []compat.Item{{Type: "stdout", Data: "out1\n"}, {Type: "stderr", Data: "err1\n"}, {Type: "stdout", Data: "out2\n"}}
		if got := textItems(r); !reflect.DeepEqual(got, want) || r.Exit() != 0 {
			t.Errorf("console %s exit %d; want %s exit 0", showItems(got), r.Exit(), showItems(want))
		}
	})

	t.Run("3 stdin via waiting-input", func(t *testing.T) {
		r, err := drive(t, testCtx(t, 30*time.Second), compat.ExecSpec{Mode: "query", Code: l.Input, Inputs: []string{"42"}})
		if err != nil {
			t.Fatalf("%v (statuses %v console %s)", err, statuses(r), showConsole(r))
		}
		if _, ok := r.Find("waiting-input"); !ok {
			t.Errorf("no waiting-input answer (statuses %v console %s)", statuses(r), showConsole(r))
		}
		if !strings.Contains(r.Stdout(), "84") || r.Exit() != 0 || r.Status != "finished" {
			t.Errorf("statuses %v exit %d console %s; want stdout with 84, finished, exit 0", statuses(r), r.Exit(), showConsole(r))
		}
	})

	t.Run("4 compile or syntax error", func(t *testing.T) {
		r, err := drive(t, testCtx(t, limit), compat.ExecSpec{Mode: "query", Code: l.Broken})
		if err != nil {
			t.Fatalf("%v (console %s)", err, showConsole(r))
		}
		if strings.TrimSpace(r.Stderr()) == "" || r.Exit() == 0 || r.Status != "finished" {
			t.Errorf("status %s exit %d console %s; want finished, stderr with the error, non-zero exit", r.Status, r.Exit(), showConsole(r))
		}
	})

	t.Run("5 exit code 3", func(t *testing.T) {
		r, err := drive(t, testCtx(t, limit), compat.ExecSpec{Mode: "query", Code: l.Exit3})
		if err != nil {
			t.Fatalf("%v (console %s)", err, showConsole(r))
		}
		if r.Exit() != 3 || r.Status != "finished" {
			t.Errorf("status %s exit %d console %s; want finished with exit code 3", r.Status, r.Exit(), showConsole(r))
		}
		hello(t, "after exit(3)")
	})

	t.Run("7 interrupt infinite loop", func(t *testing.T) {
		ctx := testCtx(t, limit+30*time.Second)
		var interruptedAt time.Time
		var seen strings.Builder
		began := time.Now()
		r, err := drive(t, ctx, compat.ExecSpec{Mode: "query", Code: l.Loop, OnAnswer: func(res *compat.ExecResult) error {
			items, _ := res.Items()
			for _, it := range items {
				if s, ok := it.Data.(string); ok && it.Type == "stdout" {
					seen.WriteString(s)
				}
			}
			switch {
			case interruptedAt.IsZero() && strings.Contains(seen.String(), "looping"):
				if _, err := c.Interrupt(ctx, name); err != nil {
					return fmt.Errorf("interrupt: %w", err)
				}
				interruptedAt = time.Now()
			case interruptedAt.IsZero() && time.Since(began) > limit:
				return errors.New("the loop never printed \"looping\"")
			case !interruptedAt.IsZero() && time.Since(interruptedAt) > 20*time.Second:
				return errors.New("the run is still going 20s after the interrupt")
			}
			return nil
		}})
		if err != nil {
			t.Errorf("%v (statuses %v console %s)", err, statuses(r), showConsole(r))
			return
		}
		took := time.Since(interruptedAt)
		t.Logf("run ended %s after the interrupt: status %s exit %d", took.Round(time.Millisecond), r.Status, r.Exit())
		if r.Status != "finished" {
			t.Errorf("interrupted run ended with status %q (statuses %v), want finished", r.Status, statuses(r))
		}
		if took > 5*time.Second {
			t.Errorf("run ended %s after the interrupt, want within 5s", took.Round(time.Millisecond))
		}
		hello(t, "after the interrupt")
	})

	t.Run("8 exec-timeout", func(t *testing.T) {
		r, err := drive(t, testCtx(t, limit), compat.ExecSpec{Mode: "query", Code: l.Sleep, Options: map[string]any{"exec_timeout": 1}})
		if err != nil {
			t.Fatalf("%v (statuses %v console %s)", err, statuses(r), showConsole(r))
		}
		stp, ok := r.Find("exec-timeout")
		if !ok {
			t.Errorf("no exec-timeout: statuses %v exit %d console %s", statuses(r), r.Exit(), showConsole(r))
		} else {
			t.Logf("exec-timeout after %s", stp.At.Round(time.Millisecond))
			if stp.At > 3500*time.Millisecond {
				t.Errorf("exec-timeout came after %s, want within ~3s", stp.At.Round(time.Millisecond))
			}
		}
		hello(t, "after the exec-timeout")
	})

	t.Run("6 batch project", func(t *testing.T) {
		ctx := testCtx(t, 2*limit)
		if _, err := c.UploadMap(ctx, name, l.Project); err != nil {
			t.Fatalf("upload %v: %v", keys(l.Project), err)
		}
		opts := map[string]any{"clean": "", "build": "*", "exec": "*"}
		r, err := drive(t, ctx, compat.ExecSpec{Mode: "batch", Options: opts})
		if err != nil {
			t.Fatalf("%v (statuses %v console %s)", err, statuses(r), showConsole(r))
		}
		bf, ok := r.Find("build-finished")
		switch {
		case !ok:
			t.Errorf("no build-finished answer: statuses %v console %s", statuses(r), showConsole(r))
		case bf.ExitCode == nil || *bf.ExitCode != 0:
			t.Errorf("build-finished exit %v, want 0 (console %s)", codeOf(bf.ExitCode), showConsole(r))
		}
		if r.Status != "finished" || r.Exit() != 0 || !strings.Contains(r.Stdout(), "sum 5\n") {
			t.Errorf("statuses %v exit %d console %s; want finished, exit 0, stdout with \"sum 5\"", statuses(r), r.Exit(), showConsole(r))
		}

		failing := compat.ExecSpec{Mode: "batch", Options: map[string]any{"clean": "", "build": "*", "exec": "*"}}
		if l.BrokenProject != nil {
			if _, err := c.UploadMap(ctx, name, l.BrokenProject); err != nil {
				t.Fatalf("upload the broken project: %v", err)
			}
		} else {
			failing.Options["build"] = l.BrokenBuild
		}
		r, err = drive(t, ctx, failing)
		if err != nil {
			t.Fatalf("failing build: %v (statuses %v console %s)", err, statuses(r), showConsole(r))
		}
		bf, ok = r.Find("build-finished")
		switch {
		case !ok:
			t.Errorf("failing build: no build-finished answer: statuses %v console %s", statuses(r), showConsole(r))
		case bf.ExitCode == nil || *bf.ExitCode == 0:
			t.Errorf("failing build: build-finished exit %v, want non-zero (console %s)", codeOf(bf.ExitCode), showConsole(r))
		}
		if strings.Contains(r.Stdout(), "sum 5") || r.Exit() == 0 {
			t.Errorf("failing build: exec was not skipped or the run succeeded: statuses %v exit %d console %s", statuses(r), r.Exit(), showConsole(r))
		}
	})

	t.Run("9 files api", func(t *testing.T) {
		ctx := testCtx(t, 30*time.Second)
		// The batch case uploaded the project; the broken one may have
		// overwritten some files, so read one it left alone.
		var file string
		for _, f := range keys(l.Project) {
			if _, broken := l.BrokenProject[f]; !broken {
				file = f
				break
			}
		}
		got, err := c.DownloadSingle(ctx, name, file)
		if err != nil {
			t.Errorf("download_single %s: %v", file, err)
		} else if string(got) != l.Project[file] {
			t.Errorf("download_single %s: %q, want %q", file, got, l.Project[file])
		}
		ls, err := c.ListFiles(ctx, name, ".")
		if err != nil {
			t.Errorf("files ?path=.: %v", err)
		} else if !strings.Contains(fmt.Sprint(ls), file) {
			t.Errorf("files ?path=. does not list %s: %v", file, ls)
		}
	})
}

// newLangSession creates a session from an image alias and destroys it at
// cleanup.
func newLangSession(t *testing.T, c *compat.Client, image string) string {
	t.Helper()
	name := uniqueName(t)
	ctx := testCtx(t, 120*time.Second)
	res, err := c.Create(ctx, compat.CreateOptions{Image: image, Name: name})
	if err != nil {
		t.Fatalf("create a %s session: %v", image, err)
	}
	id := res.ID()
	remember(id)
	t.Cleanup(func() { destroyQuietly(t, c, id) })
	if res.Status != string(types.StatusRunning) {
		waitStatus(t, c, id, 90*time.Second, string(types.StatusRunning))
	}
	return name
}

// waitIdle runs hello until the session answers again (after a failed case
// that may have left a run going), for at most 30 seconds.
func waitIdle(t *testing.T, c *compat.Client, name string, l langs.Lang) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		r, err := c.Drive(ctx, name, compat.ExecSpec{Mode: "query", Code: l.Hello})
		cancel()
		if err == nil && r.Stdout() == "hello\n" {
			return
		}
		time.Sleep(time.Second)
	}
	t.Logf("session %s did not become usable again within 30s", name)
}

// textItems keeps the stdout and stderr items of a run.
func textItems(r *compat.DriveRun) []compat.Item {
	var out []compat.Item
	for _, it := range r.Console {
		if it.Type == "stdout" || it.Type == "stderr" {
			out = append(out, it)
		}
	}
	return out
}

func showItems(items []compat.Item) string {
	parts := make([]string, 0, len(items))
	for _, it := range items {
		parts = append(parts, fmt.Sprintf("%s:%q", it.Type, clip(fmt.Sprint(it.Data), 400)))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func showConsole(r *compat.DriveRun) string {
	if r == nil {
		return "[]"
	}
	return showItems(r.Console)
}

func statuses(r *compat.DriveRun) []string {
	if r == nil {
		return nil
	}
	out := r.Statuses()
	for i, s := range r.Steps {
		if s.ExitCode != nil {
			out[i] = fmt.Sprintf("%s(%d)", s.Status, *s.ExitCode)
		}
	}
	return out
}

func codeOf(p *int) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
