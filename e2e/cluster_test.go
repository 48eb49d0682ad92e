package e2e_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", to make and drop the test's database

	"baigo.dev/bai/common/types"
	"baigo.dev/bai/e2e/compat"
)

// Settings of the cluster under test: short enough that losing an agent
// shows within seconds.
const (
	clusterAgentTimeout = 3 * time.Second
	clusterHeartbeat    = time.Second
	clusterAgents       = 3
)

// TestCluster runs two `bai manager` replicas on one Postgres database and
// three `bai agent` processes on distinct loopback addresses (127.0.0.2-4),
// all sharing the local Docker engine, and checks what a cluster promises:
// sessions spread over the agents and are reachable through either manager;
// an agent's death turns its sessions ERROR and its return gives its
// capacity back; a manager's death fails only the requests it was serving.
//
// Environment: BAI_TEST_POSTGRES, a Postgres URL whose user may create
// databases (make test sets it). Without it the test skips, or fails when
// CI=true.
func TestCluster(t *testing.T) {
	pg := os.Getenv("BAI_TEST_POSTGRES")
	if pg == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("BAI_TEST_POSTGRES is not set (CI=true: two managers need Postgres, a missing one is a failure)")
		}
		t.Skip("two managers need Postgres: set BAI_TEST_POSTGRES (make test does, via scripts/ensure-postgres.sh)")
	}
	cl := newCluster(t, pg)

	ok := t.Run("Start", cl.start)
	ok = ok && t.Run("Spread", cl.spread)
	ok = ok && t.Run("AgentLost", cl.agentLost)
	ok = ok && t.Run("ManagerKilled", cl.managerKilled)
	_ = ok && t.Run("Teardown", cl.teardown)
}

// cluster is the state TestCluster's steps share.
type cluster struct {
	t          *testing.T
	dir        string
	dbURL      string
	secretFile string
	tag        string // random, in agent ids and session names

	managers [2]*clusterProc
	mAddr    [2]string
	clients  [2]*compat.Client // superadmin keypair, one per manager

	agents   [clusterAgents]*clusterProc
	agentID  [clusterAgents]string
	agentAdr [clusterAgents]string

	sessions []clusterSession // in creation order; spread makes the first three
	procs    []*clusterProc   // every process started, for the logs
	killedAt time.Time        // when the manager was killed
}

// clusterSession is a session the test created.
type clusterSession struct {
	name, id string
	by       int    // index of the manager that created it
	agent    string // the agent it runs on
}

func newCluster(t *testing.T, pg string) *cluster {
	cl := &cluster{t: t, dir: t.TempDir(), tag: randomHex(3)}
	ctx := testCtx(t, 30*time.Second)
	var drop func()
	var err error
	cl.dbURL, drop, err = createDatabase(ctx, pg, "bai_e2e_"+randomHex(6))
	if err != nil {
		t.Fatalf("Postgres at BAI_TEST_POSTGRES: %v", err)
	}
	t.Cleanup(drop)
	cl.secretFile = filepath.Join(cl.dir, "cluster-secret")
	if err := os.WriteFile(cl.secretFile, []byte(randomHex(32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range clusterAgents {
		cl.agentID[i] = fmt.Sprintf("e2e-%s-agent-%d", cl.tag, i+1)
		addr, err := freeAddrOn(fmt.Sprintf("127.0.0.%d", i+2))
		if err != nil {
			t.Fatalf("agent %d address: %v", i+1, err)
		}
		cl.agentAdr[i] = addr
	}
	for i := range cl.managers {
		addr, err := freeAddrOn("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		cl.mAddr[i] = addr
	}
	t.Cleanup(cl.cleanup)
	return cl
}

// start brings up M1, then M2 on the same database (one after the other, so
// that only M1 bootstraps the superadmin), then the three agents.
func (cl *cluster) start(t *testing.T) {
	for i := range cl.managers {
		p, err := cl.startProc(fmt.Sprintf("manager-%d", i+1), "manager",
			"--data-dir", filepath.Join(cl.dir, fmt.Sprintf("manager-%d", i+1)),
			"--listen", cl.mAddr[i], "--db", cl.dbURL, "--cluster-secret-file", cl.secretFile,
			"--agent-timeout", clusterAgentTimeout.String(), "--cull-interval", "500ms")
		if err != nil {
			t.Fatal(err)
		}
		cl.managers[i] = p
		if err := waitAPI(p, "http://"+cl.mAddr[i], 60*time.Second); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			ak, sk, err := readBootstrapKeys(p, filepath.Join(cl.dir, "manager-1"), 15*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			for j := range cl.clients {
				cl.clients[j] = compat.New("http://"+cl.mAddr[j], ak, sk)
			}
		}
	}
	for i := range cl.agents {
		if err := cl.startAgent(i); err != nil {
			t.Fatal(err)
		}
	}

	ctx := testCtx(t, 10*time.Second)
	resp, err := cl.clients[0].Do(ctx, compat.Request{Method: http.MethodPut, Path: "/scaling-groups/default",
		Body: []byte(`{"agent_selector":"dispersed"}`)})
	if err != nil {
		t.Fatalf("PUT /scaling-groups/default on M1: %v", err)
	}
	if resp.Status != http.StatusOK || !strings.Contains(string(resp.Body), `"dispersed"`) {
		t.Fatalf("PUT /scaling-groups/default on M1: %s", resp)
	}
	cl.waitAgents(t, 1, 30*time.Second, "all three ALIVE on M2", func(ags map[string]clusterAgent) string {
		return cl.expectStatus(ags, "ALIVE", cl.agentID[:]...)
	})
	// M2 reads the settings M1 wrote.
	resp, err = cl.clients[1].Do(ctx, compat.Request{Method: http.MethodGet, Path: "/scaling-groups"})
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("GET /scaling-groups on M2: %v %v", err, resp)
	}
	var gs struct {
		Groups []struct {
			Name          string `json:"name"`
			AgentSelector string `json:"agent_selector"`
		} `json:"scaling_groups"`
	}
	if err := resp.JSON(&gs); err != nil {
		t.Fatal(err)
	}
	for _, g := range gs.Groups {
		if g.Name == "default" && g.AgentSelector != "dispersed" {
			t.Fatalf("M2 sees agent_selector %q for the default group, M1 set dispersed", g.AgentSelector)
		}
	}
}

// spread creates three sessions, alternating managers, and checks that they
// land on three different agents and run code through the other manager.
func (cl *cluster) spread(t *testing.T) {
	for i := range 3 {
		cl.createSession(t, i%2)
	}
	seen := map[string]string{}
	for _, s := range cl.sessions {
		if !cl.isAgent(s.agent) {
			t.Fatalf("session %s runs on agent %q, not one of %v", s.name, s.agent, cl.agentID)
		}
		if other, dup := seen[s.agent]; dup {
			t.Fatalf("sessions %s and %s both landed on %s (dispersed selector, 2 cpu per agent, 1 cpu per session)", other, s.name, s.agent)
		}
		seen[s.agent] = s.name
	}
	for i, s := range cl.sessions {
		other := 1 - s.by
		want := fmt.Sprintf("hello %d from %s", i+1, s.agent)
		r := run(t, cl.clients[other], s.name, fmt.Sprintf("print(%q)", want))
		if got := strings.TrimSpace(r.Stdout()); got != want || r.Status != "finished" {
			t.Errorf("session %s (made on M%d) through M%d: status %s, stdout %q, stderr %q; want %q",
				s.name, s.by+1, other+1, r.Status, r.Stdout(), r.Stderr(), want)
		}
	}
	cl.waitAgents(t, 0, 10*time.Second, "one cpu occupied on each agent", func(ags map[string]clusterAgent) string {
		for _, id := range cl.agentID {
			if cpu := ags[id].occupiedCPU(); cpu != 1 {
				return fmt.Sprintf("%s occupies %v cpu, want 1", id, cpu)
			}
		}
		return ""
	})
}

// agentLost kills the agent of the second session, waits for the managers
// to notice, and brings it back.
func (cl *cluster) agentLost(t *testing.T) {
	s2 := cl.sessions[1]
	idx := cl.agentIndex(s2.agent)
	victim := cl.agents[idx]
	killed := time.Now()
	victim.kill()
	t.Logf("SIGKILLed %s (hosting %s)", s2.agent, s2.name)

	// Either manager may notice; both must report it.
	si := waitStatus(t, cl.clients[1], s2.name, clusterAgentTimeout+7*time.Second, "ERROR")
	t.Logf("%s turned ERROR %s after the kill: %q", s2.name, time.Since(killed).Round(100*time.Millisecond), si.StatusInfo)
	if !strings.Contains(si.StatusInfo, s2.agent) {
		t.Errorf("statusInfo of %s is %q; want it to name the lost agent %s", s2.name, si.StatusInfo, s2.agent)
	}
	if si1 := waitStatus(t, cl.clients[0], s2.name, 5*time.Second, "ERROR"); si1.StatusInfo != si.StatusInfo {
		t.Errorf("M1 and M2 disagree on %s: %q vs %q", s2.name, si1.StatusInfo, si.StatusInfo)
	}
	cl.waitAgents(t, 0, 5*time.Second, s2.agent+" LOST, the others ALIVE", func(ags map[string]clusterAgent) string {
		if msg := cl.expectStatus(ags, "LOST", s2.agent); msg != "" {
			return msg
		}
		return cl.expectStatus(ags, "ALIVE", cl.others(s2.agent)...)
	})
	for i, s := range cl.sessions {
		if s.id == s2.id {
			continue
		}
		want := fmt.Sprintf("still here %d", i+1)
		r := run(t, cl.clients[i%2], s.name, fmt.Sprintf("print(%q)", want))
		if got := strings.TrimSpace(r.Stdout()); got != want {
			t.Errorf("session %s on %s after %s died: stdout %q, stderr %q; want %q", s.name, s.agent, s2.agent, r.Stdout(), r.Stderr(), want)
		}
	}
	if ids := containersOf(t, s2.id); len(ids) == 0 {
		t.Logf("container of %s already gone while its agent was down", s2.name)
	}

	// Same id, data directory and address.
	if err := cl.startAgent(idx); err != nil {
		t.Fatal(err)
	}
	cl.waitAgents(t, 1, 15*time.Second, s2.agent+" ALIVE again with nothing occupied", func(ags map[string]clusterAgent) string {
		if msg := cl.expectStatus(ags, "ALIVE", cl.agentID[:]...); msg != "" {
			return msg
		}
		a := ags[s2.agent]
		if cpu := a.occupiedCPU(); cpu != 0 {
			return fmt.Sprintf("%s occupies %v cpu (occupied_slots %v, %d sessions)", s2.agent, cpu, a.OccupiedSlots, a.Sessions)
		}
		return ""
	})
	waitNoContainers(t, s2.id, 15*time.Second)
	if si := waitStatus(t, cl.clients[0], s2.name, 5*time.Second, "ERROR", "TERMINATED"); si.Status != "ERROR" {
		t.Logf("%s is %s (%q) after its agent came back", s2.name, si.Status, si.StatusInfo)
	}

	// The returned agent has the most free capacity: a dispersed placement
	// must pick it.
	s4 := cl.createSession(t, 1)
	if s4.agent != s2.agent {
		t.Errorf("new session %s landed on %s; want the recovered agent %s (the only one with 2 free cpu)", s4.name, s4.agent, s2.agent)
	}
	r := run(t, cl.clients[0], s4.name, `print("on the recovered agent")`)
	if got := strings.TrimSpace(r.Stdout()); got != "on the recovered agent" {
		t.Errorf("session %s on %s: stdout %q, stderr %q", s4.name, s4.agent, r.Stdout(), r.Stderr())
	}
	cl.destroy(t, 1, s4)
}

// managerKilled kills M1 while it serves an execute and checks that M2
// carries on: sessions, creation, and the agents' heartbeats.
func (cl *cluster) managerKilled(t *testing.T) {
	s1 := cl.sessions[0]
	type outcome struct {
		run  *compat.Run
		err  error
		took time.Duration
	}
	done := make(chan outcome, 1)
	ctx := testCtx(t, 60*time.Second)
	started := time.Now()
	go func() {
		r, err := cl.clients[0].RunCode(ctx, s1.name, `import time; time.sleep(3); print("slept")`)
		done <- outcome{r, err, time.Since(started)}
	}()
	// The run takes 3 s; half a second in, M1 is in the middle of it.
	select {
	case o := <-done:
		t.Fatalf("execute through M1 ended before M1 was killed: %v %+v", o.err, o.run)
	case <-time.After(500 * time.Millisecond):
	}
	cl.killedAt = time.Now()
	cl.managers[0].kill()
	t.Logf("SIGKILLed M1 during an execute on %s", s1.name)

	var o outcome
	select {
	case o = <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("the execute through the killed M1 did not return within 15 s")
	}
	switch {
	case o.err == nil:
		t.Errorf("execute through the killed M1 succeeded: status %s, stdout %q", o.run.Status, o.run.Stdout())
	case statusOf(o.err) != 0:
		t.Errorf("execute through the killed M1 got an HTTP answer instead of a connection error: %v", o.err)
	default:
		t.Logf("execute through the killed M1 failed after %s as expected: %v", o.took.Round(10*time.Millisecond), o.err)
	}

	m2 := cl.clients[1]
	if si := waitStatus(t, m2, s1.name, 5*time.Second, "RUNNING"); si.Status != "RUNNING" {
		t.Fatalf("%s is %s", s1.name, si.Status)
	}
	// The run lives in the kernel, not in M1: a client resumes polling it
	// through M2 with the same run id and gets its output.
	if o.run == nil || o.run.RunID == "" {
		t.Fatal("the execute through M1 left no run id")
	}
	r, err := continueRun(testCtx(t, 30*time.Second), m2, s1.name, o.run.RunID)
	if err != nil {
		t.Fatalf("continue run %s through M2: %v", o.run.RunID, err)
	}
	if !strings.Contains(r.Stdout(), "slept") || r.Status != "finished" {
		t.Errorf("run %s resumed through M2: status %s, stdout %q, stderr %q; want finished with \"slept\"", o.run.RunID, r.Status, r.Stdout(), r.Stderr())
	}
	r = run(t, m2, s1.name, `print("after M1 died")`)
	if got := r.Stdout(); !strings.Contains(got, "after M1 died") {
		t.Errorf("execute on %s through M2 after M1 died: status %s, stdout %q, stderr %q", s1.name, r.Status, got, r.Stderr())
	}
	s5 := cl.createSession(t, 1)
	r = run(t, m2, s5.name, `print(6*7)`)
	if got := strings.TrimSpace(r.Stdout()); got != "42" {
		t.Errorf("new session %s through M2: stdout %q, stderr %q", s5.name, r.Stdout(), r.Stderr())
	}
	cl.destroy(t, 1, s5)

	// Every agent heartbeated to M1 first; they must have moved to M2 and
	// stay ALIVE past the agent timeout.
	until := cl.killedAt.Add(clusterAgentTimeout + 2*time.Second)
	var ags map[string]clusterAgent
	for polls := 0; polls < 2 || time.Now().Before(until); polls++ {
		var err error
		if ags, err = cl.listAgents(1); err != nil {
			t.Fatalf("GET /agents on M2: %v", err)
		}
		if msg := cl.expectStatus(ags, "ALIVE", cl.agentID[:]...); msg != "" {
			t.Fatalf("%s after M1 died: %s", time.Since(cl.killedAt).Round(100*time.Millisecond), msg)
		}
		time.Sleep(250 * time.Millisecond)
	}
	for _, id := range cl.agentID {
		if hb := ags[id].LastHeartbeat; !hb.After(cl.killedAt) {
			t.Errorf("agent %s: last heartbeat %s is not after M1 died (%s)", id, hb.Format(time.RFC3339Nano), cl.killedAt.Format(time.RFC3339Nano))
		}
	}
}

// teardown destroys every session through M2 and checks that no container
// of this test remains, then stops the agents and M2 gracefully.
func (cl *cluster) teardown(t *testing.T) {
	for _, s := range cl.sessions {
		cl.destroy(t, 1, s)
	}
	cl.waitAgents(t, 1, 10*time.Second, "no occupancy left", func(ags map[string]clusterAgent) string {
		for _, id := range cl.agentID {
			if a := ags[id]; a.occupiedCPU() != 0 || a.Sessions != 0 {
				return fmt.Sprintf("%s occupies %v cpu with %d sessions", id, a.occupiedCPU(), a.Sessions)
			}
		}
		return ""
	})
	if left := cl.containers(); len(left) > 0 {
		t.Errorf("containers of this test's agents remain after destroying every session: %v", left)
	}
	for i, p := range cl.agents {
		if err := p.stop(); err != nil {
			t.Errorf("agent %s: %v", cl.agentID[i], err)
		}
	}
	if err := cl.managers[1].stop(); err != nil {
		t.Errorf("M2: %v", err)
	}
}

// cleanup runs even after a failure: destroy what is left through a live
// manager, stop every process, remove leftover containers, dump the logs.
func (cl *cluster) cleanup() {
	t := cl.t
	var live *compat.Client
	for i := len(cl.managers) - 1; i >= 0; i-- {
		if cl.managers[i] != nil && !cl.managers[i].exited() && cl.clients[i] != nil {
			live = cl.clients[i]
			break
		}
	}
	if live != nil {
		for _, s := range cl.sessions {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			_, _ = live.Destroy(ctx, s.id, true)
			cancel()
		}
	}
	for _, p := range cl.agents {
		if p != nil {
			_ = p.stop()
		}
	}
	for _, p := range cl.managers {
		if p != nil {
			_ = p.stop()
		}
	}
	if left := cl.containers(); len(left) > 0 {
		t.Logf("cleanup: removing leftover containers %v", left)
		args := append([]string{"rm", "-f"}, left...)
		if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
			t.Errorf("cleanup: docker rm: %v: %s", err, out)
		}
	}
	if t.Failed() {
		for _, p := range cl.procs {
			t.Logf("--- last lines of %s (%s):\n%s", p.name, p.logPath, tailLines(p.log(), 60))
		}
	}
}

// startAgent starts (or restarts) agent i with its fixed id, data directory
// and address.
func (cl *cluster) startAgent(i int) error {
	p, err := cl.startProc(cl.agentID[i], "agent",
		"--data-dir", filepath.Join(cl.dir, cl.agentID[i]), "--agent-listen", cl.agentAdr[i],
		"--manager", "http://"+cl.mAddr[0]+",http://"+cl.mAddr[1], "--cluster-secret-file", cl.secretFile,
		"--agent-id", cl.agentID[i], "--max-cpu", "2", "--max-mem", "2g",
		"--heartbeat", clusterHeartbeat.String(), "--runtime", "docker")
	if err != nil {
		return err
	}
	cl.agents[i] = p
	return nil
}

// createSession creates a python session (1 cpu, 512 MiB) through manager
// m and waits until it runs.
func (cl *cluster) createSession(t *testing.T, m int) clusterSession {
	t.Helper()
	c := cl.clients[m]
	name := fmt.Sprintf("e2e-cluster-%s-%d", cl.tag, len(cl.sessions)+1)
	res, err := c.Create(testCtx(t, 90*time.Second), compat.CreateOptions{Image: imageName, Name: name,
		Resources: map[string]any{"cpu": 1, "mem": "512m"}})
	if err != nil {
		t.Fatalf("create %s through M%d: %v", name, m+1, err)
	}
	s := clusterSession{name: name, id: res.ID(), by: m}
	if !uuidRE.MatchString(s.id) {
		t.Fatalf("create %s through M%d: session id %q", name, m+1, s.id)
	}
	remember(s.id)
	cl.sessions = append(cl.sessions, s)
	si := waitStatus(t, c, name, 60*time.Second, "RUNNING")
	var extra struct {
		Agent string `json:"agent"`
	}
	if err := json.Unmarshal(si.Raw, &extra); err != nil {
		t.Fatal(err)
	}
	s.agent = extra.Agent
	cl.sessions[len(cl.sessions)-1] = s
	t.Logf("session %s (%s) created through M%d runs on %s", name, s.id, m+1, s.agent)
	return s
}

// destroy destroys a session through manager m and waits until its
// containers are gone. A session that is already dead may answer 404 or 410.
func (cl *cluster) destroy(t *testing.T, m int, s clusterSession) {
	t.Helper()
	_, err := cl.clients[m].Destroy(testCtx(t, 60*time.Second), s.id, true)
	if err != nil && statusOf(err) != http.StatusNotFound && statusOf(err) != http.StatusGone {
		t.Errorf("destroy %s through M%d: %v", s.name, m+1, err)
	}
	waitNoContainers(t, s.id, 20*time.Second)
}

// continueRun polls an existing run with mode "continue" until it is no
// longer "continued", as the SDK's execute loop does.
func continueRun(ctx context.Context, c *compat.Client, name, runID string) (*compat.Run, error) {
	r := &compat.Run{RunID: runID}
	for {
		res, _, err := c.Execute(ctx, name, "continue", runID, "", nil)
		if err != nil {
			return r, err
		}
		r.Answers = append(r.Answers, res)
		items, err := res.Items()
		if err != nil {
			return r, err
		}
		for _, it := range items {
			if s, ok := it.Data.(string); ok && len(r.Console) > 0 && r.Console[len(r.Console)-1].Type == it.Type {
				if prev, ok := r.Console[len(r.Console)-1].Data.(string); ok {
					r.Console[len(r.Console)-1].Data = prev + s
					continue
				}
			}
			r.Console = append(r.Console, it)
		}
		r.Status, r.ExitCode = res.Status, res.ExitCode
		if res.Status != "continued" {
			return r, nil
		}
		r.Continued++
	}
}

// clusterAgent is one entry of GET /agents.
type clusterAgent struct {
	ID             string            `json:"id"`
	Status         string            `json:"status"`
	StatusInfo     string            `json:"status_info"`
	Addr           string            `json:"addr"`
	OccupiedSlots  map[string]string `json:"occupied_slots"`
	AvailableSlots map[string]string `json:"available_slots"`
	Sessions       int               `json:"sessions"`
	LastHeartbeat  time.Time         `json:"last_heartbeat"`
}

// occupiedCPU is the agent's occupied cpu (0 when absent).
func (a clusterAgent) occupiedCPU() float64 {
	v, _ := strconv.ParseFloat(a.OccupiedSlots["cpu"], 64)
	return v
}

// listAgents reads GET /agents through manager m.
func (cl *cluster) listAgents(m int) (map[string]clusterAgent, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cl.clients[m].Do(ctx, compat.Request{Method: http.MethodGet, Path: "/agents"})
	if err != nil {
		return nil, err
	}
	if resp.Status != http.StatusOK {
		return nil, &compat.StatusError{Op: "GET /agents", Resp: resp}
	}
	var l struct {
		Agents []clusterAgent `json:"agents"`
	}
	if err := resp.JSON(&l); err != nil {
		return nil, err
	}
	out := map[string]clusterAgent{}
	for _, a := range l.Agents {
		out[a.ID] = a
	}
	return out, nil
}

// waitAgents polls GET /agents on manager m until check returns "".
func (cl *cluster) waitAgents(t *testing.T, m int, limit time.Duration, what string, check func(map[string]clusterAgent) string) map[string]clusterAgent {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ags, err := cl.listAgents(m)
		last := ""
		if err != nil {
			last = err.Error()
		} else if last = check(ags); last == "" {
			return ags
		}
		if time.Now().After(deadline) {
			t.Fatalf("M%d: not %s within %s; last: %s", m+1, what, limit, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// expectStatus returns "" when every agent in ids has the status, else why not.
func (cl *cluster) expectStatus(ags map[string]clusterAgent, status string, ids ...string) string {
	for _, id := range ids {
		a, ok := ags[id]
		switch {
		case !ok:
			return fmt.Sprintf("agent %s not listed", id)
		case a.Status != status:
			return fmt.Sprintf("agent %s is %s (%q), want %s", id, a.Status, a.StatusInfo, status)
		}
	}
	return ""
}

func (cl *cluster) isAgent(id string) bool { return cl.agentIndex(id) >= 0 }

func (cl *cluster) agentIndex(id string) int {
	for i, a := range cl.agentID {
		if a == id {
			return i
		}
	}
	return -1
}

// others are the agent ids other than id.
func (cl *cluster) others(id string) []string {
	var out []string
	for _, a := range cl.agentID {
		if a != id {
			out = append(out, a)
		}
	}
	return out
}

// containers lists the containers (any state) of this test's agents.
func (cl *cluster) containers() []string {
	var out []string
	for _, id := range cl.agentID {
		b, err := exec.Command("docker", "ps", "-a", "-q", "--filter", "label="+types.LabelAgentID+"="+id).Output()
		if err != nil {
			cl.t.Errorf("docker ps: %v", err)
			continue
		}
		out = append(out, strings.Fields(string(b))...)
	}
	return out
}

// startProc starts `bai ARGS...` with its output appended to DIR/NAME.log.
func (cl *cluster) startProc(name string, args ...string) (*clusterProc, error) {
	p := &clusterProc{name: name, logPath: filepath.Join(cl.dir, name+".log")}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(logf, "=== start %s: bai %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(args, " "))
	p.cmd = exec.Command(filepath.Join(st.binDir, "bai"), args...)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p.done = make(chan struct{})
	go func() {
		p.err = p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	cl.procs = append(cl.procs, p)
	return p, nil
}

// clusterProc is one bai manager or bai agent process.
type clusterProc struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
}

func (p *clusterProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits for the exit.
func (p *clusterProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and waits up to 20 s (then kills); an exit status other
// than 0 after SIGTERM is an error. A process that is gone already is fine.
func (p *clusterProc) stop() error {
	if p.exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		var ee *exec.ExitError
		if errors.As(p.err, &ee) && ee.Exited() && ee.ExitCode() != 0 {
			return fmt.Errorf("%s exited with %d after SIGTERM", p.name, ee.ExitCode())
		}
		return nil
	case <-time.After(20 * time.Second):
		p.kill()
		return fmt.Errorf("%s did not exit within 20s of SIGTERM; killed", p.name)
	}
}

func (p *clusterProc) log() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// waitAPI polls GET / until the manager answers.
func waitAPI(p *clusterProc, endpoint string, limit time.Duration) error {
	c := compat.New(endpoint, "", "")
	deadline := time.Now().Add(limit)
	for {
		if p.exited() {
			return fmt.Errorf("%s exited early: %v\n%s", p.name, p.err, tailLines(p.log(), 40))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, _, err := c.ServerVersion(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not answering after %s: %v\n%s", p.name, limit, err, tailLines(p.log(), 40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readBootstrapKeys returns the superadmin keypair the first manager made:
// from DATA_DIR/credentials.json (written before the banner), else from the
// banner's "access key:" and "secret key:" lines (the secret is printed
// only when the output is a terminal, so here the file is what counts).
func readBootstrapKeys(p *clusterProc, dataDir string, limit time.Duration) (ak, sk string, err error) {
	deadline := time.Now().Add(limit)
	for {
		if b, err := os.ReadFile(filepath.Join(dataDir, "credentials.json")); err == nil {
			var c struct {
				AccessKey string `json:"accessKey"`
				SecretKey string `json:"secretKey"`
			}
			if json.Unmarshal(b, &c) == nil && c.AccessKey != "" && c.SecretKey != "" {
				return c.AccessKey, c.SecretKey, nil
			}
		}
		sc := bufio.NewScanner(strings.NewReader(p.log()))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if v, ok := strings.CutPrefix(line, "access key:"); ok {
				ak = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(line, "secret key:"); ok {
				sk = strings.TrimSpace(v)
			}
		}
		if ak != "" && sk != "" {
			return ak, sk, nil
		}
		if time.Now().After(deadline) || p.exited() {
			return "", "", fmt.Errorf("%s printed no superadmin keypair within %s:\n%s", p.name, limit, tailLines(p.log(), 40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// createDatabase makes database name in the Postgres cluster pg names and
// returns its URL and a func that drops it.
func createDatabase(ctx context.Context, pg, name string) (string, func(), error) {
	admin, err := sql.Open("pgx", pg)
	if err != nil {
		return "", nil, err
	}
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(pg)
	if err != nil {
		admin.Close()
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close()
	}
	return u.String(), drop, nil
}

// freeAddrOn returns host:port with a port nobody listens on now.
func freeAddrOn(host string) (string, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("listen on %s: %w", host, err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
