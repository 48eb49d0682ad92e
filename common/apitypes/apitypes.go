// Package apitypes holds the public REST and WebSocket shapes of the
// Backend.AI-compatible API (see docs/api.md), shared by the manager's
// handlers and the Go SDK so both sides agree on every field name.
package apitypes

import (
	"encoding/json"
	"time"
)

// Headers of the public API.
const (
	HeaderVersion = "X-BackendAI-Version"
	HeaderDate    = "X-BackendAI-Date"
	HeaderDomain  = "X-BackendAI-Domain"
)

// ServerInfo answers the unsigned GET /.
type ServerInfo struct {
	Version string `json:"version"`
	Manager string `json:"manager"`
}

// Problem is the RFC 7807 error body (application/problem+json).
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Msg    string `json:"msg,omitempty"`
	Status int    `json:"status,omitempty"`
}

// ProblemTypeBase prefixes every problem type slug.
const ProblemTypeBase = "https://api.backend.ai/probs/"

// CreateConfig is the "config" object of a create request.
type CreateConfig struct {
	Mounts       []string          `json:"mounts,omitempty"`
	Environ      map[string]string `json:"environ,omitempty"`
	ScalingGroup string            `json:"scaling_group,omitempty"`
	// ScalingGroupAlt is the camelCase spelling some clients send.
	ScalingGroupAlt string         `json:"scalingGroup,omitempty"`
	Resources       map[string]any `json:"resources,omitempty"`
	ResourceOpts    map[string]any `json:"resource_opts,omitempty"`
	PreopenPorts    []int          `json:"preopen_ports,omitempty"`
	// Older clients.
	InstanceCores  any `json:"instanceCores,omitempty"`
	InstanceMemory any `json:"instanceMemory,omitempty"`
	InstanceGPUs   any `json:"instanceGPUs,omitempty"`
}

// CreateSession is the body of POST /session. Both the v5+ field names and
// the older ones (lang, clientSessionToken) are accepted.
type CreateSession struct {
	Image              string        `json:"image,omitempty"`
	Lang               string        `json:"lang,omitempty"`
	Name               string        `json:"name,omitempty"`
	ClientSessionToken string        `json:"clientSessionToken,omitempty"`
	Type               string        `json:"type,omitempty"` // interactive | batch
	Group              string        `json:"group,omitempty"`
	Domain             string        `json:"domain,omitempty"`
	Tag                *string       `json:"tag,omitempty"`
	EnqueueOnly        bool          `json:"enqueueOnly,omitempty"`
	MaxWaitSeconds     int           `json:"maxWaitSeconds,omitempty"`
	ReuseIfExists      *bool         `json:"reuseIfExists,omitempty"`
	StartupCommand     *string       `json:"startupCommand,omitempty"`
	BootstrapScript    *string       `json:"bootstrap_script,omitempty"`
	OwnerAccessKey     *string       `json:"owner_access_key,omitempty"`
	Config             *CreateConfig `json:"config,omitempty"`
	// Network asks for a network (none by default); our extension.
	Network bool `json:"network,omitempty"`
}

// ServicePort describes an in-session app port.
type ServicePort struct {
	Name     string `json:"name"`
	Protocol string `json:"protocol"`
	Ports    []int  `json:"ports"`
}

// CreateSessionResult is the answer to POST /session.
type CreateSessionResult struct {
	SessionID    string        `json:"sessionId"`
	KernelID     string        `json:"kernelId,omitempty"` // v4 clients read this
	SessionName  string        `json:"sessionName"`
	Status       string        `json:"status"`
	StatusInfo   string        `json:"statusInfo,omitempty"`
	ServicePorts []ServicePort `json:"servicePorts"`
	Created      bool          `json:"created"`
}

// SessionInfo answers GET /session/{name}.
type SessionInfo struct {
	SessionID      string            `json:"sessionId"`
	SessionName    string            `json:"sessionName"`
	Domain         string            `json:"domainName"`
	Group          string            `json:"groupName"`
	OwnerAccessKey string            `json:"ownerAccessKey"`
	Image          string            `json:"image"`
	Lang           string            `json:"lang"`
	Type           string            `json:"type"`
	Status         string            `json:"status"`
	StatusInfo     string            `json:"statusInfo"`
	Agent          string            `json:"agent,omitempty"`
	ResourceSlots  map[string]string `json:"resourceSlots"`
	OccupiedSlots  map[string]string `json:"occupiedSlots"`
	Created        time.Time         `json:"createdAt"`
	Terminated     *time.Time        `json:"terminatedAt,omitempty"`
	Age            float64           `json:"age"` // seconds
	ExecutionCount int               `json:"numQueriesExecuted"`
	LastStat       map[string]any    `json:"lastStat,omitempty"`
}

// SessionList answers GET /session (our REST listing).
type SessionList struct {
	Items []SessionInfo `json:"items"`
}

// Execute is the body of POST /session/{name}.
type Execute struct {
	Mode    string          `json:"mode"`
	RunID   string          `json:"runId"`
	Code    string          `json:"code"`
	Options json.RawMessage `json:"options,omitempty"`
}

// ExecuteResult is the "result" of an execute answer.
type ExecuteResult struct {
	RunID    string         `json:"runId"`
	Status   string         `json:"status"`
	ExitCode *int           `json:"exitCode"`
	Options  map[string]any `json:"options"`
	Files    []any          `json:"files"`
	Console  [][2]any       `json:"console"`
}

// ExecuteResponse wraps ExecuteResult; the polling answer always has result.
type ExecuteResponse struct {
	Result ExecuteResult `json:"result"`
}

// Execute statuses.
const (
	RunContinued     = "continued"
	RunWaitingInput  = "waiting-input"
	RunFinished      = "finished"
	RunCleanFinished = "clean-finished"
	RunBuildFinished = "build-finished"
	RunExecTimeout   = "exec-timeout"
)

// DestroyResult answers DELETE /session/{name}.
type DestroyResult struct {
	Stats map[string]any `json:"stats"`
}

// LogsResult answers GET /session/{name}/logs.
type LogsResult struct {
	Result struct {
		Logs string `json:"logs"`
	} `json:"result"`
}

// Complete is the body of POST /session/{name}/complete.
type Complete struct {
	Code    string         `json:"code"`
	Options map[string]any `json:"options,omitempty"`
}

// CompleteResult answers a completion request.
type CompleteResult struct {
	Result []any `json:"result"`
}

// ImageInfo is one entry of GET /images.
type ImageInfo struct {
	Name         string            `json:"name"`
	Aliases      []string          `json:"aliases"`
	RuntimeType  string            `json:"runtimeType"`
	MinResources map[string]string `json:"minResources"`
	Labels       map[string]string `json:"labels"`
}

// ImageList answers GET /images.
type ImageList struct {
	Items []ImageInfo `json:"items"`
}

// Administration (superadmins): the fleet and the limits tenants live
// under.

// AgentInfo is an agent as the admin API shows it.
type AgentInfo struct {
	ID             string            `json:"id"`
	Status         string            `json:"status"`
	StatusInfo     string            `json:"status_info"`
	Addr           string            `json:"addr"`
	Region         string            `json:"region"`
	ScalingGroup   string            `json:"scaling_group"`
	Schedulable    bool              `json:"schedulable"`
	Version        string            `json:"version"`
	AvailableSlots map[string]string `json:"available_slots"`
	OccupiedSlots  map[string]string `json:"occupied_slots"`
	Devices        []map[string]any  `json:"devices"`
	HealthProblems []string          `json:"health_problems"` // empty: healthy
	DiskFreeBytes  int64             `json:"disk_free_bytes"`
	Images         []string          `json:"images"`
	Sessions       int               `json:"sessions"`
	// LiveStats sums the latest usage samples of the agent's running
	// sessions (they arrive with heartbeats): cpu_util in percent of one
	// core, mem in bytes, sampled = how many sessions had a sample.
	LiveStats     map[string]float64 `json:"live_stats"`
	FirstContact  time.Time          `json:"first_contact"`
	LastHeartbeat time.Time          `json:"last_heartbeat"`
}

// GroupSettings are a scaling group's settings; nil fields keep their value.
type GroupSettings struct {
	Description       *string `json:"description"`
	IsActive          *bool   `json:"is_active"`
	Scheduler         *string `json:"scheduler"`
	AgentSelector     *string `json:"agent_selector"`
	PendingTimeout    *int    `json:"pending_timeout"`
	Scaler            *string `json:"scaler"`
	ScalerIdleSeconds *int    `json:"scaler_idle_seconds"`
}

// GroupInfo is a scaling group as the admin API shows it.
type GroupInfo struct {
	Name              string `json:"name"`
	Description       string `json:"description"`
	IsActive          bool   `json:"is_active"`
	Scheduler         string `json:"scheduler"`
	AgentSelector     string `json:"agent_selector"`
	PendingTimeout    int    `json:"pending_timeout"`
	Scaler            string `json:"scaler"`
	ScalerIdleSeconds int    `json:"scaler_idle_seconds"`
}

// PolicySettings are a resource policy's settings; nil fields keep their
// value. Slots take the API's string forms ("4", "8g").
type PolicySettings struct {
	TotalResourceSlots    map[string]any `json:"total_resource_slots"`
	DefaultSessionSlots   map[string]any `json:"default_session_slots"`
	DefaultForUnspecified *string        `json:"default_for_unspecified"`
	MaxConcurrentSessions *int           `json:"max_concurrent_sessions"`
	MaxSessionLifetime    *int           `json:"max_session_lifetime"`
	IdleTimeout           *int           `json:"idle_timeout"`
	MaxExecSeconds        *int           `json:"max_exec_seconds"`
	MaxVfolderCount       *int           `json:"max_vfolder_count"`
	MaxVfolderSize        *int64         `json:"max_vfolder_size"`
}

// PolicyInfo is a resource policy as the admin API shows it.
type PolicyInfo struct {
	Name                  string            `json:"name"`
	TotalResourceSlots    map[string]string `json:"total_resource_slots"`
	DefaultSessionSlots   map[string]string `json:"default_session_slots"`
	DefaultForUnspecified string            `json:"default_for_unspecified"`
	MaxConcurrentSessions int               `json:"max_concurrent_sessions"`
	MaxSessionLifetime    int               `json:"max_session_lifetime"`
	IdleTimeout           int               `json:"idle_timeout"`
	MaxExecSeconds        int               `json:"max_exec_seconds"`
	// MaxVfolderCount caps the folders a keypair owns (0: unlimited);
	// MaxVfolderSize caps each of its folders in bytes (0: unlimited).
	MaxVfolderCount int   `json:"max_vfolder_count"`
	MaxVfolderSize  int64 `json:"max_vfolder_size"`
}

// VFolder describes a virtual folder as GET /folders lists it.
type VFolder struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Host string `json:"host"`
	// Owner is the owning keypair's access key.
	Owner string `json:"owner"`
	// IsOwner tells the caller's own folders from those shared with it.
	IsOwner bool `json:"is_owner"`
	// Permission is the caller's: "rw" for owners, else the invitation's
	// "ro" or "rw".
	Permission string    `json:"permission"`
	CreatedAt  time.Time `json:"created_at"`
}

// VFolderFile is one entry of a folder listing.
type VFolderFile struct {
	Name     string    `json:"name"`
	Type     string    `json:"type"` // "file", "dir" or "symlink"
	Size     int64     `json:"size"`
	Mode     string    `json:"mode"`
	Modified time.Time `json:"modified"`
}

// VFolderInvitation is an offer to share a folder.
type VFolderInvitation struct {
	ID         string    `json:"id"`
	VFolderID  string    `json:"vfolder_id"`
	VFolder    string    `json:"vfolder_name"`
	Inviter    string    `json:"inviter"`
	Invitee    string    `json:"invitee"`
	Permission string    `json:"perm"`
	State      string    `json:"state"`
	CreatedAt  time.Time `json:"created_at"`
}
