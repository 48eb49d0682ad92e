package main

// The cluster benchmark measures the manager at fleet scale without Docker:
// it starts `bai manager` on a fresh database and drives it with simulated
// agents (cluster_agents.go) that answer kernel creation at once.
//
//   - Heartbeats: the manager's CPU over a window, first with no agent
//     (baseline: the idle manager), then with hb-agents agents beating once
//     per interval. The difference is what heartbeats cost.
//   - Placement: agents agents alive, sessions sessions submitted through
//     the public API with enqueueOnly, inflight at a time. Throughput runs
//     from the first submit to the last CreateKernel an agent receives;
//     latency from each POST /session to its CreateKernel. Baselines: the
//     POST /session round trip alone, a signed no-op request (GET
//     /manager/status) at the same concurrency, and the pure scheduler.Plan
//     of a snapshot of the same size in this process.

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"baigo.dev/bai/backend/scheduler"
	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/resource"
	"baigo.dev/bai/common/types"
	"baigo.dev/bai/e2e/compat"
)

// clusterConfig holds the settings of the cluster benchmark.
type clusterConfig struct {
	hbAgents int           // agents of the heartbeat phase
	agents   int           // agents of the placement phase
	sessions int           // sessions submitted
	owners   int           // keypairs the sessions are spread over
	inflight int           // concurrent POST /session requests
	window   time.Duration // CPU measurement window
	interval time.Duration // heartbeat interval of every agent
	timeout  time.Duration // longest wait for all placements
	postgres string        // Postgres cluster URL for a second run; empty: SQLite only
	planRuns int           // in-process scheduler.Plan repetitions
}

// Targets of the issue.
const (
	targetPlacementsPerSec = 1000.0
	targetHeartbeatShare   = 0.05 // of one core, for 500 heartbeats per second
	targetHeartbeatRate    = 500.0
)

// runCluster runs the cluster benchmark on SQLite and, when cc.postgres is
// set, on Postgres, and prints one table per database.
func runCluster(ctx context.Context, cc clusterConfig, binDir, repoRoot string, log *slog.Logger, out io.Writer) error {
	tmp, err := os.MkdirTemp("", "bai-cluster-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bai, err := locateBai(ctx, binDir, repoRoot, tmp)
	if err != nil {
		return err
	}
	log.Info("cluster benchmark: pure scheduler.Plan", "pending", cc.sessions, "agents", cc.agents, "runs", cc.planRuns)
	plan := planBaseline(cc.sessions, cc.agents, cc.planRuns)
	dbs := []struct{ name, url string }{{"SQLite", ""}}
	if cc.postgres != "" {
		dbs = append(dbs, struct{ name, url string }{"Postgres", cc.postgres})
	}
	for i, db := range dbs {
		var rows []row
		hb, err := heartbeatPhase(ctx, cc, bai, filepath.Join(tmp, fmt.Sprintf("hb-%d", i)), db.url, log.With("db", db.name))
		rows = append(rows, hb...)
		if err == nil {
			var pl []row
			pl, err = placementPhase(ctx, cc, bai, filepath.Join(tmp, fmt.Sprintf("place-%d", i)), db.url, plan, log.With("db", db.name))
			rows = append(rows, pl...)
		}
		if err == nil {
			var bl []row
			bl, err = backlogPhase(ctx, cc, bai, filepath.Join(tmp, fmt.Sprintf("backlog-%d", i)), db.url, log.With("db", db.name))
			rows = append(rows, bl...)
		}
		printClusterTable(out, cc, db.name, rows)
		if err != nil {
			return fmt.Errorf("cluster benchmark on %s: %w", db.name, err)
		}
	}
	return nil
}

// locateBai returns the bai binary: in binDir when set, else repoRoot/bin,
// else a fresh build.
func locateBai(ctx context.Context, binDir, repoRoot, tmp string) (string, error) {
	if binDir != "" {
		p, _ := filepath.Abs(filepath.Join(binDir, "bai"))
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("bai binary: %w", err)
		}
		return p, nil
	}
	root, _ := filepath.Abs(repoRoot)
	if p := filepath.Join(root, "bin", "bai"); fileExists(p) {
		return p, nil
	}
	p := filepath.Join(tmp, "bai")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", p, "./cmd/bai")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/bai: %w\n%s", err, b)
	}
	return p, nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// heartbeatPhase measures what heartbeats cost the manager.
func heartbeatPhase(ctx context.Context, cc clusterConfig, bai, dir, pg string, log *slog.Logger) ([]row, error) {
	m, err := startManagerProc(ctx, bai, dir, pg, 1, 100)
	if err != nil {
		return nil, err
	}
	defer m.stop()
	pid := m.cmd.Process.Pid
	// Let start-up work (schema check, first loop ticks) pass.
	if err := sleepCtx(ctx, 2*time.Second); err != nil {
		return nil, err
	}
	rootRTT, err := rootRoundTrips(ctx, m.url, 500)
	if err != nil {
		return nil, err
	}
	log.Info("cluster benchmark: idle manager CPU", "window", cc.window)
	idleShares, err := cpuShares(ctx, cc.window, pid)
	if err != nil {
		return nil, err
	}
	idle := idleShares[0]
	log.Info("cluster benchmark: starting simulated agents", "agents", cc.hbAgents, "interval", cc.interval)
	f, err := startFleet(ctx, m.url, m.secret, "hb", cc.hbAgents, cc.interval, nil)
	if err != nil {
		return nil, err
	}
	defer f.stop()
	if err := f.waitRegistered(ctx, 60*time.Second); err != nil {
		return nil, errors.Join(err, m.alive())
	}
	// One more interval: every agent is past its first (full) heartbeat.
	if err := sleepCtx(ctx, cc.interval+cc.interval/2); err != nil {
		return nil, err
	}
	log.Info("cluster benchmark: manager CPU with agents", "window", cc.window)
	f.record(true)
	busyShares, err := cpuShares(ctx, cc.window, pid, os.Getpid())
	f.record(false)
	if err != nil {
		return nil, err
	}
	busy, gen := busyShares[0], busyShares[1]
	if err := m.alive(); err != nil {
		return nil, err
	}
	rtts, ok, failed, firstErr := f.beatStats()
	if failed > 0 || ok == 0 {
		return nil, fmt.Errorf("%d of %d heartbeats failed: %v", failed, failed+ok, firstErr)
	}
	rate := float64(ok) / cc.window.Seconds()
	cost := max(busy-idle, 0)
	perBeat := time.Duration(cost * float64(cc.window) / float64(ok))
	at500 := perBeat.Seconds() * targetHeartbeatRate
	label := fmt.Sprintf("manager CPU for heartbeats (%d agents × 1 per %s)", cc.hbAgents, cc.interval)
	rows := []row{{
		metric:   label,
		ours:     fmt.Sprintf("%s of a core (%s with agents)", share(cost), share(busy)),
		baseline: "idle manager, no agents: " + share(idle),
		target:   fmt.Sprintf("%s at 500/s (target < 5%%)", share(at500)),
		verdict:  verdict(at500 < targetHeartbeatShare),
	}, {
		metric:   "manager CPU per heartbeat",
		ours:     fmt.Sprintf("%.0f µs", float64(perBeat)/float64(time.Microsecond)),
		baseline: "-",
		target:   fmt.Sprintf("(info; %.0f beats/s of %d B)", rate, heartbeatSize()),
		verdict:  "-",
	}, {
		metric:   "load generator CPU (simulated agents, this process)",
		ours:     share(gen) + " of a core",
		baseline: fmt.Sprintf("machine: %d cores", runtime.NumCPU()),
		target:   "(info)",
		verdict:  "-",
	}}
	for _, q := range []struct {
		name string
		p    float64
	}{{"p50", 50}, {"p99", 99}} {
		rows = append(rows, row{
			metric:   "heartbeat round trip, " + q.name,
			ours:     ms(pct(rtts, q.p)),
			baseline: "GET / on the idle manager: " + ms(pct(rootRTT, q.p)),
			target:   "(info)",
			verdict:  "-",
		})
	}
	return rows, nil
}

// heartbeatSize is the size of an idle simulated agent's routine heartbeat
// (the image list goes only with the first one; a digest stands for it).
func heartbeatSize() int {
	b, _ := json.Marshal(aproto.Heartbeat{AgentID: "sim-hb-0000", Addr: "http://127.0.0.1:40000", Version: "bench", Region: "local",
		ScalingGroup: "default", Capacity: simCapacity, ImagesDigest: aproto.ImagesDigest(protoImages()), Seq: 1000,
		Health:  &aproto.Health{DiskFreeBytes: 100 << 30},
		Kernels: []aproto.KernelState{}, Time: time.Now().UTC()})
	return len(b)
}

// rootRoundTrips times n sequential unsigned GET / requests.
func rootRoundTrips(ctx context.Context, base string, n int) ([]time.Duration, error) {
	hc := &http.Client{Timeout: 10 * time.Second}
	defer hc.CloseIdleConnections()
	out := make([]time.Duration, 0, n)
	for i := range n + 20 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/", nil)
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if i >= 20 { // the first ones warm the connection up
			out = append(out, time.Since(t0))
		}
	}
	return out, nil
}

// sessTrack holds the moments one session went through.
type sessTrack struct {
	submit, answered, scheduled, kernel, running time.Time
}

// tracker follows the benchmark's sessions by name.
type tracker struct {
	prefix string
	n      int

	mu       sync.Mutex
	s        []sessTrack
	kernels  int
	dupes    int
	failures int
	failWhy  string
	done     chan struct{} // closed when every session got a kernel or failed
}

func newTracker(prefix string, n int) *tracker {
	return &tracker{prefix: prefix, n: n, s: make([]sessTrack, n), done: make(chan struct{})}
}

func (t *tracker) name(i int) string { return fmt.Sprintf("%s%05d", t.prefix, i) }

func (t *tracker) index(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, t.prefix)
	if !ok {
		return 0, false
	}
	i, err := strconv.Atoi(rest)
	return i, err == nil && i >= 0 && i < t.n
}

func (t *tracker) checkDone() {
	if t.kernels+t.failures == t.n {
		close(t.done)
	}
}

func (t *tracker) kernel(req aproto.CreateKernel, at time.Time) {
	i, ok := t.index(req.SessionName)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.s[i].kernel.IsZero() {
		t.dupes++
		return
	}
	t.s[i].kernel = at
	t.kernels++
	t.checkDone()
}

// event records a session event from the all-tenant event stream.
func (t *tracker) event(name, session, status, reason string, at time.Time) {
	i, ok := t.index(session)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s := &t.s[i]
	switch name {
	case "session_scheduled":
		if s.scheduled.IsZero() {
			s.scheduled = at
		}
	case "session_started":
		if s.running.IsZero() {
			s.running = at
		}
	case "session_failure", "session_cancelled", "session_terminated":
		if s.kernel.IsZero() {
			t.failures++
			if t.failWhy == "" {
				t.failWhy = fmt.Sprintf("session %s ended %s: %s", session, status, reason)
			}
			s.kernel = at // counted, so the wait ends
			t.checkDone()
		}
	}
}

// placementPhase measures placement throughput and latency.
func placementPhase(ctx context.Context, cc clusterConfig, bai, dir, pg string, plan planResult, log *slog.Logger) ([]row, error) {
	m, err := startManagerProc(ctx, bai, dir, pg, cc.owners, cc.sessions+100)
	if err != nil {
		return nil, err
	}
	defer m.stop()
	tr := newTracker("cb-"+randHex(3)+"-", cc.sessions)
	log.Info("cluster benchmark: starting simulated agents", "agents", cc.agents)
	f, err := startFleet(ctx, m.url, m.secret, "pl", cc.agents, cc.interval, tr.kernel)
	if err != nil {
		return nil, err
	}
	defer f.stop()
	if err := f.waitRegistered(ctx, 60*time.Second); err != nil {
		return nil, errors.Join(err, m.alive())
	}

	api := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConns: 4 * cc.inflight, MaxIdleConnsPerHost: 4 * cc.inflight, IdleConnTimeout: 90 * time.Second}}
	defer api.CloseIdleConnections()
	clients := make([]*compat.Client, len(m.owners))
	for i, kp := range m.owners {
		clients[i] = compat.New(m.url, kp.access, kp.secret)
		clients[i].HTTP = api
	}

	// Baseline: a signed request that does no work, at the same concurrency.
	nStatus := min(cc.sessions, 2000)
	log.Info("cluster benchmark: signed no-op round trips", "requests", nStatus, "in_flight", cc.inflight)
	statusRTT, statusWall, err := fanOut(ctx, nStatus, cc.inflight, func(ctx context.Context, i int) error {
		c := clients[i%len(clients)]
		resp, err := c.Do(ctx, compat.Request{Method: http.MethodGet, Path: "/manager/status"})
		if err == nil && resp.Status != http.StatusOK {
			err = &compat.StatusError{Op: "GET /manager/status", Resp: resp}
		}
		return err
	})
	if err != nil {
		return nil, err
	}

	evctx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	evErr := make(chan error, 1)
	if err := watchEvents(evctx, m, tr, evErr); err != nil {
		return nil, err
	}

	bodies := make([][]byte, cc.sessions)
	for i := range bodies {
		c := clients[i%len(clients)]
		b := c.CreateBody(compat.CreateOptions{Image: simImages[i%len(simImages)].name, Name: tr.name(i)})
		b["enqueueOnly"] = true
		if bodies[i], err = json.Marshal(b); err != nil {
			return nil, err
		}
	}
	log.Info("cluster benchmark: submitting sessions", "sessions", cc.sessions, "in_flight", cc.inflight, "owners", len(clients))
	mgrCPU0, err1 := cpuTime(m.cmd.Process.Pid)
	genCPU0, err2 := cpuTime(os.Getpid())
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	start := time.Now()
	createRTT, _, err := fanOut(ctx, cc.sessions, cc.inflight, func(ctx context.Context, i int) error {
		c := clients[i%len(clients)]
		t0 := time.Now()
		resp, err := c.Do(ctx, compat.Request{Method: http.MethodPost, Path: c.CreatePath(), Body: bodies[i]})
		t1 := time.Now()
		if err != nil {
			return err
		}
		if resp.Status != http.StatusCreated {
			return &compat.StatusError{Op: "create " + tr.name(i), Resp: resp}
		}
		tr.mu.Lock()
		tr.s[i].submit, tr.s[i].answered = t0, t1
		tr.mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, errors.Join(err, m.alive())
	}
	log.Info("cluster benchmark: waiting for placements")
	select {
	case <-tr.done:
	case err := <-evErr:
		return nil, fmt.Errorf("event stream: %w", err)
	case <-time.After(cc.timeout):
		tr.mu.Lock()
		k, fl := tr.kernels, tr.failures
		tr.mu.Unlock()
		if err := m.alive(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("after %s only %d of %d sessions reached an agent (%d failed)\nmanager log:\n%s", cc.timeout, k, cc.sessions, fl, m.logTail(20))
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	placedIn := time.Since(start)
	mgrCPU1, err1 := cpuTime(m.cmd.Process.Pid)
	genCPU1, err2 := cpuTime(os.Getpid())
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	cpu := [2]float64{float64(mgrCPU1-mgrCPU0) / float64(placedIn), float64(genCPU1-genCPU0) / float64(placedIn)}
	tr.mu.Lock()
	failures, failWhy, dupes := tr.failures, tr.failWhy, tr.dupes
	tr.mu.Unlock()
	if failures > 0 {
		return nil, fmt.Errorf("%d sessions failed; first: %s", failures, failWhy)
	}
	if dupes > 0 {
		return nil, fmt.Errorf("%d kernels were created twice", dupes)
	}
	log.Info("cluster benchmark: waiting until every session is RUNNING")
	allRunning, err := waitAllRunning(ctx, clients, tr, 60*time.Second)
	if err != nil {
		return nil, errors.Join(err, m.alive())
	}
	// The last events may still be on their way.
	_ = sleepCtx(ctx, 200*time.Millisecond)
	stopEvents()
	met, err := m.scrapeMetrics(ctx)
	if err != nil {
		return nil, err
	}
	return placementRows(cc, tr, start, allRunning, createRTT, statusRTT, statusWall, plan, met, cpu), nil
}

// placementRows turns the recorded moments into table rows.
func placementRows(cc clusterConfig, tr *tracker, start, allRunning time.Time, createRTT, statusRTT []time.Duration, statusWall time.Duration,
	plan planResult, met map[string]float64, cpu [2]float64) []row {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var lastAnswer, lastKernel time.Time
	var toKernel, toScheduled, toRunning []time.Duration
	for _, s := range tr.s {
		lastAnswer = later(lastAnswer, s.answered)
		lastKernel = later(lastKernel, s.kernel)
		toKernel = append(toKernel, s.kernel.Sub(s.submit))
		if !s.scheduled.IsZero() {
			toScheduled = append(toScheduled, s.scheduled.Sub(s.submit))
		}
		if !s.running.IsZero() {
			toRunning = append(toRunning, s.running.Sub(s.submit))
		}
	}
	n := float64(cc.sessions)
	placeRate := n / lastKernel.Sub(start).Seconds()
	submitRate := n / lastAnswer.Sub(start).Seconds()
	statusRate := float64(len(statusRTT)) / statusWall.Seconds()
	planRate := float64(plan.placed) / plan.median.Seconds()
	rows := []row{{
		metric:   fmt.Sprintf("placement throughput (%d sessions, %d agents)", cc.sessions, cc.agents),
		ours:     fmt.Sprintf("%.0f sessions/s", placeRate),
		baseline: fmt.Sprintf("POST /session alone: %.0f/s; pure Plan: %.0f/s", submitRate, planRate),
		target:   "target ≥ 1000/s",
		verdict:  verdict(placeRate >= targetPlacementsPerSec),
	}}
	for _, q := range []struct {
		name string
		p    float64
	}{{"p50", 50}, {"p99", 99}} {
		rows = append(rows, row{
			metric:   "scheduling decision latency (POST → CreateKernel at agent), " + q.name,
			ours:     ms(pct(toKernel, q.p)),
			baseline: "POST /session round trip: " + ms(pct(createRTT, q.p)),
			target:   "(info)",
			verdict:  "-",
		})
	}
	seen := func(d []time.Duration) string {
		if len(d) == len(tr.s) {
			return ""
		}
		return fmt.Sprintf(" (%d of %d events seen)", len(d), len(tr.s))
	}
	rows = append(rows, row{
		metric:   "POST → SCHEDULED event, p50 / p99",
		ours:     ms(pct(toScheduled, 50)) + " / " + ms(pct(toScheduled, 99)) + seen(toScheduled),
		baseline: "signed GET /manager/status: " + ms(pct(statusRTT, 50)) + " / " + ms(pct(statusRTT, 99)),
		target:   "(info)",
		verdict:  "-",
	}, row{
		metric:   "POST → RUNNING event, p50 / p99",
		ours:     ms(pct(toRunning, 50)) + " / " + ms(pct(toRunning, 99)) + seen(toRunning),
		baseline: fmt.Sprintf("all RUNNING after %s", secs(allRunning.Sub(start))),
		target:   "(info)",
		verdict:  "-",
	}, row{
		metric:   fmt.Sprintf("submission rate (%d in flight)", cc.inflight),
		ours:     fmt.Sprintf("%.0f sessions/s", submitRate),
		baseline: fmt.Sprintf("signed GET /manager/status: %.0f req/s", statusRate),
		target:   "(info)",
		verdict:  "-",
	})
	rows = append(rows, row{
		metric:   "CPU while placing (manager / load generator)",
		ours:     fmt.Sprintf("%.2f / %.2f cores", cpu[0], cpu[1]),
		baseline: fmt.Sprintf("machine: %d cores", runtime.NumCPU()),
		target:   "(info)",
		verdict:  "-",
	})
	rounds := met["bai_manager_scheduling_duration_seconds_count"]
	if rounds > 0 {
		mean := time.Duration(met["bai_manager_scheduling_duration_seconds_sum"] / rounds * float64(time.Second))
		rows = append(rows, row{
			metric:   "manager scheduling rounds",
			ours:     fmt.Sprintf("%.0f rounds, mean %s, %.0f placed/round", rounds, ms(mean), met["bai_manager_placements_total"]/rounds),
			baseline: fmt.Sprintf("pure Plan %d×%d: %s", plan.pending, plan.agents, ms(plan.median)),
			target:   "(info)",
			verdict:  "-",
		})
	}
	return rows
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func share(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) }

// fanOut runs fn for 0..n-1 with at most par at once and returns each
// call's duration and the wall time of the whole; the first error stops it.
func fanOut(ctx context.Context, n, par int, fn func(ctx context.Context, i int) error) ([]time.Duration, time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	durs := make([]time.Duration, n)
	next := make(chan int)
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	start := time.Now()
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				t0 := time.Now()
				if err := fn(ctx, i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					continue
				}
				durs[i] = time.Since(t0)
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return durs, time.Since(start), firstErr
}

// watchEvents opens the all-tenant session event stream (as superadmin) and
// feeds it to tr until ctx ends. It returns once the stream is open.
func watchEvents(ctx context.Context, m *managerProc, tr *tracker, errc chan<- error) error {
	req, err := signedRequest(ctx, m.url, m.admin, http.MethodGet, "/events/session?scope=*")
	if err != nil {
		return err
	}
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return fmt.Errorf("event stream: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return fmt.Errorf("event stream answered %d: %s", resp.StatusCode, truncateBytes(b, 300))
	}
	rd := bufio.NewReaderSize(resp.Body, 64<<10)
	// The server writes a comment line once it has subscribed.
	if _, err := rd.ReadString('\n'); err != nil {
		resp.Body.Close()
		return fmt.Errorf("event stream: %w", err)
	}
	go func() {
		defer resp.Body.Close()
		var name string
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				if ctx.Err() == nil {
					errc <- err
				}
				return
			}
			line = strings.TrimRight(line, "\r\n")
			switch {
			case strings.HasPrefix(line, "event: "):
				name = line[len("event: "):]
			case strings.HasPrefix(line, "data: "):
				var e struct {
					SessionName string `json:"sessionName"`
					Status      string `json:"status"`
					Reason      string `json:"reason"`
				}
				if json.Unmarshal([]byte(line[len("data: "):]), &e) == nil {
					tr.event(name, e.SessionName, e.Status, e.Reason, time.Now())
				}
			}
		}
	}()
	return nil
}

// signedRequest builds a request signed like the compat client's (which
// reads whole answers, so it cannot hold a stream open).
func signedRequest(ctx context.Context, endpoint string, kp keyPair, method, pathQuery string) (*http.Request, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return nil, err
	}
	date := time.Now().UTC()
	raw := compat.FormatDate(date)
	empty := sha256.Sum256(nil)
	const ct = "text/plain"
	sig := compat.Sign(kp.secret, date, u.Host, compat.StringToSign(method, pathQuery, raw, u.Host, ct, compat.V6, hex.EncodeToString(empty[:])))
	req, err := http.NewRequestWithContext(ctx, method, endpoint+pathQuery, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("X-BackendAI-Date", raw)
	req.Header.Set("X-BackendAI-Version", compat.V6)
	req.Header.Set("Authorization", fmt.Sprintf("BackendAI signMethod=HMAC-SHA256, credential=%s:%s", kp.access, sig))
	return req, nil
}

// waitAllRunning waits until every benchmark session is RUNNING and
// returns when the last one was seen so. The event stream reports most;
// the stream may drop events when its reader falls behind, so sessions it
// is silent about are asked for one by one.
func waitAllRunning(ctx context.Context, clients []*compat.Client, tr *tracker, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	checked := make([]time.Time, tr.n) // when asked and found RUNNING
	lastMissing := -1
	for {
		var missing []int
		var last time.Time
		tr.mu.Lock()
		for i, s := range tr.s {
			switch {
			case !s.running.IsZero():
				last = later(last, s.running)
			case !checked[i].IsZero():
				last = later(last, checked[i])
			default:
				missing = append(missing, i)
			}
		}
		tr.mu.Unlock()
		if len(missing) == 0 {
			return last, nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%d of %d sessions not RUNNING after %s", len(missing), tr.n, timeout)
		}
		if len(missing) == lastMissing { // no event came: ask
			for _, i := range missing[:min(len(missing), 200)] {
				si, _, err := clients[i%len(clients)].Info(ctx, tr.name(i))
				if err != nil {
					return time.Time{}, err
				}
				if si.Status == string(types.StatusRunning) {
					checked[i] = time.Now()
				} else if types.SessionStatus(si.Status).Final() {
					return time.Time{}, fmt.Errorf("session %s ended %s: %s", si.SessionName, si.Status, si.StatusInfo)
				}
			}
		}
		lastMissing = len(missing)
		if err := sleepCtx(ctx, 250*time.Millisecond); err != nil {
			return time.Time{}, err
		}
	}
}

// planResult is the in-process scheduler baseline.
type planResult struct {
	pending, agents, placed int
	median                  time.Duration
}

// planBaseline times scheduler.Plan on a snapshot like the placement
// phase's first round: every session pending, every agent empty, the
// sessions' images and slots as the manager derives them.
func planBaseline(pending, agents, runs int) planResult {
	imgs := make([]string, len(simImages))
	for i, im := range simImages {
		imgs[i] = im.name
	}
	snap := scheduler.Snapshot{Groups: map[string]scheduler.Group{"default": {Policy: scheduler.FIFO, Selector: scheduler.Concentrated}}}
	for i := range agents {
		snap.Agents = append(snap.Agents, scheduler.Agent{ID: fmt.Sprintf("sim-plan-%04d", i), ScalingGroup: "default",
			Available: resource.Slots(simCapacity), Occupied: resource.Slots{}, Images: imgs, Schedulable: true})
	}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range pending {
		im := simImages[i%len(simImages)]
		mem := float64(512 << 20) // the manager's default, raised to the image's minimum
		if v, err := resource.ParseBytes(im.minMem); err == nil && float64(v) > mem {
			mem = float64(v)
		}
		snap.Pending = append(snap.Pending, scheduler.Pending{SessionID: fmt.Sprintf("%08d-0000-4000-8000-000000000000", i),
			ScalingGroup: "default", Image: im.name, Owner: fmt.Sprintf("owner%d", i%10),
			Requested: resource.Slots{resource.CPU: 1, resource.Mem: mem}, Enqueued: t0.Add(time.Duration(i) * time.Millisecond)})
	}
	var durs []time.Duration
	placed := 0
	for range max(runs, 1) {
		start := time.Now()
		res := scheduler.Plan(snap)
		durs = append(durs, time.Since(start))
		placed = len(res.Placements)
	}
	return planResult{pending: pending, agents: agents, placed: placed, median: pct(durs, 50)}
}

func printClusterTable(out io.Writer, cc clusterConfig, db string, rows []row) {
	fmt.Fprintf(out, "\nbai cluster benchmark on %s (simulated agents, bai manager; %s)\n\n", db, time.Now().Format(time.RFC3339))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tbai\tbaseline\ttarget\tresult")
	fmt.Fprintln(tw, "------\t---\t--------\t------\t------")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.metric, r.ours, r.baseline, r.target, r.verdict)
	}
	_ = tw.Flush()
	fmt.Fprintf(out, `
How to read it:
  heartbeat CPU   utime+stime of the manager process over %[1]s, with %[2]d agents beating
                  minus the same window with no agent (baseline); "at 500/s" scales the
                  CPU per heartbeat to 500 agents × 1/s, the target's load.
  placement       first POST /session (enqueueOnly, %[3]d in flight, %[4]d owners) to the last
                  CreateKernel a simulated agent received. Baselines: the POST /session
                  round trips alone (an upper bound: nothing is placed before it is
                  enqueued) and the in-process scheduler.Plan of all %[5]d pending sessions on
                  %[6]d empty agents (the decision alone, no database, no HTTP).
  latency         per session, from sending its POST /session to its CreateKernel at the
                  agent; the SCHEDULED/RUNNING figures come from the superadmin event
                  stream. Baselines: the POST round trip, and a signed GET /manager/status
                  (authentication, no work) at the same concurrency.
`, cc.window, cc.hbAgents, cc.inflight, cc.owners, cc.sessions, cc.agents)
}
