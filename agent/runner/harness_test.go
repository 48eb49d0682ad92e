package runner_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"baigo.dev/bai/agent/runner"
	"baigo.dev/bai/common/kproto"
	"github.com/go-zeromq/zmq4"
)

const waitLong = 20 * time.Second

func needPython(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is not installed on this machine; the runner tests need a real interpreter")
	}
	return p
}

// shortTempDir makes a directory whose socket paths stay under 108 bytes.
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "r")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

type testRunner struct {
	cfg  runner.Config
	stop context.CancelFunc
	done chan error
}

// startRunner runs the runner in-process until the test ends.
func startRunner(t testing.TB, runtimeType string) *testRunner {
	t.Helper()
	return startRunnerPath(t, runtimeType, needPython(t))
}

// startRunnerPath runs the runner for any language; runtimePath may be "".
func startRunnerPath(t testing.TB, runtimeType, runtimePath string) *testRunner {
	t.Helper()
	cfg := runner.Config{
		IPCDir:      shortTempDir(t),
		RuntimeType: runtimeType,
		RuntimePath: runtimePath,
		TempDir:     t.TempDir(),
		WorkDir:     t.TempDir(),
		Env:         append(os.Environ(), "LC_ALL=C.UTF-8"),
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	tr := &testRunner{cfg: cfg, stop: cancel, done: make(chan error, 1)}
	go func() { tr.done <- runner.Run(ctx, cfg, log) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-tr.done:
			if err != nil {
				t.Errorf("runner: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("runner did not stop")
		}
	})
	return tr
}

// agentConn is a test stand-in for the agent: PUSH to in.sock, PULL from
// out.sock, like the real one.
type agentConn struct {
	t          testing.TB
	push, pull zmq4.Socket
	msgs       chan kproto.Msg
	cancel     context.CancelFunc
}

func dialAgent(t testing.TB, dir string) *agentConn {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	a := &agentConn{t: t, cancel: cancel, msgs: make(chan kproto.Msg, 4096)}
	opts := []zmq4.Option{zmq4.WithDialerRetry(5 * time.Millisecond), zmq4.WithDialerMaxRetries(2000)}
	a.push = zmq4.NewPush(ctx, opts...)
	a.pull = zmq4.NewPull(ctx, opts...)
	if err := a.pull.Dial("ipc://" + filepath.Join(dir, kproto.OutSocket)); err != nil {
		t.Fatalf("dial out: %v", err)
	}
	if err := a.push.Dial("ipc://" + filepath.Join(dir, kproto.InSocket)); err != nil {
		t.Fatalf("dial in: %v", err)
	}
	go func() {
		for {
			m, err := a.pull.Recv()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				continue
			}
			msg, err := kproto.Decode(m.Frames)
			if err != nil {
				t.Errorf("runner sent a malformed message: %v", err)
				continue
			}
			a.msgs <- msg
		}
	}()
	t.Cleanup(a.close)
	return a
}

func (a *agentConn) close() {
	a.cancel()
	a.push.Close()
	a.pull.Close()
}

func (a *agentConn) send(op string, payload string) {
	a.t.Helper()
	if err := a.push.Send(zmq4.NewMsgFrom([]byte(op), []byte(payload))); err != nil {
		a.t.Fatalf("send %s: %v", op, err)
	}
}

func (a *agentConn) recv() kproto.Msg {
	a.t.Helper()
	select {
	case m := <-a.msgs:
		return m
	case <-time.After(waitLong):
		a.t.Fatalf("no message from the runner within %v", waitLong)
		return kproto.Msg{}
	}
}

// expect reads messages until one with op arrives, failing on anything
// else that is not stream output.
func (a *agentConn) expect(op string) kproto.Msg {
	a.t.Helper()
	for {
		m := a.recv()
		if m.Op == op {
			return m
		}
		if m.Op != kproto.OpStdout && m.Op != kproto.OpStderr {
			a.t.Fatalf("want %s, got %s %q", op, m.Op, m.Payload)
		}
	}
}

type result struct {
	stdout, stderr string
	items          []kproto.Msg // stream items in arrival order
	exit           int
}

// collect gathers output until the finishing op, checking that every text
// chunk is valid UTF-8. onOther sees other messages (waiting-input).
func (a *agentConn) collect(fin string, onOther func(kproto.Msg)) result {
	a.t.Helper()
	var r result
	var out, errb strings.Builder
	for {
		m := a.recv()
		switch m.Op {
		case kproto.OpStdout, kproto.OpStderr:
			if !utf8.Valid(m.Payload) {
				a.t.Errorf("%s chunk is not valid UTF-8: %q", m.Op, m.Payload)
			}
			if m.Op == kproto.OpStdout {
				out.Write(m.Payload)
			} else {
				errb.Write(m.Payload)
			}
			r.items = append(r.items, m)
		case fin:
			var f kproto.Finished
			if err := json.Unmarshal(m.Payload, &f); err != nil {
				a.t.Fatalf("finished payload %q: %v", m.Payload, err)
			}
			r.stdout, r.stderr, r.exit = out.String(), errb.String(), f.ExitCode
			return r
		default:
			if onOther == nil {
				a.t.Fatalf("unexpected %s %q", m.Op, m.Payload)
			}
			onOther(m)
		}
	}
}

// code runs source in query mode and waits for it to finish.
func (a *agentConn) code(src string) result {
	a.t.Helper()
	a.send(kproto.OpCode, src)
	return a.collect(kproto.OpFinished, nil)
}

// connect starts a runner and an agent connection and waits for ready.
func connect(t testing.TB) (*testRunner, *agentConn) {
	t.Helper()
	tr := startRunner(t, "python")
	a := dialAgent(t, tr.cfg.IPCDir)
	m := a.recv()
	if m.Op != kproto.OpReady {
		t.Fatalf("first message: want ready, got %s %q", m.Op, m.Payload)
	}
	return tr, a
}
