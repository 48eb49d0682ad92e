package session

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"baigo.dev/bai/backend/config"
	"baigo.dev/bai/backend/events"
	"baigo.dev/bai/backend/store"
	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/ent"
	"baigo.dev/bai/ent/hook"
)

func TestRecordKernelStats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "bai.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var updates atomic.Int32
	st.Session.Use(func(next ent.Mutator) ent.Mutator {
		return hook.SessionFunc(func(ctx context.Context, m *ent.SessionMutation) (ent.Value, error) {
			if m.Op().Is(ent.OpUpdate | ent.OpUpdateOne) {
				updates.Add(1)
			}
			return next.Mutate(ctx, m)
		})
	})
	s := New(st, nil, events.NewBus(), config.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))

	// mk makes a session with one kernel and returns both ids.
	mk := func(agentID, status string) (uuid.UUID, uuid.UUID) {
		t.Helper()
		sess, err := st.Session.Create().SetName("stats-" + uuid.NewString()[:8]).SetOwnerAccessKey("AKTEST").
			SetImage("python:3.11-debian").SetStatus(status).SetAgentID(agentID).Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		k, err := st.Kernel.Create().SetSession(sess).SetAgentID(agentID).Save(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return sess.ID, k.ID
	}
	running, runningK := mk("a1", "RUNNING")
	otherAgent, otherAgentK := mk("a2", "RUNNING")
	leaving, leavingK := mk("a1", "TERMINATING")
	quiet, _ := mk("a1", "RUNNING")
	_, strangerK := mk("a1", "RUNNING")

	stats := map[string]any{"cpu_used": 1500.5, "mem": float64(64 << 20), "net_rx_bytes": 0.0, "io_write_bytes": 4096.0, "note": "dropped"}
	hb := aproto.Heartbeat{AgentID: "a1", Kernels: []aproto.KernelState{
		{KernelID: runningK.String(), SessionID: running.String(), Running: true, Stats: stats},
		{KernelID: otherAgentK.String(), SessionID: otherAgent.String(), Running: true, Stats: stats},
		{KernelID: leavingK.String(), SessionID: leaving.String(), Running: true, Stats: stats},
		// A kernel that names a session it does not belong to.
		{KernelID: strangerK.String(), SessionID: quiet.String(), Running: true, Stats: stats},
	}}
	s.recordKernelStats(ctx, hb)
	if n := updates.Load(); n != 1 {
		t.Errorf("%d updates, want 1", n)
	}
	want := map[string]any{"cpu_used": 1500.5, "mem": float64(64 << 20), "net_rx_bytes": 0.0, "io_write_bytes": 4096.0}
	for _, c := range []struct {
		id   uuid.UUID
		want map[string]any
	}{{running, want}, {otherAgent, nil}, {leaving, nil}, {quiet, nil}} {
		got, err := st.Session.Get(ctx, c.id)
		if err != nil {
			t.Fatal(err)
		}
		if !sameStats(got.LastStat, c.want) {
			t.Errorf("session %s: last_stat = %v, want %v", got.Status, got.LastStat, c.want)
		}
	}

	// The same numbers again: nothing to write.
	s.recordKernelStats(ctx, hb)
	if n := updates.Load(); n != 1 {
		t.Errorf("%d updates after an unchanged heartbeat, want 1", n)
	}
	// New numbers: one more write.
	hb.Kernels[0].Stats = map[string]any{"cpu_used": 1600.0, "mem": float64(64 << 20)}
	s.recordKernelStats(ctx, hb)
	if n := updates.Load(); n != 2 {
		t.Errorf("%d updates after a change, want 2", n)
	}
	if got, _ := st.Session.Get(ctx, running); got.LastStat["cpu_used"] != 1600.0 {
		t.Errorf("last_stat after a change = %v", got.LastStat)
	}
}

// TestAgentLiveStats: the agent list sums the latest samples of each
// agent's RUNNING sessions; an agent without sessions shows zeros.
func TestAgentLiveStats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "bai.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := New(st, nil, events.NewBus(), config.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, id := range []string{"a1", "a2"} {
		if err := st.Agent.Create().SetID(id).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(agentID, status string, stat map[string]any) {
		t.Helper()
		c := st.Session.Create().SetName("live-" + uuid.NewString()[:8]).SetOwnerAccessKey("AKTEST").
			SetImage("python:3.11-debian").SetStatus(status).SetAgentID(agentID)
		if stat != nil {
			c.SetLastStat(stat)
		}
		if _, err := c.Save(ctx); err != nil {
			t.Fatal(err)
		}
	}
	mk("a1", "RUNNING", map[string]any{"cpu_util": 75.0, "mem": 100.0, "cpu_used": 9.0})
	mk("a1", "RUNNING", map[string]any{"cpu_util": 30.5, "mem": 50.0})
	mk("a1", "RUNNING", nil)                                              // no sample yet
	mk("a1", "TERMINATING", map[string]any{"cpu_util": 99.0, "mem": 7.0}) // leaving: not counted
	ags, err := s.Agents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]float64{}
	for _, a := range ags {
		got[a.ID] = a.LiveStats
	}
	if l := got["a1"]; l["cpu_util"] != 105.5 || l["mem"] != 150 || l["sampled"] != 2 {
		t.Errorf("a1 live stats = %v, want cpu_util 105.5, mem 150, sampled 2", l)
	}
	if l := got["a2"]; l == nil || l["cpu_util"] != 0 || l["mem"] != 0 || l["sampled"] != 0 {
		t.Errorf("a2 live stats = %v, want zeros", l)
	}
}
