package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"baigo.dev/bai/backend/auth"
	"baigo.dev/bai/backend/store"
	"baigo.dev/bai/e2e/devserver"
	"baigo.dev/bai/ent/user"
)

// benchPolicy is the resource policy of the benchmark's keypairs. The
// default policy allows 30 concurrent sessions; the admin API has no route
// to change policies yet, so the benchmark writes its own policy and
// keypairs into the fresh database before the manager starts.
const benchPolicy = "bench"

// keyPair is an access key and its secret.
type keyPair struct{ access, secret string }

// managerProc is one `bai manager` process on a fresh database.
type managerProc struct {
	url     string
	secret  string
	logPath string
	admin   keyPair   // superadmin (for the all-tenant event stream)
	owners  []keyPair // the keypairs that own the sessions

	cmd    *exec.Cmd
	done   chan struct{}
	err    error
	dropDB func()
}

// startManagerProc seeds a fresh database (SQLite in dir, or a new database
// in the Postgres cluster pgURL names) and starts `bai manager` on it.
func startManagerProc(ctx context.Context, bai, dir, pgURL string, owners, maxSessions int) (*managerProc, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	m := &managerProc{logPath: filepath.Join(dir, "manager.log"), dropDB: func() {}}
	m.secret = randHex(32)
	secretFile := filepath.Join(dir, "cluster-secret")
	if err := os.WriteFile(secretFile, []byte(m.secret+"\n"), 0o600); err != nil {
		return nil, err
	}
	dsn := filepath.Join(dir, "bai.db")
	if pgURL != "" {
		var err error
		if dsn, m.dropDB, err = freshPostgresDB(ctx, pgURL); err != nil {
			return nil, err
		}
	}
	if err := m.seed(ctx, dsn, owners, maxSessions); err != nil {
		m.dropDB()
		return nil, fmt.Errorf("seed database: %w", err)
	}
	listen, err := devserver.FreeAddr()
	if err != nil {
		m.dropDB()
		return nil, err
	}
	m.url = "http://" + listen
	args := []string{"manager", "--data-dir", dir, "--listen", listen, "--cluster-secret-file", secretFile}
	if pgURL != "" {
		args = append(args, "--db", dsn)
	}
	logf, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		m.dropDB()
		return nil, err
	}
	m.cmd = exec.Command(bai, args...)
	m.cmd.Stdout, m.cmd.Stderr = logf, logf
	if err := m.cmd.Start(); err != nil {
		logf.Close()
		m.dropDB()
		return nil, fmt.Errorf("start bai manager: %w", err)
	}
	m.done = make(chan struct{})
	go func() {
		m.err = m.cmd.Wait()
		logf.Close()
		close(m.done)
	}()
	if err := m.waitReady(ctx, 60*time.Second); err != nil {
		m.stop()
		return nil, fmt.Errorf("%w\nmanager log:\n%s", err, m.logTail(30))
	}
	return m, nil
}

// seed creates the schema, the benchmark's resource policy, a superadmin
// keypair and one keypair per session owner.
func (m *managerProc) seed(ctx context.Context, dsn string, owners, maxSessions int) error {
	st, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	// Rate limits stay on (the limiter is on the request path) but far
	// above what one run sends.
	rate := 10*maxSessions + 100000
	if err := st.ResourcePolicy.Create().SetID(benchPolicy).SetTotalResourceSlots(map[string]float64{}).
		SetMaxConcurrentSessions(maxSessions).Exec(ctx); err != nil {
		return err
	}
	mk := func(email string, role user.Role, admin bool) (keyPair, error) {
		u, err := st.User.Create().SetEmail(email).SetUsername(strings.Split(email, "@")[0]).SetRole(role).Save(ctx)
		if err != nil {
			return keyPair{}, err
		}
		kp := keyPair{access: auth.NewAccessKey(), secret: auth.NewSecretKey()}
		return kp, st.KeyPair.Create().SetID(kp.access).SetSecretKey(kp.secret).SetIsAdmin(admin).
			SetResourcePolicy(benchPolicy).SetRateLimit(rate).SetUser(u).Exec(ctx)
	}
	if m.admin, err = mk("bench-admin@localhost", user.RoleSuperadmin, true); err != nil {
		return err
	}
	for i := range owners {
		kp, err := mk(fmt.Sprintf("bench-user%03d@localhost", i), user.RoleUser, false)
		if err != nil {
			return err
		}
		m.owners = append(m.owners, kp)
	}
	return nil
}

// freshPostgresDB creates an empty database in the cluster pgURL names and
// returns its URL and a func that drops it.
func freshPostgresDB(ctx context.Context, pgURL string) (string, func(), error) {
	admin, err := sql.Open("pgx", pgURL)
	if err != nil {
		return "", nil, err
	}
	name := "bai_bench_" + randHex(6)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("create benchmark database: %w", err)
	}
	u, err := url.Parse(pgURL)
	if err != nil {
		admin.Close()
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
		admin.Close()
	}
	return u.String(), drop, nil
}

func (m *managerProc) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-m.done:
			return fmt.Errorf("bai manager exited early: %v", m.err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := hc.Get(m.url + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET / answered %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bai manager not ready after %s: %w", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alive reports an error when the manager process has exited.
func (m *managerProc) alive() error {
	select {
	case <-m.done:
		return fmt.Errorf("bai manager exited: %v\nmanager log:\n%s", m.err, m.logTail(30))
	default:
		return nil
	}
}

// stop ends the manager (SIGTERM, then SIGKILL after 15 s) and drops its
// Postgres database.
func (m *managerProc) stop() {
	defer m.dropDB()
	select {
	case <-m.done:
		return
	default:
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(15 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
}

func (m *managerProc) logTail(n int) string {
	b, err := os.ReadFile(m.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// clockTick is the unit of utime and stime in /proc/PID/stat: USER_HZ,
// which Linux fixes at 100 on every architecture Go supports.
const clockTick = 10 * time.Millisecond

// cpuTime returns the CPU time (user + system, all threads) the process
// has used so far.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	// The command name (field 2) may hold spaces; the fields after its
	// closing parenthesis start at field 3 (state).
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // field 14, utime
	st, err2 := strconv.ParseInt(f[12], 10, 64) // field 15, stime
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * clockTick, nil
}

// cpuShares measures the processes' CPU over window, each as a fraction
// of one core.
func cpuShares(ctx context.Context, window time.Duration, pids ...int) ([]float64, error) {
	c0 := make([]time.Duration, len(pids))
	for i, pid := range pids {
		var err error
		if c0[i], err = cpuTime(pid); err != nil {
			return nil, err
		}
	}
	t0 := time.Now()
	select {
	case <-time.After(window):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	wall := time.Since(t0)
	out := make([]float64, len(pids))
	for i, pid := range pids {
		c1, err := cpuTime(pid)
		if err != nil {
			return nil, err
		}
		out[i] = float64(c1-c0[i]) / float64(wall)
	}
	return out, nil
}

// scrapeMetrics reads the manager's Prometheus text exposition into a map
// from series (name with its labels, as written) to value.
func (m *managerProc) scrapeMetrics(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.url+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics answered %d", resp.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(l[i+1:], 64); err == nil {
			out[l[:i]] = v
		}
	}
	return out, sc.Err()
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
