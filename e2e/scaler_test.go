package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"baigo.dev/bai/common/types"
	"baigo.dev/bai/e2e/compat"
)

// scalerScript is an exec scaler that starts and stops real `bai agent`
// processes: scale-up starts one in the scaling group, scale-down sends
// SIGTERM to the agent it names. Its log shows what it was asked.
const scalerScript = `#!/bin/sh
set -eu
dir=%[1]q
req=$(cat)
echo "$(date +%%T) $1 $req" >> "$dir/scaler.log"
case "$1" in
scale-up)
  n=$(ls "$dir/agents" 2>/dev/null | wc -l)
  id="elastic-%[2]s-$((n + 1))"
  mkdir -p "$dir/agents/$id"
  %[3]q agent --data-dir "$dir/agents/$id" --agent-id "$id" --agent-listen 127.0.0.1:0 \
    --manager %[4]q --cluster-secret-file %[5]q --scaling-group elastic \
    --max-cpu 2 --max-mem 2g --heartbeat 1s --runtime docker \
    > "$dir/agents/$id/log" 2>&1 < /dev/null &
  echo $! > "$dir/agents/$id/pid"
  ;;
scale-down)
  id=$(printf '%%s' "$req" | sed -n 's/.*"agent_id":"\([^"]*\)".*/\1/p')
  kill -TERM "$(cat "$dir/agents/$id/pid")"
  ;;
esac
`

// TestScalerStartsAgentProcesses: a scaling group with no agents and an
// exec scaler. A session asking for that group waits, the scaler starts a
// real agent process, the session runs code on it; once idle, the agent is
// drained and the scaler stops it, and the manager records it TERMINATED.
func TestScalerStartsAgentProcesses(t *testing.T) {
	dir := t.TempDir()
	tag := randomHex(3)
	secret := filepath.Join(dir, "cluster-secret")
	if err := os.WriteFile(secret, []byte(randomHex(32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	maddr, err := freeAddrOn("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + maddr
	cl := &cluster{t: t, dir: dir}
	t.Cleanup(func() {
		// Stop every agent the scaler started, and what they ran.
		pids, _ := filepath.Glob(filepath.Join(dir, "scaler", "agents", "*", "pid"))
		for _, p := range pids {
			b, _ := os.ReadFile(p)
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label="+types.LabelAgentID+"=elastic-"+tag+"-1").Output()
		for _, id := range strings.Fields(string(out)) {
			_ = exec.Command("docker", "rm", "-f", id).Run()
		}
		for _, p := range cl.procs {
			_ = p.stop()
		}
		if t.Failed() {
			for _, p := range cl.procs {
				t.Logf("--- %s log:\n%s", p.name, tailLines(p.log(), 40))
			}
			b, _ := os.ReadFile(filepath.Join(dir, "scaler", "scaler.log"))
			t.Logf("--- scaler log:\n%s", b)
			logs, _ := filepath.Glob(filepath.Join(dir, "scaler", "agents", "*", "log"))
			for _, l := range logs {
				b, _ := os.ReadFile(l)
				t.Logf("--- %s:\n%s", l, tailLines(string(b), 30))
			}
		}
	})
	m, err := cl.startProc("manager", "manager", "--data-dir", filepath.Join(dir, "manager"), "--listen", maddr,
		"--cluster-secret-file", secret, "--cull-interval", "300ms", "--agent-timeout", "5s")
	if err != nil {
		t.Fatal(err)
	}
	if err := waitAPI(m, url, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	ak, sk, err := readBootstrapKeys(m, filepath.Join(dir, "manager"), 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := compat.New(url, ak, sk)
	// One fixed agent in another group makes the images known.
	if _, err := cl.startProc("static-agent", "agent", "--data-dir", filepath.Join(dir, "static"), "--agent-id", "static-"+tag,
		"--agent-listen", "127.0.0.1:0", "--manager", url, "--cluster-secret-file", secret, "--max-cpu", "1", "--heartbeat", "1s"); err != nil {
		t.Fatal(err)
	}
	scalerDir := filepath.Join(dir, "scaler")
	if err := os.MkdirAll(scalerDir, 0o700); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(scalerDir, "scaler.sh")
	if err := os.WriteFile(script, []byte(fmt.Sprintf(scalerScript, scalerDir, tag, filepath.Join(st.binDir, "bai"), url, secret)), 0o700); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t, 3*time.Minute)
	put := func(path, body string) {
		resp, err := c.Do(ctx, compat.Request{Method: http.MethodPut, Path: path, Body: []byte(body)})
		if err != nil || resp.Status != http.StatusOK {
			t.Fatalf("PUT %s: %v %v", path, err, resp)
		}
	}
	put("/scaling-groups/elastic", fmt.Sprintf(`{"scaler": "exec:%s", "scaler_idle_seconds": 2}`, script))

	// Images are known once the static agent reported.
	deadline := time.Now().Add(30 * time.Second)
	for {
		imgs, err := c.Images(ctx)
		if err == nil && len(imgs) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no images reported: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	name := "elastic-" + tag
	body := c.CreateBody(compat.CreateOptions{Image: imageName, Name: name, Resources: map[string]any{"cpu": 1, "mem": "512m"}})
	body["enqueueOnly"] = true
	body["config"].(map[string]any)["scaling_group"] = "elastic"
	raw, _ := json.Marshal(body)
	resp, err := c.Do(ctx, compat.Request{Method: http.MethodPost, Path: c.CreatePath(), Body: raw})
	if err != nil || resp.Status != http.StatusCreated {
		t.Fatalf("create: %v %v", err, resp)
	}
	var created struct {
		SessionID string `json:"sessionId"`
	}
	_ = resp.JSON(&created)
	remember(created.SessionID)
	si := waitStatus(t, c, name, 90*time.Second, "RUNNING")
	var where struct {
		Agent string `json:"agent"`
	}
	_ = json.Unmarshal(si.Raw, &where)
	want := "elastic-" + tag + "-1"
	if where.Agent != want {
		t.Fatalf("session runs on %q, want the scaled agent %s", where.Agent, want)
	}
	if r := run(t, c, name, "print(6 * 7)"); !strings.Contains(r.Stdout(), "42") {
		t.Errorf("run on the scaled agent: %+v", r)
	}
	if _, err := c.Destroy(ctx, name, false); err != nil {
		t.Fatal(err)
	}
	// Idle for scaler_idle_seconds: drained, stopped by the scaler, and
	// recorded TERMINATED (it left with nothing to adopt).
	deadline = time.Now().Add(60 * time.Second)
	for {
		resp, err := c.Do(ctx, compat.Request{Method: http.MethodGet, Path: "/agents"})
		if err == nil && resp.Status == http.StatusOK {
			var ags struct {
				Agents []struct {
					ID          string `json:"id"`
					Status      string `json:"status"`
					Schedulable bool   `json:"schedulable"`
				} `json:"agents"`
			}
			_ = resp.JSON(&ags)
			done := false
			for _, a := range ags.Agents {
				if a.ID == want && a.Status == "TERMINATED" && !a.Schedulable {
					done = true
				}
			}
			if done {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the idle scaled agent was not removed: %v", resp)
		}
		time.Sleep(300 * time.Millisecond)
	}
	b, _ := os.ReadFile(filepath.Join(scalerDir, "agents", want, "pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline = time.Now().Add(20 * time.Second)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("agent process %d still running after scale-down", pid)
		}
		time.Sleep(100 * time.Millisecond)
	}
	log, _ := os.ReadFile(filepath.Join(scalerDir, "scaler.log"))
	if n := strings.Count(string(log), " scale-up {"); n != 1 {
		t.Errorf("scale-up asked %d times:\n%s", n, log)
	}
}

// processAlive reports whether pid runs (a zombie, exited but not yet
// reaped by whoever adopted it, does not count).
func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}
