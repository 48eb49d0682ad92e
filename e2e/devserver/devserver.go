// Package devserver starts and stops `bai dev` processes for the end-to-end
// tests and the benchmark: it finds (or builds) the binaries, picks free
// ports, waits until the API answers and reads the superadmin keypair that
// the first start writes into the data directory.
package devserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"baigo.dev/bai/e2e/compat"
)

// Credentials is the superadmin keypair file bai dev writes.
type Credentials struct {
	Endpoint  string `json:"endpoint"`
	AccessKey string `json:"accessKey"`
	SecretKey string `json:"secretKey"`
}

// Options configure one bai dev process.
type Options struct {
	// BinDir holds bai and bai-runner.
	BinDir string
	// DataDir is the data directory (created when missing).
	DataDir string
	// Listen and AgentListen are host:port; empty picks free ports.
	Listen      string
	AgentListen string
	// ReadyTimeout bounds the wait for the API (90 s when zero).
	ReadyTimeout time.Duration
	// Args are more flags for bai dev, e.g. --scratch-size 64MiB.
	Args []string
}

// Server is one running bai dev process.
type Server struct {
	Opts    Options
	LogPath string
	Creds   Credentials

	cmd  *exec.Cmd
	done chan struct{}
	once sync.Once
	err  error
}

// FreeAddr returns a 127.0.0.1 address with a port nobody listens on now.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// LocateBinaries returns a folder holding bai, bai-runner and
// kernel-lib/bai-jail: dir when set,
// repoRoot/bin when complete there, else a fresh build into buildDir.
func LocateBinaries(ctx context.Context, dir, repoRoot, buildDir string) (string, error) {
	has := func(d string) bool {
		for _, b := range []string{"bai", "bai-runner", "kernel-lib/bai-jail"} {
			if fi, err := os.Stat(filepath.Join(d, b)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if dir != "" {
		abs, _ := filepath.Abs(dir)
		if !has(abs) {
			return "", fmt.Errorf("%s lacks bai, bai-runner or kernel-lib/bai-jail (make build)", dir)
		}
		return abs, nil
	}
	root, _ := filepath.Abs(repoRoot)
	if d := filepath.Join(root, "bin"); has(d) {
		return d, nil
	}
	builds := []struct{ out, pkg, env string }{
		{"bai-runner", "./cmd/bai-runner", "CGO_ENABLED=0"},
		{"kernel-lib/bai-jail", "./cmd/bai-jail", "CGO_ENABLED=0"},
		{"bai", "./cmd/bai", ""},
	}
	for _, b := range builds {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(buildDir, b.out), b.pkg)
		cmd.Dir = root
		cmd.Env = os.Environ()
		if b.env != "" {
			cmd.Env = append(cmd.Env, b.env)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("go build %s: %w\n%s", b.pkg, err, out)
		}
	}
	return buildDir, nil
}

// Start launches bai dev and waits until its API answers and the keypair
// file exists. The process logs into DataDir/bai-dev.log.
func Start(ctx context.Context, o Options) (*Server, error) {
	var err error
	if o.Listen == "" {
		if o.Listen, err = FreeAddr(); err != nil {
			return nil, err
		}
	}
	if o.AgentListen == "" {
		if o.AgentListen, err = FreeAddr(); err != nil {
			return nil, err
		}
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 90 * time.Second
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	s := &Server{Opts: o, LogPath: filepath.Join(o.DataDir, "bai-dev.log")}
	logf, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("log file: %w", err)
	}
	fmt.Fprintf(logf, "=== start %s\n", time.Now().Format(time.RFC3339Nano))
	args := append([]string{"dev",
		"--data-dir", o.DataDir, "--listen", o.Listen, "--agent-listen", o.AgentListen,
		"--runner", filepath.Join(o.BinDir, "bai-runner"), "--runtime", "docker"}, o.Args...)
	s.cmd = exec.Command(filepath.Join(o.BinDir, "bai"), args...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start bai dev: %w", err)
	}
	s.done = make(chan struct{})
	go func() {
		s.err = s.cmd.Wait()
		logf.Close()
		close(s.done)
	}()
	if err := s.waitReady(ctx); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("%w\nlog:\n%s", err, s.LogTail(40))
	}
	return s, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(s.Opts.ReadyTimeout)
	c := compat.New("http://"+s.Opts.Listen, "", "")
	for {
		select {
		case <-s.done:
			return fmt.Errorf("bai dev exited early: %v", s.err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, _, err := c.ServerVersion(cctx)
		cancel()
		if err == nil {
			b, rerr := os.ReadFile(filepath.Join(s.Opts.DataDir, "credentials.json"))
			if rerr == nil && json.Unmarshal(b, &s.Creds) == nil && s.Creds.AccessKey != "" {
				return nil
			}
			err = fmt.Errorf("credentials.json not ready: %v", rerr)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bai dev not ready after %s: %w", s.Opts.ReadyTimeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Pid is the process id of bai dev.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Stop sends SIGTERM and waits up to 20 s for the exit (then kills). A
// non-zero exit status after SIGTERM is reported as an error.
func (s *Server) Stop() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
		var ee *exec.ExitError
		if errors.As(s.err, &ee) && ee.Exited() && ee.ExitCode() != 0 {
			return fmt.Errorf("bai dev exited with %d after SIGTERM", ee.ExitCode())
		}
		return nil
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		return errors.New("bai dev did not exit within 20s of SIGTERM; killed")
	}
}

// Client returns a newest-version compat client with the superadmin keypair.
func (s *Server) Client() *compat.Client {
	return compat.New(s.Creds.Endpoint, s.Creds.AccessKey, s.Creds.SecretKey)
}

// LogTail returns the last n lines of the server log.
func (s *Server) LogTail(n int) string {
	b, err := os.ReadFile(s.LogPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
