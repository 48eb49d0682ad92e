package kernel

import (
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"baigo.dev/bai/agent/runtime"
	"baigo.dev/bai/common/kproto"
)

// Names inside the kernel library directory (Config.LibDir).
const (
	hookLib      = "libbaihook.so" // the LD_PRELOAD hook, built from agent/hook
	pythonLibDir = "python"        // Python packages, bai_media among them
	mplBackend   = "module://bai_media.mpl_backend"
)

// unbufferedTypes are the runtime types whose programs use C stdio and need
// the hook to flush their prompts before they read stdin.
var unbufferedTypes = map[string]bool{"c": true, "cpp": true, "haskell": true, "rust": true, "go": true}

// libDir returns the kernel library directory when it exists, else "".
// It is looked up on every create, so that building it after the agent
// started is enough.
func (m *Manager) libDir() string {
	if m.cfg.LibDir == "" {
		return ""
	}
	if st, err := os.Stat(m.cfg.LibDir); err != nil || !st.IsDir() {
		return ""
	}
	return m.cfg.LibDir
}

// addKernelEnv sets the variables every kernel gets from the agent: the
// hook, the kernel-side Python packages, the cpu allotment the hook reports
// (BAI_CPU_COUNT) and stdio unbuffering for compiled languages. Values the
// user gave for LD_PRELOAD and PYTHONPATH are kept after ours.
func addKernelEnv(env map[string]string, libDir, runtimeType string, cpu float64) {
	if libDir != "" {
		if isFile(filepath.Join(libDir, hookLib)) {
			env["LD_PRELOAD"] = joinNonEmpty(runtime.ContainerLibDir+"/"+hookLib, env["LD_PRELOAD"])
		}
		if st, err := os.Stat(filepath.Join(libDir, pythonLibDir)); err == nil && st.IsDir() {
			env["PYTHONPATH"] = joinNonEmpty(runtime.ContainerLibDir+"/"+pythonLibDir, env["PYTHONPATH"])
			if _, ok := env["MPLBACKEND"]; !ok {
				env["MPLBACKEND"] = mplBackend
			}
		}
	}
	if cpu > 0 {
		env["BAI_CPU_COUNT"] = strconv.Itoa(int(math.Ceil(cpu - 1e-9)))
	}
	if unbufferedTypes[runtimeType] {
		env["BAI_HOOK_UNBUFFER"] = "1"
	}
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func joinNonEmpty(first, rest string) string {
	if rest == "" {
		return first
	}
	return first + ":" + rest
}

// addJailEnv tells the runner to start user code through bai-jail in mode
// and which variables the session's creator set (the jail keeps them
// besides its policy's preserved keys).
func addJailEnv(env map[string]string, mode, policy string, userEnv map[string]string) {
	if mode == "" || mode == "off" {
		return
	}
	env[kproto.EnvJailMode] = mode
	if policy != "" {
		env[kproto.EnvJailPolicy] = policy
	}
	keys := make([]string, 0, len(userEnv))
	for k := range userEnv {
		if _, ok := env[k]; ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) > 0 {
		env[kproto.EnvJailKeepEnv] = strings.Join(keys, ",")
	}
}
