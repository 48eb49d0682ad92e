// Package e2e_test runs the built bai binaries against real Docker and checks
// them from the outside with an independent Backend.AI client (package
// compat), the bai CLI and the docker CLI. Nothing of the server is imported:
// what passes here is what a Backend.AI client would see.
//
// Environment:
//
//	BAI_BIN  folder with bai and bai-runner (default ../bin; built into a
//	         temporary folder when absent there)
//	CI       "true" turns a missing Docker engine or kernel image into a
//	         failure instead of a skip
package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"baigo.dev/bai/common/types"
	"baigo.dev/bai/e2e/devserver"
)

// Image names of the Python kernel.
const (
	imageName   = "python:3.11-debian"
	dockerImage = "bai/python:3.11-debian"
)

// suite is the state TestMain prepares for every test.
type suite struct {
	binDir string
	shared *devserver.Server

	mu       sync.Mutex
	sessions map[string]bool // session ids this run created
}

var st suite

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	ci := os.Getenv("CI") == "true"
	unavailable := func(why string) int {
		if ci {
			fmt.Fprintf(os.Stderr, "e2e: FAIL: %s (CI=true: a missing prerequisite is a failure)\n", why)
			return 1
		}
		fmt.Fprintf(os.Stderr, "e2e: SKIP whole suite: %s\n", why)
		return 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		return unavailable(fmt.Sprintf("docker engine unreachable: %v: %s", err, strings.TrimSpace(string(out))))
	}
	if out, err := exec.CommandContext(ctx, "docker", "image", "inspect", "--format", "{{.Id}}", dockerImage).CombinedOutput(); err != nil {
		return unavailable(fmt.Sprintf("kernel image %s missing (build it with make images): %s", dockerImage, strings.TrimSpace(string(out))))
	}

	tmp, err := os.MkdirTemp("", "bai-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)

	st.sessions = map[string]bool{}
	st.binDir, err = devserver.LocateBinaries(context.Background(), os.Getenv("BAI_BIN"), "..", filepath.Join(tmp, "bin"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: FAIL:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: binaries from %s\n", st.binDir)

	st.shared, err = startServer(filepath.Join(tmp, "shared"), "", "")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: FAIL: start bai dev:", err)
		return 1
	}
	code := m.Run()
	if leaks := leakedContainers(st.shared); len(leaks) > 0 {
		fmt.Fprintf(os.Stderr, "e2e: FAIL: containers left behind by this run (removed now): %s\n", strings.Join(leaks, ", "))
		removeContainers(leaks)
		code = 1
	}
	if err := st.shared.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: FAIL: stop shared bai dev:", err)
		code = 1
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "e2e: last lines of the shared server log:\n%s\n", st.shared.LogTail(60))
	}
	return code
}

// startServer starts bai dev on dataDir; empty addresses pick free ports.
func startServer(dataDir, listen, agentListen string) (*devserver.Server, error) {
	return devserver.Start(context.Background(), devserver.Options{
		BinDir: st.binDir, DataDir: dataDir, Listen: listen, AgentListen: agentListen,
	})
}

// leakedContainers lists containers of this run still present: the ones of
// sessions the tests created and any other whose session the server knows.
func leakedContainers(s *devserver.Server) []string {
	out, err := exec.Command("docker", "ps", "-a", "--filter", "label="+types.LabelOwner+"="+types.OwnerValue,
		"--format", `{{.ID}} {{.Label "`+types.LabelSessionID+`"}}`).Output()
	if err != nil {
		return []string{"(docker ps failed: " + err.Error() + ")"}
	}
	var leaks []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		id, sid, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if id == "" {
			continue
		}
		st.mu.Lock()
		ours := st.sessions[sid]
		st.mu.Unlock()
		if !ours && sid != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, resp, _ := s.Client().Info(ctx, sid)
			cancel()
			ours = resp != nil && resp.Status == 200
		}
		if ours {
			leaks = append(leaks, id+" (session "+sid+")")
		}
	}
	return leaks
}

func removeContainers(leaks []string) {
	for _, l := range leaks {
		id, _, _ := strings.Cut(l, " ")
		_ = exec.Command("docker", "rm", "-f", id).Run()
	}
}

// remember records a session id created by this run.
func remember(id string) {
	st.mu.Lock()
	st.sessions[id] = true
	st.mu.Unlock()
}
