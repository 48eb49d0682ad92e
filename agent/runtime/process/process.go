// Package process is a runtime that runs each kernel's runner as a plain
// local subprocess instead of a container. It exists for the places where
// Docker is not the point: the manager's API tests, and machines without a
// container engine. It gives no isolation at all; never use it in production.
//
// There are no images: the runtime reports one synthetic python image and
// runs the host's python3 for it. Processes cannot outlive the agent that
// started them (nothing could adopt them), so Close kills them all.
package process

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"baigo.dev/bai/agent/runtime"
	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/kproto"
	"baigo.dev/bai/common/types"
)

// The synthetic image the runtime offers.
const (
	ImageName = "python:3.11-debian"
	ImageRef  = "bai/" + ImageName
)

// logCap bounds the output kept per process.
const logCap = 1 << 20

// stopGrace is how long a stopped runner gets between SIGTERM and SIGKILL.
const stopGrace = 2 * time.Second

// Runtime runs runners as local processes. The zero value is not usable;
// call New.
type Runtime struct {
	log *slog.Logger

	mu    sync.Mutex
	procs map[string]*proc
	subs  map[chan runtime.Event]struct{}
}

type proc struct {
	id   string
	spec runtime.Spec

	// Guarded by Runtime.mu.
	cmd      *exec.Cmd
	running  bool
	exitCode int
	done     chan struct{} // closed when the current process has exited
	stopping bool          // the runtime itself is ending the process
	logs     *capBuffer
}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns an empty process runtime.
func New(log *slog.Logger) *Runtime {
	return &Runtime{
		log:   log,
		procs: map[string]*proc{},
		subs:  map[chan runtime.Event]struct{}{},
	}
}

// Create records the spec; nothing runs until Start.
func (r *Runtime) Create(ctx context.Context, spec runtime.Spec) (string, error) {
	if spec.Image != ImageRef && spec.Image != ImageName {
		return "", fmt.Errorf("image %s: %w", spec.Image, errdefs.ErrNotFound)
	}
	if spec.RunnerPath == "" {
		return "", fmt.Errorf("no runner path: %w", errdefs.ErrInvalidArgument)
	}
	if len(spec.Mounts) > 0 {
		// Without a mount namespace a folder could only be linked in,
		// and a link neither enforces read-only nor survives bai-jail's
		// path checks; say so rather than start a session without it.
		return "", fmt.Errorf("the process runtime cannot mount virtual folders; run the agent with the docker runtime: %w", errdefs.ErrInvalidArgument)
	}
	id := "proc-" + randomHex(16)
	p := &proc{id: id, spec: spec, logs: &capBuffer{max: logCap}}
	r.mu.Lock()
	r.procs[id] = p
	r.mu.Unlock()
	return id, nil
}

// Start launches the runner process.
func (r *Runtime) Start(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.procs[id]
	if !ok {
		return fmt.Errorf("container %s: %w", id, errdefs.ErrNotFound)
	}
	if p.running {
		return nil
	}
	return r.startLocked(p)
}

func (r *Runtime) startLocked(p *proc) error {
	s := p.spec
	interp := filepath.Base(s.RuntimePath)
	if interp == "." || interp == "/" {
		interp = "python3"
	}
	interpPath, err := exec.LookPath(interp)
	if err != nil {
		if interpPath, err = exec.LookPath("python3"); err != nil {
			return fmt.Errorf("find interpreter %s: %w", interp, errdefs.ErrUnavailable)
		}
	}
	cmd := exec.Command(s.RunnerPath)
	cmd.Dir = s.WorkDir
	env := cmd.Environ()
	for k, v := range s.Env {
		if s.LibDir != "" { // no mounts here: point at the host dir itself
			v = strings.ReplaceAll(v, runtime.ContainerLibDir, s.LibDir)
		}
		env = append(env, k+"="+v)
	}
	env = append(env,
		kproto.EnvIPCDir+"="+s.IPCDir,
		kproto.EnvWorkDir+"="+s.WorkDir,
		kproto.EnvRuntimeType+"="+s.RuntimeType,
		kproto.EnvRuntimePath+"="+interpPath,
		"HOME="+s.WorkDir,
	)
	cmd.Env = env
	cmd.Stdout = p.logs
	cmd.Stderr = p.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start runner: %w", err)
	}
	done := make(chan struct{})
	p.cmd, p.running, p.stopping, p.done, p.exitCode = cmd, true, false, done, 0
	go r.wait(p, cmd, done)
	return nil
}

// wait reaps one process and reports its exit unless the runtime caused it.
func (r *Runtime) wait(p *proc, cmd *exec.Cmd, done chan struct{}) {
	err := cmd.Wait()
	code := 0
	if err != nil {
		code = -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				code = 128 + int(ws.Signal())
			}
		}
	}
	r.mu.Lock()
	p.running, p.exitCode = false, code
	report := !p.stopping
	close(done)
	ev := runtime.Event{Kind: runtime.EventDie, ContainerID: p.id, Labels: p.spec.Labels, ExitCode: code}
	if report {
		for ch := range r.subs {
			select {
			case ch <- ev:
			default:
				r.log.Warn("event subscriber is full, dropping event", "container_id", p.id)
			}
		}
	}
	r.mu.Unlock()
}

// stop ends the process group: SIGTERM, then SIGKILL after a grace period.
func (r *Runtime) stop(ctx context.Context, p *proc) {
	r.mu.Lock()
	if !p.running {
		r.mu.Unlock()
		return
	}
	p.stopping = true
	pid, done := p.cmd.Process.Pid, p.done
	r.mu.Unlock()

	_ = syscall.Kill(-pid, syscall.SIGTERM)
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	}
	// Also when the leader left on its own: children of the group (the
	// language process) must not outlive it and keep writing to the
	// kernel's directories while they are removed.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	<-done
}

// Restart stops the runner and starts it again.
func (r *Runtime) Restart(ctx context.Context, id string) error {
	p, err := r.get(id)
	if err != nil {
		return err
	}
	r.stop(ctx, p)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.procs[id]; !ok {
		return fmt.Errorf("container %s: %w", id, errdefs.ErrNotFound)
	}
	return r.startLocked(p)
}

// Remove kills the runner's process group and forgets it.
func (r *Runtime) Remove(ctx context.Context, id string) error {
	p, err := r.get(id)
	if err != nil {
		return err
	}
	r.stop(ctx, p)
	r.mu.Lock()
	delete(r.procs, id)
	r.mu.Unlock()
	return nil
}

// Close kills every process this runtime started.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	ids := make([]string, 0, len(r.procs))
	for id := range r.procs {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	for _, id := range ids {
		_ = r.Remove(ctx, id)
	}
	return nil
}

func (r *Runtime) get(id string) (*proc, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.procs[id]
	if !ok {
		return nil, fmt.Errorf("container %s: %w", id, errdefs.ErrNotFound)
	}
	return p, nil
}

func (r *Runtime) view(p *proc) runtime.Container {
	return runtime.Container{
		ID:       p.id,
		Name:     p.spec.Name,
		Image:    p.spec.Image,
		Labels:   p.spec.Labels,
		Running:  p.running,
		ExitCode: p.exitCode,
	}
}

// Inspect returns the process's state.
func (r *Runtime) Inspect(ctx context.Context, id string) (runtime.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.procs[id]
	if !ok {
		return runtime.Container{}, fmt.Errorf("container %s: %w", id, errdefs.ErrNotFound)
	}
	return r.view(p), nil
}

// List returns the processes whose labels include all of labels.
func (r *Runtime) List(ctx context.Context, labels map[string]string) ([]runtime.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []runtime.Container
next:
	for _, p := range r.procs {
		for k, v := range labels {
			if p.spec.Labels[k] != v {
				continue next
			}
		}
		out = append(out, r.view(p))
	}
	return out, nil
}

// Events streams die events of processes that exited on their own.
func (r *Runtime) Events(ctx context.Context) <-chan runtime.Event {
	ch := make(chan runtime.Event, 64)
	r.mu.Lock()
	r.subs[ch] = struct{}{}
	r.mu.Unlock()
	go func() {
		<-ctx.Done()
		r.mu.Lock()
		delete(r.subs, ch)
		close(ch)
		r.mu.Unlock()
	}()
	return ch
}

// Logs returns what the runner wrote to stdout and stderr.
func (r *Runtime) Logs(ctx context.Context, id string) (string, error) {
	p, err := r.get(id)
	if err != nil {
		return "", err
	}
	return p.logs.String(), nil
}

// Stats sums the usage of the runner's process group from /proc (see
// groupStats); empty when it is not running.
func (r *Runtime) Stats(ctx context.Context, id string) (map[string]any, error) {
	r.mu.Lock()
	p, ok := r.procs[id]
	pid := 0
	if ok && p.running && p.cmd != nil && p.cmd.Process != nil {
		pid = p.cmd.Process.Pid
	}
	r.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("container %s: %w", id, errdefs.ErrNotFound)
	}
	if pid == 0 {
		return map[string]any{}, nil
	}
	if out, ok := groupStats("/proc", pid); ok {
		return out, nil
	}
	return map[string]any{}, nil
}

// Images returns the one synthetic python image.
func (r *Runtime) Images(ctx context.Context) ([]aproto.Image, error) {
	return []aproto.Image{{
		Name: ImageName,
		Ref:  ImageRef,
		ID:   "sha256:process-" + ImageName,
		Labels: map[string]string{
			types.LabelKernelSpec:  "1",
			types.LabelFeatures:    "query batch uid-match user-input",
			types.LabelRuntimeType: "python",
			types.LabelRuntimePath: "python3",
			types.LabelMinCPU:      "1",
			types.LabelMinMem:      "256m",
			types.LabelBaseDistro:  "debian",
			// The runner's own web terminal; on this runtime it listens
			// on the host's loopback, like everything else here.
			types.LabelServicePorts: "terminal:http:7681",
		},
	}}, nil
}

// capBuffer is a concurrency-safe buffer that keeps the first max bytes.
type capBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *capBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
		} else {
			b.buf.Write(p)
		}
	}
	return len(p), nil
}

func (b *capBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
