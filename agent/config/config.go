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
)

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
}

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
	if c.ID != "" && !idPattern.MatchString(c.ID) {
		errs = append(errs, fmt.Errorf("agent id %q has characters other than letters, digits, '.', '_' and '-'", c.ID))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("agent config: %w: %w", err, errdefs.ErrInvalidArgument)
	}
	return nil
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

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
