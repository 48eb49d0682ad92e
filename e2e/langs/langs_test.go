package langs_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"baigo.dev/bai/e2e/langs"
)

// TestSnippetsWithPlainDocker runs the snippets with each image's own
// toolchain through `docker run` (no bai involved), so that a conformance
// failure can be told apart from a broken snippet.
func TestSnippetsWithPlainDocker(t *testing.T) {
	if os.Getenv("BAI_LANGS_DOCKER") == "" {
		t.Skip("set BAI_LANGS_DOCKER=1 to check the snippets with plain docker run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	images, err := langs.LocalImages(ctx)
	cancel()
	if err != nil {
		t.Skip("docker unavailable:", err)
	}
	for _, l := range langs.All() {
		t.Run(l.Key, func(t *testing.T) {
			refs := images[l.Key]
			if len(refs) == 0 {
				t.Skipf("no image for %s", l.Key)
			}
			ref := refs[0]
			tests := []struct {
				name, code, stdin string
				wantOut           string
				wantCode          int // -1: any non-zero
			}{
				{"hello", l.Hello, "", "hello\n", 0},
				{"order", l.Order, "", "out1\nout2\n", 0},
				{"input", l.Input, "42\n", "84", 0},
				{"broken", l.Broken, "", "", -1},
				{"exit3", l.Exit3, "", "", 3},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
					defer cancel()
					script := "cd /tmp && printf '%s' \"$SRC\" > main." + l.Ext + " && " + l.Run
					cmd := exec.CommandContext(ctx, "docker", "run", "--rm", "-i", "-e", "SRC="+tc.code, ref, "sh", "-c", script)
					cmd.Stdin = strings.NewReader(tc.stdin)
					var out, errb bytes.Buffer
					cmd.Stdout, cmd.Stderr = &out, &errb
					err := cmd.Run()
					code := 0
					var ee *exec.ExitError
					if errors.As(err, &ee) {
						code = ee.ExitCode()
					} else if err != nil {
						t.Fatal(err)
					}
					okCode := code == tc.wantCode || (tc.wantCode == -1 && code != 0)
					okOut := strings.Contains(out.String(), tc.wantOut)
					if tc.name == "hello" {
						okOut = out.String() == tc.wantOut
					}
					if !okCode || !okOut {
						t.Errorf("exit %d stdout %q stderr %q; want exit %d stdout %q", code, out.String(), errb.String(), tc.wantCode, tc.wantOut)
					}
				})
			}
		})
	}
}
