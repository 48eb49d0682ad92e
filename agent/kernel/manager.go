// Package kernel manages the kernels of one agent: it creates their
// containers through a runtime, talks to the runner inside each over ZeroMQ,
// keeps the output of the current run for the manager's execute polling,
// notices crashes, and adopts the kernels a previous agent process left
// running.
//
// A kernel moves through these states:
//
//	creating ──ready──▶ running ──Restart──▶ restarting ──ready──▶ running
//	    │                  │  │
//	    ▼                  │  └──die event──▶ dead (reported upward)
//	 (removed)             ▼
//	                   destroying ──▶ (removed)
//
// Only a die event of a kernel in the running state is a crash; the others
// are expected and stay quiet.
package kernel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"baigo.dev/bai/agent/resources/gpu"
	"baigo.dev/bai/agent/runtime"
	"baigo.dev/bai/agent/scratch"
	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/kproto"
	"baigo.dev/bai/common/resource"
	"baigo.dev/bai/common/types"
)

// Defaults.
const (
	DefaultReadyTimeout = 30 * time.Second
	DefaultFlushTimeout = 2 * time.Second
	completeTimeout     = 5 * time.Second
	statusTimeout       = 5 * time.Second
)

// Config configures a Manager.
type Config struct {
	AgentID    string
	DataDir    string // kernels live in DataDir/kernels/<id>/{ipc,work}
	RunnerPath string // host path of the runner binary
	// LibDir is the host directory mounted read-only at /opt/bai/lib in
	// every kernel (libbaihook.so, python/); empty or missing: none.
	LibDir string
	// Chown makes the kernel's ipc and work dirs belong to UID:GID, the user
	// the runner runs as inside containers.
	Chown        bool
	UID, GID     int
	PidsLimit    int64
	ReadyTimeout time.Duration // how long a runner has to become ready
	FlushTimeout time.Duration // default hold of an execute answer
	// BootstrapTimeout limits a session's bootstrap script; 0:
	// aproto.BootstrapTimeout, which the manager's start wait assumes.
	BootstrapTimeout time.Duration
	// GPUs hands out the host's GPUs to kernels that ask for cuda.device
	// slots; nil: the host has none.
	GPUs *gpu.Allocator
	// ScratchSize, when positive, caps each kernel's work dir: it is then
	// a loop-mounted ext4 image of this size (package scratch; needs
	// root). 0: a plain directory on the agent's disk.
	ScratchSize int64
	// JailMode, unless "" or "off", makes the runner start user code
	// through bai-jail from LibDir in that mode (enforce, watch, noop).
	JailMode string
}

// DiedFunc receives kernels that died without being asked to.
type DiedFunc func(ev aproto.KernelEvent)

// Manager owns the kernels of one agent.
type Manager struct {
	cfg    Config
	rt     runtime.Runtime
	log    *slog.Logger
	onDied DiedFunc

	mu      sync.Mutex
	kernels map[string]*Kernel
}

type state int

const (
	stateCreating state = iota
	stateRunning
	stateRestarting
	stateDestroying
	stateDead
)

func (s state) String() string {
	return [...]string{"creating", "running", "restarting", "destroying", "dead"}[s]
}

// Kernel is one kernel container and its runner connection.
type Kernel struct {
	id, sessionID string
	dir           string
	dialDir       string // dir/ipc or a short symlink to it
	link          string // the symlink to remove, if any
	log           *slog.Logger

	opMu   sync.Mutex    // serialises Restart and Destroy
	compMu sync.Mutex    // one completion at a time
	svcMu  sync.Mutex    // one start-service at a time
	done   chan struct{} // closed once creation ended, successfully or not

	mu          sync.Mutex
	containerID string
	state       state
	conn        *conn
	run         *run
	died        *signal // fires when the container dies while starting
	oom         bool
	slots       resource.Slots // what it was given, for Occupied
	// bootstrapOut is the bootstrap script's output, shown at the head
	// of the kernel's logs.
	bootstrapOut string
	// cpuPrev is the previous usage sample's cpu_used (ms) and when it
	// was taken, from which Stats derives cpu_util.
	cpuPrev   float64
	cpuPrevAt time.Time
}

// signal is a channel closed at most once.
type signal struct {
	ch   chan struct{}
	once sync.Once
}

func newSignal() *signal { return &signal{ch: make(chan struct{})} }

func (s *signal) fire() { s.once.Do(func() { close(s.ch) }) }

// New makes a manager. onDied may be nil.
func New(cfg Config, rt runtime.Runtime, log *slog.Logger, onDied DiedFunc) *Manager {
	if cfg.ReadyTimeout <= 0 {
		cfg.ReadyTimeout = DefaultReadyTimeout
	}
	if cfg.FlushTimeout <= 0 {
		cfg.FlushTimeout = DefaultFlushTimeout
	}
	if cfg.BootstrapTimeout <= 0 {
		cfg.BootstrapTimeout = aproto.BootstrapTimeout
	}
	if onDied == nil {
		onDied = func(aproto.KernelEvent) {}
	}
	if cfg.GPUs == nil {
		cfg.GPUs = gpu.NewAllocator(nil)
	}
	if cfg.LibDir != "" {
		if st, err := os.Stat(cfg.LibDir); err != nil || !st.IsDir() {
			log.Warn("kernel library dir is missing; kernels run without the cpu hook and media support until it is built",
				"dir", cfg.LibDir)
		}
	}
	return &Manager{cfg: cfg, rt: rt, log: log, onDied: onDied, kernels: map[string]*Kernel{}}
}

var kernelIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

func (m *Manager) kernelDir(id string) string {
	return filepath.Join(m.cfg.DataDir, "kernels", id)
}

func (m *Manager) get(id string) (*Kernel, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.kernels[id]
	if !ok {
		return nil, fmt.Errorf("kernel %s: %w", id, errdefs.ErrNotFound)
	}
	return k, nil
}

func (m *Manager) forget(k *Kernel) {
	m.mu.Lock()
	if m.kernels[k.id] == k {
		delete(m.kernels, k.id)
	}
	m.mu.Unlock()
}

func (m *Manager) newKernel(id, sessionID string) *Kernel {
	return &Kernel{
		id:        id,
		sessionID: sessionID,
		dir:       m.kernelDir(id),
		log:       m.log.With("kernel_id", id),
		done:      make(chan struct{}),
		died:      newSignal(),
	}
}

// Create starts a kernel container and returns once its runner is ready.
func (m *Manager) Create(ctx context.Context, req aproto.CreateKernel) (aproto.KernelInfo, error) {
	if !kernelIDPattern.MatchString(req.KernelID) {
		return aproto.KernelInfo{}, fmt.Errorf("kernel id %q: %w", req.KernelID, errdefs.ErrInvalidArgument)
	}
	if req.Image == "" {
		return aproto.KernelInfo{}, fmt.Errorf("kernel %s: no image: %w", req.KernelID, errdefs.ErrInvalidArgument)
	}
	k := m.newKernel(req.KernelID, req.SessionID)
	k.slots = resource.Slots(req.Resources)
	m.mu.Lock()
	if _, ok := m.kernels[k.id]; ok {
		m.mu.Unlock()
		return aproto.KernelInfo{}, fmt.Errorf("kernel %s already exists: %w", k.id, errdefs.ErrConflict)
	}
	m.kernels[k.id] = k
	m.mu.Unlock()
	defer close(k.done)

	info, err := m.create(ctx, k, req)
	if err != nil {
		m.cleanup(k)
		m.forget(k)
		return aproto.KernelInfo{}, err
	}
	k.log.Info("kernel started", "container_id", short(info.ContainerID), "image", req.Image)
	return info, nil
}

func (m *Manager) create(ctx context.Context, k *Kernel, req aproto.CreateKernel) (aproto.KernelInfo, error) {
	ngpu, err := gpu.Count(req.Resources[resource.CUDADevice])
	if err != nil {
		return aproto.KernelInfo{}, fmt.Errorf("kernel %s: %w", k.id, err)
	}
	gpus, err := m.cfg.GPUs.Allocate(k.id, ngpu) // cleanup releases them
	if err != nil {
		return aproto.KernelInfo{}, err
	}
	ipcDir, workDir := filepath.Join(k.dir, "ipc"), filepath.Join(k.dir, "work")
	if err := os.MkdirAll(filepath.Dir(k.dir), 0o711); err != nil {
		return aproto.KernelInfo{}, fmt.Errorf("kernel %s: make dir: %w", k.id, err)
	}
	if err := os.Mkdir(k.dir, 0o700); err != nil {
		return aproto.KernelInfo{}, fmt.Errorf("kernel %s: make dir: %w", k.id, err)
	}
	for _, d := range []string{ipcDir, workDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return aproto.KernelInfo{}, fmt.Errorf("kernel %s: make dir: %w", k.id, err)
		}
		if d == workDir && m.cfg.ScratchSize > 0 {
			start := time.Now()
			if err := scratch.Mount(ctx, filepath.Join(k.dir, scratch.ImageName), workDir, m.cfg.ScratchSize); err != nil {
				return aproto.KernelInfo{}, fmt.Errorf("kernel %s: scratch dir: %w", k.id, err)
			}
			k.log.Debug("scratch dir mounted", "size", m.cfg.ScratchSize, "took", time.Since(start))
		}
		if m.cfg.Chown {
			if err := os.Chown(d, m.cfg.UID, m.cfg.GID); err != nil {
				// Not root: let the container user write anyway.
				k.log.Warn("cannot chown kernel dir, making it world-writable", "dir", d, "err", err)
				if err := os.Chmod(d, 0o777); err != nil {
					return aproto.KernelInfo{}, fmt.Errorf("kernel %s: chmod dir: %w", k.id, err)
				}
			}
		}
	}
	dialDir, link, err := dialIPCDir(ipcDir)
	if err != nil {
		return aproto.KernelInfo{}, fmt.Errorf("kernel %s: %w", k.id, err)
	}
	k.dialDir, k.link = dialDir, link

	env := map[string]string{}
	for key, v := range req.Environ {
		if !strings.HasPrefix(key, "BAI_") && !gpuEnv(key) {
			env[key] = v
		}
	}
	libDir := m.libDir()
	addKernelEnv(env, libDir, req.RuntimeType, req.Resources[resource.CPU])
	addJailEnv(env, m.cfg.JailMode, req.JailPolicy, req.Environ)
	labels := map[string]string{
		types.LabelOwner:     types.OwnerValue,
		types.LabelAgentID:   m.cfg.AgentID,
		types.LabelKernelID:  k.id,
		types.LabelSessionID: req.SessionID,
	}
	if v := encodeSlots(req.Resources); v != "" {
		labels[types.LabelSlots] = v
	}
	// Real devices reach the container through the runtime (Docker device
	// requests). Fake ones exist only on paper: asking Docker for them
	// would fail on a host without the NVIDIA container runtime, so they
	// travel as environment variables only, which is all the tests that
	// use them need to observe the assignment.
	var specGPUs []string
	if len(gpus) > 0 {
		env["CUDA_VISIBLE_DEVICES"] = strings.Join(gpu.UUIDs(gpus), ",")
		env["BAI_CUDA_DEVICES"] = gpu.FormatIndexes(gpus)
		labels[types.LabelCUDADevices] = gpu.FormatIndexes(gpus)
		for _, d := range gpus {
			if !d.Fake() {
				specGPUs = append(specGPUs, d.UUID)
			}
		}
		k.log.Info("kernel gets gpus", "cuda_devices", gpu.FormatIndexes(gpus))
	}
	name := "bai-" + k.id
	if len(k.id) > 12 {
		name = "bai-" + k.id[:12]
	}
	spec := runtime.Spec{
		Name:        name,
		Image:       req.Image,
		Labels:      labels,
		Env:         env,
		GPUs:        specGPUs,
		RunnerPath:  m.cfg.RunnerPath,
		LibDir:      libDir,
		IPCDir:      dialDir,
		WorkDir:     workDir,
		UID:         m.cfg.UID,
		GID:         m.cfg.GID,
		CPU:         req.Resources[resource.CPU],
		Memory:      int64(req.Resources[resource.Mem]),
		PidsLimit:   m.cfg.PidsLimit,
		Network:     req.Network,
		RuntimeType: req.RuntimeType,
		RuntimePath: req.RuntimePath,
	}
	for _, mt := range req.Mounts {
		// The manager checked the name; the agent still refuses one that
		// would land outside /home/work.
		if mt.Name == "" || mt.Name == "." || strings.ContainsAny(mt.Name, "/\x00") || strings.Contains(mt.Name, "..") || !filepath.IsAbs(mt.HostPath) {
			return aproto.KernelInfo{}, fmt.Errorf("kernel %s: mount %q (%s) is not a folder name with an absolute host path: %w", k.id, mt.Name, mt.HostPath, errdefs.ErrInvalidArgument)
		}
		spec.Mounts = append(spec.Mounts, runtime.Mount{Source: mt.HostPath, Target: ContainerWorkDir + "/" + mt.Name, ReadOnly: mt.ReadOnly})
	}
	cid, err := m.rt.Create(ctx, spec)
	if err != nil {
		return aproto.KernelInfo{}, fmt.Errorf("kernel %s: %w", k.id, err)
	}
	k.mu.Lock()
	k.containerID = cid
	k.mu.Unlock()
	if err := m.rt.Start(ctx, cid); err != nil {
		return aproto.KernelInfo{}, fmt.Errorf("kernel %s: %w", k.id, err)
	}
	c, err := m.connectReady(ctx, k)
	if err != nil {
		lctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		logs, _ := m.rt.Logs(lctx, cid)
		cancel()
		if logs = strings.TrimSpace(logs); logs != "" {
			err = fmt.Errorf("%w; container logs:\n%s", err, tail(logs, 4000))
		}
		return aproto.KernelInfo{}, fmt.Errorf("kernel %s: %w", k.id, err)
	}
	k.mu.Lock()
	k.conn, k.state = c, stateRunning
	k.mu.Unlock()
	if req.BootstrapScript != "" {
		if err := m.bootstrap(ctx, k, req.BootstrapScript); err != nil {
			// The caller removes the container; its die event must not be
			// reported as a crash that would word the session's end.
			k.mu.Lock()
			k.state = stateDestroying
			k.mu.Unlock()
			return aproto.KernelInfo{}, fmt.Errorf("kernel %s: %w", k.id, err)
		}
	}
	return aproto.KernelInfo{KernelID: k.id, ContainerID: cid}, nil
}

// exited reports whether the kernel's container has stopped, asking the
// runtime itself: a safety net for a die event that was missed (one that
// came before anything listened, or a dropped event stream).
func (m *Manager) exited(k *Kernel) func(context.Context) bool {
	return func(ctx context.Context) bool {
		k.mu.Lock()
		cid := k.containerID
		k.mu.Unlock()
		if cid == "" {
			return false
		}
		c, err := m.rt.Inspect(ctx, cid)
		return (err == nil && !c.Running) || errors.Is(err, errdefs.ErrNotFound)
	}
}

// connectReady waits for a fresh runner's sockets, connects, and waits for
// its ready message.
func (m *Manager) connectReady(ctx context.Context, k *Kernel) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.ReadyTimeout)
	defer cancel()
	k.mu.Lock()
	died := k.died.ch
	k.mu.Unlock()
	if err := waitSockets(ctx, k.dialDir, died, m.exited(k)); err != nil {
		return nil, err
	}
	c, err := dial(k.dialDir)
	if err != nil {
		return nil, err
	}
	go m.readLoop(k, c)
	select {
	case <-c.ready:
		return c, nil
	case <-died:
		c.close()
		return nil, fmt.Errorf("container exited before the runner was ready: %w", errdefs.ErrUnavailable)
	case <-ctx.Done():
		c.close()
		return nil, fmt.Errorf("runner not ready within %s: %w", m.cfg.ReadyTimeout, errdefs.ErrTimeout)
	}
}

// cleanup removes a kernel's container and host dirs and frees its GPUs.
func (m *Manager) cleanup(k *Kernel) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer m.cfg.GPUs.Release(k.id)
	k.mu.Lock()
	c, cid := k.conn, k.containerID
	k.conn = nil
	k.mu.Unlock()
	if c != nil {
		c.close()
	}
	if cid != "" {
		if err := m.rt.Remove(ctx, cid); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			k.log.Warn("remove container", "container_id", short(cid), "err", err)
		}
	}
	if k.link != "" {
		_ = os.Remove(k.link)
	}
	removeKernelDir(k.dir, k.log)
}

// removeKernelDir unmounts a kernel's capped scratch dir, if it has one,
// and removes the kernel's host dir.
func removeKernelDir(dir string, log *slog.Logger) {
	if err := scratch.Unmount(filepath.Join(dir, "work"), filepath.Join(dir, scratch.ImageName)); err != nil {
		// Removing the tree now would delete the files inside the mount
		// and leave it; keep it for the next start's clean-up.
		log.Warn("unmount scratch dir; kernel dir kept", "dir", dir, "err", err)
		return
	}
	// A process of the kernel that is still being torn down may create a
	// file while the tree is removed; a second pass catches it.
	err := os.RemoveAll(dir)
	for i := 0; err != nil && i < 3; i++ {
		time.Sleep(50 * time.Millisecond)
		err = os.RemoveAll(dir)
	}
	if err != nil {
		log.Warn("remove kernel dir", "dir", dir, "err", err)
	}
}

// Destroy removes a kernel (container and files) and returns its last
// statistics. Its death is not reported as a crash.
func (m *Manager) Destroy(ctx context.Context, id string) (aproto.DestroyResult, error) {
	k, err := m.get(id)
	if err != nil {
		return aproto.DestroyResult{}, err
	}
	select {
	case <-k.done:
	case <-ctx.Done():
		return aproto.DestroyResult{}, fmt.Errorf("kernel %s is still being created: %w", id, errdefs.ErrConflict)
	}
	k.opMu.Lock()
	defer k.opMu.Unlock()
	if cur, err := m.get(id); err != nil || cur != k { // gone meanwhile
		return aproto.DestroyResult{}, fmt.Errorf("kernel %s: %w", id, errdefs.ErrNotFound)
	}
	k.mu.Lock()
	k.state = stateDestroying
	cid := k.containerID
	k.endRunLocked("", -1)
	k.mu.Unlock()

	stats := map[string]any{}
	if cid != "" {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if s, err := m.rt.Stats(sctx, cid); err == nil && s != nil {
			stats = s
		}
		cancel()
	}
	m.cleanup(k)
	m.forget(k)
	k.log.Info("kernel destroyed")
	return aproto.DestroyResult{Stats: stats}, nil
}

// Restart restarts the kernel's container: the language state is lost, the
// files in the work dir are kept.
func (m *Manager) Restart(ctx context.Context, id string) (aproto.KernelInfo, error) {
	k, err := m.get(id)
	if err != nil {
		return aproto.KernelInfo{}, err
	}
	k.opMu.Lock()
	defer k.opMu.Unlock()
	k.mu.Lock()
	if k.state != stateRunning && k.state != stateDead {
		st := k.state
		k.mu.Unlock()
		return aproto.KernelInfo{}, fmt.Errorf("kernel %s is %s: %w", id, st, errdefs.ErrConflict)
	}
	k.state = stateRestarting
	c, cid := k.conn, k.containerID
	k.conn = nil
	k.endRunLocked("kernel restarted\n", -1)
	k.mu.Unlock()
	if c != nil {
		c.close()
	}
	removeSockets(k.dialDir)
	fail := func(err error) (aproto.KernelInfo, error) {
		k.mu.Lock()
		k.state = stateDead
		k.mu.Unlock()
		return aproto.KernelInfo{}, fmt.Errorf("restart kernel %s: %w", id, err)
	}
	if err := m.rt.Restart(ctx, cid); err != nil {
		return fail(err)
	}
	// Only deaths after the restart count; the stop's own die event finds
	// the container running again and is ignored.
	k.mu.Lock()
	k.died = newSignal()
	k.mu.Unlock()
	nc, err := m.connectReady(ctx, k)
	if err != nil {
		return fail(err)
	}
	k.mu.Lock()
	k.conn, k.state = nc, stateRunning
	k.mu.Unlock()
	k.log.Info("kernel restarted")
	return aproto.KernelInfo{KernelID: id, ContainerID: cid}, nil
}

// Interrupt interrupts the kernel's current run.
func (m *Manager) Interrupt(ctx context.Context, id string) error {
	k, err := m.get(id)
	if err != nil {
		return err
	}
	c, err := k.liveConn()
	if err != nil {
		return err
	}
	return c.send(kproto.OpInterrupt, nil)
}

// Complete asks the runner for completions of code.
func (m *Manager) Complete(ctx context.Context, id string, req aproto.Complete) (aproto.CompleteResult, error) {
	k, err := m.get(id)
	if err != nil {
		return aproto.CompleteResult{}, err
	}
	k.compMu.Lock()
	defer k.compMu.Unlock()
	c, err := k.liveConn()
	if err != nil {
		return aproto.CompleteResult{}, err
	}
	select { // drop a stale late answer
	case <-c.completion:
	default:
	}
	b, _ := json.Marshal(kproto.CompleteRequest{Code: req.Code, Options: req.Options})
	if err := c.send(kproto.OpComplete, b); err != nil {
		return aproto.CompleteResult{}, err
	}
	t := time.NewTimer(completeTimeout)
	defer t.Stop()
	select {
	case msg := <-c.completion:
		res := aproto.CompleteResult{Result: []any{}}
		var v any
		if err := json.Unmarshal(msg.Payload, &v); err == nil {
			switch x := v.(type) {
			case []any:
				res.Result = x
			case map[string]any:
				if arr, ok := x["result"].([]any); ok {
					res.Result = arr
				} else if arr, ok := x["suggestions"].([]any); ok {
					res.Result = arr
				}
			}
		}
		return res, nil
	case <-t.C:
		k.log.Warn("completion timed out")
		return aproto.CompleteResult{Result: []any{}}, nil
	case <-ctx.Done():
		return aproto.CompleteResult{}, ctx.Err()
	}
}

// Logs returns the kernel container's logs.
func (m *Manager) Logs(ctx context.Context, id string) (aproto.Logs, error) {
	k, err := m.get(id)
	if err != nil {
		return aproto.Logs{}, err
	}
	k.mu.Lock()
	cid, boot := k.containerID, k.bootstrapOut
	k.mu.Unlock()
	if cid == "" {
		return aproto.Logs{}, fmt.Errorf("kernel %s has no container yet: %w", id, errdefs.ErrUnavailable)
	}
	logs, err := m.rt.Logs(ctx, cid)
	if err != nil {
		return aproto.Logs{}, fmt.Errorf("kernel %s: %w", id, err)
	}
	if boot != "" {
		logs = "[bootstrap script output]\n" + boot + "[end of bootstrap script output]\n" + logs
	}
	return aproto.Logs{Logs: logs}, nil
}

// States reports the kernels for a heartbeat: the running and the dead ones
// (not those being created or destroyed).
func (m *Manager) States() []aproto.KernelState {
	m.mu.Lock()
	ks := make([]*Kernel, 0, len(m.kernels))
	for _, k := range m.kernels {
		ks = append(ks, k)
	}
	m.mu.Unlock()
	out := make([]aproto.KernelState, 0, len(ks))
	for _, k := range ks {
		k.mu.Lock()
		if k.state != stateCreating && k.state != stateDestroying {
			out = append(out, aproto.KernelState{
				KernelID:    k.id,
				SessionID:   k.sessionID,
				ContainerID: k.containerID,
				Running:     k.state != stateDead,
			})
		}
		k.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].KernelID < out[j].KernelID })
	return out
}

// Close drops the runner connections and leaves the containers running, so
// that the next agent process can adopt them.
func (m *Manager) Close() {
	m.mu.Lock()
	ks := make([]*Kernel, 0, len(m.kernels))
	for _, k := range m.kernels {
		ks = append(ks, k)
	}
	m.mu.Unlock()
	for _, k := range ks {
		k.mu.Lock()
		c := k.conn
		k.conn = nil
		k.mu.Unlock()
		if c != nil {
			c.close()
		}
	}
}

func (k *Kernel) liveConn() (*conn, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.state != stateRunning || k.conn == nil {
		return nil, fmt.Errorf("kernel %s is %s: %w", k.id, k.state, errdefs.ErrUnavailable)
	}
	return k.conn, nil
}

// Adopt takes over the kernel containers a previous agent process with the
// same id left behind: running ones whose runner answers are kept, the
// others are removed along with their dirs, and so are kernel dirs without
// a container. It returns the ids of the adopted kernels.
func (m *Manager) Adopt(ctx context.Context) ([]string, error) {
	list, err := m.rt.List(ctx, map[string]string{types.LabelOwner: types.OwnerValue, types.LabelAgentID: m.cfg.AgentID})
	if err != nil {
		return nil, fmt.Errorf("adopt kernels: %w", err)
	}
	keep := map[string]bool{}
	var adopted []string
	for _, c := range list {
		id := c.Labels[types.LabelKernelID]
		if !kernelIDPattern.MatchString(id) {
			continue
		}
		m.mu.Lock()
		_, known := m.kernels[id]
		m.mu.Unlock()
		if known {
			keep[id] = true
			continue
		}
		k := m.newKernel(id, c.Labels[types.LabelSessionID])
		k.containerID = c.ID
		k.slots = decodeSlots(c.Labels[types.LabelSlots])
		close(k.done)
		err := fmt.Errorf("container is not running: %w", errdefs.ErrUnavailable)
		if c.Running {
			err = m.reattach(ctx, k)
		}
		if err != nil {
			k.log.Warn("removing kernel left behind", "container_id", short(c.ID), "err", err)
			m.cleanup(k)
			continue
		}
		m.claimGPUs(k, c.Labels[types.LabelCUDADevices])
		m.mu.Lock()
		m.kernels[id] = k
		m.mu.Unlock()
		keep[id] = true
		adopted = append(adopted, id)
		k.log.Info("kernel adopted", "container_id", short(c.ID))
	}
	// Dirs without a container are leftovers of kernels that are gone.
	entries, _ := os.ReadDir(filepath.Join(m.cfg.DataDir, "kernels"))
	for _, e := range entries {
		if !keep[e.Name()] {
			m.mu.Lock()
			_, known := m.kernels[e.Name()]
			m.mu.Unlock()
			if !known {
				removeKernelDir(filepath.Join(m.cfg.DataDir, "kernels", e.Name()), m.log)
			}
		}
	}
	return adopted, nil
}

// claimGPUs re-learns the GPUs an adopted kernel holds from its container
// label. A device the agent no longer has, or one claimed twice, is
// logged and left alone: the kernel keeps running either way.
func (m *Manager) claimGPUs(k *Kernel, label string) {
	idx, err := gpu.ParseIndexes(label)
	if err == nil && len(idx) > 0 {
		_, err = m.cfg.GPUs.Claim(k.id, idx)
	}
	if err != nil {
		k.log.Warn("adopted kernel's gpus", "cuda_devices", label, "err", err)
	}
}

// gpuEnv reports whether an environment variable decides which GPUs a
// kernel sees; the agent sets those, never the user.
func gpuEnv(key string) bool {
	return key == "CUDA_VISIBLE_DEVICES" || strings.HasPrefix(key, "NVIDIA_")
}

// reattach connects to an adopted kernel's runner and checks it answers.
func (m *Manager) reattach(ctx context.Context, k *Kernel) error {
	dialDir, link, err := dialIPCDir(filepath.Join(k.dir, "ipc"))
	if err != nil {
		return err
	}
	k.dialDir, k.link = dialDir, link
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	if err := waitSockets(ctx, dialDir, nil, m.exited(k)); err != nil {
		return err
	}
	c, err := dial(dialDir)
	if err != nil {
		return err
	}
	go m.readLoop(k, c)
	// Ping until the runner answers: its reply can go to the previous
	// agent's connection, which it drops only when a send to it fails.
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for answered := false; !answered; {
		if err := c.send(kproto.OpStatus, nil); err != nil {
			c.close()
			return err
		}
		select {
		case <-c.status:
			answered = true
		case <-tick.C:
		case <-ctx.Done():
			c.close()
			return fmt.Errorf("runner did not answer status: %w", errdefs.ErrTimeout)
		}
	}
	k.mu.Lock()
	k.conn, k.state = c, stateRunning
	k.mu.Unlock()
	return nil
}

// WatchEvents consumes the runtime's container events until ctx is done,
// reporting crashes through the DiedFunc.
func (m *Manager) WatchEvents(ctx context.Context) {
	for ev := range m.rt.Events(ctx) {
		m.handleEvent(ctx, ev)
	}
}

func (m *Manager) handleEvent(ctx context.Context, ev runtime.Event) {
	if a := ev.Labels[types.LabelAgentID]; a != "" && a != m.cfg.AgentID {
		return
	}
	var k *Kernel
	m.mu.Lock()
	if id := ev.Labels[types.LabelKernelID]; id != "" {
		k = m.kernels[id]
	}
	m.mu.Unlock()
	if k == nil {
		return
	}
	k.mu.Lock()
	if k.containerID != "" && k.containerID != ev.ContainerID {
		k.mu.Unlock()
		return
	}
	if ev.Kind == runtime.EventOOM {
		k.oom = true
		k.mu.Unlock()
		return
	}
	st, died := k.state, k.died
	k.mu.Unlock()
	if st != stateRunning && st != stateCreating && st != stateRestarting {
		return
	}
	// A die event may be stale (a restart's stop): trust the container's
	// current state.
	ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
	c, err := m.rt.Inspect(ictx, ev.ContainerID)
	cancel()
	if err == nil && c.Running {
		return
	}
	if st != stateRunning {
		died.fire() // a start or restart failed; its caller reports it
		return
	}
	k.mu.Lock()
	if k.state != stateRunning {
		k.mu.Unlock()
		return
	}
	oom := k.oom || ev.OOMKilled || c.OOMKilled
	reason := dieReason(ev.ExitCode, oom)
	k.state = stateDead
	conn := k.conn
	k.conn = nil
	k.endRunLocked(fmt.Sprintf("kernel died: %s\n", reason), ev.ExitCode)
	k.mu.Unlock()
	if conn != nil {
		conn.close()
	}
	k.log.Warn("kernel died", "reason", reason, "exit_code", ev.ExitCode)
	m.onDied(aproto.KernelEvent{
		AgentID:  m.cfg.AgentID,
		KernelID: k.id,
		Kind:     aproto.EventKernelDied,
		Reason:   reason,
		ExitCode: ev.ExitCode,
	})
}

func dieReason(code int, oom bool) string {
	switch {
	case oom:
		return "oom-killed"
	case code > 128 && code < 160:
		return fmt.Sprintf("killed by signal %d", code-128)
	default:
		return fmt.Sprintf("self-terminated with exit code %d", code)
	}
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
