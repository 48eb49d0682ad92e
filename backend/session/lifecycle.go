package session

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"baigo.dev/bai/common/types"
	"baigo.dev/bai/ent/session"
)

// activity records when sessions were last used, in memory, so that the
// execute hot path never waits for a database write. flushActivity writes
// the marks in one statement per interval; sessions with an open stream are
// marked at every flush, so a client watching a long run keeps it alive.
type activity struct {
	mu      sync.Mutex
	touched map[uuid.UUID]bool
	streams map[uuid.UUID]int
}

// Touch marks a session as used now (an execution, a file transfer).
func (s *Service) Touch(id uuid.UUID) {
	s.act.mu.Lock()
	if s.act.touched == nil {
		s.act.touched = map[uuid.UUID]bool{}
	}
	s.act.touched[id] = true
	s.act.mu.Unlock()
}

// StreamOpened counts an open stream on a session; call the returned func
// when it closes. While any stream is open the session is not idle.
func (s *Service) StreamOpened(id uuid.UUID) (closed func()) {
	s.act.mu.Lock()
	if s.act.streams == nil {
		s.act.streams = map[uuid.UUID]int{}
	}
	s.act.streams[id]++
	s.act.mu.Unlock()
	s.Touch(id)
	var once sync.Once
	return func() {
		once.Do(func() {
			s.act.mu.Lock()
			if s.act.streams[id]--; s.act.streams[id] <= 0 {
				delete(s.act.streams, id)
			}
			s.act.mu.Unlock()
			s.Touch(id)
		})
	}
}

// flushActivity writes the pending activity marks.
func (s *Service) flushActivity(ctx context.Context) error {
	s.act.mu.Lock()
	ids := make([]uuid.UUID, 0, len(s.act.touched)+len(s.act.streams))
	for id := range s.act.touched {
		ids = append(ids, id)
	}
	for id := range s.act.streams {
		if !s.act.touched[id] {
			ids = append(ids, id)
		}
	}
	s.act.touched = nil
	s.act.mu.Unlock()
	for len(ids) > 0 {
		n := min(len(ids), 500)
		if err := s.st.Session.Update().Where(session.IDIn(ids[:n]...), session.StatusIn(aliveStatuses...)).
			SetLastActivity(time.Now()).Exec(ctx); err != nil {
			return err
		}
		ids = ids[n:]
	}
	return nil
}

// Cull runs the lifetime checks every interval until ctx ends: sessions idle
// past their owner's idle_timeout and sessions older than max_session_lifetime
// are terminated, and sessions PENDING past their scaling group's
// pending_timeout are cancelled. Every manager replica runs it; the
// conditional status updates make a session end once.
func (s *Service) Cull(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func() {
		if err := s.flushActivity(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("record session activity", "err", err)
		}
		if err := s.cullOnce(ctx, time.Now()); err != nil && ctx.Err() == nil {
			s.log.Warn("session culling", "err", err)
		}
	})
	_ = s.flushActivity(context.WithoutCancel(ctx)) // the last marks
}

// every calls fn every interval until ctx ends: the manager's background
// loops.
func every(ctx context.Context, interval time.Duration, fn func()) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fn()
	}
}

// limits are the lifetime limits of one owner's policy.
type limits struct {
	policy   string
	idle     time.Duration
	lifetime time.Duration
}

func (s *Service) ownerLimits(ctx context.Context, owners []string) (map[string]limits, error) {
	pols, err := s.ownerPolicies(ctx, owners)
	if err != nil {
		return nil, err
	}
	out := make(map[string]limits, len(pols))
	for owner, p := range pols {
		out[owner] = limits{policy: p.ID, idle: time.Duration(p.IdleTimeout) * time.Second,
			lifetime: time.Duration(p.MaxSessionLifetime) * time.Second}
	}
	return out, nil
}

func (s *Service) cullOnce(ctx context.Context, now time.Time) error {
	live, err := s.st.Session.Query().Where(session.StatusEQ(string(types.StatusRunning))).
		Select(session.FieldID, session.FieldOwnerAccessKey, session.FieldCreatedAt, session.FieldLastActivity).All(ctx)
	if err != nil {
		return err
	}
	s.act.mu.Lock()
	streaming := map[uuid.UUID]bool{}
	for id := range s.act.streams {
		streaming[id] = true
	}
	s.act.mu.Unlock()
	owners := map[string]bool{}
	for _, l := range live {
		owners[l.OwnerAccessKey] = true
	}
	list := make([]string, 0, len(owners))
	for o := range owners {
		list = append(list, o)
	}
	lim, err := s.ownerLimits(ctx, list)
	if err != nil {
		return err
	}
	for _, l := range live {
		pl, ok := lim[l.OwnerAccessKey]
		if !ok {
			continue
		}
		reason := ""
		switch {
		case pl.lifetime > 0 && now.Sub(l.CreatedAt) >= pl.lifetime:
			reason = fmt.Sprintf("max-lifetime-exceeded: the session ran for %s, the limit of resource policy %q (max_session_lifetime)", pl.lifetime, pl.policy)
		case pl.idle > 0 && !streaming[l.ID] && now.Sub(l.LastActivity) >= pl.idle:
			reason = fmt.Sprintf("idle-timeout: no execution or open stream for %s (resource policy %q, idle_timeout)", pl.idle, pl.policy)
		}
		if reason == "" {
			continue
		}
		sess, err := s.st.Session.Query().Where(session.IDEQ(l.ID)).WithKernels().Only(ctx)
		if err != nil {
			continue
		}
		s.log.Info("terminating session", "session_id", l.ID, "reason", reason)
		if _, err := s.terminate(ctx, sess, true, reason); err != nil {
			s.log.Warn("terminate session", "session_id", l.ID, "err", err)
		}
	}
	return s.cancelOverdue(ctx, now)
}
