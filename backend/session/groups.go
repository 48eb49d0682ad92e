package session

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/resource"
	"baigo.dev/bai/common/types"
	"baigo.dev/bai/ent"
	"baigo.dev/bai/ent/keypair"
	"baigo.dev/bai/ent/resourcepolicy"
	"baigo.dev/bai/ent/session"
)

// DefaultGroup is the scaling group of sessions and agents that name none.
const DefaultGroup = "default"

// groups returns the scaling groups by name. It reads the database every
// time (one small query per scheduling round or create): a cache would let a
// replica schedule with settings another replica has already changed.
func (s *Service) groups(ctx context.Context) (map[string]*ent.ScalingGroup, error) {
	rows, err := s.st.ScalingGroup.Query().All(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]*ent.ScalingGroup, len(rows))
	for _, g := range rows {
		m[g.ID] = g
	}
	return m, nil
}

// EnsureGroup creates a scaling group with default settings when it does
// not exist yet (the default group at bootstrap, a group an agent names).
func (s *Service) EnsureGroup(ctx context.Context, name string) error {
	gs, err := s.groups(ctx)
	if err != nil {
		return err
	}
	if gs[name] != nil {
		return nil
	}
	return s.st.ScalingGroup.Create().SetID(name).OnConflictColumns("name").Ignore().Exec(ctx)
}

// groupFor resolves the scaling group a new session asks for.
func (s *Service) groupFor(ctx context.Context, name string) (*ent.ScalingGroup, error) {
	if name == "" {
		name = DefaultGroup
	}
	gs, err := s.groups(ctx)
	if err != nil {
		return nil, err
	}
	g := gs[name]
	if g == nil && name == DefaultGroup {
		if err := s.EnsureGroup(ctx, name); err != nil {
			return nil, err
		}
		return s.groupFor(ctx, name)
	}
	if g == nil || !g.IsActive {
		names := make([]string, 0, len(gs))
		for n, g := range gs {
			if g.IsActive {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		return nil, fmt.Errorf("config.scalingGroup: unknown or inactive scaling group %q; available: %s: %w",
			name, strings.Join(names, ", "), errdefs.ErrInvalidArgument)
	}
	return g, nil
}

// ownerPolicies returns each owner's resource policy (two queries for any
// number of owners); owners without a keypair or policy are left out.
func (s *Service) ownerPolicies(ctx context.Context, owners []string) (map[string]*ent.ResourcePolicy, error) {
	kps, err := s.st.KeyPair.Query().Where(keypair.IDIn(owners...)).Select(keypair.FieldID, keypair.FieldResourcePolicy).All(ctx)
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, kp := range kps {
		names[kp.ResourcePolicy] = true
	}
	list := make([]string, 0, len(names))
	for n := range names {
		list = append(list, n)
	}
	pols, err := s.st.ResourcePolicy.Query().Where(resourcepolicy.IDIn(list...)).All(ctx)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]*ent.ResourcePolicy, len(pols))
	for _, p := range pols {
		byName[p.ID] = p
	}
	out := make(map[string]*ent.ResourcePolicy, len(kps))
	for _, kp := range kps {
		if p := byName[kp.ResourcePolicy]; p != nil {
			out[kp.ID] = p
		}
	}
	return out, nil
}

// policyLimits returns each owner's total slot limit (total_resource_slots;
// a slot missing there is unlimited under default_for_unspecified UNLIMITED
// and zero under LIMITED, for the slots the owners ask for).
func (s *Service) policyLimits(ctx context.Context, owners []string, slotsAsked map[string]bool) (map[string]resource.Slots, map[string]string, error) {
	pols, err := s.ownerPolicies(ctx, owners)
	if err != nil {
		return nil, nil, err
	}
	out := map[string]resource.Slots{}
	polOf := map[string]string{}
	for owner, p := range pols {
		polOf[owner] = p.ID
		lim := resource.Slots{}
		for k, v := range p.TotalResourceSlots {
			lim[k] = v
		}
		if p.DefaultForUnspecified == resourcepolicy.DefaultForUnspecifiedLIMITED {
			for k := range slotsAsked {
				if _, ok := lim[k]; !ok {
					lim[k] = 0
				}
			}
		}
		if len(lim) > 0 {
			out[owner] = lim
		}
	}
	return out, polOf, nil
}

// checkTotalSlots refuses a session that would take its owner past the
// policy's total_resource_slots, counting every live session (pending ones
// too: they will occupy their slots once placed).
func (s *Service) checkTotalSlots(ctx context.Context, owner string, want resource.Slots) error {
	if !s.policyEntry(ctx, owner).limited {
		return nil // the common case costs no query
	}
	asked := map[string]bool{}
	for k := range want {
		asked[k] = true
	}
	lims, polOf, err := s.policyLimits(ctx, []string{owner}, asked)
	if err != nil || lims[owner] == nil {
		return err
	}
	rows, err := s.st.Session.Query().Where(session.OwnerAccessKeyEQ(owner), session.StatusIn(aliveStatuses...)).
		Select(session.FieldRequestedSlots).All(ctx)
	if err != nil {
		return err
	}
	used := resource.Slots{}
	for _, r := range rows {
		used = used.Add(r.RequestedSlots)
	}
	for k, limit := range lims[owner] {
		if want[k] <= 0 || used[k]+want[k] <= limit+1e-9 {
			continue
		}
		show := func(v float64) string { return resource.Slots{k: v}.ToJSON()[k] }
		return fmt.Errorf("keypair resource policy %q allows %s=%s in total (total_resource_slots); your live sessions use %s and this one asks for %s; destroy a session or ask for less: %w",
			polOf[owner], k, show(limit), show(used[k]), show(want[k]), errdefs.ErrQuotaExceeded)
	}
	return nil
}

// cancelOverdue cancels sessions that waited in PENDING longer than their
// scaling group's pending_timeout.
func (s *Service) cancelOverdue(ctx context.Context, now time.Time) error {
	gs, err := s.groups(ctx)
	if err != nil {
		return err
	}
	for name, g := range gs {
		if g.PendingTimeout <= 0 {
			continue
		}
		limit := time.Duration(g.PendingTimeout) * time.Second
		ids, err := s.st.Session.Query().Where(session.StatusEQ(string(types.StatusPending)), session.ScalingGroupEQ(name),
			session.CreatedAtLT(now.Add(-limit))).IDs(ctx)
		if err != nil {
			return err
		}
		for _, id := range ids {
			reason := fmt.Sprintf("pending-timeout: not scheduled within %s (scaling group %q, pending_timeout)", limit, name)
			if s.finish(ctx, id, types.StatusCancelled, reason) {
				s.log.Info("cancelled pending session", "session_id", id, "reason", reason)
			}
		}
	}
	return nil
}
