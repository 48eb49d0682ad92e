// Package aproto is the control protocol between the manager and its agents:
// JSON over HTTP in both directions.
//
// Agent → manager (on the manager's address, header HeaderClusterSecret):
//
//	POST /agent/heartbeat   Heartbeat            → HeartbeatReply
//	GET  /agent/stream      WebSocket: Heartbeat messages; a HeartbeatReply
//	                        message answers those that asked (Ack) and any
//	                        whose answer carries something (what agents use:
//	                        a routine heartbeat costs one read, no HTTP
//	                        request and no write)
//	POST /agent/events      KernelEvent          → 204
//
// Manager → agent (on the agent's control address, same header):
//
//	POST   /v1/kernels                  CreateKernel   → KernelInfo (after the runner is ready)
//	DELETE /v1/kernels/{id}                            → DestroyResult
//	POST   /v1/kernels/{id}/restart                    → KernelInfo
//	POST   /v1/kernels/{id}/execute     Execute        → ExecuteResult
//	POST   /v1/kernels/{id}/interrupt                  → 204
//	POST   /v1/kernels/{id}/complete    Complete       → CompleteResult
//	GET    /v1/kernels/{id}/logs                       → Logs
//	POST   /v1/kernels/{id}/upload      multipart/form-data → UploadResult
//	POST   /v1/kernels/{id}/download    Download       → multipart/mixed of tar archives
//	GET    /v1/kernels/{id}/download_single?file=      → the file's bytes
//	GET    /v1/kernels/{id}/files?path=                → FileList
//	GET    /v1/health                                  → 200
//	GET    /metrics                                    → Prometheus text (the one route open without the secret)
//
// Errors come back as RFC 7807 problem JSON like the public API; the manager
// maps the status back to an errdefs sentinel.
package aproto

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// HeaderClusterSecret carries the shared cluster secret. Neither side accepts
// a request without it, so a tenant's keypair can never act as an agent and
// nobody but the manager can drive an agent.
const HeaderClusterSecret = "X-BAI-Cluster-Secret"

// Image is one kernel image an agent has.
type Image struct {
	Name   string            `json:"name"`   // canonical name, e.g. "python:3.11-debian"
	Ref    string            `json:"ref"`    // docker reference, e.g. "bai/python:3.11-debian"
	ID     string            `json:"id"`     // docker image id
	Size   int64             `json:"size"`   // bytes
	Labels map[string]string `json:"labels"` // ai.backend.* labels
}

// KernelState is an agent's report of one kernel it runs.
type KernelState struct {
	KernelID    string `json:"kernelId"`
	SessionID   string `json:"sessionId"`
	ContainerID string `json:"containerId"`
	Running     bool   `json:"running"`
	// Stats is a cheap sample of the kernel's usage, as the runtime's Stats
	// gives it (cpu_used ms, mem bytes, net_rx_bytes, io_write_bytes, ...);
	// absent when unknown.
	Stats map[string]any `json:"stats,omitempty"`
}

// Device is one accelerator (GPU) of an agent's host.
type Device struct {
	Index       int    `json:"index"`       // host index, as nvidia-smi numbers it
	UUID        string `json:"uuid"`        // e.g. GPU-8f0c...; GPU-fake-0 for fake devices
	Model       string `json:"model"`       // e.g. NVIDIA H100 80GB HBM3
	MemoryBytes int64  `json:"memoryBytes"` // device memory
	Source      string `json:"source"`      // where the agent found it: "nvml", or "fake" in tests
}

// Health is an agent's own view of whether it can run kernels. An agent
// with problems keeps its sessions but is given no new ones.
type Health struct {
	Problems      []string `json:"problems,omitempty"` // empty: healthy
	DiskFreeBytes int64    `json:"diskFreeBytes"`      // free space in the agent's data directory
}

// Heartbeat is what an agent sends every few seconds.
type Heartbeat struct {
	AgentID      string             `json:"agentId"`
	Addr         string             `json:"addr"` // control base URL, e.g. http://127.0.0.1:6001
	Version      string             `json:"version"`
	Region       string             `json:"region"`
	ScalingGroup string             `json:"scalingGroup"`
	Capacity     map[string]float64 `json:"capacity"` // resource slots
	// Images is the full image list on the first heartbeat, when it
	// changed, or when the manager asked (HeartbeatReply.NeedImages);
	// otherwise nil, and ImagesDigest stands for it.
	Images       []Image       `json:"images,omitempty"`
	ImagesDigest string        `json:"imagesDigest,omitempty"`
	Kernels      []KernelState `json:"kernels"`
	// Devices lists the accelerators behind the capacity's cuda.device
	// slots; empty on hosts without GPUs.
	Devices []Device `json:"devices,omitempty"`
	Health  *Health  `json:"health,omitempty"`
	// Seq numbers heartbeats on the stream; Ack asks the manager to answer
	// this one even when it has nothing to say (on the stream, a heartbeat
	// is answered only when the answer carries something, or when asked).
	Seq uint64 `json:"seq,omitempty"`
	Ack bool   `json:"ack,omitempty"`
	// Leaving is set on the last heartbeat of an agent that shuts down on
	// purpose (drained and removed by a scaler, or stopped by an operator):
	// the manager marks it TERMINATED at once instead of waiting to call it
	// LOST.
	Leaving bool `json:"leaving,omitempty"`
	// First is true on the first heartbeat after the agent started, which
	// makes the manager reconcile the agent's kernels against its records.
	First bool      `json:"first"`
	Time  time.Time `json:"time"`
}

// HeartbeatReply tells an agent which of its kernels the manager no longer
// wants (their sessions are gone), so it can clean them.
type HeartbeatReply struct {
	Orphans []string `json:"orphans,omitempty"` // kernel ids to destroy
	// NeedImages asks the agent to send its full image list next time
	// (this manager does not know the ImagesDigest it sent).
	NeedImages bool `json:"needImages,omitempty"`
	// Error is set, on the heartbeat stream only, when the manager refused
	// the heartbeat (the POST form answers an HTTP error instead).
	Error string `json:"error,omitempty"`
	// Seq echoes the heartbeat's Seq on the stream.
	Seq uint64 `json:"seq,omitempty"`
}

// Empty reports whether a reply carries nothing for the agent.
func (r *HeartbeatReply) Empty() bool {
	return len(r.Orphans) == 0 && !r.NeedImages && r.Error == ""
}

// ImagesDigest digests an image list: agents send it with every heartbeat
// and the list itself only when it changed or the manager asks, which keeps
// a routine heartbeat under a kilobyte.
func ImagesDigest(imgs []Image) string {
	h := sha256.New()
	for _, im := range imgs {
		fmt.Fprintf(h, "%s|%s|%s|%d\n", im.Name, im.Ref, im.ID, im.Size)
		keys := make([]string, 0, len(im.Labels))
		for k := range im.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(h, "%s=%s\n", k, im.Labels[k])
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// KernelEvent is pushed by the agent the moment something happens to a
// kernel that nobody asked for (its container died or was killed).
type KernelEvent struct {
	AgentID  string `json:"agentId"`
	KernelID string `json:"kernelId"`
	Kind     string `json:"kind"` // EventKernelDied
	Reason   string `json:"reason"`
	ExitCode int    `json:"exitCode"`
}

// Kernel event kinds.
const EventKernelDied = "kernel_died"

// CreateKernel asks an agent to start a kernel container.
type CreateKernel struct {
	KernelID       string `json:"kernelId"`
	SessionID      string `json:"sessionId"`
	SessionName    string `json:"sessionName"`
	OwnerAccessKey string `json:"ownerAccessKey"`
	Image          string `json:"image"` // docker reference
	RuntimeType    string `json:"runtimeType"`
	RuntimePath    string `json:"runtimePath"`
	// JailPolicy is the image's bai-jail policy name (its
	// ai.backend.jail-policy label); empty: the runtime type's.
	JailPolicy string             `json:"jailPolicy,omitempty"`
	Resources  map[string]float64 `json:"resources"` // cpu cores, mem bytes
	Environ    map[string]string  `json:"environ,omitempty"`
	Network    bool               `json:"network"` // false: no network at all
	// Mounts are virtual folders to bind-mount at /home/work/{name}.
	Mounts []Mount `json:"mounts,omitempty"`
	// BootstrapScript runs once (sh -c, in /home/work, through the runner)
	// before the kernel counts as started; empty: none.
	BootstrapScript string `json:"bootstrapScript,omitempty"`
}

// BootstrapTimeout limits a kernel's bootstrap script; the manager waits
// this long on top of its usual kernel start wait.
const BootstrapTimeout = 5 * time.Minute

// BootstrapFailed starts the error text of a failed bootstrap script; the
// manager keeps the text from here on as the session's status info.
const BootstrapFailed = "bootstrap script failed"

// Mount is one virtual folder in a kernel: HostPath is its directory on the
// agent's host (the same path on every agent: a shared filesystem when
// there are several hosts), mounted at /home/work/{Name}.
type Mount struct {
	Name     string `json:"name"`
	HostPath string `json:"hostPath"`
	ReadOnly bool   `json:"readOnly"`
}

// KernelInfo describes a started kernel.
type KernelInfo struct {
	KernelID    string `json:"kernelId"`
	ContainerID string `json:"containerId"`
}

// DestroyResult carries the kernel's last statistics.
type DestroyResult struct {
	Stats map[string]any `json:"stats"`
}

// Execute asks for (part of) a run's output. Mode is query, batch, continue
// or input, as in the public API.
type Execute struct {
	RunID        string          `json:"runId"`
	Mode         string          `json:"mode"`
	Code         string          `json:"code"`
	Options      json.RawMessage `json:"options,omitempty"`
	FlushTimeout time.Duration   `json:"flushTimeout"` // how long to hold the answer for more output
}

// ExecuteResult is the public execute result (without the outer "result").
type ExecuteResult struct {
	RunID    string         `json:"runId"`
	Status   string         `json:"status"`
	ExitCode *int           `json:"exitCode"`
	Console  [][2]any       `json:"console"`
	Options  map[string]any `json:"options"`
	Files    []any          `json:"files"`
}

// Complete asks for code completion.
type Complete struct {
	Code    string         `json:"code"`
	Options map[string]any `json:"options,omitempty"`
}

// CompleteResult holds completion candidates.
type CompleteResult struct {
	Result []any `json:"result"`
}

// Logs holds a kernel container's logs.
type Logs struct {
	Logs string `json:"logs"`
}

// Upload limits, enforced by the agent as the parts stream in; the manager
// caps a whole upload request at UploadMaxBody.
const (
	UploadMaxFiles    = 20
	UploadMaxFileSize = 64 << 20
	UploadMaxBody     = UploadMaxFiles*UploadMaxFileSize + 1<<20
)

// UploadResult lists the files an upload wrote, relative to the work dir.
type UploadResult struct {
	Files []string `json:"files"`
}

// Download asks for tar archives of paths in the kernel's work dir.
type Download struct {
	Files []string `json:"files"`
}

// FileEntry is one entry of a directory listing.
type FileEntry struct {
	Filename string    `json:"filename"`
	Size     int64     `json:"size"`
	Mode     string    `json:"mode"` // like ls -l: "-rw-r--r--"
	Mtime    time.Time `json:"mtime"`
	Type     string    `json:"type"` // file, dir or symlink
}

// FileList is a directory listing of the kernel's work dir.
type FileList struct {
	Files   []FileEntry `json:"files"`
	Abspath string      `json:"abspath"` // the directory as seen in the container
}
