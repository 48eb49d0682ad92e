package session

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	"baigo.dev/bai/backend/events"
	"baigo.dev/bai/backend/scheduler"
	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/types"
	"baigo.dev/bai/ent"
	"baigo.dev/bai/ent/agent"
	"baigo.dev/bai/ent/kernel"
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

// MountResolver turns the folder names of a create request's config.mounts
// into mounts for the caller (accessKey), failing with not found for folders
// the caller neither owns nor accepted.
type MountResolver func(ctx context.Context, accessKey string, names []string) ([]aproto.Mount, error)

// SetMountResolver enables config.mounts; without one, sessions that ask
// for mounts are refused.
func (s *Service) SetMountResolver(r MountResolver) { s.mounts = r }

// start is a placement whose kernel is to be started after the round.
type start struct {
	sess    *ent.Session
	agentID string
	addr    string
}

// dispatch runs one scheduling round under the cluster-wide scheduling lock
// and queues the placed kernels for the start workers once the placements
// are committed.
func (s *Service) dispatch(ctx context.Context) error {
	var starts []start
	err := s.st.WithSchedulingLock(ctx, func() error {
		var err error
		starts, err = s.planRound(ctx)
		return err
	})
	s.starts.push(starts)
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
	occ, usage, err := s.occupancy(ctx)
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
	lims, _, err := s.policyLimits(ctx, owners, asked)
	if err != nil {
		return nil, err
	}
	snap := scheduler.Snapshot{Groups: schedGroups(gs), Usage: usage, Limits: lims,
		Agents: make([]scheduler.Agent, 0, len(ags)), Pending: make([]scheduler.Pending, 0, len(pend))}
	addr := map[string]string{}
	for _, a := range ags {
		snap.Agents = append(snap.Agents, scheduler.Agent{ID: a.ID, ScalingGroup: a.ScalingGroup, Available: a.AvailableSlots,
			Occupied: occ[a.ID], Images: a.Images, Schedulable: a.Schedulable && len(a.HealthProblems) == 0})
		addr[a.ID] = a.Addr
	}
	byID := map[string]*ent.Session{}
	for _, p := range pend {
		snap.Pending = append(snap.Pending, scheduler.Pending{SessionID: p.ID.String(), ScalingGroup: p.ScalingGroup,
			Image: p.Image, Owner: p.OwnerAccessKey, Requested: p.RequestedSlots, Enqueued: p.CreatedAt})
		byID[p.ID.String()] = p
	}
	res := scheduler.Plan(snap)
	starts, err := s.commitPlacements(ctx, res.Placements, byID, addr)
	if err != nil {
		return nil, err
	}
	if h := s.hooks.SchedulingRound; h != nil {
		h(time.Since(t0), len(starts))
	}
	s.explainSkipped(ctx, res.Skipped, byID)
	s.wantCapacity(res.Skipped, byID)
	return starts, nil
}

// commitPlacements moves the placed sessions to PREPARING and points their
// kernels at the agents, in one transaction with one statement pair per
// agent (not per session), so a round placing thousands of sessions holds
// the lock for milliseconds. A session destroyed since the snapshot is
// PENDING no more and simply not updated.
func (s *Service) commitPlacements(ctx context.Context, pls []scheduler.Placement, byID map[string]*ent.Session, addr map[string]string) ([]start, error) {
	if len(pls) == 0 {
		return nil, nil
	}
	perAgent := map[string][]uuid.UUID{}
	var order []string
	for _, pl := range pls {
		if _, ok := perAgent[pl.AgentID]; !ok {
			order = append(order, pl.AgentID)
		}
		perAgent[pl.AgentID] = append(perAgent[pl.AgentID], byID[pl.SessionID].ID)
	}
	now := time.Now()
	placed := map[uuid.UUID]string{}
	err := s.st.Tx(ctx, func(tx *ent.Tx) error {
		for _, agentID := range order {
			ids := perAgent[agentID]
			for len(ids) > 0 {
				chunk := ids[:min(len(ids), 500)]
				ids = ids[len(chunk):]
				// Straight to PREPARING: the start workers take it from
				// here, and one write per session is saved.
				n, err := tx.Session.Update().Where(session.IDIn(chunk...), session.StatusEQ(string(types.StatusPending))).
					SetStatus(string(types.StatusPreparing)).SetStatusInfo("").SetAgentID(agentID).SetStatusChanged(now).Save(ctx)
				if err != nil {
					return err
				}
				got := chunk
				if n < len(chunk) { // some were destroyed meanwhile
					got, err = tx.Session.Query().Where(session.IDIn(chunk...), session.StatusEQ(string(types.StatusPreparing)),
						session.AgentIDEQ(agentID)).IDs(ctx)
					if err != nil {
						return err
					}
				}
				if len(got) == 0 {
					continue
				}
				if err := tx.Kernel.Update().Where(kernel.HasSessionWith(session.IDIn(got...))).
					SetAgentID(agentID).SetAgentAddr(addr[agentID]).SetStatus(string(types.StatusPreparing)).Exec(ctx); err != nil {
					return err
				}
				for _, id := range got {
					placed[id] = agentID
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The start workers need each session's kernel: one query for all.
	ids := make([]uuid.UUID, 0, len(placed))
	for id := range placed {
		ids = append(ids, id)
	}
	ks, err := s.st.Kernel.Query().Where(kernel.HasSessionWith(session.IDIn(ids...))).WithSession(func(q *ent.SessionQuery) {
		q.Select(session.FieldID)
	}).All(ctx)
	if err != nil {
		return nil, err
	}
	kernelsOf := map[uuid.UUID][]*ent.Kernel{}
	for _, k := range ks {
		if k.Edges.Session != nil {
			kernelsOf[k.Edges.Session.ID] = append(kernelsOf[k.Edges.Session.ID], k)
		}
	}
	starts := make([]start, 0, len(placed))
	for _, pl := range pls {
		sess := byID[pl.SessionID]
		if agentID, ok := placed[sess.ID]; ok {
			sess.Edges.Kernels = kernelsOf[sess.ID]
			s.publish(sess, events.SessionScheduled, string(types.StatusScheduled), "")
			s.publish(sess, events.SessionPreparing, string(types.StatusPreparing), "")
			starts = append(starts, start{sess: sess, agentID: agentID, addr: addr[agentID]})
		}
	}
	return starts, nil
}

// startQueue hands placed kernels to a fixed set of start workers: the
// agents start containers in parallel, but a burst of placements cannot
// flood the database pool with thousands of goroutines.
type startQueue struct {
	mu    sync.Mutex
	items []start
	wake  chan struct{}
}

func (q *startQueue) push(items []start) {
	if len(items) == 0 {
		return
	}
	q.mu.Lock()
	q.items = append(q.items, items...)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *startQueue) pop() (start, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 {
		return start{}, false
	}
	it := q.items[0]
	q.items[0] = start{}
	q.items = q.items[1:]
	return it, true
}

// startWorkers runs n start workers until ctx ends.
func (s *Service) startWorkers(ctx context.Context, n int) {
	for range n {
		go func() {
			for {
				it, ok := s.starts.pop()
				if !ok {
					select {
					case <-ctx.Done():
						return
					case <-s.starts.wake:
					}
					continue
				}
				// Wake a sibling: there may be more than this one item.
				select {
				case s.starts.wake <- struct{}{}:
				default:
				}
				s.startKernel(context.WithoutCancel(ctx), it.sess, it.agentID, it.addr)
			}
		}()
	}
}

// explainSkipped records in status_info why sessions could not be placed,
// so `bai session info` and a waiting `bai run` can tell the user: one
// statement per distinct reason, and none for a reason already recorded.
func (s *Service) explainSkipped(ctx context.Context, skipped []scheduler.Skip, byID map[string]*ent.Session) {
	byReason := map[string][]uuid.UUID{}
	for _, sk := range skipped {
		p := byID[sk.SessionID]
		why := "waiting for resources: " + sk.Reason
		if p == nil || p.StatusInfo == why {
			continue
		}
		byReason[why] = append(byReason[why], p.ID)
	}
	for why, ids := range byReason {
		for len(ids) > 0 {
			chunk := ids[:min(len(ids), 500)]
			ids = ids[len(chunk):]
			if err := s.st.Session.Update().Where(session.IDIn(chunk...), session.StatusEQ(string(types.StatusPending))).
				SetStatusInfo(why).Exec(ctx); err != nil {
				s.log.Warn("record why sessions wait", "err", err)
				return
			}
		}
	}
}

// startedKernel is a kernel an agent reported started, to be recorded.
type startedKernel struct {
	sess        *ent.Session
	kernelID    uuid.UUID
	containerID string
	addr        string
}

// commitStarted records started kernels (PREPARING → RUNNING) in batches:
// whatever the start workers finished while the previous transaction ran
// goes into the next one, so a burst costs a few transactions, not one per
// session, and a lone start waits for nothing.
func (s *Service) commitStarted(ctx context.Context) {
	for {
		var batch []startedKernel
		select {
		case <-ctx.Done():
			return
		case it := <-s.startedCh:
			batch = append(batch, it)
		}
	more:
		for len(batch) < 500 {
			select {
			case it := <-s.startedCh:
				batch = append(batch, it)
			default:
				break more
			}
		}
		s.recordStarted(context.WithoutCancel(ctx), batch)
	}
}

func (s *Service) recordStarted(ctx context.Context, batch []startedKernel) {
	now := time.Now()
	ok := make([]bool, len(batch))
	err := s.st.Tx(ctx, func(tx *ent.Tx) error {
		for i, it := range batch {
			n, err := tx.Session.Update().Where(session.IDEQ(it.sess.ID), session.StatusEQ(string(types.StatusPreparing))).
				SetStatus(string(types.StatusRunning)).SetStatusChanged(now).SetLastActivity(now).Save(ctx)
			if err != nil {
				return err
			}
			if n == 0 {
				continue // ended while its kernel started
			}
			if err := tx.Kernel.UpdateOneID(it.kernelID).SetContainerID(it.containerID).SetStatus(string(types.StatusRunning)).Exec(ctx); err != nil {
				return err
			}
			ok[i] = true
		}
		return nil
	})
	if err != nil {
		s.log.Error("record started kernels", "count", len(batch), "err", err)
		for _, it := range batch {
			s.finish(ctx, it.sess.ID, types.StatusError, "could not record the started kernel: "+err.Error())
			_, _ = s.rpc.DestroyKernel(ctx, it.addr, it.kernelID.String())
		}
		return
	}
	for i, it := range batch {
		if ok[i] {
			s.publish(it.sess, events.SessionStarted, string(types.StatusRunning), "")
			continue
		}
		// Destroyed while starting: do not leave the container behind.
		s.log.Info("session ended while its kernel started; removing it", "session_id", it.sess.ID)
		go func(it startedKernel) { _, _ = s.rpc.DestroyKernel(ctx, it.addr, it.kernelID.String()) }(it)
	}
}
