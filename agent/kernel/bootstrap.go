package kernel

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
)

// bootstrapTail is how much of a failed script's output the error keeps:
// enough to see the failing command, short enough for a status line.
const bootstrapTail = 1000

// bootstrapKeep bounds the output kept for the logs: a chatty script
// (a package install) must not grow the agent's memory without limit.
const bootstrapKeep = 64 << 10

// bootstrap runs the session's bootstrap script once as a batch exec step
// (sh -c in /home/work, through the runner, so jailed like user code) and
// waits for it. Its output is kept for the kernel's logs. A non-zero exit
// or a run past cfg.BootstrapTimeout is an error starting with
// aproto.BootstrapFailed; the caller then removes the container.
func (m *Manager) bootstrap(ctx context.Context, k *Kernel, script string) error {
	opts, err := json.Marshal(map[string]any{"exec": script, "exec_timeout": m.cfg.BootstrapTimeout.Seconds()})
	if err != nil {
		return err
	}
	req := aproto.Execute{RunID: "bootstrap", Mode: ModeBatch, Options: opts, FlushTimeout: time.Second}
	out := &tailBuffer{max: bootstrapKeep}
	for {
		res, err := m.Execute(ctx, k.id, req)
		if err != nil {
			return fmt.Errorf("%s: %w", aproto.BootstrapFailed, err)
		}
		for _, it := range res.Console {
			if s, ok := it[1].(string); ok && (it[0] == "stdout" || it[0] == "stderr") {
				out.WriteString(s)
			}
		}
		switch res.Status {
		case StatusFinished:
			k.mu.Lock()
			k.bootstrapOut = out.String()
			k.run = nil
			k.mu.Unlock()
			code := -1
			if res.ExitCode != nil {
				code = *res.ExitCode
			}
			if code != 0 {
				return fmt.Errorf("%s (exit %d): %s: %w", aproto.BootstrapFailed, code, lastLines(out.String()), errdefs.ErrInvalidArgument)
			}
			return nil
		case StatusExecTimeout:
			k.mu.Lock()
			k.bootstrapOut = out.String()
			k.mu.Unlock()
			return fmt.Errorf("%s (timed out after %s): %s: %w", aproto.BootstrapFailed, m.cfg.BootstrapTimeout, lastLines(out.String()), errdefs.ErrTimeout)
		}
		req = aproto.Execute{RunID: req.RunID, Mode: ModeContinue, FlushTimeout: time.Second}
	}
}

// lastLines returns the end of a script's output on one line.
func lastLines(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > bootstrapTail {
		s = "..." + s[len(s)-bootstrapTail:]
	}
	if s == "" {
		return "(no output)"
	}
	return strings.ReplaceAll(s, "\n", " | ")
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	b   []byte
	max int
	cut bool
}

func (t *tailBuffer) WriteString(s string) {
	t.b = append(t.b, s...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
		t.cut = true
	}
}

func (t *tailBuffer) String() string {
	if t.cut {
		return "[earlier output dropped]\n" + string(t.b)
	}
	return string(t.b)
}
