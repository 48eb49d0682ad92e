// Package config holds the agent's settings, their defaults and the agent's
// persistent identity, so that the agent package and the binary that wires
// it agree on one definition.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"baigo.dev/bai/agent/resources/gpu"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/resource"
)

// Runtime names.
const (
	RuntimeDocker  = "docker"
	RuntimeProcess = "process"
)

// Defaults.
const (
	DefaultHeartbeatInterval = 3 * time.Second
	DefaultScalingGroup      = "default"
	DefaultRegion            = "local"
	DefaultContainerUID      = 1000
	DefaultContainerGID      = 1000
	DefaultPidsLimit         = 512
	DefaultListenAddr        = "127.0.0.1:6001"
	DefaultMinFreeDisk       = 1 << 30
	DefaultScratchSize       = 10 << 30
	DefaultSessionNetwork    = "bai-sessions"
	DefaultSessionBridge     = "bai-br0"
)

// NoScratchCap as ScratchSize leaves kernels' work dirs uncapped.
const NoScratchCap = -1

// MinScratchSize is the smallest scratch cap (an ext4 file system needs
// some room of its own).
const MinScratchSize = 8 << 20

// Config configures one agent.
type Config struct {
	ID                string        // stable agent id; when empty, derived once and kept in DataDir/agent-id
	ListenAddr        string        // control HTTP listen address, e.g. 127.0.0.1:6001 (":0" allowed)
	AdvertiseURL      string        // URL the manager uses to reach us; default http://<actual listen addr>
	ManagerURL        string        // e.g. http://127.0.0.1:8081; replicas comma-separated
	ClusterSecret     string        // shared secret, both directions
	DataDir           string        // kernels' host dirs live in DataDir/kernels/<kernelId>/{ipc,work}
	RunnerPath        string        // host path of the static bai-runner binary
	KernelLibDir      string        // host dir mounted read-only at /opt/bai/lib in kernels (libbaihook.so, python/); empty or missing: none
	Runtime           string        // "docker" (default) or "process"
	HeartbeatInterval time.Duration // default 3s
	ScalingGroup      string        // default "default"
	Region            string        // default "local"
	ContainerUID      int           // default 1000
	ContainerGID      int           // default 1000
	PidsLimit         int64         // default 512
	// CPUOvercommit multiplies the cpu capacity the agent reports. Kernel
	// cpu limits are CFS quotas, so several kernels may share a core; 1
	// (the default) never promises more cores than the host has.
	CPUOvercommit float64
	// FakeGPUs, when set, replaces GPU discovery through NVML with made-up
	// devices: "COUNT[:MODEL[:MEMORY]]", e.g. "2" or
	// "2:NVIDIA H100 80GB HBM3:80GiB" (see gpu.ParseFake). Kernels get them
	// as environment variables only, so tests can cover GPU placement on
	// machines without GPUs.
	FakeGPUs string
	// MinFreeDisk is the free space the data directory needs for the agent
	// to call itself healthy (default 1 GiB).
	MinFreeDisk int64
	// MetricsListen, when set, serves GET /metrics without authentication
	// on this address (the control port serves it only with the cluster
	// secret, like everything there).
	MetricsListen string
	// MaxCPU and MaxMem cap the capacity offered to sessions (0: all the
	// host has, after CPUOvercommit).
	MaxCPU float64
	MaxMem int64
	// ScratchSize caps each kernel's work dir (/home/work): with the
	// docker runtime and root, it is a loop-mounted ext4 image of this
	// size. Default 10 GiB; NoScratchCap (any negative value): no cap.
	ScratchSize int64
	// SessionNetwork is the Docker network networked sessions join
	// (default bai-sessions), SessionBridge its bridge interface (default
	// bai-br0): see package netguard.
	SessionNetwork string
	SessionBridge  string
	// JailMode is how user code runs under bai-jail (agent/jail), which
	// the kernel library directory must hold: JailEnforce (the default
	// with the docker runtime), JailWatch (log what would be refused),
	// JailNoop (the jail execs the program untouched) or JailOff (the
	// default with the process runtime, whose kernels run on the host).
	JailMode string
}

// Jail modes.
const (
	JailEnforce = "enforce"
	JailWatch   = "watch"
	JailNoop    = "noop"
	JailOff     = "off"
)

// JailBinary is bai-jail's name in the kernel library directory.
const JailBinary = "bai-jail"

// WithDefaults returns c with every unset field at its default.
func (c Config) WithDefaults() Config {
	if c.ListenAddr == "" {
		c.ListenAddr = DefaultListenAddr
	}
	if c.Runtime == "" {
		c.Runtime = RuntimeDocker
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.ScalingGroup == "" {
		c.ScalingGroup = DefaultScalingGroup
	}
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.ContainerUID == 0 {
		c.ContainerUID = DefaultContainerUID
	}
	if c.ContainerGID == 0 {
		c.ContainerGID = DefaultContainerGID
	}
	if c.CPUOvercommit <= 0 {
		c.CPUOvercommit = 1
	}
	if c.PidsLimit == 0 {
		c.PidsLimit = DefaultPidsLimit
	}
	if c.MinFreeDisk == 0 {
		c.MinFreeDisk = DefaultMinFreeDisk
	}
	if c.ScratchSize == 0 {
		c.ScratchSize = DefaultScratchSize
	} else if c.ScratchSize < 0 {
		c.ScratchSize = NoScratchCap
	}
	if c.SessionNetwork == "" {
		c.SessionNetwork = DefaultSessionNetwork
	}
	if c.JailMode == "" {
		c.JailMode = JailEnforce
		if c.Runtime == RuntimeProcess {
			c.JailMode = JailOff
		}
	}
	if c.SessionBridge == "" {
		c.SessionBridge = DefaultSessionBridge
	}
	c.ManagerURL = strings.TrimRight(c.ManagerURL, "/")
	c.AdvertiseURL = strings.TrimRight(c.AdvertiseURL, "/")
	return c
}

// Validate checks the settings that have no sensible default.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data dir is required"))
	}
	if c.ClusterSecret == "" {
		errs = append(errs, errors.New("cluster secret is required"))
	}
	if c.ManagerURL == "" {
		errs = append(errs, errors.New("manager url is required"))
	}
	if c.RunnerPath == "" {
		errs = append(errs, errors.New("runner path is required"))
	} else if st, err := os.Stat(c.RunnerPath); err != nil || st.IsDir() {
		errs = append(errs, fmt.Errorf("runner %s is not a file", c.RunnerPath))
	}
	if c.Runtime != RuntimeDocker && c.Runtime != RuntimeProcess {
		errs = append(errs, fmt.Errorf("runtime %q is neither docker nor process", c.Runtime))
	}
	if c.FakeGPUs != "" {
		if _, err := gpu.ParseFake(c.FakeGPUs); err != nil {
			errs = append(errs, err)
		}
	}
	if c.ScratchSize > 0 && c.ScratchSize < MinScratchSize {
		errs = append(errs, fmt.Errorf("scratch size %d is below the minimum of 8 MiB (0 turns the cap off)", c.ScratchSize))
	}
	if c.SessionNetwork != "" && !networkPattern.MatchString(c.SessionNetwork) {
		errs = append(errs, fmt.Errorf("session network %q is not a valid docker network name", c.SessionNetwork))
	}
	if c.SessionBridge != "" && !bridgePattern.MatchString(c.SessionBridge) {
		errs = append(errs, fmt.Errorf("session bridge %q is not an interface name (at most 15 letters, digits, '.', '_' and '-')", c.SessionBridge))
	}
	switch c.JailMode {
	case "", JailOff:
	case JailEnforce, JailWatch, JailNoop:
		if jail := filepath.Join(c.KernelLibDir, JailBinary); c.KernelLibDir == "" || !isFile(jail) {
			errs = append(errs, fmt.Errorf("jail mode %s needs %s in the kernel library directory (build it with `make build`, point --kernel-lib at it, or pass --jail off to run user code unjailed)", c.JailMode, JailBinary))
		}
	default:
		errs = append(errs, fmt.Errorf("jail mode %q: want enforce, watch, noop or off", c.JailMode))
	}
	if c.ID != "" && !idPattern.MatchString(c.ID) {
		errs = append(errs, fmt.Errorf("agent id %q has characters other than letters, digits, '.', '_' and '-'", c.ID))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("agent config: %w: %w", err, errdefs.ErrInvalidArgument)
	}
	return nil
}

var (
	idPattern      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	networkPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	bridgePattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,14}$`)
)

// ParseScratchSize reads a --scratch-size value: a size such as 10GiB or
// 512m, or 0 for no cap (NoScratchCap).
func ParseScratchSize(s string) (int64, error) {
	n, err := resource.ParseBytes(s)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return NoScratchCap, nil
	}
	if n < MinScratchSize {
		return 0, fmt.Errorf("scratch size %q is below the minimum of 8 MiB (0 turns the cap off): %w", s, errdefs.ErrInvalidArgument)
	}
	return n, nil
}

// LoadOrCreateID returns the agent id kept in dataDir/agent-id, making and
// saving a new one ("i-" plus random hex) the first time. The id must stay
// the same across restarts: it is how the agent finds its own containers.
func LoadOrCreateID(dataDir string) (string, error) {
	p := filepath.Join(dataDir, "agent-id")
	b, err := os.ReadFile(p)
	if err == nil {
		id := strings.TrimSpace(string(b))
		if !idPattern.MatchString(id) {
			return "", fmt.Errorf("agent id in %s is malformed: %w", p, errdefs.ErrInvalidArgument)
		}
		return id, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read agent id: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return "", fmt.Errorf("make data dir: %w", err)
	}
	raw := make([]byte, 6)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("random agent id: %w", err)
	}
	id := "i-" + hex.EncodeToString(raw)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("write agent id: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return "", fmt.Errorf("write agent id: %w", err)
	}
	return id, nil
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
