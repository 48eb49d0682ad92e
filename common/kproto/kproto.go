// Package kproto is the wire protocol between an agent and the kernel runner
// inside each container: two-frame ZeroMQ messages [op, payload], modelled on
// Backend.AI's kernel runner.
//
// The runner binds two sockets on Unix-domain (ipc://) endpoints in a
// directory the agent bind-mounts into the container, because kernel
// containers have no network by default:
//
//	agent PUSH ──▶ ipc://<dir>/in.sock  ──▶ runner PULL   (requests)
//	agent PULL ◀── ipc://<dir>/out.sock ◀── runner PUSH   (output, replies)
//
// The runner sends OpReady once its language driver is up, then answers
// requests. One run (code, or clean/build/exec) is in flight at a time; its
// output items stream as they are produced and it ends with OpFinished (or
// OpCleanFinished / OpBuildFinished).
package kproto

import (
	"encoding/json"
	"fmt"
)

// Socket file names inside the ipc directory.
const (
	InSocket  = "in.sock"
	OutSocket = "out.sock"
)

// Paths and variables inside the container.
const (
	// ContainerIPCDir is where the agent mounts the per-kernel ipc directory.
	ContainerIPCDir = "/opt/bai/ipc"
	// ContainerBinDir is where the agent mounts the runner binary (read-only).
	ContainerBinDir = "/opt/bai/bin"
	// ContainerJailPath is bai-jail inside the container (the agent's
	// kernel library directory, mounted read-only).
	ContainerJailPath = "/opt/bai/lib/bai-jail"
	// ContainerJailPolicyDir holds the operator's jail policies
	// (NAME.yml, NAME being a runtime type or "default").
	ContainerJailPolicyDir = "/opt/bai/lib/jail"
	// EnvJailMode is the jail mode the agent asks for: enforce, watch or
	// noop; unset or "off" runs user code without bai-jail.
	EnvJailMode = "BAI_JAIL_MODE"
	// EnvJailPolicy names the jail policy (the image's
	// ai.backend.jail-policy label); default: the runtime type.
	EnvJailPolicy = "BAI_JAIL_POLICY"
	// EnvJailPath overrides ContainerJailPath (process runtime, tests).
	EnvJailPath = "BAI_JAIL_PATH"
	// EnvJailPolicyDir overrides ContainerJailPolicyDir.
	EnvJailPolicyDir = "BAI_JAIL_POLICY_DIR"
	// EnvJailKeepEnv lists (comma-separated) the variables the session's
	// creator set, which the jail keeps besides its policy's.
	EnvJailKeepEnv = "BAI_JAIL_KEEP_ENV"
	// EnvIPCDir overrides the ipc directory (used when the runner runs
	// outside a container, e.g. in tests and the process runtime).
	EnvIPCDir = "BAI_IPC_DIR"
	// EnvRuntimeType names the language driver ("python", ...); images set it
	// from the ai.backend.runtime-type label.
	EnvRuntimeType = "BAI_RUNTIME_TYPE"
	// EnvRuntimePath is the language's interpreter or compiler path.
	EnvRuntimePath = "BAI_RUNTIME_PATH"
	// EnvWorkDir is the user's working directory (default /home/work).
	EnvWorkDir = "BAI_WORK_DIR"
)

// Agent → runner operations.
const (
	OpClean           = "clean"     // payload: shell command ("*" = default, "" = skip)
	OpBuild           = "build"     // payload: shell command
	OpExec            = "exec"      // payload: shell command
	OpCode            = "code"      // payload: source code (query mode)
	OpInput           = "input"     // payload: the user's answer to waiting-input
	OpComplete        = "complete"  // payload: JSON CompleteRequest
	OpInterrupt       = "interrupt" // payload: empty
	OpStatus          = "status"    // payload: empty; answered with OpStatus
	OpStartService    = "start-service"
	OpShutdownService = "shutdown-service"
	OpGetApps         = "get-apps"
)

// Runner → agent operations.
const (
	OpReady         = "ready"  // payload: JSON Ready; the runner's first heartbeat
	OpStdout        = "stdout" // payload: UTF-8 text (never split inside a sequence)
	OpStderr        = "stderr" // payload: UTF-8 text
	OpMedia         = "media"  // payload: JSON Media
	OpHTML          = "html"   // payload: HTML text
	OpLog           = "log"    // payload: JSON [level, timestamp, logger, message]
	OpCompletion    = "completion"
	OpFinished      = "finished"       // payload: JSON Finished
	OpCleanFinished = "clean-finished" // payload: JSON Finished
	OpBuildFinished = "build-finished" // payload: JSON Finished
	OpWaitingInput  = "waiting-input"  // payload: JSON WaitingInput
	OpServiceResult = "service-result"
	OpAppsResult    = "apps-result"
	OpRunnerError   = "runner-error" // payload: text; a request the runner could not handle
	OpRunnerStatus  = "status"
)

// Ready is the payload of OpReady.
type Ready struct {
	Version     string `json:"version"`
	RuntimeType string `json:"runtimeType"`
	PID         int    `json:"pid"`
}

// Finished is the payload of OpFinished, OpCleanFinished, OpBuildFinished.
type Finished struct {
	ExitCode int `json:"exitCode"`
}

// WaitingInput is the payload of OpWaitingInput.
type WaitingInput struct {
	IsPassword bool   `json:"is_password"`
	Prompt     string `json:"prompt,omitempty"`
}

// Media is the payload of OpMedia.
type Media struct {
	Type string `json:"type"`
	Data string `json:"data"`
}

// CompleteRequest is the payload of OpComplete.
type CompleteRequest struct {
	Code    string         `json:"code"`
	Options map[string]any `json:"options,omitempty"`
}

// Msg is one decoded message.
type Msg struct {
	Op      string
	Payload []byte
}

// Encode returns the two frames of a message.
func Encode(op string, payload []byte) [][]byte {
	return [][]byte{[]byte(op), payload}
}

// EncodeJSON marshals v as the payload.
func EncodeJSON(op string, v any) [][]byte {
	b, err := json.Marshal(v)
	if err != nil {
		// Only our own fixed payload types pass through here.
		panic(fmt.Sprintf("kproto: marshal %s: %v", op, err))
	}
	return Encode(op, b)
}

// Decode validates the frames of a message. Anything but exactly two frames
// with a non-empty op is refused, so a confused peer cannot wedge the other.
func Decode(frames [][]byte) (Msg, error) {
	if len(frames) != 2 {
		return Msg{}, fmt.Errorf("kproto: want 2 frames, got %d", len(frames))
	}
	if len(frames[0]) == 0 || len(frames[0]) > 64 {
		return Msg{}, fmt.Errorf("kproto: bad op frame of %d bytes", len(frames[0]))
	}
	return Msg{Op: string(frames[0]), Payload: frames[1]}, nil
}
