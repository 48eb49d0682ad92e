// Package runner is the kernel runner: the small static daemon that runs as
// the entrypoint of every kernel container. The agent bind-mounts it
// read-only, so images need only their language toolchain. It binds two
// ZeroMQ endpoints in the ipc directory (see common/kproto), reports ready,
// and then serves the agent's requests with a language Driver: query-mode
// code in a persistent REPL, and clean/build/exec batch steps as shell
// commands.
//
// One run is in flight at a time:
//
//	         code / clean / build / exec
//	idle ───────────────────────────────▶ running ──▶ output..., waiting-input?
//	 ▲                                       │
//	 └──────── finished / *-finished ◀───────┘   (interrupt: SIGINT or kill)
//
// status, interrupt and input are answered in either state; complete is
// answered from the REPL when idle and with [] while running.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"golang.org/x/sys/unix"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"baigo.dev/bai/common/kproto"
	"github.com/go-zeromq/zmq4"
)

// Version is reported in the ready message.
const Version = "0.1.0"

// completeTimeout bounds a completion request, which the main loop serves
// itself.
const completeTimeout = 3 * time.Second

// Status is the payload of the runner's answer to kproto.OpStatus.
type Status struct {
	// Status is "idle" or "busy" (a run is in flight).
	Status      string `json:"status"`
	RuntimeType string `json:"runtimeType"`
}

// Main runs the runner with settings from the environment until SIGTERM (or
// SIGINT) and returns the process exit code. cmd/bai-runner calls it.
func Main() int {
	if code, ok := notifyExecMain(os.Args); ok {
		return code
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "bai-runner")
	// User code runs as the runner's user: without this it could read the
	// runner's memory, environment and descriptors through /proc. Children
	// become dumpable again when they exec.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		log.Warn("cannot make the runner non-dumpable", "err", err)
	}
	// The live heap is tiny; keep the resident set small too.
	debug.SetGCPercent(50)
	debug.SetMemoryLimit(16 << 20)
	cfg := ConfigFromEnv(os.LookupEnv)
	cfg.Env = os.Environ()
	if err := os.Chdir(cfg.WorkDir); err != nil {
		log.Warn("cannot enter the work dir", "work_dir", cfg.WorkDir, "err", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := Run(ctx, cfg, log); err != nil {
		log.Error("runner stopped", "err", err)
		return 1
	}
	return 0
}

// Run binds the endpoints, starts the driver, reports ready and serves
// requests until ctx ends. It does not change the process's working
// directory; runs start in cfg.WorkDir.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lnk, err := listen(ctx, cfg.IPCDir, log)
	if err != nil {
		return err
	}
	defer lnk.close()

	drv, err := newDriver(cfg, log)
	if err != nil {
		return err
	}
	if err := drv.Start(ctx); err != nil {
		return fmt.Errorf("start %s driver: %w", cfg.RuntimeType, err)
	}
	defer func() {
		if err := drv.Close(); err != nil {
			log.Warn("stop driver", "err", err)
		}
	}()

	// The relay socket comes up before ready, so the agent can count on it
	// for every ready runner.
	// Without it only the apps are unreachable, so a failure is not fatal.
	if pln, err := listenProxy(cfg.IPCDir); err != nil {
		log.Warn("no relay socket: apps in this kernel cannot be reached", "err", err)
	} else {
		defer pln.Close()
		go serveProxy(ctx, pln, log)
	}

	r := &runner{cfg: cfg, log: log, drv: drv, em: newEmitter(lnk.send, defaultFlushBytes, defaultFlushDelay)}
	defer r.closeServices()
	msgs := make(chan [][]byte, 16)
	go lnk.recvLoop(ctx, msgs)

	// Blocks until the agent has connected to out.sock.
	r.em.Send(kproto.OpReady, mustJSON(kproto.Ready{Version: Version, RuntimeType: cfg.RuntimeType, PID: os.Getpid()}))
	log.Info("runner ready", "runtime_type", cfg.RuntimeType, "ipc_dir", cfg.IPCDir)

	for {
		select {
		case <-ctx.Done():
			log.Info("runner stopping")
			r.mu.Lock()
			j := r.job
			r.mu.Unlock()
			if j != nil {
				_ = j.interrupt()
			}
			return nil
		case frames := <-msgs:
			r.handle(ctx, frames)
		}
	}
}

// link is the pair of bound sockets.
type link struct {
	log     *slog.Logger
	in, out zmq4.Socket
}

func listen(ctx context.Context, dir string, log *slog.Logger) (*link, error) {
	zlog := slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	l := &link{log: log}
	inPath := filepath.Join(dir, kproto.InSocket)
	outPath := filepath.Join(dir, kproto.OutSocket)
	for _, p := range []string{inPath, outPath} {
		// A socket file left by an earlier runner would make bind fail.
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
	l.in = zmq4.NewPull(ctx, zmq4.WithLogger(zlog))
	if err := l.in.Listen("ipc://" + inPath); err != nil {
		l.in.Close()
		return nil, fmt.Errorf("bind %s: %w", inPath, err)
	}
	// zmq4 holds a PUSH send until the first peer connects, for at most the
	// socket timeout; the agent may come late, so make that wait long.
	l.out = zmq4.NewPush(ctx, zmq4.WithLogger(zlog), zmq4.WithTimeout(24*time.Hour))
	if err := l.out.Listen("ipc://" + outPath); err != nil {
		l.in.Close()
		l.out.Close()
		return nil, fmt.Errorf("bind %s: %w", outPath, err)
	}
	return l, nil
}

func (l *link) close() {
	l.in.Close()
	l.out.Close()
}

// send delivers one message to the connected agent. zmq4 drops messages
// while no peer is connected (after the first one went away) and reports an
// error for a peer that vanished; both only get logged, as the agent asks
// for status after it reconnects.
func (l *link) send(op string, payload []byte) {
	if err := l.out.Send(zmq4.NewMsgFrom([]byte(op), payload)); err != nil {
		l.log.Debug("send to agent", "op", op, "err", err)
	}
}

// recvLoop passes incoming messages to msgs until ctx ends. A peer that
// disconnects surfaces as a receive error, which is not fatal: a new agent
// may connect later.
func (l *link) recvLoop(ctx context.Context, msgs chan<- [][]byte) {
	for {
		m, err := l.in.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			l.log.Debug("agent connection ended", "err", err)
			continue
		}
		select {
		case msgs <- m.Frames:
		case <-ctx.Done():
			return
		}
	}
}

// job is the run in flight.
type job struct {
	input     chan string
	interrupt func() error
}

type runner struct {
	cfg Config
	log *slog.Logger
	drv Driver
	em  *emitter

	mu       sync.Mutex
	job      *job
	services map[string]io.Closer // started apps by name (start-service)
}

func (r *runner) busy() *job {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.job
}

func (r *runner) handle(ctx context.Context, frames [][]byte) {
	m, err := kproto.Decode(frames)
	if err != nil {
		r.log.Warn("malformed message", "err", err)
		r.em.Send(kproto.OpRunnerError, []byte(err.Error()))
		return
	}
	switch m.Op {
	case kproto.OpStatus:
		st := Status{Status: "idle", RuntimeType: r.cfg.RuntimeType}
		if r.busy() != nil {
			st.Status = "busy"
		}
		r.em.Send(kproto.OpRunnerStatus, mustJSON(st))
	case kproto.OpCode:
		code := string(m.Payload)
		j := &job{input: make(chan string, 1), interrupt: r.drv.Interrupt}
		r.start(ctx, m.Op, kproto.OpFinished, j, func(ctx context.Context) (int, error) {
			return r.drv.Query(ctx, code, RunIO{Out: r.em, Input: j.input})
		})
	case kproto.OpClean, kproto.OpBuild, kproto.OpExec:
		fin := map[string]string{kproto.OpClean: kproto.OpCleanFinished, kproto.OpBuild: kproto.OpBuildFinished, kproto.OpExec: kproto.OpFinished}[m.Op]
		command := r.batchCommand(m.Op, string(m.Payload))
		if command == "" {
			if r.busy() != nil {
				r.em.Send(kproto.OpRunnerError, []byte("a run is already in progress"))
				return
			}
			r.em.Send(fin, mustJSON(kproto.Finished{ExitCode: 0}))
			return
		}
		sh := &shellRun{}
		j := &job{input: make(chan string, 1), interrupt: sh.interrupt}
		r.start(ctx, m.Op, fin, j, func(ctx context.Context) (int, error) {
			return sh.run(ctx, r.cfg, command, r.em, j.input)
		})
	case kproto.OpInterrupt:
		if j := r.busy(); j != nil {
			if err := j.interrupt(); err != nil {
				r.log.Warn("interrupt", "err", err)
			}
		}
	case kproto.OpInput:
		if j := r.busy(); j != nil {
			select {
			case j.input <- string(m.Payload):
			default:
				r.log.Debug("input dropped: one is already queued")
			}
		}
	case kproto.OpComplete:
		r.em.Send(kproto.OpCompletion, mustJSON(r.complete(ctx, m.Payload)))
	case kproto.OpStartService:
		r.em.Send(kproto.OpServiceResult, mustJSON(r.startService(m.Payload)))
	case kproto.OpShutdownService:
		r.em.Send(kproto.OpServiceResult, mustJSON(r.shutdownService(m.Payload)))
	case kproto.OpGetApps:
		r.em.Send(kproto.OpAppsResult, mustJSON(r.runningApps()))
	default:
		r.log.Warn("unknown op", "op", m.Op)
		r.em.Send(kproto.OpRunnerError, []byte(fmt.Sprintf("unknown op %q", m.Op)))
	}
}

// batchCommand resolves a batch op's payload: "" skips, "*" is the default
// (make for build when the work dir has a Makefile).
func (r *runner) batchCommand(op, payload string) string {
	if payload != "*" {
		return payload
	}
	if op == kproto.OpBuild {
		if _, err := os.Stat(filepath.Join(r.cfg.WorkDir, "Makefile")); err == nil {
			return "make"
		}
	}
	return r.drv.DefaultCommand(op)
}

// start begins a run unless one is in flight. The run's end clears the job
// and sends fin under the same lock, so a request that follows the agent's
// receipt of fin never sees the runner busy.
func (r *runner) start(ctx context.Context, op, fin string, j *job, run func(context.Context) (int, error)) {
	r.mu.Lock()
	if r.job != nil {
		r.mu.Unlock()
		r.em.Send(kproto.OpRunnerError, []byte("a run is already in progress"))
		return
	}
	r.job = j
	r.mu.Unlock()
	go func() {
		code, err := run(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("run failed", "op", op, "err", err)
			}
			r.em.Text(kproto.OpStderr, []byte(fmt.Sprintf("[bai-runner] %v\n", err)))
			if code == 0 {
				code = 1
			}
		}
		r.mu.Lock()
		r.job = nil
		r.em.Send(fin, mustJSON(kproto.Finished{ExitCode: code}))
		r.mu.Unlock()
	}()
}

// complete answers a completion request; it never fails, it returns no
// candidates instead.
func (r *runner) complete(ctx context.Context, payload []byte) []string {
	if r.busy() != nil {
		return []string{}
	}
	var req kproto.CompleteRequest
	if err := json.Unmarshal(payload, &req); err != nil {
		req.Code = string(payload) // accept the bare text too
	}
	ctx, cancel := context.WithTimeout(ctx, completeTimeout)
	defer cancel()
	out, err := r.drv.Complete(ctx, req)
	if err != nil {
		r.log.Debug("complete", "err", err)
	}
	if out == nil {
		out = []string{}
	}
	return out
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("runner: marshal %T: %v", v, err))
	}
	return b
}
