// Package agent is the compute-host half of the system: one agent runs on
// every host, registers it with the manager by heartbeats, runs kernels in
// containers on the manager's orders, and reports the kernels that die on
// their own. This package wires the parts: config, the container runtime,
// the kernel manager and the control server.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"baigo.dev/bai/agent/config"
	"baigo.dev/bai/agent/kernel"
	"baigo.dev/bai/agent/metrics"
	"baigo.dev/bai/agent/netguard"
	"baigo.dev/bai/agent/resources"
	"baigo.dev/bai/agent/resources/gpu"
	"baigo.dev/bai/agent/runtime"
	"baigo.dev/bai/agent/runtime/docker"
	"baigo.dev/bai/agent/runtime/process"
	"baigo.dev/bai/agent/scratch"
	"baigo.dev/bai/agent/server"
	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/resource"
)

// Version is the agent version reported in heartbeats.
const Version = "0.1.0"

// guardInterval is how often the isolation of networked sessions is
// re-checked (and repaired) while the agent runs.
const guardInterval = 30 * time.Second

// Config configures an agent; see the config package for the fields and
// their defaults.
type Config = config.Config

// Agent is one running agent.
type Agent struct {
	cfg      Config
	log      *slog.Logger
	rt       runtime.Runtime
	closeRT  func()
	kernels  *kernel.Manager
	client   *server.Client
	ln       net.Listener
	capacity resource.Slots
	guard    *netguard.Guard // isolation of networked sessions; nil: none to watch

	hbMu       sync.Mutex
	sentDigest string // images digest of the heartbeat in flight
	ackDigest  string // digest the manager confirmed it knows
	devices    []gpu.Device

	runOnce sync.Once
	runCtx  context.Context // set when Run starts; ends background work
	bg      sync.WaitGroup
}

// New checks cfg, connects to the container runtime and starts listening on
// the control address (so Addr works at once); Run serves.
func New(cfg Config, log *slog.Logger) (*Agent, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	if cfg.ID == "" {
		id, err := config.LoadOrCreateID(cfg.DataDir)
		if err != nil {
			return nil, fmt.Errorf("agent id: %w", err)
		}
		cfg.ID = id
	}
	log = log.With("agent_id", cfg.ID)
	devices, source, reason := gpu.Discover(cfg.FakeGPUs)
	if len(devices) > 0 {
		log.Info("gpus found", "source", source, "count", len(devices), "model", devices[0].Model)
	} else {
		log.Info("no gpus", "source", source, "reason", reason)
	}
	capacity, err := resources.Probe{Root: "/", Devices: devices}.Capacity()
	if err != nil {
		return nil, fmt.Errorf("measure capacity: %w", err)
	}
	capacity[resource.CPU] *= cfg.CPUOvercommit
	// An operator may offer less than the host has (to keep room for other
	// services, or to run several agents on one host).
	if cfg.MaxCPU > 0 && capacity[resource.CPU] > cfg.MaxCPU {
		capacity[resource.CPU] = cfg.MaxCPU
	}
	if cfg.MaxMem > 0 && capacity[resource.Mem] > float64(cfg.MaxMem) {
		capacity[resource.Mem] = float64(cfg.MaxMem)
	}
	a := &Agent{cfg: cfg, log: log, capacity: capacity, devices: devices, closeRT: func() {}}
	var scratchSize int64
	switch cfg.Runtime {
	case config.RuntimeDocker:
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cli, err := docker.Connect(ctx)
		if err != nil {
			return nil, err
		}
		drt := docker.New(cli, log.With("runtime", "docker"))
		a.rt = drt
		a.closeRT = func() { _ = cli.Close() }
		a.guard = isolateNetwork(ctx, drt, cli, cfg, log)
		scratchSize = capScratch(ctx, cfg, log)
	case config.RuntimeProcess:
		prt := process.New(log.With("runtime", "process"))
		a.rt = prt
		a.closeRT = func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = prt.Close(ctx)
		}
	}
	a.client = server.NewClient(cfg.ManagerURL, cfg.ClusterSecret, nil)
	a.kernels = kernel.New(kernel.Config{
		AgentID:     cfg.ID,
		DataDir:     cfg.DataDir,
		RunnerPath:  cfg.RunnerPath,
		LibDir:      cfg.KernelLibDir,
		Chown:       cfg.Runtime == config.RuntimeDocker,
		UID:         cfg.ContainerUID,
		GID:         cfg.ContainerGID,
		PidsLimit:   cfg.PidsLimit,
		GPUs:        gpu.NewAllocator(devices),
		ScratchSize: scratchSize,
		JailMode:    cfg.JailMode,
	}, a.rt, log, a.onDied)

	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		a.closeRT()
		return nil, fmt.Errorf("listen on %s: %v: %w", cfg.ListenAddr, err, errdefs.ErrUnavailable)
	}
	a.ln = ln
	if a.cfg.AdvertiseURL == "" {
		a.cfg.AdvertiseURL = "http://" + ln.Addr().String()
	}
	return a, nil
}

// isolateNetwork gives networked kernels the isolated session network.
// When the host cannot isolate them, it says so once here, and every
// networked kernel fails with the reason (they never get open access).
// It returns the guard to keep watching, nil when there is nothing to
// watch.
func isolateNetwork(ctx context.Context, rt *docker.Runtime, cli netguard.NetworkClient, cfg Config, log *slog.Logger) *netguard.Guard {
	g := netguard.New(netguard.Config{Network: cfg.SessionNetwork, Bridge: cfg.SessionBridge, ManagerURLs: cfg.ManagerURL}, cli, log)
	rt.SetSessionNetwork(docker.SessionNetwork{Name: cfg.SessionNetwork, Ready: g.Ready, Sysctls: g.Sysctls()})
	if err := g.Ready(ctx); err != nil {
		log.Warn("sessions with network will be refused", "reason", err.Error())
		return nil
	}
	log.Info("sessions with network are isolated", "network", cfg.SessionNetwork, "bridge", cfg.SessionBridge, "gateway", g.Gateway())
	return g
}

// capScratch returns the cap of kernels' work dirs: cfg.ScratchSize when
// this host can mount them (root, mkfs.ext4, loop devices), else 0 with
// one warning that says why.
func capScratch(ctx context.Context, cfg Config, log *slog.Logger) int64 {
	if cfg.ScratchSize <= 0 {
		log.Info("scratch dirs are uncapped (--scratch-size 0): a session can fill the agent's disk")
		return 0
	}
	if err := scratch.Probe(ctx, cfg.DataDir); err != nil {
		log.Warn("scratch dirs are uncapped: a session can fill the agent's disk", "reason", err.Error())
		return 0
	}
	log.Info("scratch dirs are capped", "size", resource.FormatBytes(cfg.ScratchSize))
	return cfg.ScratchSize
}

// ID returns the agent's id.
func (a *Agent) ID() string { return a.cfg.ID }

// Addr returns the actual control listen address, e.g. 127.0.0.1:6001.
func (a *Agent) Addr() string { return a.ln.Addr().String() }

// URL returns the control base URL advertised to the manager.
func (a *Agent) URL() string { return a.cfg.AdvertiseURL }

// Run adopts the kernels a previous agent left, then serves the control API,
// sends heartbeats and watches container events until ctx is done. Kernel
// containers are left running when it returns, for the next agent to adopt
// (except with the process runtime, whose kernels cannot outlive it). Run
// may be called once.
func (a *Agent) Run(ctx context.Context) error {
	err := fmt.Errorf("agent already ran: %w", errdefs.ErrConflict)
	a.runOnce.Do(func() { err = a.run(ctx) })
	return err
}

func (a *Agent) run(ctx context.Context) error {
	defer a.closeRT()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a.runCtx = ctx

	// Watch events before adopting so that no death goes unseen.
	a.bg.Add(1)
	go func() { defer a.bg.Done(); a.kernels.WatchEvents(ctx) }()
	if ids, err := a.kernels.Adopt(ctx); err != nil {
		a.log.Warn("adopting kernels", "err", err)
	} else if len(ids) > 0 {
		a.log.Info("adopted kernels", "count", len(ids))
	}

	met := metrics.New(a.kernels, a.capacitySlots).Handler()
	if a.cfg.MetricsListen != "" {
		ml, err := net.Listen("tcp", a.cfg.MetricsListen)
		if err != nil {
			return fmt.Errorf("metrics listener on %s: %w", a.cfg.MetricsListen, err)
		}
		msrv := &http.Server{Handler: server.MetricsHandler(met), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = msrv.Serve(ml) }()
		defer msrv.Close()
		a.log.Info("agent metrics listening", "addr", ml.Addr().String())
	}
	srv := &http.Server{
		Handler:           server.NewHandler(a.kernels, a.cfg.ClusterSecret, a.log, met),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(a.ln) }()
	a.log.Info("agent serving", "addr", a.Addr(), "url", a.cfg.AdvertiseURL, "manager", a.cfg.ManagerURL, "runtime", a.cfg.Runtime)

	if a.guard != nil {
		a.bg.Add(1)
		go func() { defer a.bg.Done(); a.guard.Watch(ctx, guardInterval) }()
	}
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		server.HeartbeatLoop(ctx, a.client, a.cfg.HeartbeatInterval, a.log, a.heartbeat, a.onReply(ctx))
	}()

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("control server: %w", err)
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = srv.Shutdown(sctx)
	scancel()
	a.bg.Wait()
	if len(a.kernels.States()) == 0 {
		// Nothing to adopt on a restart: tell the manager we are gone, so
		// it does not wait for the heartbeat timeout (a scaler removing a
		// drained agent relies on this). An agent that still runs kernels
		// stays registered and adopts them when it comes back.
		lctx, lcancel := context.WithTimeout(context.Background(), 2*time.Second)
		hb := a.heartbeat(lctx, false)
		hb.Leaving = true
		if _, err := a.client.Heartbeat(lctx, hb); err != nil {
			// Expected when the manager stops first (bai dev): it then
			// calls this agent LOST after its heartbeat timeout instead.
			a.log.Info("the manager did not hear that this agent left; it will mark it LOST after the heartbeat timeout", "err", err)
		}
		lcancel()
	}
	a.client.Close()
	a.kernels.Close()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	a.log.Info("agent stopped")
	return err
}

func (a *Agent) heartbeat(ctx context.Context, first bool) aproto.Heartbeat {
	ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
	images, err := a.rt.Images(ictx)
	cancel()
	if err != nil {
		a.log.Warn("list images", "err", err)
	}
	if images == nil {
		images = []aproto.Image{}
	}
	health := a.health(err)
	digest := aproto.ImagesDigest(images)
	a.hbMu.Lock()
	if !first && err == nil && digest == a.ackDigest {
		images = nil // the manager has this list
	}
	a.sentDigest = digest
	a.hbMu.Unlock()
	return aproto.Heartbeat{
		AgentID:      a.cfg.ID,
		Addr:         a.cfg.AdvertiseURL,
		Version:      Version,
		Region:       a.cfg.Region,
		ScalingGroup: a.cfg.ScalingGroup,
		Capacity:     a.capacity,
		Images:       images,
		ImagesDigest: digest,
		Kernels:      a.kernelStates(ctx),
		Devices:      gpu.Proto(a.devices),
		Health:       health,
		First:        first,
		Time:         time.Now().UTC(),
	}
}

// kernelStates reports the kernels with a sample of their usage each.
func (a *Agent) kernelStates(ctx context.Context) []aproto.KernelState {
	states := a.kernels.States()
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	stats := a.kernels.Stats(sctx)
	cancel()
	for i := range states {
		states[i].Stats = stats[states[i].KernelID]
	}
	return states
}

// capacitySlots returns a copy of the slots the agent offers.
func (a *Agent) capacitySlots() resource.Slots {
	out := make(resource.Slots, len(a.capacity))
	for k, v := range a.capacity {
		out[k] = v
	}
	return out
}

// onReply destroys the kernels the manager no longer wants.
func (a *Agent) onReply(ctx context.Context) func(aproto.HeartbeatReply) {
	return func(r aproto.HeartbeatReply) {
		a.hbMu.Lock()
		if r.NeedImages {
			a.ackDigest = ""
		} else {
			a.ackDigest = a.sentDigest
		}
		a.hbMu.Unlock()
		for _, id := range r.Orphans {
			a.bg.Add(1)
			go func() {
				defer a.bg.Done()
				dctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if _, err := a.kernels.Destroy(dctx, id); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
					a.log.Warn("destroy orphan kernel", "kernel_id", id, "err", err)
				} else if err == nil {
					a.log.Info("destroyed orphan kernel", "kernel_id", id)
				}
			}()
		}
	}
}

// onDied pushes a kernel's death to the manager at once.
func (a *Agent) onDied(ev aproto.KernelEvent) {
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		ctx, cancel := context.WithTimeout(a.runCtx, 30*time.Second)
		defer cancel()
		a.client.PushEventRetry(ctx, ev, a.log)
	}()
}

// health reports what keeps this agent from running new kernels: the
// container runtime not answering (imagesErr), or a data directory with less
// free space than MinFreeDisk.
func (a *Agent) health(imagesErr error) *aproto.Health {
	h := &aproto.Health{}
	if imagesErr != nil {
		h.Problems = append(h.Problems, "container runtime not answering: "+imagesErr.Error())
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(a.cfg.DataDir, &fs); err != nil {
		h.Problems = append(h.Problems, "cannot read the free space of the data directory: "+err.Error())
	} else {
		h.DiskFreeBytes = int64(fs.Bavail) * int64(fs.Bsize)
		if h.DiskFreeBytes < a.cfg.MinFreeDisk {
			h.Problems = append(h.Problems, fmt.Sprintf("only %s free in the data directory %s (needs %s)",
				resource.FormatBytes(h.DiskFreeBytes), a.cfg.DataDir, resource.FormatBytes(a.cfg.MinFreeDisk)))
		}
	}
	return h
}
