// Command bench measures bai against plain baselines in one run and prints a
// side-by-side table: session cold start against `docker run`, execute round
// trips against a local python3 REPL over pipes, and the idle memory of the
// manager process and of the runner inside a kernel container. Its storage
// section (storage.go) times a large file through the folder API and
// through a session's mount against cp on the same disk. Its web section
// (web.go) drives the web app in Debian's Chromium: the time from
// Shift+Enter in a notebook cell to the first output in the page, next to
// the same run through the execute WebSocket and the polling API, and the
// first load of the app (transfer size, requests, time to interactive),
// cold and warm.
//
// It starts its own `bai dev` on a temporary data directory and free ports,
// drives it with the independent compat client, and removes everything it
// created. Run it with `cd e2e && go run ./bench` (or `make bench`).
//
// The cluster part (cluster.go) then starts `bai manager` alone and drives
// it with simulated agents: the manager's CPU spent on heartbeats against
// its idle CPU, and placement throughput and latency of thousands of
// sessions against the bare API round trip and the pure scheduler. It needs
// no Docker: `go run ./bench -only cluster`.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"baigo.dev/bai/common/types"
	"baigo.dev/bai/e2e/compat"
	"baigo.dev/bai/e2e/devserver"
	"baigo.dev/bai/e2e/langs"
)

// config holds the command-line settings.
type config struct {
	binDir      string
	repoRoot    string
	image       string
	dockerImage string
	coldRuns    int
	rttRuns     int
	idle        time.Duration
	// core runs the Python figures above the per-language table.
	core bool
	// langs selects the per-language section: "all" (every contract
	// language with a local image), a comma list of keys, or "none".
	langs        string
	langColdRuns int
	langRTTRuns  int
	// only runs one part: "cluster" (simulated agents, no Docker) or
	// "dev" (the bai dev figures above); empty runs both.
	only    string
	cluster clusterConfig
	// jailRounds is how many times each jail workload runs in each mode
	// (0 skips the jail section, which needs a C image).
	jailRounds int
	// storageMiB sizes the file of the storage throughput section (0
	// skips it).
	storageMiB int
	// webRounds is how many Run → first output rounds the web section
	// times in the page and through the API (0 skips the web section).
	webRounds int
}

func main() {
	var cfg config
	flag.StringVar(&cfg.binDir, "bin", os.Getenv("BAI_BIN"), "folder with bai and bai-runner (default: ../bin, else built)")
	flag.StringVar(&cfg.repoRoot, "root", "..", "repository root (for building binaries)")
	flag.StringVar(&cfg.image, "image", "python:3.11-debian", "kernel image name for the API")
	flag.StringVar(&cfg.dockerImage, "docker-image", "bai/python:3.11-debian", "the same image for docker run")
	flag.IntVar(&cfg.coldRuns, "n", 10, "cold start runs")
	flag.IntVar(&cfg.rttRuns, "rtt", 1000, "execute round trips")
	flag.DurationVar(&cfg.idle, "idle", 5*time.Second, "idle time before reading memory")
	flag.BoolVar(&cfg.core, "core", true, "measure the Python cold start, round trips and memory")
	flag.StringVar(&cfg.langs, "langs", "all", `per-language section: "all" images present, comma-separated keys (c,go,...), or "none"`)
	flag.IntVar(&cfg.langColdRuns, "lang-n", 3, "cold starts per language")
	flag.IntVar(&cfg.langRTTRuns, "lang-rtt", 20, "trivial-statement round trips per REPL language")
	flag.IntVar(&cfg.jailRounds, "jail-rounds", 25, "rounds of each jail workload per mode (0: skip the jail section)")
	flag.IntVar(&cfg.storageMiB, "storage-mib", 1024, "file size in MiB of the storage throughput section (0: skip it)")
	flag.IntVar(&cfg.webRounds, "web-rounds", 30, "Run → first output rounds of the web section, page against API (0: skip the web section)")
	flag.StringVar(&cfg.only, "only", "", `run one part only: "cluster" (manager with simulated agents) or "dev" (bai dev on Docker)`)
	flag.IntVar(&cfg.cluster.hbAgents, "cluster-hb-agents", 500, "simulated agents of the heartbeat CPU measurement")
	flag.IntVar(&cfg.cluster.agents, "cluster-agents", 200, "simulated agents of the placement measurement")
	flag.IntVar(&cfg.cluster.sessions, "cluster-sessions", 5000, "sessions submitted in the placement measurement")
	flag.IntVar(&cfg.cluster.owners, "cluster-owners", 10, "keypairs the placement sessions are spread over")
	flag.IntVar(&cfg.cluster.inflight, "cluster-inflight", 32, "concurrent POST /session requests")
	flag.DurationVar(&cfg.cluster.window, "cluster-window", 10*time.Second, "manager CPU measurement window")
	flag.DurationVar(&cfg.cluster.interval, "cluster-heartbeat", time.Second, "heartbeat interval of the simulated agents")
	flag.DurationVar(&cfg.cluster.timeout, "cluster-timeout", 3*time.Minute, "longest wait for all placements")
	flag.IntVar(&cfg.cluster.planRuns, "cluster-plan-runs", 5, "in-process scheduler.Plan repetitions (median taken)")
	pg := os.Getenv("BAI_BENCH_POSTGRES")
	if pg == "" {
		pg = os.Getenv("BAI_TEST_POSTGRES")
	}
	flag.StringVar(&cfg.cluster.postgres, "cluster-postgres", pg, "Postgres cluster URL for a second cluster run, in a fresh database (default: $BAI_BENCH_POSTGRES, else $BAI_TEST_POSTGRES; empty: SQLite only)")
	flag.Parse()
	if cfg.only != "" && cfg.only != "cluster" && cfg.only != "dev" {
		fmt.Fprintf(os.Stderr, "-only must be cluster or dev, not %q\n", cfg.only)
		os.Exit(2)
	}

	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cfg.only != "cluster" {
		if err := run(ctx, cfg, log, os.Stdout); err != nil {
			log.Error("bench failed", "err", err)
			os.Exit(1)
		}
	}
	if cfg.only != "dev" {
		if err := runCluster(ctx, cfg.cluster, cfg.binDir, cfg.repoRoot, log, os.Stdout); err != nil {
			log.Error("cluster bench failed", "err", err)
			os.Exit(1)
		}
	}
}

// row is one line of the result table.
type row struct {
	metric, ours, baseline, target, verdict string
}

func run(ctx context.Context, cfg config, log *slog.Logger, out io.Writer) error {
	tmp, err := os.MkdirTemp("", "bai-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	binDir, err := devserver.LocateBinaries(ctx, cfg.binDir, cfg.repoRoot, filepath.Join(tmp, "bin"))
	if err != nil {
		return err
	}
	log.Info("starting bai dev", "bin_dir", binDir)
	srv, err := devserver.Start(ctx, devserver.Options{BinDir: binDir, DataDir: filepath.Join(tmp, "data")})
	if err != nil {
		return err
	}
	c := srv.Client()
	var sessions []string
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		for _, id := range sessions {
			if _, err := c.Destroy(cctx, id, true); err != nil {
				log.Warn("destroy", "session_id", id, "err", err)
			}
		}
		if err := srv.Stop(); err != nil {
			log.Warn("stop bai dev", "err", err)
		}
	}()

	if cfg.core {
		if err := runCore(ctx, cfg, c, binDir, srv, &sessions, log, out); err != nil {
			return err
		}
	}
	ls, refs, err := selectLangs(ctx, cfg.langs, log)
	if err != nil {
		return err
	}
	track := func(id string) { sessions = appendID(sessions, id) }
	lrows := benchLangs(ctx, c, ls, refs, cfg.langColdRuns, cfg.langRTTRuns, track, log)
	printLangTable(out, lrows, cfg.langColdRuns, cfg.langRTTRuns)
	if cfg.storageMiB > 0 {
		if err := benchStorage(ctx, srv, cfg.image, cfg.storageMiB, log, out); err != nil {
			return err
		}
	}
	if cfg.webRounds > 0 {
		if err := benchWeb(ctx, srv, c, cfg.image, cfg.webRounds, log, out); err != nil {
			return err
		}
	}
	if cfg.jailRounds > 0 {
		images, err := langs.LocalImages(ctx)
		if err != nil {
			return err
		}
		if len(images["c"]) == 0 {
			log.Warn("jail section skipped: no C image (make images LANGS=c)")
			return nil
		}
		if err := benchJail(ctx, c, images["c"][0], cfg.jailRounds, track, log, out); err != nil {
			return err
		}
	}
	return nil
}

// runCore measures the Python figures: cold start, CLI, round trips and
// idle memory.
func runCore(ctx context.Context, cfg config, c *compat.Client, binDir string, srv *devserver.Server, sessionsp *[]string, log *slog.Logger, out io.Writer) error {
	sessions := *sessionsp
	defer func() { *sessionsp = sessions }()
	var rows []row

	// 1. Cold start, interleaving both sides so drift hits them alike.
	log.Info("cold start", "runs", cfg.coldRuns)
	var ours, base, destroys []time.Duration
	// One untimed warm-up of each side (image cache, first scheduling).
	if _, id, err := coldStart(ctx, c, cfg.image, fmt.Sprintf("bench-warm-%d", os.Getpid())); err != nil {
		sessions = appendID(sessions, id)
		return fmt.Errorf("warm-up create: %w", err)
	} else if err := destroy(ctx, c, id); err != nil {
		return err
	}
	if _, err := dockerRun(ctx, cfg.dockerImage); err != nil {
		return fmt.Errorf("warm-up docker run: %w", err)
	}
	for i := range cfg.coldRuns {
		d, id, err := coldStart(ctx, c, cfg.image, fmt.Sprintf("bench-cold-%d-%d", os.Getpid(), i))
		if err != nil {
			sessions = appendID(sessions, id)
			return err
		}
		ours = append(ours, d)
		t0 := time.Now()
		if err := destroy(ctx, c, id); err != nil {
			sessions = appendID(sessions, id)
			return err
		}
		destroys = append(destroys, time.Since(t0))
		b, err := dockerRun(ctx, cfg.dockerImage)
		if err != nil {
			return err
		}
		base = append(base, b)
	}
	for _, q := range []struct {
		name string
		p    float64
	}{{"median", 50}, {"p90", 90}} {
		o, b := pct(ours, q.p), pct(base, q.p)
		ratio := float64(o) / float64(b)
		rows = append(rows, row{
			metric:   "create→first output print(1), " + q.name,
			ours:     ms(o),
			baseline: "docker run --rm: " + ms(b),
			target:   fmt.Sprintf("%.2f× (target ≤1.20×)", ratio),
			verdict:  verdict(ratio <= 1.2),
		})
	}

	rows = append(rows, row{"destroy session (DELETE answered), median", ms(pct(destroys, 50)), "-", "(info)", "-"})

	// The CLI end to end: create, run, print, destroy.
	var cli []time.Duration
	for range cfg.coldRuns {
		d, err := cliRun(ctx, binDir, srv.Creds)
		if err != nil {
			return err
		}
		cli = append(cli, d)
	}
	cliMed := pct(cli, 50)
	rows = append(rows, row{"bai run python -c 'print(1)' (exit), median", ms(cliMed), "docker run --rm: " + ms(pct(base, 50)),
		fmt.Sprintf("%.2f× (info)", float64(cliMed)/float64(pct(base, 50))), "-"})

	// 2. Execute round trips on one running session.
	name := fmt.Sprintf("bench-rtt-%d", os.Getpid())
	res, err := c.Create(ctx, compat.CreateOptions{Image: cfg.image, Name: name})
	if err != nil {
		return err
	}
	sessions = append(sessions, res.ID())
	if err := waitRunning(ctx, c, res); err != nil {
		return err
	}
	log.Info("execute round trips", "runs", cfg.rttRuns)
	rtt, err := roundTrips(ctx, c, name, cfg.rttRuns)
	if err != nil {
		return err
	}
	repl, err := replRoundTrips(ctx, cfg.rttRuns)
	if err != nil {
		return err
	}
	p50 := pct(rtt, 50)
	rows = append(rows,
		row{"execute print(1) round trip, p50", ms(p50), "python3 REPL pipe: " + ms(pct(repl, 50)), "target ≤ 2 ms", verdict(p50 <= 2*time.Millisecond)},
		row{"execute print(1) round trip, p99", ms(pct(rtt, 99)), "python3 REPL pipe: " + ms(pct(repl, 99)), "(info)", "-"},
	)

	// 3. Idle memory with that session open.
	log.Info("idling before reading memory", "for", cfg.idle)
	select {
	case <-time.After(cfg.idle):
	case <-ctx.Done():
		return ctx.Err()
	}
	mgr, err := vmRSS(srv.Pid())
	if err != nil {
		return err
	}
	rows = append(rows, row{"idle RSS of bai dev (1 session open)", mb(mgr), "-", "target ≤ 60 MB", verdict(mgr <= 60<<20)})
	runner, how, err := runnerRSS(ctx, res.ID())
	if err != nil {
		rows = append(rows, row{"idle RSS of runner in container", "n/a: " + err.Error(), "-", "target ≤ 10 MB", "MISS"})
	} else {
		rows = append(rows, row{"idle RSS of runner in container", mb(runner) + " (" + how + ")", "-", "target ≤ 10 MB", verdict(runner <= 10<<20)})
	}

	printTable(out, rows, len(ours), len(rtt))
	return nil
}

// coldStart creates a session and runs print(1) until its stdout arrives.
func coldStart(ctx context.Context, c *compat.Client, image, name string) (time.Duration, string, error) {
	return coldStartCode(ctx, c, image, name, "print(1)", "1")
}

func appendID(ids []string, id string) []string {
	if id == "" {
		return ids
	}
	return append(ids, id)
}

func waitRunning(ctx context.Context, c *compat.Client, res *compat.CreateResult) error {
	deadline := time.Now().Add(60 * time.Second)
	status := res.Status
	for status != string(types.StatusRunning) {
		if time.Now().After(deadline) {
			return fmt.Errorf("session %s still %s after 60s", res.ID(), status)
		}
		si, _, err := c.Info(ctx, res.ID())
		if err != nil {
			return err
		}
		if types.SessionStatus(si.Status).Final() {
			return fmt.Errorf("session %s ended %s: %s", res.ID(), si.Status, si.StatusInfo)
		}
		status = si.Status
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

func destroy(ctx context.Context, c *compat.Client, id string) error {
	if _, err := c.Destroy(ctx, id, true); err != nil {
		return fmt.Errorf("destroy %s: %w", id, err)
	}
	return nil
}

// cliRun times the whole `bai run python -c 'print(1)'` until it exits.
func cliRun(ctx context.Context, binDir string, cr devserver.Credentials) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "bai"), "run", "python", "-c", "print(1)")
	cmd.Env = append(os.Environ(), "BACKEND_ENDPOINT="+cr.Endpoint, "BACKEND_ACCESS_KEY="+cr.AccessKey, "BACKEND_SECRET_KEY="+cr.SecretKey)
	start := time.Now()
	out, err := cmd.Output()
	took := time.Since(start)
	if err != nil || strings.TrimSpace(string(out)) != "1" {
		return 0, fmt.Errorf("bai run printed %q: %v", out, err)
	}
	return took, nil
}

// dockerRun times `docker run --rm IMAGE python3 -c 'print(1)'` until its
// output is read.
func dockerRun(ctx context.Context, image string) (time.Duration, error) {
	cmd := exec.CommandContext(ctx, "docker", "run", "--rm", image, "python3", "-c", "print(1)")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	took := time.Since(start)
	werr := cmd.Wait()
	if err != nil || strings.TrimSpace(line) != "1" {
		return 0, fmt.Errorf("docker run printed %q: %v %v", line, err, werr)
	}
	return took, werr
}

// roundTrips times n executions of print(1) (after a short warm-up).
func roundTrips(ctx context.Context, c *compat.Client, name string, n int) ([]time.Duration, error) {
	for range 20 {
		if _, err := c.RunCode(ctx, name, "print(1)"); err != nil {
			return nil, err
		}
	}
	out := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		r, err := c.RunCode(ctx, name, "print(1)")
		if err != nil {
			return nil, err
		}
		out = append(out, time.Since(start))
		if r.Stdout() != "1\n" {
			return nil, fmt.Errorf("print(1) gave %q", r.Stdout())
		}
	}
	return out, nil
}

// replLoop is the host-side baseline: a python3 loop that execs one line
// and answers with a sentinel line.
const replLoop = `
import sys
g = {}
for line in sys.stdin:
    exec(line, g)
    sys.stdout.write("\x01\n")
    sys.stdout.flush()
`

// replRoundTrips times n round trips of print(1) to a python3 subprocess.
func replRoundTrips(ctx context.Context, n int) ([]time.Duration, error) {
	cmd := exec.CommandContext(ctx, "python3", "-u", "-c", replLoop)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("python3: %w", err)
	}
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
	rd := bufio.NewReader(stdout)
	once := func() error {
		if _, err := io.WriteString(stdin, "print(1)\n"); err != nil {
			return err
		}
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				return err
			}
			if line == "\x01\n" {
				return nil
			}
		}
	}
	for range 20 {
		if err := once(); err != nil {
			return nil, err
		}
	}
	out := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		if err := once(); err != nil {
			return nil, err
		}
		out = append(out, time.Since(start))
	}
	return out, nil
}

// vmRSS reads VmRSS of a host process in bytes.
func vmRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read status of pid %d: %w", pid, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(rest)
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmRSS line")
}

// runnerRSS finds the runner among the container's processes (by its
// command) and reads its VmRSS from the host's /proc, falling back to the
// rss column of docker top.
func runnerRSS(ctx context.Context, sessionID string) (int64, string, error) {
	ids, err := exec.CommandContext(ctx, "docker", "ps", "-q", "--filter", "label="+types.LabelSessionID+"="+sessionID).Output()
	if err != nil || len(strings.Fields(string(ids))) == 0 {
		return 0, "", fmt.Errorf("container of session %s not found: %v", sessionID, err)
	}
	cid := strings.Fields(string(ids))[0]
	top, err := exec.CommandContext(ctx, "docker", "top", cid, "-eo", "pid,rss,args").Output()
	if err != nil {
		return 0, "", fmt.Errorf("docker top: %w", err)
	}
	var procs []string
	for _, l := range strings.Split(strings.TrimSpace(string(top)), "\n")[1:] {
		f := strings.Fields(l)
		if len(f) < 3 {
			continue
		}
		procs = append(procs, strings.Join(f[2:], " "))
		if !strings.Contains(filepath.Base(f[2]), "runner") {
			continue
		}
		pid, _ := strconv.Atoi(f[0])
		if rss, err := vmRSS(pid); err == nil {
			return rss, fmt.Sprintf("pid %d", pid), nil
		}
		kb, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return 0, "", err
		}
		return kb << 10, "docker top", nil
	}
	return 0, "", fmt.Errorf("no runner process in container %s (processes: %s)", cid, strings.Join(procs, "; "))
}

func pct(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0
	}
	i := int(float64(len(s)-1)*p/100 + 0.5)
	return s[i]
}

func ms(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.0f ms", float64(d)/float64(time.Millisecond))
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

func verdict(ok bool) string {
	if ok {
		return "PASS"
	}
	return "MISS"
}

func printTable(out io.Writer, rows []row, cold, rtt int) {
	fmt.Fprintf(out, "\nbai benchmark (%d cold starts, %d round trips; %s)\n\n", cold, rtt, time.Now().Format(time.RFC3339))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tbai\tbaseline\tratio / target\tresult")
	fmt.Fprintln(tw, "------\t---\t--------\t--------------\t------")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.metric, r.ours, r.baseline, r.target, r.verdict)
	}
	_ = tw.Flush()
}
