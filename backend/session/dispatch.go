package session

import (
	"context"
	"time"

	"github.com/google/uuid"

	"baigo.dev/bai/backend/events"
	"baigo.dev/bai/backend/scheduler"
	"baigo.dev/bai/common/types"
	"baigo.dev/bai/ent"
	"baigo.dev/bai/ent/agent"
	"baigo.dev/bai/ent/session"
)

// schedGroups converts the groups' settings for the scheduler. A group with
// a setting the scheduler does not know falls back to the default (and the
// admin API refuses such settings in the first place).
func schedGroups(gs map[string]*ent.ScalingGroup) map[string]scheduler.Group {
	out := make(map[string]scheduler.Group, len(gs))
	for n, g := range gs {
		p, _ := scheduler.ParsePolicy(g.Scheduler)
		sel, _ := scheduler.ParseSelector(g.AgentSelector)
		out[n] = scheduler.Group{Policy: p, Selector: sel}
	}
	return out
}

// Hooks let the server observe the service without the service knowing
// about metrics.
type Hooks struct {
	SchedulingRound func(d time.Duration, placed int)
	Heartbeat       func()
}

// start is a placement whose kernel is to be started after the round.
type start struct {
	id      uuid.UUID
	agentID string
	addr    string
}

// dispatch runs one scheduling round under the cluster-wide scheduling lock
// and starts the placed kernels once the placements are committed.
func (s *Service) dispatch(ctx context.Context) error {
	var starts []start
	err := s.st.WithSchedulingLock(ctx, func() error {
		var err error
		starts, err = s.planRound(ctx)
		return err
	})
	for _, st := range starts {
		go s.startKernel(context.WithoutCancel(ctx), st.id, st.agentID, st.addr)
	}
	return err
}

func (s *Service) planRound(ctx context.Context) ([]start, error) {
	t0 := time.Now()
	pend, err := s.st.Session.Query().Where(session.StatusEQ(string(types.StatusPending))).
		Order(ent.Asc(session.FieldCreatedAt)).Limit(10000).All(ctx)
	if err != nil || len(pend) == 0 {
		return nil, err
	}
	ags, err := s.st.Agent.Query().Where(agent.StatusEQ(agent.StatusALIVE)).All(ctx)
	if err != nil {
		return nil, err
	}
	occ, err := s.occupancy(ctx)
	if err != nil {
		return nil, err
	}
	gs, err := s.groups(ctx)
	if err != nil {
		return nil, err
	}
	ownerSet := map[string]bool{}
	asked := map[string]bool{}
	for _, p := range pend {
		ownerSet[p.OwnerAccessKey] = true
		for k := range p.RequestedSlots {
			asked[k] = true
		}
	}
	owners := make([]string, 0, len(ownerSet))
	for o := range ownerSet {
		owners = append(owners, o)
	}
	usage, err := s.usage(ctx, owners)
	if err != nil {
		return nil, err
	}
	lims, _, err := s.policyLimits(ctx, owners, asked)
	if err != nil {
		return nil, err
	}
	snap := scheduler.Snapshot{Groups: schedGroups(gs), Usage: usage, Limits: lims,
		Agents: make([]scheduler.Agent, 0, len(ags)), Pending: make([]scheduler.Pending, 0, len(pend))}
	addr := map[string]string{}
	for _, a := range ags {
		snap.Agents = append(snap.Agents, scheduler.Agent{ID: a.ID, ScalingGroup: a.ScalingGroup, Available: a.AvailableSlots,
			Occupied: occ[a.ID], Images: a.Images, Schedulable: a.Schedulable})
		addr[a.ID] = a.Addr
	}
	byID := map[string]*ent.Session{}
	for _, p := range pend {
		snap.Pending = append(snap.Pending, scheduler.Pending{SessionID: p.ID.String(), ScalingGroup: p.ScalingGroup,
			Image: p.Image, Owner: p.OwnerAccessKey, Requested: p.RequestedSlots, Enqueued: p.CreatedAt})
		byID[p.ID.String()] = p
	}
	res := scheduler.Plan(snap)
	var starts []start
	now := time.Now()
	for _, pl := range res.Placements {
		sess := byID[pl.SessionID]
		n, err := s.st.Session.Update().
			Where(session.IDEQ(sess.ID), session.StatusEQ(string(types.StatusPending))).
			SetStatus(string(types.StatusScheduled)).SetStatusInfo("").SetAgentID(pl.AgentID).
			SetOccupiedSlots(sess.RequestedSlots).SetStatusChanged(now).Save(ctx)
		if err != nil {
			return starts, err
		}
		if n == 0 {
			continue // destroyed meanwhile
		}
		s.publish(sess, events.SessionScheduled, string(types.StatusScheduled), "")
		starts = append(starts, start{id: sess.ID, agentID: pl.AgentID, addr: addr[pl.AgentID]})
	}
	if h := s.hooks.SchedulingRound; h != nil {
		h(time.Since(t0), len(starts))
	}
	for _, sk := range res.Skipped {
		if p := byID[sk.SessionID]; p != nil {
			s.explainPending(ctx, p, "waiting for resources: "+sk.Reason)
		}
	}
	if len(res.Skipped) > 0 {
		s.wantCapacity(res.Skipped, byID)
	}
	return starts, nil
}
