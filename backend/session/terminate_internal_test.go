package session

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"baigo.dev/bai/backend/config"
	"baigo.dev/bai/backend/events"
	"baigo.dev/bai/backend/store"
	"baigo.dev/bai/common/types"
)

// TestTerminateOutlivesCaller: a destroy whose caller went away (the
// request's context cancelled) still ends the session instead of leaving
// it TERMINATING.
func TestTerminateOutlivesCaller(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "bai.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := New(st, nil, events.NewBus(), config.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	sess, err := st.Session.Create().SetName("bye").SetOwnerAccessKey("AKTEST").
		SetImage("python:3.11-debian").SetStatus(string(types.StatusRunning)).Save(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Kernel.Create().SetSession(sess).Save(ctx); err != nil {
		t.Fatal(err)
	}
	sess, err = st.Session.Get(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.terminate(gone, sess, true, "user-requested"); err != nil {
		t.Fatalf("terminate: %v", err)
	}
	got, err := st.Session.Get(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != string(types.StatusTerminated) {
		t.Fatalf("status %s after a destroy whose caller left, want TERMINATED", got.Status)
	}
}
