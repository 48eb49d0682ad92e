package runner

import (
	"fmt"
	"path/filepath"

	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/kproto"
)

// Config is what the runner needs to know about its container. Main builds it
// from the environment; tests build it directly.
type Config struct {
	// IPCDir holds the in.sock and out.sock endpoints the runner binds.
	IPCDir string
	// RuntimeType selects the language driver ("python", ...).
	RuntimeType string
	// RuntimePath is the interpreter or compiler the driver starts.
	RuntimePath string
	// WorkDir is the user's working directory; runs start there.
	WorkDir string
	// TempDir holds the runner's scratch files (REPL helpers, compile-and-run
	// directories); "" means /tmp.
	TempDir string
	// Env is the environment given to user processes; nil means the runner's
	// own.
	Env []string
	// Jail starts user processes through bai-jail when its Mode is set.
	Jail JailConfig
}

// JailConfig says how user processes are jailed.
type JailConfig struct {
	Mode      string // enforce, watch or noop; "" or "off": no jail
	Policy    string // policy name; "": the runtime type
	Path      string // bai-jail
	PolicyDir string // operator policies (NAME.yml)
	KeepEnv   string // comma-separated variable names the jail keeps
}

// ConfigFromEnv reads the runner's settings through lookup (os.LookupEnv in
// production), filling in the documented defaults.
func ConfigFromEnv(lookup func(string) (string, bool)) Config {
	get := func(key, def string) string {
		if v, ok := lookup(key); ok && v != "" {
			return v
		}
		return def
	}
	return Config{
		IPCDir:      get(kproto.EnvIPCDir, kproto.ContainerIPCDir),
		RuntimeType: get(kproto.EnvRuntimeType, "python"),
		RuntimePath: get(kproto.EnvRuntimePath, ""),
		WorkDir:     get(kproto.EnvWorkDir, "/home/work"),
		Jail: JailConfig{
			Mode:      get(kproto.EnvJailMode, ""),
			Policy:    get(kproto.EnvJailPolicy, ""),
			Path:      get(kproto.EnvJailPath, kproto.ContainerJailPath),
			PolicyDir: get(kproto.EnvJailPolicyDir, kproto.ContainerJailPolicyDir),
			KeepEnv:   get(kproto.EnvJailKeepEnv, ""),
		},
	}
}

// validate checks that the endpoints can be bound: Unix socket paths are
// limited to 107 bytes.
func (c Config) validate() error {
	if c.IPCDir == "" {
		return fmt.Errorf("ipc dir: empty: %w", errdefs.ErrInvalidArgument)
	}
	if p := filepath.Join(c.IPCDir, kproto.OutSocket); len(p) >= 108 {
		return fmt.Errorf("ipc dir %q: socket path longer than 107 bytes: %w", c.IPCDir, errdefs.ErrInvalidArgument)
	}
	return nil
}

func (c Config) tempDir() string {
	if c.TempDir != "" {
		return c.TempDir
	}
	return "/tmp"
}
