package session

import (
	"bytes"
	"context"
	"encoding/json"
	"math"

	"github.com/google/uuid"

	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/types"
	"baigo.dev/bai/ent"
	"baigo.dev/bai/ent/kernel"
	"baigo.dev/bai/ent/session"
)

// Bounds on what a heartbeat may store per session: the agent is trusted,
// but a bug there must not bloat every session row.
const (
	maxStatKeys   = 32
	maxStatKeyLen = 64
)

// recordKernelStats stores the kernel statistics of a heartbeat (cpu_used,
// mem, net_rx_bytes, io_write_bytes, ...) as the last_stat of the agent's
// RUNNING sessions, so session info shows live usage. It reads the
// sessions once and writes only those whose statistics changed, with a
// conditional UPDATE that cannot touch a session that left RUNNING
// meanwhile (Destroy writes the final statistics itself). A kernel counts
// only when it belongs to a session placed on the reporting agent; of a
// session with several kernels, the main one's statistics are kept.
// Failures are logged, never returned: statistics are best effort.
func (s *Service) recordKernelStats(ctx context.Context, hb aproto.Heartbeat) {
	reported := map[uuid.UUID]map[string]any{}
	sessIDs := make([]uuid.UUID, 0, len(hb.Kernels))
	for _, k := range hb.Kernels {
		if !k.Running || len(k.Stats) == 0 {
			continue
		}
		kid, err1 := uuid.Parse(k.KernelID)
		sid, err2 := uuid.Parse(k.SessionID)
		if err1 != nil || err2 != nil {
			continue
		}
		if st := cleanStats(k.Stats); len(st) > 0 {
			reported[kid] = st
			sessIDs = append(sessIDs, sid)
		}
	}
	if len(reported) == 0 {
		return
	}
	rows, err := s.st.Session.Query().
		Where(session.IDIn(sessIDs...), session.AgentIDEQ(hb.AgentID), session.StatusEQ(string(types.StatusRunning))).
		Select(session.FieldID, session.FieldLastStat).
		WithKernels(func(q *ent.KernelQuery) { q.Select(kernel.FieldID, kernel.FieldRole) }).
		All(ctx)
	if err != nil {
		s.log.Warn("read session stats", "agent_id", hb.AgentID, "err", err)
		return
	}
	for _, sess := range rows {
		var st map[string]any
		for _, k := range sess.Edges.Kernels {
			if ks, ok := reported[k.ID]; ok && (st == nil || k.Role == "main") {
				st = ks
			}
		}
		if st == nil || sameStats(sess.LastStat, st) {
			continue
		}
		err := s.st.Session.Update().
			Where(session.IDEQ(sess.ID), session.StatusEQ(string(types.StatusRunning))).
			SetLastStat(st).Exec(ctx)
		if err != nil {
			s.log.Warn("record session stats", "session_id", sess.ID, "err", err)
		}
	}
}

// cleanStats keeps the finite numbers of an agent's statistics, within the
// bounds above.
func cleanStats(in map[string]any) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		if len(out) == maxStatKeys {
			break
		}
		if k == "" || len(k) > maxStatKeyLen {
			continue
		}
		var f float64
		switch x := v.(type) {
		case float64:
			f = x
		case int64:
			f = float64(x)
		case int:
			f = float64(x)
		case json.Number:
			var err error
			if f, err = x.Float64(); err != nil {
				continue
			}
		default:
			continue
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		out[k] = f
	}
	return out
}

// sameStats compares two statistics maps by their JSON form, which is what
// the database stores (map keys sorted, numbers as float64).
func sameStats(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}
