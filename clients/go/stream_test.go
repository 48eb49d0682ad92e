package client_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/internal/servertest"
)

// streamRecorder collects what StreamCode hands to its handler, with the
// time each console item arrived.
type streamRecorder struct {
	mu     sync.Mutex
	items  []client.ConsoleItem
	at     []time.Time
	inputs []client.InputRequest
	answer string
}

func (r *streamRecorder) OnConsole(it client.ConsoleItem) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.items = append(r.items, it)
	r.at = append(r.at, time.Now())
}

func (r *streamRecorder) OnInput(_ context.Context, req client.InputRequest) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.inputs = append(r.inputs, req)
	return r.answer, nil
}

func (r *streamRecorder) text(typ string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, it := range r.items {
		if it.Type == typ {
			b.WriteString(it.Text)
		}
	}
	return b.String()
}

// TestStreamCode runs code over the execute WebSocket of a real manager and
// agent (process runtime, real runner and Python).
func TestStreamCode(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, servertest.Options{Agent: true})
	c, err := client.New(client.Config{Endpoint: s.URL, AccessKey: s.Creds.AccessKey, SecretKey: s.Creds.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if _, err := c.CreateSession(ctx, apitypes.CreateSession{Image: "python", Name: "stream-1"}); err != nil {
		t.Fatal(err)
	}

	t.Run("output arrives while the run goes on", func(t *testing.T) {
		rec := &streamRecorder{}
		code, err := c.StreamCode(ctx, "stream-1", "", "import time\nprint('first', flush=True)\ntime.sleep(1.5)\nprint('second')", nil, rec)
		end := time.Now()
		if err != nil || code != 0 {
			t.Fatalf("code %d, err %v", code, err)
		}
		if got := rec.text("stdout"); got != "first\nsecond\n" {
			t.Fatalf("stdout %q", got)
		}
		// Polling would hand over "first" only with the 2-second answer;
		// the stream has it within 200 ms of the print.
		if lead := end.Sub(rec.at[0]); lead < time.Second {
			t.Fatalf("first output came %v before the end, want it streamed at once", lead)
		}
	})

	t.Run("input and exit code", func(t *testing.T) {
		rec := &streamRecorder{answer: "bob"}
		code, err := c.StreamCode(ctx, "stream-1", client.ModeQuery, "import sys\nname = input('name? ')\nprint('hi', name)\nsys.exit(3)", nil, rec)
		if err != nil || code != 3 {
			t.Fatalf("code %d, err %v, want 3", code, err)
		}
		if got := rec.text("stdout"); got != "name? hi bob\n" {
			t.Fatalf("stdout %q", got)
		}
		if len(rec.inputs) != 1 || rec.inputs[0].IsPassword {
			t.Fatalf("inputs %+v, want one plain input request", rec.inputs)
		}
	})

	t.Run("exec timeout", func(t *testing.T) {
		_, err := c.StreamCode(ctx, "stream-1", "", "import time\ntime.sleep(30)", map[string]any{"exec_timeout": 1}, &streamRecorder{})
		var te *client.ExecTimeoutError
		if !errors.As(err, &te) || !errors.Is(err, errdefs.ErrTimeout) {
			t.Fatalf("err = %v, want *ExecTimeoutError", err)
		}
	})

	t.Run("unknown session", func(t *testing.T) {
		_, err := c.StreamCode(ctx, "no-such-session", "", "1", nil, &streamRecorder{})
		var ae *client.APIError
		if !errors.As(err, &ae) || !errors.Is(err, errdefs.ErrNotFound) {
			t.Fatalf("err = %v, want a 404 APIError", err)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		cctx, ccancel := context.WithCancel(ctx)
		time.AfterFunc(500*time.Millisecond, ccancel)
		start := time.Now()
		_, err := c.StreamCode(cctx, "stream-1", "", "import time\ntime.sleep(20)", nil, &streamRecorder{})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("cancel took %v", d)
		}
		if err := c.Interrupt(ctx, "stream-1"); err != nil {
			t.Fatal(err)
		}
	})
}
