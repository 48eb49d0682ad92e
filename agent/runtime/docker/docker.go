// Package docker is the production runtime: each kernel is a Docker container
// with the runner binary bind-mounted read-only, no network unless asked
// (and then only the isolated session network: see package netguard),
// all capabilities dropped, resource limits set, and labels that let a
// restarted agent find what it owns.
//
// It depends only on the handful of engine client methods it calls (the
// Client interface), so a test can stand in for the engine where needed.
package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	dockertypes "github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"baigo.dev/bai/agent/runtime"
	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/kproto"
	"baigo.dev/bai/common/types"
)

// Client is the part of the Docker engine API the runtime uses.
type Client interface {
	Ping(ctx context.Context) (dockertypes.Ping, error)
	ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig, networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, containerName string) (container.CreateResponse, error)
	ContainerStart(ctx context.Context, containerID string, options container.StartOptions) error
	ContainerRestart(ctx context.Context, containerID string, options container.StopOptions) error
	ContainerRemove(ctx context.Context, containerID string, options container.RemoveOptions) error
	ContainerInspect(ctx context.Context, containerID string) (container.InspectResponse, error)
	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
	ContainerLogs(ctx context.Context, containerID string, options container.LogsOptions) (io.ReadCloser, error)
	ContainerStatsOneShot(ctx context.Context, containerID string) (container.StatsResponseReader, error)
	Events(ctx context.Context, options events.ListOptions) (<-chan events.Message, <-chan error)
	ImageList(ctx context.Context, options image.ListOptions) ([]image.Summary, error)
}

// RunnerPath is where the runner binary appears inside every container.
const RunnerPath = kproto.ContainerBinDir + "/bai-runner"

// ImagePrefix is the repository prefix of our kernel images; the canonical
// image name is the reference without it.
const ImagePrefix = "bai/"

// envNvidiaDevices names the GPUs the NVIDIA container runtime exposes.
const envNvidiaDevices = "NVIDIA_VISIBLE_DEVICES"

// stopTimeout is how long a restarted runner gets to exit on SIGTERM.
const stopTimeout = 3

// logCap bounds the container log returned by Logs.
const logCap = 1 << 20

// Runtime runs kernels as Docker containers.
type Runtime struct {
	cli Client
	log *slog.Logger
	// cgroupRoot is where the host's cgroup hierarchies are mounted; Stats
	// reads a container's counters there first.
	cgroupRoot string
	sessNet    SessionNetwork
}

// SessionNetwork is where containers that ask for network go.
type SessionNetwork struct {
	// Name is the Docker network they join.
	Name string
	// Ready is asked before each networked container is made: nil when
	// the network exists and the host keeps its containers isolated, else
	// an error saying why not (the container is then not made).
	Ready func(ctx context.Context) error
	// Sysctls are set in every networked container.
	Sysctls map[string]string
}

var _ runtime.Runtime = (*Runtime)(nil)

// New wraps an engine client.
func New(cli Client, log *slog.Logger) *Runtime {
	return &Runtime{cli: cli, log: log, cgroupRoot: "/sys/fs/cgroup"}
}

// SetSessionNetwork sets where networked containers go. Until it is set,
// Create refuses them.
func (r *Runtime) SetSessionNetwork(n SessionNetwork) { r.sessNet = n }

// Connect makes a client from the environment (DOCKER_HOST, ...) with API
// version negotiation and checks that the engine answers.
func Connect(ctx context.Context) (*client.Client, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := cli.Ping(pctx); err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("docker engine: %v: %w", err, errdefs.ErrUnavailable)
	}
	// Negotiate now: the client's lazy negotiation on first use races
	// between concurrent requests.
	cli.NegotiateAPIVersion(pctx)
	return cli, nil
}

// wrap maps engine errors to our sentinels.
func wrap(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("%s: %v: %w", what, err, errdefs.ErrNotFound)
	case cerrdefs.IsConflict(err):
		return fmt.Errorf("%s: %v: %w", what, err, errdefs.ErrConflict)
	case cerrdefs.IsInvalidArgument(err):
		return fmt.Errorf("%s: %v: %w", what, err, errdefs.ErrInvalidArgument)
	default:
		return fmt.Errorf("%s: %w", what, err)
	}
}

// Create makes the kernel container. A networked one joins the session
// network, never Docker's default bridge.
func (r *Runtime) Create(ctx context.Context, s runtime.Spec) (string, error) {
	netMode := container.NetworkMode("none")
	if s.Network {
		if r.sessNet.Name == "" || r.sessNet.Ready == nil {
			return "", fmt.Errorf("this agent cannot isolate networked sessions: it has no session network: %w", errdefs.ErrUnavailable)
		}
		if err := r.sessNet.Ready(ctx); err != nil {
			return "", err
		}
		netMode = container.NetworkMode(r.sessNet.Name)
	}
	env := []string{
		kproto.EnvRuntimeType + "=" + s.RuntimeType,
		kproto.EnvRuntimePath + "=" + s.RuntimePath,
		"LANG=C.UTF-8",
		"HOME=/home/work",
	}
	keys := make([]string, 0, len(s.Env))
	for k := range s.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k != envNvidiaDevices { // ours alone, below
			env = append(env, k+"="+s.Env[k])
		}
	}
	// The NVIDIA container runtime exposes the GPUs this variable names.
	// Say "void" when the kernel has none, so that an image which sets
	// "all" (the CUDA base images do) gets nothing on a host whose default
	// runtime is nvidia.
	if len(s.GPUs) > 0 {
		env = append(env, envNvidiaDevices+"="+strings.Join(s.GPUs, ","))
	} else {
		env = append(env, envNvidiaDevices+"=void")
	}
	cfg := &container.Config{
		Image:      s.Image,
		Entrypoint: []string{RunnerPath},
		Cmd:        []string{},
		User:       fmt.Sprintf("%d:%d", s.UID, s.GID),
		WorkingDir: "/home/work",
		Env:        env,
		Labels:     s.Labels,
		// No network means no hostname lookups either; keep it short.
		Hostname: "kernel",
	}
	useInit := true
	hc := &container.HostConfig{
		Binds: []string{
			s.RunnerPath + ":" + RunnerPath + ":ro",
			s.IPCDir + ":" + kproto.ContainerIPCDir,
			s.WorkDir + ":/home/work",
		},
		NetworkMode: netMode,
		Init:        &useInit,
		CapDrop:     []string{"ALL"},
		SecurityOpt: []string{"no-new-privileges"},
		// The image is not the session's to change: only /home/work (the
		// scratch bind) and size-capped, memory-backed /tmp, /var/tmp and
		// /dev/shm are writable, so code cannot plant files for later or
		// fill the host's disk through the container's layer. exec: the
		// compiled languages build and run their programs in /tmp (code
		// may run what it writes in /home/work anyway).
		ReadonlyRootfs: true,
		Tmpfs: map[string]string{
			"/tmp":     "rw,exec,nosuid,nodev,size=" + strconv.FormatInt(tmpfsSize(s.Memory), 10),
			"/var/tmp": "rw,exec,nosuid,nodev,size=" + strconv.FormatInt(tmpfsSize(s.Memory), 10),
		},
		ShmSize: shmSize,
		Resources: container.Resources{
			NanoCPUs: int64(s.CPU * 1e9),
			Memory:   s.Memory,
		},
	}
	if s.Network && len(r.sessNet.Sysctls) > 0 {
		hc.Sysctls = r.sessNet.Sysctls
	}
	if s.LibDir != "" {
		hc.Binds = append(hc.Binds, s.LibDir+":"+runtime.ContainerLibDir+":ro")
	}
	// Docker mounts by target depth, so these land on top of the
	// /home/work bind whatever their order here.
	for _, m := range s.Mounts {
		b := m.Source + ":" + m.Target
		if m.ReadOnly {
			b += ":ro"
		}
		hc.Binds = append(hc.Binds, b)
	}
	if s.Memory > 0 {
		hc.Resources.MemorySwap = s.Memory // no swap
	}
	if s.PidsLimit > 0 {
		pl := s.PidsLimit
		hc.Resources.PidsLimit = &pl
	}
	if len(s.GPUs) > 0 {
		hc.Resources.DeviceRequests = []container.DeviceRequest{{
			Driver:       "nvidia",
			DeviceIDs:    s.GPUs,
			Capabilities: [][]string{{"gpu"}},
		}}
	}
	resp, err := r.cli.ContainerCreate(ctx, cfg, hc, nil, nil, s.Name)
	if err != nil {
		return "", wrap("create container "+s.Name, err)
	}
	return resp.ID, nil
}

// shmSize caps /dev/shm.
const shmSize = 64 << 20

// tmpfsSize caps /tmp and /var/tmp: half the session's memory (between 64
// MiB and 4 GiB). Their pages count against the memory limit, so filling
// one ends in ENOSPC for the writer, not in the kernel being OOM-killed.
func tmpfsSize(memory int64) int64 {
	n := memory / 2
	if memory <= 0 || n > 4<<30 {
		n = 4 << 30
	}
	return max(n, 64<<20)
}

// Start starts a container.
func (r *Runtime) Start(ctx context.Context, id string) error {
	return wrap("start container "+short(id), r.cli.ContainerStart(ctx, id, container.StartOptions{}))
}

// Restart stops (SIGTERM, then SIGKILL) and starts a container.
func (r *Runtime) Restart(ctx context.Context, id string) error {
	t := stopTimeout
	return wrap("restart container "+short(id), r.cli.ContainerRestart(ctx, id, container.StopOptions{Timeout: &t}))
}

// Remove force-removes a container and its anonymous volumes.
func (r *Runtime) Remove(ctx context.Context, id string) error {
	return wrap("remove container "+short(id), r.cli.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true}))
}

// Inspect returns a container's state.
func (r *Runtime) Inspect(ctx context.Context, id string) (runtime.Container, error) {
	info, err := r.cli.ContainerInspect(ctx, id)
	if err != nil {
		return runtime.Container{}, wrap("inspect container "+short(id), err)
	}
	c := runtime.Container{ID: info.ID, Name: strings.TrimPrefix(info.Name, "/")}
	if info.Config != nil {
		c.Image, c.Labels = info.Config.Image, info.Config.Labels
	}
	if info.State != nil {
		c.Running = info.State.Running
		c.ExitCode = info.State.ExitCode
		c.OOMKilled = info.State.OOMKilled
	}
	return c, nil
}

// List returns all containers (running or not) carrying the labels.
func (r *Runtime) List(ctx context.Context, labels map[string]string) ([]runtime.Container, error) {
	f := filters.NewArgs()
	for k, v := range labels {
		f.Add("label", k+"="+v)
	}
	list, err := r.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	if err != nil {
		return nil, wrap("list containers", err)
	}
	out := make([]runtime.Container, 0, len(list))
	for _, s := range list {
		c := runtime.Container{ID: s.ID, Image: s.Image, Labels: s.Labels, Running: s.State == container.StateRunning}
		if len(s.Names) > 0 {
			c.Name = strings.TrimPrefix(s.Names[0], "/")
		}
		out = append(out, c)
	}
	return out, nil
}

// Events streams die and oom events of our containers, reconnecting to the
// engine (without losing events in between) until ctx is done.
func (r *Runtime) Events(ctx context.Context) <-chan runtime.Event {
	out := make(chan runtime.Event, 64)
	go func() {
		defer close(out)
		since := strconv.FormatInt(time.Now().Unix(), 10)
		backoff := 100 * time.Millisecond
		for ctx.Err() == nil {
			last, err := r.streamEvents(ctx, since, out)
			if last != "" {
				since = last
				backoff = 100 * time.Millisecond
			}
			if ctx.Err() != nil {
				return
			}
			r.log.Warn("docker event stream broken, reconnecting", "err", err, "backoff", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(backoff*2, 5*time.Second)
		}
	}()
	return out
}

// streamEvents forwards events until the stream breaks; it returns the
// timestamp to resume from.
func (r *Runtime) streamEvents(ctx context.Context, since string, out chan<- runtime.Event) (string, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f := filters.NewArgs(
		filters.Arg("type", string(events.ContainerEventType)),
		filters.Arg("event", string(events.ActionDie)),
		filters.Arg("event", string(events.ActionOOM)),
		filters.Arg("label", types.LabelOwner+"="+types.OwnerValue),
	)
	msgs, errs := r.cli.Events(sctx, events.ListOptions{Since: since, Filters: f})
	last := ""
	for {
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case err := <-errs:
			return last, err
		case m := <-msgs:
			if m.TimeNano != 0 {
				// Resume just after this event; the engine takes
				// seconds.nanoseconds.
				ns := m.TimeNano + 1
				last = fmt.Sprintf("%d.%09d", ns/1e9, ns%1e9)
			}
			ev := runtime.Event{ContainerID: m.Actor.ID, Labels: map[string]string{}}
			for k, v := range m.Actor.Attributes {
				if strings.HasPrefix(k, "ai.backend.") {
					ev.Labels[k] = v
				}
			}
			switch m.Action {
			case events.ActionOOM:
				ev.Kind, ev.OOMKilled = runtime.EventOOM, true
			case events.ActionDie:
				ev.Kind = runtime.EventDie
				ev.ExitCode, _ = strconv.Atoi(m.Actor.Attributes["exitCode"])
				ictx, icancel := context.WithTimeout(ctx, 2*time.Second)
				if c, err := r.Inspect(ictx, m.Actor.ID); err == nil {
					ev.OOMKilled = c.OOMKilled
				}
				icancel()
			default:
				continue
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return last, ctx.Err()
			}
		}
	}
}

// Logs returns the container's stdout and stderr, interleaved.
func (r *Runtime) Logs(ctx context.Context, id string) (string, error) {
	rc, err := r.cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: "2000"})
	if err != nil {
		return "", wrap("container logs "+short(id), err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	w := &limitWriter{w: &buf, n: logCap}
	if _, err := stdcopy.StdCopy(w, w, rc); err != nil {
		return buf.String(), fmt.Errorf("read logs of %s: %w", short(id), err)
	}
	return buf.String(), nil
}

// Stats takes one cheap sample of the container's usage: from its cgroup
// files when they are in reach, else from the Engine (see cgroupStats for
// the keys).
func (r *Runtime) Stats(ctx context.Context, id string) (map[string]any, error) {
	if out, ok := cgroupStats(r.cgroupRoot, id); ok {
		return out, nil
	}
	resp, err := r.cli.ContainerStatsOneShot(ctx, id)
	if err != nil {
		return nil, wrap("container stats "+short(id), err)
	}
	defer resp.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return nil, fmt.Errorf("decode stats of %s: %w", short(id), err)
	}
	return engineStats(s), nil
}

// Images lists the kernel images: those labelled ai.backend.kernelspec=1,
// one entry per tag.
func (r *Runtime) Images(ctx context.Context) ([]aproto.Image, error) {
	list, err := r.cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("label", types.LabelKernelSpec+"=1"))})
	if err != nil {
		return nil, wrap("list images", err)
	}
	var out []aproto.Image
	for _, im := range list {
		labels := map[string]string{}
		for k, v := range im.Labels {
			if strings.HasPrefix(k, "ai.backend.") {
				labels[k] = v
			}
		}
		for _, tag := range im.RepoTags {
			if tag == "" || strings.HasPrefix(tag, "<none>") {
				continue
			}
			out = append(out, aproto.Image{
				Name:   strings.TrimPrefix(tag, ImagePrefix),
				Ref:    tag,
				ID:     im.ID,
				Size:   im.Size,
				Labels: labels,
			})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Ref < out[j].Ref })
	return out, nil
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// limitWriter keeps the first n bytes and discards the rest.
type limitWriter struct {
	w io.Writer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		if _, err := l.w.Write(p[:k]); err != nil {
			return 0, err
		}
		l.n -= k
	}
	return len(p), nil
}
