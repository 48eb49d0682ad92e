package runner

import (
	"context"
	"fmt"
	"log/slog"

	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/kproto"
)

// Driver is one language's side of the runner. The runner owns the sockets,
// the one-run-at-a-time rule and batch steps (plain shell commands); a driver
// runs query-mode code, interrupts it, completes names, and names the
// language's default batch commands. Adding a language means adding a Driver
// and a case in newDriver.
//
// The runner never calls Query or Complete concurrently; Interrupt may be
// called at any time from another goroutine.
type Driver interface {
	// Start brings up the language's long-lived parts (a REPL).
	Start(ctx context.Context) error
	// Query runs source code in query mode and returns its exit code. Output
	// goes to rio.Out; lines the user types arrive on rio.Input.
	Query(ctx context.Context, code string, rio RunIO) (int, error)
	// Interrupt asks the running query to stop, keeping the session's state
	// where the language allows it.
	Interrupt() error
	// Complete returns completion candidates for the text before the cursor.
	Complete(ctx context.Context, req kproto.CompleteRequest) ([]string, error)
	// DefaultCommand is the shell command that "*" means for a batch op
	// (kproto.OpClean, OpBuild or OpExec); "" means skip.
	DefaultCommand(op string) string
	// Close stops everything the driver started.
	Close() error
}

// RunIO connects a query run to the agent.
type RunIO struct {
	// Out receives the run's output and control messages.
	Out Output
	// Input delivers the user's answers to waiting-input requests.
	Input <-chan string
}

// newDriver picks the driver for cfg.RuntimeType. There are three kinds:
// python (python.go: its own helper, with input() hooks, completion and the
// __bai__ media module); interpreted languages with a persistent helper
// program (repl.go, replSpecs); and compiled languages whose snippets are
// compiled and run on their own (compiled.go, compiledSpecs). Every kind
// detects a program waiting for stdin through /proc (procwatch.go), the
// python helper's own input() hooks aside.
func newDriver(cfg Config, log *slog.Logger) (Driver, error) {
	switch cfg.RuntimeType {
	case "python":
		return newPythonDriver(cfg, log), nil
	case "":
		return nil, fmt.Errorf("runtime type: empty: %w", errdefs.ErrInvalidArgument)
	}
	if spec, ok := replSpecs[cfg.RuntimeType]; ok {
		return newReplDriver(cfg, log, cfg.RuntimeType, spec), nil
	}
	if spec, ok := compiledSpecs[cfg.RuntimeType]; ok {
		return &compiledDriver{cfg: cfg, log: log, lang: cfg.RuntimeType, spec: spec}, nil
	}
	// Unknown languages still get batch mode.
	return batchOnlyDriver{runtime: cfg.RuntimeType}, nil
}

// batchOnlyDriver serves languages that have no REPL: batch steps must be
// given explicitly, and query mode reports that it is unsupported.
type batchOnlyDriver struct{ runtime string }

func (batchOnlyDriver) Start(context.Context) error { return nil }

func (d batchOnlyDriver) Query(_ context.Context, _ string, rio RunIO) (int, error) {
	rio.Out.Text(kproto.OpStderr, []byte(fmt.Sprintf("query mode is not supported for runtime %q; use batch mode\n", d.runtime)))
	return 1, nil
}

func (batchOnlyDriver) Interrupt() error { return nil }

func (batchOnlyDriver) Complete(context.Context, kproto.CompleteRequest) ([]string, error) {
	return []string{}, nil
}

func (batchOnlyDriver) DefaultCommand(string) string { return "" }

func (batchOnlyDriver) Close() error { return nil }
