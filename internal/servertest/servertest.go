// Package servertest starts a whole manager in-process for tests (it lives
// outside backend/ because it also wires an agent, as cmd/bai does): a real
// database (a fresh SQLite file, or a fresh Postgres database when
// BAI_TEST_POSTGRES names a cluster), the real HTTP API on a random port,
// and optionally a real agent using the process runtime with the real
// runner binary, so API tests are short scenario tables.
package servertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"baigo.dev/bai/agent"
	"baigo.dev/bai/backend/config"
	"baigo.dev/bai/backend/server"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/sign"
)

// Options selects what New starts.
type Options struct {
	// Postgres uses a fresh database in the cluster named by DSN instead of
	// SQLite.
	Postgres string
	// DatabaseURL, when set, is used as it is: several managers of one
	// test share it (see FreshPostgres).
	DatabaseURL string
	// Agent starts one agent with the process runtime.
	Agent bool
	// Config adjusts the manager's configuration before it starts.
	Config func(*config.Config)
	// LogOutput, when set, receives the log of the manager and its agents
	// (text, debug level and up), for tests of what gets logged.
	LogOutput io.Writer
}

// Server is a running test manager.
type Server struct {
	*server.Server
	URL   string
	Creds server.Credentials
	Dir   string
	t     testing.TB
	log   *slog.Logger
	stop  context.CancelFunc

	mu      sync.Mutex
	agents  []*Agent // stopped after the test's sessions are destroyed
	stopped atomic.Bool
}

// Stop stops the manager now (its agents keep running).
func (s *Server) Stop() {
	s.stopped.Store(true)
	s.stop()
}

// AgentOptions shape an agent started by StartAgent.
type AgentOptions struct {
	ID           string
	ScalingGroup string
	MaxCPU       float64
	MaxMem       int64
	FakeGPUs     string
	MinFreeDisk  int64 // 0: the agent's default
	// Managers is the comma-separated list of manager URLs (default: this
	// manager).
	Managers string
}

// Agent is an agent started by StartAgent.
type Agent struct {
	*agent.Agent
	stop context.CancelFunc
	once sync.Once
	done chan struct{}
}

// Stop stops the agent and waits until it has stopped; its kernels keep
// running, as when an agent process dies.
func (a *Agent) Stop() {
	a.once.Do(a.stop)
	<-a.done
}

// StartAgent starts another process-runtime agent for this manager; it
// stops when the test ends.
func (s *Server) StartAgent(t testing.TB, o AgentOptions) *Agent {
	t.Helper()
	if o.Managers == "" {
		o.Managers = s.URL
	}
	id := o.ID
	if id == "" {
		id = "agent-" + randHex(4)
	}
	ag, err := agent.New(agent.Config{
		ID: id, ListenAddr: "127.0.0.1:0", ManagerURL: o.Managers, ClusterSecret: s.Cfg.ClusterSecret,
		DataDir: filepath.Join(s.Dir, id), RunnerPath: RunnerBinary(t), Runtime: "process",
		HeartbeatInterval: 200 * time.Millisecond, ScalingGroup: o.ScalingGroup, MaxCPU: o.MaxCPU, MaxMem: o.MaxMem,
		FakeGPUs: o.FakeGPUs, MinFreeDisk: o.MinFreeDisk,
	}, s.log.With("component", "agent", "agent_id", id))
	if err != nil {
		t.Fatalf("start agent: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &Agent{Agent: ag, stop: cancel, done: make(chan struct{})}
	go func() { defer close(a.done); _ = ag.Run(ctx) }()
	s.mu.Lock()
	s.agents = append(s.agents, a)
	s.mu.Unlock()
	return a
}

// Backends lists the databases to run API tests on: SQLite always, Postgres
// when BAI_TEST_POSTGRES is set (CI sets it; it must not be skipped there).
func Backends(t testing.TB) map[string]string {
	out := map[string]string{"sqlite": ""}
	if dsn := os.Getenv("BAI_TEST_POSTGRES"); dsn != "" {
		out["postgres"] = dsn
	} else if os.Getenv("CI") == "true" {
		t.Fatal("BAI_TEST_POSTGRES must be set in CI (make test starts a cluster)")
	}
	return out
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// freshPostgres creates an empty database in the cluster and drops it at
// the end of the test.
func freshPostgres(t testing.TB, dsn string) string { return FreshPostgres(t, dsn) }

// FreshPostgres creates an empty database in the cluster named by dsn,
// dropped when the test ends, and returns its URL.
func FreshPostgres(t testing.TB, dsn string) string {
	t.Helper()
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	name := "bai_test_" + randHex(6)
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		admin.Close()
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

var (
	runnerOnce sync.Once
	runnerPath string
	runnerErr  error
)

// RunnerBinary builds the static runner once per test binary.
func RunnerBinary(t testing.TB) string {
	t.Helper()
	runnerOnce.Do(func() {
		dir, err := os.MkdirTemp("", "bai-runner-")
		if err != nil {
			runnerErr = err
			return
		}
		runnerPath = filepath.Join(dir, "bai-runner")
		cmd := exec.Command("go", "build", "-o", runnerPath, "baigo.dev/bai/cmd/bai-runner")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			runnerErr = err
			runnerPath = string(out)
		}
	})
	if runnerErr != nil {
		t.Fatalf("build runner: %v\n%s", runnerErr, runnerPath)
	}
	return runnerPath
}

// New starts a manager (and agent) that stop when the test ends.
func New(t testing.TB, o Options) *Server {
	t.Helper()
	dir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	if o.LogOutput != nil {
		log = slog.New(slog.NewTextHandler(o.LogOutput, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg := config.Config{ListenAddr: "127.0.0.1:0", DataDir: dir, ClusterSecret: randHex(16), AgentTimeout: 10 * time.Second, CreateWait: 60 * time.Second}
	if o.Postgres != "" {
		cfg.DatabaseURL = freshPostgres(t, o.Postgres)
	}
	if o.DatabaseURL != "" {
		cfg.DatabaseURL = o.DatabaseURL
	}
	if o.Config != nil {
		o.Config(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatalf("start manager: %v", err)
	}
	creds, _, err := srv.Bootstrap(ctx)
	if err != nil {
		cancel()
		t.Fatalf("bootstrap: %v", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = srv.Run(ctx) }()
	s := &Server{Server: srv, URL: srv.URL(), Creds: creds, Dir: dir, t: t, log: log, stop: cancel}
	if o.Agent {
		ag, err := agent.New(agent.Config{
			ListenAddr: "127.0.0.1:0", ManagerURL: srv.URL(), ClusterSecret: cfg.ClusterSecret,
			DataDir: filepath.Join(dir, "agent"), RunnerPath: RunnerBinary(t), Runtime: "process",
			HeartbeatInterval: time.Second,
		}, log.With("component", "agent"))
		if err != nil {
			cancel()
			t.Fatalf("start agent: %v", err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = ag.Run(ctx) }()
		s.WaitImages(t)
	}
	t.Cleanup(func() {
		// Destroy what the test left, so no runner process outlives it.
		var list apitypes.SessionList
		if s.stopped.Load() {
			// nothing to ask a stopped manager
		} else if r := s.Do("GET", "/session", nil, nil); r.Status == 200 {
			_ = json.Unmarshal(r.Body, &list)
			for _, it := range list.Items {
				s.Do("DELETE", "/session/"+it.SessionID+"?forced=true", nil, nil)
			}
		}
		s.mu.Lock()
		for _, a := range s.agents {
			a.Stop()
		}
		s.mu.Unlock()
		cancel()
		wg.Wait()
	})
	return s
}

// WaitImages waits until an agent has reported its images.
func (s *Server) WaitImages(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		r := s.Do("GET", "/images", nil, nil)
		if r.Status == 200 && strings.Contains(string(r.Body), `"name"`) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no agent reported images within 20s")
}

// Response is a finished HTTP exchange.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// Do sends a request signed with the superadmin keypair. hdr may override
// headers (set a value to "" to drop it).
func (s *Server) Do(method, path string, body any, hdr map[string]string) Response {
	return s.DoAs(s.Creds.AccessKey, s.Creds.SecretKey, method, path, body, hdr)
}

// DoAs sends a request signed with the given keypair.
func (s *Server) DoAs(ak, sk, method, path string, body any, hdr map[string]string) Response {
	s.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		raw = b
	case string:
		raw = []byte(b)
	default:
		raw, _ = json.Marshal(b)
	}
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(raw))
	if err != nil {
		s.t.Fatal(err)
	}
	now := time.Now().UTC()
	date := now.Format("2006-01-02T15:04:05.000000+00:00")
	ver := sign.NewestVersion
	ct := "application/json"
	if raw == nil {
		ct = "text/plain"
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set(apitypes.HeaderDate, date)
	req.Header.Set(apitypes.HeaderVersion, ver)
	for k, v := range hdr {
		if k == "X-BackendAI-Version" {
			ver = v
		}
		if k == "X-BackendAI-Date" {
			date = v
			if d, err := sign.ParseDate(v); err == nil {
				now = d
			}
		}
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	v, _ := sign.ParseVersion(ver)
	bh := ""
	if v.HashesBody() && !strings.HasPrefix(req.Header.Get("Content-Type"), "multipart/") {
		bh = sign.BodyHash(raw)
	}
	sr := sign.Request{Method: method, PathQuery: req.URL.RequestURI(), Date: req.Header.Get(apitypes.HeaderDate),
		Host: req.URL.Host, ContentType: req.Header.Get("Content-Type"), Version: ver, BodyHash: bh}
	if sr.Date == "" {
		sr.Date = req.Header.Get("Date")
	}
	if _, ok := hdr["Authorization"]; !ok {
		req.Header.Set("Authorization", sign.Authorization(ak, sign.Signature(sk, sr, now)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// AddUser creates a regular user with one keypair and returns the keys.
func (s *Server) AddUser(t testing.TB, email string) (accessKey, secretKey string) {
	t.Helper()
	ctx := context.Background()
	u, err := s.Store.User.Create().SetEmail(email).Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ak, sk := "AKIA"+strings.ToUpper(randHex(8)), randHex(20)
	if err := s.Store.KeyPair.Create().SetID(ak).SetSecretKey(sk).SetUser(u).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	return ak, sk
}

// SignedHeader returns the headers of a bodyless request signed with the
// superadmin keypair and no Content-Type, as WebSocket clients sign their
// handshake.
func (s *Server) SignedHeader(method, path string) http.Header {
	return s.SignedHeaderAs(s.Creds.AccessKey, s.Creds.SecretKey, method, path)
}

// SignedHeaderAs is SignedHeader for the given keypair.
func (s *Server) SignedHeaderAs(ak, sk, method, path string) http.Header {
	now := time.Now().UTC()
	date := now.Format("2006-01-02T15:04:05.000000+00:00")
	host := strings.TrimPrefix(s.URL, "http://")
	sr := sign.Request{Method: method, PathQuery: path, Date: date, Host: host,
		ContentType: "application/octet-stream", Version: sign.NewestVersion}
	h := http.Header{}
	h.Set(apitypes.HeaderDate, date)
	h.Set(apitypes.HeaderVersion, sign.NewestVersion)
	h.Set("Authorization", sign.Authorization(ak, sign.Signature(sk, sr, now)))
	return h
}
