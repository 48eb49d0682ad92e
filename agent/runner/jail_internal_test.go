package runner

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestJailCmd(t *testing.T) {
	jailBin := filepath.Join(t.TempDir(), "bai-jail")
	if err := os.WriteFile(jailBin, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	extra, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	for _, c := range []struct {
		name, mode, policy, runtime, path string
		want                              string // joined args; "" means untouched
		err                               bool
	}{
		{"off", "off", "", "python", jailBin, "", false},
		{"unset", "", "", "python", jailBin, "", false},
		{"runtime type", "enforce", "", "python", jailBin, jailBin + " --mode enforce --policy python --policy-dir /p --log-fd 4 --keep-env K -- /bin/sh -c true", false},
		{"image policy", "watch", "gpu-heavy", "python", jailBin, jailBin + " --mode watch --policy gpu-heavy --policy-dir /p --log-fd 4 --keep-env K -- /bin/sh -c true", false},
		{"odd names", "enforce", "../x", "Weird/Type", jailBin, jailBin + " --mode enforce --policy default --policy-dir /p --log-fd 4 --keep-env K -- /bin/sh -c true", false},
		{"missing jail", "enforce", "", "python", "/nonexistent/bai-jail", "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := Config{RuntimeType: c.runtime, Jail: JailConfig{Mode: c.mode, Policy: c.policy, Path: c.path, PolicyDir: "/p", KeepEnv: "K"}}
			cmd := exec.Command("/bin/sh", "-c", "true")
			cmd.ExtraFiles = []*os.File{extra}
			err := cfg.jailCmd(cmd)
			if (err != nil) != c.err {
				t.Fatalf("err = %v", err)
			}
			if c.err {
				if !strings.Contains(err.Error(), "make build") {
					t.Fatalf("error does not say what to do: %v", err)
				}
				return
			}
			got := strings.Join(cmd.Args, " ")
			if c.want == "" {
				if got != "/bin/sh -c true" || len(cmd.ExtraFiles) != 1 {
					t.Fatalf("touched: %q", got)
				}
				return
			}
			if got != c.want || cmd.Path != jailBin || len(cmd.ExtraFiles) != 2 || cmd.ExtraFiles[1] != os.Stderr {
				t.Fatalf("got %q (path %s, %d extra files)", got, cmd.Path, len(cmd.ExtraFiles))
			}
		})
	}
}
