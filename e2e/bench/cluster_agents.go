package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"baigo.dev/bai/agent/server"
	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/types"
)

// The simulated agents speak the manager⇄agent protocol (common/aproto)
// exactly as a real agent does, but create no containers: each one has its
// own control listener, answers CreateKernel at once with a made-up
// container id, and heartbeats with a real agent's payload (capacity, the
// kernel images with their labels, the kernels it runs).

// simImage is one kernel image the simulated agents report, as the image
// recipes under agent/images label them.
type simImage struct {
	name, runtimeType, runtimePath, minMem string
}

// simImages are the 16 images `make images` builds.
var simImages = []simImage{
	{"python:3.11-debian", "python", "/usr/bin/python3", "256m"},
	{"c:gcc12-debian", "c", "/usr/bin/gcc", "256m"},
	{"cpp:gcc12-debian", "cpp", "/usr/bin/g++", "256m"},
	{"go:1.19-debian", "go", "/usr/bin/go", "256m"},
	{"rust:1.63-debian", "rust", "/usr/bin/rustc", "512m"},
	{"java:17-debian", "java", "/usr/bin/javac", "512m"},
	{"nodejs:18-debian", "nodejs", "/usr/bin/node", "256m"},
	{"ruby:3.1-debian", "ruby", "/usr/bin/ruby", "256m"},
	{"php:8.2-debian", "php", "/usr/bin/php", "256m"},
	{"lua:5.4-debian", "lua", "/usr/bin/lua5.4", "256m"},
	{"r:4.2-debian", "r", "/usr/bin/Rscript", "512m"},
	{"octave:7-debian", "octave", "/usr/bin/octave-cli", "512m"},
	{"haskell:ghc9.0-debian", "haskell", "/usr/bin/ghc", "1g"},
	{"bash:5.2-debian", "bash", "/bin/bash", "128m"},
	{"scheme:guile3.0-debian", "scheme", "/usr/bin/guile-3.0", "256m"},
	{"perl:5.36-debian", "perl", "/usr/bin/perl", "256m"},
}

// protoImages renders simImages the way the docker runtime reports images.
func protoImages() []aproto.Image {
	out := make([]aproto.Image, 0, len(simImages))
	for i, im := range simImages {
		out = append(out, aproto.Image{
			Name: im.name,
			Ref:  "bai/" + im.name,
			ID:   fmt.Sprintf("sha256:%064x", i+1),
			Size: int64(300+40*i) << 20,
			Labels: map[string]string{
				types.LabelKernelSpec:   "1",
				types.LabelFeatures:     "batch query uid-match user-input",
				types.LabelMinCPU:       "1",
				types.LabelMinMem:       im.minMem,
				types.LabelBaseDistro:   "debian12",
				types.LabelRuntimeType:  im.runtimeType,
				types.LabelRuntimePath:  im.runtimePath,
				types.LabelServicePorts: "",
				types.LabelRecipeHash:   fmt.Sprintf("%016x", 0xba1000+i),
			},
		})
	}
	return out
}

// simCapacity is what each simulated agent offers: a 64-core, 256 GiB host.
var simCapacity = map[string]float64{"cpu": 64, "mem": 256 << 30}

// fleet is a set of simulated agents sharing one keep-alive HTTP client.
type fleet struct {
	managerURL string
	secret     string
	interval   time.Duration
	hc         *http.Client
	images     []aproto.Image
	digest     string
	group      string
	// onCreate is told of every CreateKernel an agent receives.
	onCreate func(req aproto.CreateKernel, at time.Time)

	agents []*simAgent
	cancel context.CancelFunc
	wg     sync.WaitGroup

	registered atomic.Int64 // agents whose first heartbeat was accepted
	regCh      chan struct{}

	mu        sync.Mutex
	recording bool
	rtts      []time.Duration
	beatsOK   int64
	beatErrs  int64
	firstErr  error
}

// simAgent is one simulated agent.
type simAgent struct {
	id   string
	addr string
	ln   net.Listener
	srv  *http.Server

	client *server.Client

	mu      sync.Mutex
	kernels map[string]aproto.KernelState
	// acked is true once the manager confirmed it knows this agent's image
	// list: later heartbeats carry only its digest, as a real agent's do.
	acked bool
}

// startFleet opens n control listeners and starts n agents heartbeating
// every interval, their first beats spread evenly over one interval.
func startFleet(ctx context.Context, managerURL, secret, tag string, n int, interval time.Duration, onCreate func(aproto.CreateKernel, time.Time)) (*fleet, error) {
	return startFleetIn(ctx, managerURL, secret, tag, "default", n, interval, onCreate)
}

// startFleetIn is startFleet for agents of scaling group group.
func startFleetIn(ctx context.Context, managerURL, secret, tag, group string, n int, interval time.Duration, onCreate func(aproto.CreateKernel, time.Time)) (*fleet, error) {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        n + 16,
		MaxIdleConnsPerHost: n + 16,
		IdleConnTimeout:     90 * time.Second,
	}
	f := &fleet{managerURL: managerURL, secret: secret, interval: interval, images: protoImages(), onCreate: onCreate,
		hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}, regCh: make(chan struct{})}
	f.digest = aproto.ImagesDigest(f.images)
	f.group = group
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			f.stop()
			return nil, fmt.Errorf("agent listener %d: %w", i, err)
		}
		a := &simAgent{id: fmt.Sprintf("sim-%s-%04d", tag, i), addr: "http://" + ln.Addr().String(), ln: ln,
			client:  server.NewClient(managerURL, secret, f.hc),
			kernels: map[string]aproto.KernelState{}}
		a.srv = &http.Server{Handler: f.control(a), ReadHeaderTimeout: 10 * time.Second}
		f.agents = append(f.agents, a)
		go func() { _ = a.srv.Serve(ln) }()
	}
	rctx, cancel := context.WithCancel(ctx)
	f.cancel = cancel
	for i, a := range f.agents {
		offset := time.Duration(int64(interval) * int64(i) / int64(n))
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.beatLoop(rctx, a, offset)
		}()
	}
	return f, nil
}

// waitRegistered waits until every agent's first heartbeat was accepted.
func (f *fleet) waitRegistered(ctx context.Context, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-f.regCh:
		return nil
	case <-t.C:
		f.mu.Lock()
		err := f.firstErr
		f.mu.Unlock()
		return fmt.Errorf("%d of %d simulated agents registered after %s (first heartbeat error: %v)",
			f.registered.Load(), len(f.agents), timeout, err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// record starts (or stops) collecting heartbeat round trips and counts.
func (f *fleet) record(on bool) {
	f.mu.Lock()
	f.recording = on
	if on {
		f.rtts, f.beatsOK, f.beatErrs = nil, 0, 0
	}
	f.mu.Unlock()
}

// beatStats returns what was recorded.
func (f *fleet) beatStats() (rtts []time.Duration, ok, failed int64, firstErr error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.rtts...), f.beatsOK, f.beatErrs, f.firstErr
}

// stop ends the heartbeats and closes the control listeners.
func (f *fleet) stop() {
	if f.cancel != nil {
		f.cancel()
	}
	f.wg.Wait()
	for _, a := range f.agents {
		_ = a.srv.Close()
		a.client.Close()
	}
	f.hc.CloseIdleConnections()
}

func (f *fleet) beatLoop(ctx context.Context, a *simAgent, offset time.Duration) {
	select {
	case <-time.After(offset):
	case <-ctx.Done():
		return
	}
	t := time.NewTicker(f.interval)
	defer t.Stop()
	first := true
	for {
		if err := f.beat(ctx, a, first); err == nil {
			if first && f.registered.Add(1) == int64(len(f.agents)) {
				close(f.regCh)
			}
			first = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// beat sends one heartbeat and removes the orphans the manager names.
func (f *fleet) beat(ctx context.Context, a *simAgent, first bool) error {
	a.mu.Lock()
	ks := make([]aproto.KernelState, 0, len(a.kernels))
	for _, k := range a.kernels {
		ks = append(ks, k)
	}
	acked := a.acked
	a.mu.Unlock()
	hb := aproto.Heartbeat{AgentID: a.id, Addr: a.addr, Version: "bench", Region: "local", ScalingGroup: f.group,
		Capacity: simCapacity, ImagesDigest: f.digest, Kernels: ks, First: first, Time: time.Now().UTC(),
		Health: &aproto.Health{DiskFreeBytes: 100 << 30}}
	if first || !acked {
		hb.Images = f.images
	}
	// The agent's own client: the heartbeat stream (WebSocket), with the
	// POST form as its fallback, exactly as a real agent sends them.
	t0 := time.Now()
	reply, err := a.client.Heartbeat(ctx, hb)
	rtt := time.Since(t0)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	f.mu.Lock()
	if err != nil && f.firstErr == nil {
		f.firstErr = fmt.Errorf("agent %s: %w", a.id, err)
	}
	if f.recording {
		if err != nil {
			f.beatErrs++
		} else {
			f.beatsOK++
			f.rtts = append(f.rtts, rtt)
		}
	}
	f.mu.Unlock()
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.acked = !reply.NeedImages
	for _, id := range reply.Orphans {
		delete(a.kernels, id)
	}
	a.mu.Unlock()
	return nil
}

// control is a simulated agent's control API.
func (f *fleet) control(a *simAgent) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("POST /v1/kernels", func(w http.ResponseWriter, r *http.Request) {
		at := time.Now()
		var req aproto.CreateKernel
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.KernelID == "" {
			problem(w, http.StatusBadRequest, fmt.Sprintf("bad CreateKernel: %v", err))
			return
		}
		cid := "fake-" + strings.ReplaceAll(req.KernelID, "-", "")
		a.mu.Lock()
		a.kernels[req.KernelID] = aproto.KernelState{KernelID: req.KernelID, SessionID: req.SessionID, ContainerID: cid, Running: true}
		a.mu.Unlock()
		if f.onCreate != nil {
			if f.onCreate != nil {
				f.onCreate(req, at)
			}
		}
		writeJSON(w, aproto.KernelInfo{KernelID: req.KernelID, ContainerID: cid})
	})
	mux.HandleFunc("DELETE /v1/kernels/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		a.mu.Lock()
		_, ok := a.kernels[id]
		delete(a.kernels, id)
		a.mu.Unlock()
		if !ok {
			problem(w, http.StatusNotFound, "no kernel "+id)
			return
		}
		writeJSON(w, aproto.DestroyResult{Stats: map[string]any{}})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(aproto.HeaderClusterSecret) != f.secret {
			problem(w, http.StatusUnauthorized, "the cluster secret is missing or wrong")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func problem(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "title": http.StatusText(code), "msg": msg})
}

func truncateBytes(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
