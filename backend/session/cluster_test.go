package session_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"baigo.dev/bai/backend/config"
	"baigo.dev/bai/backend/session"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/internal/servertest"
)

// These tests run a manager (or two) with several real agents on the
// process runtime, each offering a small, fixed capacity, and check the
// fleet behaviours: placement policies, limits, lost agents, culling,
// scaling, GPUs and replicas. Every one runs on SQLite and on Postgres.

func fast(c *config.Config) {
	c.CullInterval = 100 * time.Millisecond
	c.AgentTimeout = 1500 * time.Millisecond
	c.CreateWait = 20 * time.Second
}

func newManager(t *testing.T, dsn string) *servertest.Server {
	return servertest.New(t, servertest.Options{Postgres: dsn, Config: fast})
}

type sessInfo struct {
	Status     string            `json:"status"`
	StatusInfo string            `json:"statusInfo"`
	Agent      string            `json:"agent"`
	Occupied   map[string]string `json:"occupiedSlots"`
}

func info(t *testing.T, s *servertest.Server, name string) sessInfo {
	t.Helper()
	r := s.Do("GET", "/session/"+name, nil, nil)
	if r.Status != 200 {
		t.Fatalf("GET /session/%s: %d %s", name, r.Status, r.Body)
	}
	var out sessInfo
	r.JSON(t, &out)
	return out
}

// waitFor polls a session until cond holds (tests only: the product code
// is event driven).
func waitFor(t *testing.T, s *servertest.Server, name string, within time.Duration, what string, cond func(sessInfo) bool) sessInfo {
	t.Helper()
	deadline := time.Now().Add(within)
	var last sessInfo
	for time.Now().Before(deadline) {
		last = info(t, s, name)
		if cond(last) {
			return last
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("session %s: %s not reached within %s; last: %+v", name, what, within, last)
	return last
}

func create(t *testing.T, s *servertest.Server, name string, extra map[string]any) servertest.Response {
	t.Helper()
	body := map[string]any{"image": "python", "name": name}
	for k, v := range extra {
		body[k] = v
	}
	return s.Do("POST", "/session", body, nil)
}

func mustCreate(t *testing.T, s *servertest.Server, name string, extra map[string]any) {
	t.Helper()
	if r := create(t, s, name, extra); r.Status != 201 && r.Status != 200 {
		t.Fatalf("create %s: %d %s", name, r.Status, r.Body)
	}
}

func cpu(n float64) map[string]any {
	return map[string]any{"config": map[string]any{"resources": map[string]any{"cpu": n, "mem": "256m"}}}
}

func admin(t *testing.T, s *servertest.Server, method, path string, body any) servertest.Response {
	t.Helper()
	r := s.Do(method, path, body, nil)
	if r.Status/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, path, r.Status, r.Body)
	}
	return r
}

// slot reads an agent's slot amount ("0" when absent).
func slot(m map[string]string, k string) string {
	if v, ok := m[k]; ok {
		return v
	}
	return "0"
}

// userWithPolicy adds a user whose keypair is under a new resource policy.
func userWithPolicy(t *testing.T, s *servertest.Server, email, policy string, settings map[string]any) (ak, sk string) {
	t.Helper()
	ak, sk = s.AddUser(t, email)
	admin(t, s, "PUT", "/resource-policies/"+policy, settings)
	admin(t, s, "PUT", "/keypairs/"+ak+"/resource-policy", map[string]any{"resource_policy": policy})
	return ak, sk
}

// slotNum reads an agent's slot amount as a number.
func slotNum(t *testing.T, m map[string]string, k string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(slot(m, k), 64)
	if err != nil {
		t.Fatalf("slot %s=%q: %v", k, m[k], err)
	}
	return v
}

func agents(t *testing.T, s *servertest.Server) map[string]apitypes.AgentInfo {
	t.Helper()
	var out struct {
		Agents []apitypes.AgentInfo `json:"agents"`
	}
	admin(t, s, "GET", "/agents", nil).JSON(t, &out)
	m := map[string]apitypes.AgentInfo{}
	for _, a := range out.Agents {
		m[a.ID] = a
	}
	return m
}

func waitAgents(t *testing.T, s *servertest.Server, ids ...string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		m := agents(t, s)
		ok := true
		for _, id := range ids {
			if m[id].Status != "ALIVE" {
				ok = false
			}
		}
		if ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("agents %v did not register: %+v", ids, agents(t, s))
}

func TestSelectorsAndPolicies(t *testing.T) {
	for db, dsn := range servertest.Backends(t) {
		t.Run(db, func(t *testing.T) {
			s := newManager(t, dsn)
			s.StartAgent(t, servertest.AgentOptions{ID: "a1", MaxCPU: 2})
			s.StartAgent(t, servertest.AgentOptions{ID: "a2", MaxCPU: 2})
			waitAgents(t, s, "a1", "a2")

			// Dispersed spreads two sessions over both agents.
			admin(t, s, "PUT", "/scaling-groups/default", map[string]any{"agent_selector": "dispersed"})
			mustCreate(t, s, "disp1", cpu(1))
			mustCreate(t, s, "disp2", cpu(1))
			if a, b := info(t, s, "disp1").Agent, info(t, s, "disp2").Agent; a == b {
				t.Errorf("dispersed put both sessions on %s", a)
			}
			s.Do("DELETE", "/session/disp1", nil, nil)
			s.Do("DELETE", "/session/disp2", nil, nil)

			// Concentrated fills one agent first.
			admin(t, s, "PUT", "/scaling-groups/default", map[string]any{"agent_selector": "concentrated"})
			mustCreate(t, s, "conc1", cpu(1))
			mustCreate(t, s, "conc2", cpu(1))
			if a, b := info(t, s, "conc1").Agent, info(t, s, "conc2").Agent; a != b {
				t.Errorf("concentrated used %s and %s", a, b)
			}
			// One agent full, the other with one cpu taken: a 2-cpu session
			// waits, and says why; no agent is over-committed.
			mustCreate(t, s, "conc3", cpu(1))
			if a, b := info(t, s, "conc1").Agent, info(t, s, "conc3").Agent; a == b {
				t.Errorf("conc3 joined a full agent %s", a)
			}
			mustCreate(t, s, "bigone", map[string]any{"enqueueOnly": true, "config": map[string]any{"resources": map[string]any{"cpu": 2}}})
			got := waitFor(t, s, "bigone", 5*time.Second, "an explanation", func(i sessInfo) bool { return i.StatusInfo != "" })
			if got.Status != "PENDING" || !strings.Contains(got.StatusInfo, "cpu=2") {
				t.Errorf("big: %+v", got)
			}
			for id, a := range agents(t, s) {
				if slotNum(t, a.OccupiedSlots, "cpu") > slotNum(t, a.AvailableSlots, "cpu") {
					t.Errorf("agent %s over-committed: %+v", id, a)
				}
			}
			// Freeing one agent lets it start at once (freed capacity kicks
			// the scheduler).
			s.Do("DELETE", "/session/conc1", nil, nil)
			s.Do("DELETE", "/session/conc2", nil, nil)
			waitFor(t, s, "bigone", 10*time.Second, "RUNNING", func(i sessInfo) bool { return i.Status == "RUNNING" })

			// Settings are validated.
			r := s.Do("PUT", "/scaling-groups/default", map[string]any{"scheduler": "random"}, nil)
			if r.Status != 400 || !strings.Contains(string(r.Body), "fifo, lifo or drf") {
				t.Errorf("bad scheduler: %d %s", r.Status, r.Body)
			}
			if r := create(t, s, "nogroup", map[string]any{"config": map[string]any{"scaling_group": "nosuch"}}); r.Status != 400 || !strings.Contains(string(r.Body), "scaling group") {
				t.Errorf("unknown group: %d %s", r.Status, r.Body)
			}
			// Only superadmins reach the admin API.
			ak, sk := s.AddUser(t, "user@example.com")
			if r := s.DoAs(ak, sk, "GET", "/agents", nil, nil); r.Status != 403 {
				t.Errorf("user on admin API: %d %s", r.Status, r.Body)
			}
		})
	}
}

func TestPolicyLimits(t *testing.T) {
	for db, dsn := range servertest.Backends(t) {
		t.Run(db, func(t *testing.T) {
			s := newManager(t, dsn)
			s.StartAgent(t, servertest.AgentOptions{ID: "a1", MaxCPU: 4})
			waitAgents(t, s, "a1")
			ak, sk := userWithPolicy(t, s, "limited@example.com", "small", map[string]any{
				"total_resource_slots": map[string]any{"cpu": "2"}, "max_concurrent_sessions": 5})
			as := func(name string, n float64) servertest.Response {
				return s.DoAs(ak, sk, "POST", "/session", map[string]any{"image": "python", "name": name,
					"config": map[string]any{"resources": map[string]any{"cpu": n, "mem": "256m"}}}, nil)
			}
			if r := as("lim1", 1); r.Status != 201 {
				t.Fatalf("l1: %d %s", r.Status, r.Body)
			}
			r := as("lim2", 2)
			if r.Status != 412 || !strings.Contains(string(r.Body), "total_resource_slots") || !strings.Contains(string(r.Body), `\"small\"`) {
				t.Errorf("over total slots: %d %s", r.Status, r.Body)
			}
			if r := as("lim3", 1); r.Status != 201 {
				t.Errorf("within total slots: %d %s", r.Status, r.Body)
			}
			// A session asking for nothing gets the policy's defaults.
			admin(t, s, "PUT", "/resource-policies/default", map[string]any{"default_session_slots": map[string]any{"cpu": "2", "mem": "300m"}})
			mustCreate(t, s, "defaulted", nil)
			var got struct {
				Slots map[string]string `json:"resourceSlots"`
			}
			s.Do("GET", "/session/defaulted", nil, nil).JSON(t, &got)
			if got.Slots["cpu"] != "2" {
				t.Errorf("policy default slots not applied: %+v", got.Slots)
			}
			// Bad policy input is refused with the field named.
			r = s.Do("PUT", "/resource-policies/small", map[string]any{"idle_timeout": -1}, nil)
			if r.Status != 400 || !strings.Contains(string(r.Body), "idle_timeout") {
				t.Errorf("negative idle timeout: %d %s", r.Status, r.Body)
			}
		})
	}
}

func TestCulling(t *testing.T) {
	for db, dsn := range servertest.Backends(t) {
		t.Run(db, func(t *testing.T) {
			s := newManager(t, dsn)
			s.StartAgent(t, servertest.AgentOptions{ID: "a1", MaxCPU: 2})
			waitAgents(t, s, "a1")

			ak, sk := userWithPolicy(t, s, "idle@example.com", "idle", map[string]any{"idle_timeout": 1})
			if r := s.DoAs(ak, sk, "POST", "/session", map[string]any{"image": "python", "name": "idler"}, nil); r.Status != 201 {
				t.Fatalf("create: %d %s", r.Status, r.Body)
			}
			// Executions keep it alive...
			for i := 0; i < 4; i++ {
				if r := s.DoAs(ak, sk, "POST", "/session/idler", map[string]any{"mode": "query", "code": "1", "runId": fmt.Sprint("r", i)}, nil); r.Status != 200 {
					t.Fatalf("execute: %d %s", r.Status, r.Body)
				}
				time.Sleep(400 * time.Millisecond)
			}
			r := s.DoAs(ak, sk, "GET", "/session/idler", nil, nil)
			if !strings.Contains(string(r.Body), `"RUNNING"`) {
				t.Fatalf("active session was culled: %s", r.Body)
			}
			// ...and silence ends it, with the reason.
			deadline := time.Now().Add(6 * time.Second)
			for {
				r = s.DoAs(ak, sk, "GET", "/session/idler", nil, nil)
				if strings.Contains(string(r.Body), "idle-timeout") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("idle session not culled: %s", r.Body)
				}
				time.Sleep(100 * time.Millisecond)
			}

			// Max lifetime ends even a busy session.
			admin(t, s, "PUT", "/resource-policies/default", map[string]any{"max_session_lifetime": 2})
			mustCreate(t, s, "mortal", nil)
			got := waitFor(t, s, "mortal", 8*time.Second, "max lifetime", func(i sessInfo) bool { return i.Status == "TERMINATED" })
			if !strings.Contains(got.StatusInfo, "max-lifetime-exceeded") {
				t.Errorf("lifetime reason: %+v", got)
			}
			admin(t, s, "PUT", "/resource-policies/default", map[string]any{"max_session_lifetime": 0})

			// A session that waits longer than its group's pending timeout
			// is cancelled with the reason.
			admin(t, s, "PUT", "/scaling-groups/default", map[string]any{"pending_timeout": 1})
			mustCreate(t, s, "hogger", cpu(2))
			mustCreate(t, s, "waiter", map[string]any{"enqueueOnly": true, "config": map[string]any{"resources": map[string]any{"cpu": 1}}})
			got = waitFor(t, s, "waiter", 8*time.Second, "cancelled", func(i sessInfo) bool { return i.Status == "CANCELLED" })
			if !strings.Contains(got.StatusInfo, "pending-timeout") {
				t.Errorf("pending timeout reason: %+v", got)
			}
		})
	}
}

func TestLostAgent(t *testing.T) {
	for db, dsn := range servertest.Backends(t) {
		t.Run(db, func(t *testing.T) {
			s := newManager(t, dsn)
			a1 := s.StartAgent(t, servertest.AgentOptions{ID: "a1", MaxCPU: 2})
			waitAgents(t, s, "a1")
			mustCreate(t, s, "onlost", cpu(2))
			if got := agents(t, s)["a1"]; slot(got.OccupiedSlots, "cpu") != "2" {
				t.Fatalf("occupancy before: %+v", got)
			}
			a1.Stop()
			got := waitFor(t, s, "onlost", 8*time.Second, "ERROR", func(i sessInfo) bool { return i.Status == "ERROR" })
			if !strings.Contains(got.StatusInfo, "a1") || !strings.Contains(got.StatusInfo, "lost") {
				t.Errorf("reason: %+v", got)
			}
			if a := agents(t, s)["a1"]; a.Status != "LOST" || slot(a.OccupiedSlots, "cpu") != "0" {
				t.Errorf("lost agent: %+v", a)
			}
			// It comes back: reconciled, nothing double-counted, and it
			// takes new work with its full capacity.
			s.StartAgent(t, servertest.AgentOptions{ID: "a1", MaxCPU: 2})
			waitAgents(t, s, "a1")
			if a := agents(t, s)["a1"]; slot(a.OccupiedSlots, "cpu") != "0" {
				t.Errorf("returned agent occupancy: %+v", a)
			}
			s.Do("DELETE", "/session/onlost", nil, nil)
			mustCreate(t, s, "after", cpu(2))
			if i := info(t, s, "after"); i.Status != "RUNNING" || i.Agent != "a1" {
				t.Errorf("after return: %+v", i)
			}
		})
	}
}

func TestGPUPlacement(t *testing.T) {
	for db, dsn := range servertest.Backends(t) {
		t.Run(db, func(t *testing.T) {
			s := newManager(t, dsn)
			s.StartAgent(t, servertest.AgentOptions{ID: "cpu-only", MaxCPU: 4})
			s.StartAgent(t, servertest.AgentOptions{ID: "gpu", MaxCPU: 4, FakeGPUs: "2:NVIDIA H100 80GB HBM3:80GiB"})
			waitAgents(t, s, "cpu-only", "gpu")
			g := agents(t, s)["gpu"]
			if g.AvailableSlots["cuda.device"] != "2" || len(g.Devices) != 2 || g.Devices[0]["model"] != "NVIDIA H100 80GB HBM3" {
				t.Fatalf("gpu agent: %+v", g)
			}
			withGPU := func(n int) map[string]any {
				return map[string]any{"config": map[string]any{"resources": map[string]any{"cpu": 1, "mem": "256m", "cuda.device": n}}}
			}
			mustCreate(t, s, "gpu1", withGPU(1))
			mustCreate(t, s, "gpu2", withGPU(1))
			seen := map[string]bool{}
			for _, n := range []string{"gpu1", "gpu2"} {
				i := info(t, s, n)
				if i.Agent != "gpu" || i.Status != "RUNNING" {
					t.Fatalf("%s: %+v", n, i)
				}
				r := s.Do("POST", "/session/"+n, map[string]any{"mode": "query", "code": "import os; print(os.environ.get('CUDA_VISIBLE_DEVICES'))", "runId": "gpu"}, nil)
				var res apitypes.ExecuteResponse
				r.JSON(t, &res)
				out := fmt.Sprint(res.Result.Console)
				seen[out] = true
			}
			if len(seen) != 2 {
				t.Errorf("both sessions saw the same devices: %v", seen)
			}
			mustCreate(t, s, "gpu3", map[string]any{"enqueueOnly": true, "config": map[string]any{"resources": map[string]any{"cpu": 1, "cuda.device": 1}}})
			got := waitFor(t, s, "gpu3", 5*time.Second, "explanation", func(i sessInfo) bool { return i.StatusInfo != "" })
			if got.Status != "PENDING" || !strings.Contains(got.StatusInfo, "cuda.device") {
				t.Errorf("third GPU session: %+v", got)
			}
			// CPU-only sessions still go anywhere they fit.
			mustCreate(t, s, "plain", cpu(1))
		})
	}
}

func TestScalerAddsAndRemovesAgents(t *testing.T) {
	for db, dsn := range servertest.Backends(t) {
		t.Run(db, func(t *testing.T) {
			old := session.ScalerCooldown
			session.ScalerCooldown = 2 * time.Second
			t.Cleanup(func() { session.ScalerCooldown = old })
			s := newManager(t, dsn)
			// The scaler is a webhook that starts real agents in this
			// process and stops the ones it is asked to remove.
			var mu sync.Mutex
			started := map[string]*servertest.Agent{}
			var ups, downs atomic.Int32
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var req session.ScaleRequest
				if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
					http.Error(w, err.Error(), 400)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				switch req.Action {
				case "scale-up":
					id := fmt.Sprintf("scaled-%d", ups.Add(1))
					started[id] = s.StartAgent(t, servertest.AgentOptions{ID: id, ScalingGroup: "elastic", MaxCPU: 2})
				case "scale-down":
					downs.Add(1)
					if a := started[req.AgentID]; a != nil {
						go a.Stop()
					}
				}
			}))
			t.Cleanup(hook.Close)
			// An agent of another group makes the images known.
			s.StartAgent(t, servertest.AgentOptions{ID: "static", MaxCPU: 1})
			waitAgents(t, s, "static")
			admin(t, s, "PUT", "/scaling-groups/elastic", map[string]any{"scaler": hook.URL, "scaler_idle_seconds": 1})
			// No agent at all in the group: the session waits, the scaler is
			// asked, the new agent registers and runs it.
			mustCreate(t, s, "elastic1", map[string]any{"enqueueOnly": true, "config": map[string]any{"scalingGroup": "elastic", "resources": map[string]any{"cpu": 1}}})
			waitFor(t, s, "elastic1", 20*time.Second, "RUNNING on a scaled agent", func(i sessInfo) bool { return i.Status == "RUNNING" })
			if ups.Load() != 1 {
				t.Errorf("scale-up calls: %d", ups.Load())
			}
			// Once idle, the agent is drained and removed.
			s.Do("DELETE", "/session/elastic1", nil, nil)
			deadline := time.Now().Add(15 * time.Second)
			for {
				a := agents(t, s)["scaled-1"]
				if downs.Load() == 1 && a.Status == "TERMINATED" && !a.Schedulable {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("idle agent not removed: downs=%d %+v", downs.Load(), a)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

func TestLiveStats(t *testing.T) {
	s := newManager(t, "")
	s.StartAgent(t, servertest.AgentOptions{ID: "a1", MaxCPU: 2})
	waitAgents(t, s, "a1")
	mustCreate(t, s, "stats", nil)
	s.Do("POST", "/session/stats", map[string]any{"mode": "query", "code": "x = sum(range(3_000_000))", "runId": "busy"}, nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got struct {
			LastStat map[string]any `json:"lastStat"`
		}
		s.Do("GET", "/session/stats", nil, nil).JSON(t, &got)
		if cpu, ok := got.LastStat["cpu_used"].(float64); ok && cpu > 0 {
			if mem, _ := got.LastStat["mem"].(float64); mem <= 0 {
				t.Errorf("stats without memory: %v", got.LastStat)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no live stats in session info: %v", got.LastStat)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sseEvents reads the Server-Sent Events stream of a manager into ch.
func sseEvents(t *testing.T, s *servertest.Server, query string) <-chan string {
	t.Helper()
	path := "/events/session" + query
	req, err := http.NewRequest("GET", s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = s.SignedHeader("GET", path)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("events: %d", resp.StatusCode)
	}
	t.Cleanup(func() { resp.Body.Close() })
	ch := make(chan string, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if line := sc.Text(); strings.HasPrefix(line, "data:") {
				ch <- strings.TrimSpace(strings.TrimPrefix(line, "data:"))
			}
		}
	}()
	return ch
}

// TestReplicas runs two managers on one Postgres database: either serves
// any request, events reach clients of both, concurrent scheduling never
// over-commits, and agents fail over when a manager stops.
func TestReplicas(t *testing.T) {
	dsn := servertest.Backends(t)["postgres"]
	if dsn == "" {
		t.Skip("replicas need Postgres: set BAI_TEST_POSTGRES")
	}
	db := servertest.FreshPostgres(t, dsn)
	secret := fmt.Sprintf("replica-secret-%d", time.Now().UnixNano())
	cfg := func(c *config.Config) { fast(c); c.ClusterSecret = secret }
	m1 := servertest.New(t, servertest.Options{DatabaseURL: db, Config: cfg})
	m2 := servertest.New(t, servertest.Options{DatabaseURL: db, Config: cfg})
	if m1.Creds.AccessKey != m2.Creds.AccessKey {
		t.Fatalf("replicas bootstrapped different superadmins: %s %s", m1.Creds.AccessKey, m2.Creds.AccessKey)
	}
	m1.StartAgent(t, servertest.AgentOptions{ID: "r1", MaxCPU: 2, Managers: m1.URL + "," + m2.URL})
	m1.StartAgent(t, servertest.AgentOptions{ID: "r2", MaxCPU: 2, Managers: m2.URL + "," + m1.URL})
	waitAgents(t, m1, "r1", "r2")
	waitAgents(t, m2, "r1", "r2")

	// Events of a session created and started through m1 reach a client
	// of m2 (LISTEN/NOTIFY).
	evs := sseEvents(t, m2, "?name=relayed")
	mustCreate(t, m1, "relayed", nil)
	deadline := time.After(10 * time.Second)
	for started := false; !started; {
		select {
		case e := <-evs:
			started = strings.Contains(e, "session_started") || strings.Contains(e, `"RUNNING"`)
		case <-deadline:
			t.Fatal("m2's event stream never saw the session start on m1")
		}
	}
	// Either replica serves it.
	r := m2.Do("POST", "/session/relayed", map[string]any{"mode": "query", "code": "print(6*7)", "runId": "x"}, nil)
	if r.Status != 200 || !strings.Contains(string(r.Body), "42") {
		t.Fatalf("execute through m2: %d %s", r.Status, r.Body)
	}
	m2.Do("DELETE", "/session/relayed", nil, nil)

	// Both replicas schedule at once: 4 cpu in the fleet, 10 one-cpu
	// sessions submitted half through each; never more than 4 placed.
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		m := m1
		if i%2 == 1 {
			m = m2
		}
		wg.Add(1)
		go func(i int, m *servertest.Server) {
			defer wg.Done()
			if r := create(t, m, fmt.Sprintf("race-%02d", i), map[string]any{"enqueueOnly": true,
				"config": map[string]any{"resources": map[string]any{"cpu": 1, "mem": "256m"}}}); r.Status != 201 {
				t.Errorf("race-%02d: %d %s", i, r.Status, r.Body)
			}
		}(i, m)
	}
	wg.Wait()
	time.Sleep(2 * time.Second) // let both replicas run several rounds
	placed := 0
	for i := 0; i < 10; i++ {
		if st := info(t, m1, fmt.Sprintf("race-%02d", i)).Status; st != "PENDING" {
			placed++
		}
	}
	if placed != 4 {
		t.Errorf("%d sessions placed on 4 cpus", placed)
	}
	for id, a := range agents(t, m2) {
		if slot(a.OccupiedSlots, "cpu") != "2" {
			t.Errorf("agent %s occupancy %v, want cpu=2", id, a.OccupiedSlots)
		}
	}
	for i := 0; i < 10; i++ {
		m1.Do("DELETE", fmt.Sprintf("/session/race-%02d", i), nil, nil)
	}

	// m1 stops: agents fail over to m2 and stay ALIVE past the timeout; m2
	// keeps serving.
	m1.Stop()
	time.Sleep(3 * time.Second)
	for id, a := range agents(t, m2) {
		if a.Status != "ALIVE" {
			t.Errorf("agent %s after m1 stopped: %+v", id, a)
		}
	}
	mustCreate(t, m2, "survivor", nil)
	if r := m2.Do("POST", "/session/survivor", map[string]any{"mode": "query", "code": "print('ok')", "runId": "y"}, nil); r.Status != 200 {
		t.Errorf("m2 after m1 stopped: %d %s", r.Status, r.Body)
	}
}

// An agent that reports a problem (here: its data directory has less free
// space than it needs) keeps registered but gets no new sessions; the
// admin API and CLI show why.
func TestUnhealthyAgent(t *testing.T) {
	s := newManager(t, "")
	s.StartAgent(t, servertest.AgentOptions{ID: "sick", MaxCPU: 2, MinFreeDisk: 1 << 60})
	waitAgents(t, s, "sick")
	all := agents(t, s)
	sick := all["sick"]
	if len(all) != 1 || len(sick.HealthProblems) != 1 || !strings.Contains(sick.HealthProblems[0], "free in the data directory") || sick.DiskFreeBytes <= 0 {
		t.Fatalf("unhealthy agent: %+v", sick)
	}
	mustCreate(t, s, "nowhere", map[string]any{"enqueueOnly": true})
	waitFor(t, s, "nowhere", 5*time.Second, "an explanation", func(i sessInfo) bool { return i.StatusInfo != "" })
	if i := info(t, s, "nowhere"); i.Status != "PENDING" {
		t.Fatalf("session placed on an unhealthy agent: %+v", i)
	}
	// A healthy agent takes it.
	s.StartAgent(t, servertest.AgentOptions{ID: "well", MaxCPU: 2})
	got2 := waitFor(t, s, "nowhere", 10*time.Second, "RUNNING", func(i sessInfo) bool { return i.Status == "RUNNING" })
	if got2.Agent != "well" {
		t.Errorf("placed on %s", got2.Agent)
	}
}
