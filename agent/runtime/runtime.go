// Package runtime declares what the agent needs from a container engine, so
// that the kernel manager can run the same code against Docker in production
// and against local processes where Docker is not the point (API tests, dev
// machines without an engine). Implementations live in runtime/docker and
// runtime/process; runtime/runtimetest holds the conformance suite both pass.
//
// A container goes through these states:
//
//	Create ─▶ created ─Start─▶ running ─(exit, kill, oom)─▶ exited ─Remove─▶ gone
//	                              │  ▲                          │
//	                              └──┴──── Restart ◀────────────┘
//
// Every exit the runtime did not cause itself through Restart or Remove is
// reported as a die Event.
package runtime

import (
	"context"

	"baigo.dev/bai/common/aproto"
)

// ContainerLibDir is where the kernel-side library directory (Spec.LibDir)
// appears inside containers. Env values in a Spec may name paths under it;
// runtimes without mounts rewrite them to the host directory.
const ContainerLibDir = "/opt/bai/lib"

// Spec describes one kernel container.
type Spec struct {
	Name        string            // container name, e.g. bai-0123456789ab
	Image       string            // image reference, e.g. bai/python:3.11-debian
	Labels      map[string]string // ai.backend.* labels for adoption
	Env         map[string]string // environment of the runner
	RunnerPath  string            // host path of the static runner binary
	LibDir      string            // host dir mounted read-only at ContainerLibDir; empty: none
	IPCDir      string            // host directory holding the runner's sockets
	WorkDir     string            // host directory mounted as the user's home
	UID, GID    int               // user the runner runs as (docker only)
	CPU         float64           // cores; 0 means unlimited
	Memory      int64             // bytes; 0 means unlimited
	PidsLimit   int64             // 0 means unlimited
	Network     bool              // false: no network at all
	RuntimeType string            // language driver, e.g. python
	RuntimePath string            // interpreter path inside the container
	// GPUs are the device UUIDs (or host indexes) the runtime must expose
	// to the container (Docker: an nvidia device request). The kernel
	// manager sets CUDA_VISIBLE_DEVICES in Env itself, and leaves fake
	// devices out of GPUs: they exist only as that environment.
	GPUs []string
	// Mounts are host directories (virtual folders) bind-mounted below
	// /home/work, on top of the WorkDir bind.
	Mounts []Mount
}

// Mount is one host directory in a container.
type Mount struct {
	Source   string // host path
	Target   string // path in the container, e.g. /home/work/data
	ReadOnly bool
}

// Container is a runtime's view of one container.
type Container struct {
	ID       string
	Name     string
	Image    string
	Labels   map[string]string
	Running  bool
	ExitCode int
	// OOMKilled is true when the kernel's OOM killer ended the container.
	OOMKilled bool
}

// Event kinds.
const (
	EventDie = "die" // the container's main process exited
	EventOOM = "oom" // the OOM killer struck inside the container
)

// Event is something that happened to a container.
type Event struct {
	Kind        string
	ContainerID string
	Labels      map[string]string
	ExitCode    int
	OOMKilled   bool
}

// Runtime is the container engine as the agent uses it.
type Runtime interface {
	// Create makes a container from spec without starting it and returns
	// its id.
	Create(ctx context.Context, spec Spec) (string, error)
	// Start starts a created or stopped container.
	Start(ctx context.Context, id string) error
	// Restart stops and starts the container again, keeping its files.
	// Runtimes may report the stop as a die event; callers tell it apart
	// from a crash by Inspect-ing the container, which is running again.
	Restart(ctx context.Context, id string) error
	// Remove kills and deletes the container. Removing an unknown container
	// returns an error wrapping errdefs.ErrNotFound.
	Remove(ctx context.Context, id string) error
	// Inspect returns the current state of one container.
	Inspect(ctx context.Context, id string) (Container, error)
	// List returns the containers carrying all the given labels.
	List(ctx context.Context, labels map[string]string) ([]Container, error)
	// Events streams container events until ctx is done. Implementations
	// reconnect to their engine by themselves; the channel closes only when
	// ctx is done.
	Events(ctx context.Context) <-chan Event
	// Logs returns the container's combined stdout and stderr.
	Logs(ctx context.Context, id string) (string, error)
	// Stats returns a cheap snapshot of the container's usage (cpu_used in
	// milliseconds, mem in bytes, ...); an empty map when unknown.
	Stats(ctx context.Context, id string) (map[string]any, error)
	// Images lists the kernel images available (those labelled
	// ai.backend.kernelspec=1).
	Images(ctx context.Context) ([]aproto.Image, error)
}
