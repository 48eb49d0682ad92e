// Package types holds the identifiers and status enums that the manager, the
// agents and the clients share, so that every part spells them the same way.
package types

// SessionStatus is the lifecycle state of a session (and of its kernels).
//
//	PENDING ─▶ SCHEDULED ─▶ PREPARING ─▶ RUNNING ─▶ TERMINATING ─▶ TERMINATED
//	   │                        │           │  ▲
//	   ▼                        ▼           ▼  │
//	CANCELLED                 ERROR      RESTARTING
//
// A running kernel whose container dies unexpectedly goes to ERROR with a
// status reason; TERMINATED, CANCELLED and ERROR are final.
type SessionStatus string

// The session statuses of the Backend.AI API.
const (
	StatusPending     SessionStatus = "PENDING"
	StatusScheduled   SessionStatus = "SCHEDULED"
	StatusPreparing   SessionStatus = "PREPARING"
	StatusPulling     SessionStatus = "PULLING"
	StatusRunning     SessionStatus = "RUNNING"
	StatusRestarting  SessionStatus = "RESTARTING"
	StatusTerminating SessionStatus = "TERMINATING"
	StatusTerminated  SessionStatus = "TERMINATED"
	StatusError       SessionStatus = "ERROR"
	StatusCancelled   SessionStatus = "CANCELLED"
)

// Final reports whether no further transition can leave the status.
func (s SessionStatus) Final() bool {
	return s == StatusTerminated || s == StatusCancelled || s == StatusError
}

// Alive reports whether the session holds (or is about to hold) resources.
func (s SessionStatus) Alive() bool { return !s.Final() }

// AgentStatus is the registry's view of an agent.
type AgentStatus string

// The agent statuses.
const (
	AgentAlive      AgentStatus = "ALIVE"
	AgentLost       AgentStatus = "LOST"
	AgentTerminated AgentStatus = "TERMINATED"
)

// Container labels the agent puts on every kernel container, so a restarted
// agent can find, adopt or clean what it owns.
const (
	LabelOwner     = "ai.backend.owner"      // value: "bai"
	LabelAgentID   = "ai.backend.agent-id"   // the agent that created it
	LabelKernelID  = "ai.backend.kernel-id"  // kernel UUID
	LabelSessionID = "ai.backend.session-id" // session UUID
	OwnerValue     = "bai"
)

// LabelCUDADevices is the container label that lists the host indexes of
// the GPUs a kernel holds, e.g. "0,1" (absent when it holds none), so a
// restarted agent re-learns which devices are taken.
const LabelCUDADevices = "ai.backend.cuda-devices"

// LabelSlots is the container label holding the resource slots a kernel
// was given, as JSON (e.g. {"cpu":1,"mem":268435456}), so a restarted agent
// knows what its adopted kernels occupy.
const LabelSlots = "ai.backend.bai.slots"

// Image labels of kernel images (see API.md).
const (
	LabelKernelSpec  = "ai.backend.kernelspec"
	LabelFeatures    = "ai.backend.features"
	LabelMinCPU      = "ai.backend.resource.min.cpu"
	LabelMinMem      = "ai.backend.resource.min.mem"
	LabelBaseDistro  = "ai.backend.base-distro"
	LabelRuntimeType = "ai.backend.runtime-type"
	// LabelJailPolicy names the bai-jail policy of an image's kernels
	// (default: its runtime type).
	LabelJailPolicy   = "ai.backend.jail-policy"
	LabelRuntimePath  = "ai.backend.runtime-path"
	LabelServicePorts = "ai.backend.service-ports"
	// LabelRecipeHash is our own: the content hash of the recipe an image was
	// built from, so an unchanged recipe is a cache hit.
	LabelRecipeHash = "ai.backend.bai.recipe-hash"
)
