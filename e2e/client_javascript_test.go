package e2e_test

import (
	"archive/zip"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The JavaScript side of the integrations (docs/integrations.md): the
// TypeScript client, and the VS Code and Atom extensions driving the real
// `bai bridge` built into BAI_BIN. Each package's own node --test suite runs
// against the shared server; these tests install its locked dependencies,
// run it, and check that nothing was skipped.

// nodeRequire skips (fails under CI=true) when node or npm is missing.
func nodeRequire(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s missing (CI=true): install Node.js 18 or newer", tool)
			}
			t.Skipf("%s missing: install Node.js 18 or newer to run this test", tool)
		}
	}
}

// npmRun runs npm in dir (relative to the repository root) with the shared
// server's keypair, the built binaries and BAI_CLIENT_REQUIRE_LIVE=1 (live
// tests fail instead of skipping), failing the test on a non-zero exit. It
// returns the combined output.
func npmRun(t *testing.T, dir string, limit time.Duration, args ...string) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", args...)
	cmd.Dir = filepath.Join(root, dir)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BACKEND_") && !strings.HasPrefix(kv, "BAI_BIN=") && !strings.HasPrefix(kv, "BAI_CLIENT_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, sharedEnv()...)
	cmd.Env = append(cmd.Env, "BAI_BIN="+st.binDir, "BAI_CLIENT_REQUIRE_LIVE=1", "NO_COLOR=1", "npm_config_update_notifier=false")
	// Kill the whole tree on timeout: npm runs node, which runs bai bridge.
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	t.Logf("npm %s in %s:\n%s", strings.Join(args, " "), dir, out)
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("npm %s in %s did not finish within %s", strings.Join(args, " "), dir, limit)
	case errors.As(err, &ee):
		t.Fatalf("npm %s in %s exited with %d (output above)", strings.Join(args, " "), dir, ee.ExitCode())
	case err != nil:
		t.Fatalf("npm %s in %s: %v", strings.Join(args, " "), dir, err)
	}
	return string(out)
}

// npmCI installs dir's locked dependencies, from npm's cache when it can.
func npmCI(t *testing.T, dir string) {
	t.Helper()
	npmRun(t, dir, 6*time.Minute, "ci", "--prefer-offline", "--no-audit", "--no-fund")
}

var tapCountRE = regexp.MustCompile(`(?m)^# (pass|fail|skipped|todo|cancelled) (\d+)$`)

// checkTAP reads the summary of node --test and fails unless at least
// minPass tests passed and none failed, was skipped or cancelled.
func checkTAP(t *testing.T, out string, minPass int) {
	t.Helper()
	counts := map[string]int{}
	for _, m := range tapCountRE.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[2])
		counts[m[1]] += n
	}
	if _, ok := counts["pass"]; !ok {
		t.Fatal("no node --test summary (# pass N) in the output")
	}
	if counts["pass"] < minPass {
		t.Errorf("%d tests passed, want at least %d: the live tests did not run", counts["pass"], minPass)
	}
	for _, k := range []string{"fail", "skipped", "todo", "cancelled"} {
		if counts[k] > 0 {
			t.Errorf("%d tests %s; against the shared server every test must run and pass", counts[k], k)
		}
	}
}

// TestClientJS builds the TypeScript client with tsc and runs its unit
// tests (signing vectors, stream parsers) and live tests (sessions, execute
// loop with input, batch, restart, the execute WebSocket stream, interrupt,
// exec timeout, upload and download with sha256 checks, SSE events,
// errors).
func TestClientJS(t *testing.T) {
	t.Parallel()
	nodeRequire(t)
	npmCI(t, "clients/js")
	checkTAP(t, npmRun(t, "clients/js", 6*time.Minute, "test"), 26)
}

// TestVSCodeExtension runs the extension's protocol client against the real
// bai bridge and server, then packages the extension and checks the .vsix.
func TestVSCodeExtension(t *testing.T) {
	t.Parallel()
	nodeRequire(t)
	const dir = "integrations/vscode"
	npmCI(t, dir)
	checkTAP(t, npmRun(t, dir, 6*time.Minute, "test"), 15)

	vsix, err := filepath.Abs(filepath.Join("..", dir, "bai-live-code-runner.vsix"))
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(vsix) // it must be this run's
	t.Cleanup(func() { _ = os.Remove(vsix) })
	npmRun(t, dir, 3*time.Minute, "run", "package")
	zr, err := zip.OpenReader(vsix)
	if err != nil {
		t.Fatalf("npm run package did not produce a zip at %s: %v", vsix, err)
	}
	defer zr.Close()
	var manifest struct {
		Name        string `json:"name"`
		Main        string `json:"main"`
		Contributes struct {
			Commands []struct {
				Command string `json:"command"`
				Title   string `json:"title"`
			} `json:"commands"`
		} `json:"contributes"`
	}
	files := map[string]bool{}
	for _, f := range zr.File {
		files[f.Name] = true
		if f.Name != "extension/package.json" {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(rc).Decode(&manifest)
		rc.Close()
		if err != nil {
			t.Fatalf("extension/package.json: %v", err)
		}
	}
	if manifest.Name != "bai-live-code-runner" {
		t.Fatalf("the .vsix has no extension/package.json of the extension (files: %v)", files)
	}
	var titles []string
	for _, c := range manifest.Contributes.Commands {
		titles = append(titles, c.Title)
	}
	for _, want := range []string{"Run file", "Run selection", "Interrupt"} {
		if !strings.Contains(strings.Join(titles, "|"), want) {
			t.Errorf("commands %v lack %q", titles, want)
		}
	}
	main := "extension/" + strings.TrimPrefix(manifest.Main, "./")
	for _, want := range []string{main, "extension/out/bridgeClient.js"} {
		if !files[want] {
			t.Errorf("the .vsix lacks %s (files: %v)", want, files)
		}
	}
	for name := range files {
		if strings.Contains(name, "node_modules/") || strings.HasSuffix(name, ".ts") {
			t.Errorf("the .vsix carries %s: only the compiled extension belongs in it", name)
		}
	}
}

// TestAtomPackage runs the Atom package's protocol client against the real
// bai bridge and server.
func TestAtomPackage(t *testing.T) {
	t.Parallel()
	nodeRequire(t)
	const dir = "integrations/atom"
	npmCI(t, dir)
	checkTAP(t, npmRun(t, dir, 6*time.Minute, "test"), 7)
}
