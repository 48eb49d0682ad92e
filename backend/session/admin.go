package session

import (
	"context"
	"fmt"
	"sort"

	"baigo.dev/bai/backend/scheduler"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/resource"
	"baigo.dev/bai/common/types"
	"baigo.dev/bai/ent"
	"baigo.dev/bai/ent/agent"
	"baigo.dev/bai/ent/keypair"
	"baigo.dev/bai/ent/resourcepolicy"
	"baigo.dev/bai/ent/session"
)

// Agents lists every agent with its capacity and current occupancy.
func (s *Service) Agents(ctx context.Context) ([]apitypes.AgentInfo, error) {
	ags, err := s.st.Agent.Query().Order(ent.Asc(agent.FieldID)).All(ctx)
	if err != nil {
		return nil, err
	}
	occ, _, err := s.occupancy(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.st.Session.Query().Where(session.StatusIn(aliveStatuses...), session.AgentIDNEQ("")).
		Select(session.FieldAgentID, session.FieldStatus, session.FieldLastStat).All(ctx)
	if err != nil {
		return nil, err
	}
	count := map[string]int{}
	live := map[string]map[string]float64{}
	for _, r := range rows {
		count[r.AgentID]++
		if r.Status != string(types.StatusRunning) || len(r.LastStat) == 0 {
			continue
		}
		l := live[r.AgentID]
		if l == nil {
			l = orZero(nil)
			live[r.AgentID] = l
		}
		l["sampled"]++
		for _, key := range []string{"cpu_util", "mem"} {
			if v, ok := r.LastStat[key].(float64); ok {
				l[key] += v
			}
		}
	}
	out := make([]apitypes.AgentInfo, 0, len(ags))
	for _, a := range ags {
		devs := a.Devices
		if devs == nil {
			devs = []map[string]any{}
		}
		out = append(out, apitypes.AgentInfo{ID: a.ID, Status: string(a.Status), StatusInfo: a.StatusInfo, Addr: a.Addr,
			Region: a.Region, ScalingGroup: a.ScalingGroup, Schedulable: a.Schedulable, Version: a.Version,
			AvailableSlots: resource.Slots(a.AvailableSlots).ToJSON(), OccupiedSlots: occ[a.ID].ToJSON(),
			Devices: devs, HealthProblems: nonNil(a.HealthProblems), DiskFreeBytes: a.DiskFree, Images: a.Images, Sessions: count[a.ID], LiveStats: orZero(live[a.ID]), FirstContact: a.FirstContact, LastHeartbeat: a.LastHeartbeat})
	}
	return out, nil
}

// SetSchedulable drains an agent (false: it keeps its sessions, gets no new
// ones) or returns it to service.
func (s *Service) SetSchedulable(ctx context.Context, id string, on bool) error {
	n, err := s.st.Agent.Update().Where(agent.IDEQ(id)).SetSchedulable(on).Save(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("agent %q: %w", id, errdefs.ErrNotFound)
	}
	if on {
		s.Kick()
	}
	return nil
}

func groupInfo(g *ent.ScalingGroup) apitypes.GroupInfo {
	return apitypes.GroupInfo{Name: g.ID, Description: g.Description, IsActive: g.IsActive, Scheduler: g.Scheduler,
		AgentSelector: g.AgentSelector, PendingTimeout: g.PendingTimeout, Scaler: g.Scaler, ScalerIdleSeconds: g.ScalerIdleSeconds}
}

// Groups lists the scaling groups.
func (s *Service) Groups(ctx context.Context) ([]apitypes.GroupInfo, error) {
	gs, err := s.st.ScalingGroup.Query().Order(ent.Asc("name")).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]apitypes.GroupInfo, 0, len(gs))
	for _, g := range gs {
		out = append(out, groupInfo(g))
	}
	return out, nil
}

// SetGroup creates or updates a scaling group.
func (s *Service) SetGroup(ctx context.Context, name string, in apitypes.GroupSettings) (*apitypes.GroupInfo, error) {
	if !NameOK(name) && name != DefaultGroup {
		return nil, fmt.Errorf("scaling group name %q must be 4 to 64 letters, digits, '_', '-' or '.': %w", name, errdefs.ErrInvalidArgument)
	}
	if in.Scheduler != nil {
		if _, err := scheduler.ParsePolicy(*in.Scheduler); err != nil {
			return nil, fmt.Errorf("field \"scheduler\": %v: %w", err, errdefs.ErrInvalidArgument)
		}
	}
	if in.AgentSelector != nil {
		if _, err := scheduler.ParseSelector(*in.AgentSelector); err != nil {
			return nil, fmt.Errorf("field \"agent_selector\": %v: %w", err, errdefs.ErrInvalidArgument)
		}
	}
	if in.PendingTimeout != nil && *in.PendingTimeout < 0 {
		return nil, fmt.Errorf("field \"pending_timeout\" must be 0 (none) or a number of seconds: %w", errdefs.ErrInvalidArgument)
	}
	if in.ScalerIdleSeconds != nil && *in.ScalerIdleSeconds < 0 {
		return nil, fmt.Errorf("field \"scaler_idle_seconds\" must be 0 (never) or a number of seconds: %w", errdefs.ErrInvalidArgument)
	}
	if in.Scaler != nil && *in.Scaler != "" {
		if _, err := parseScaler(*in.Scaler); err != nil {
			return nil, fmt.Errorf("field \"scaler\": %v: %w", err, errdefs.ErrInvalidArgument)
		}
	}
	if err := s.EnsureGroup(ctx, name); err != nil {
		return nil, err
	}
	u := s.st.ScalingGroup.UpdateOneID(name)
	if in.Description != nil {
		u.SetDescription(*in.Description)
	}
	if in.IsActive != nil {
		u.SetIsActive(*in.IsActive)
	}
	if in.Scheduler != nil {
		p, _ := scheduler.ParsePolicy(*in.Scheduler)
		u.SetScheduler(string(p))
	}
	if in.AgentSelector != nil {
		sel, _ := scheduler.ParseSelector(*in.AgentSelector)
		u.SetAgentSelector(string(sel))
	}
	if in.PendingTimeout != nil {
		u.SetPendingTimeout(*in.PendingTimeout)
	}
	if in.Scaler != nil {
		u.SetScaler(*in.Scaler)
	}
	if in.ScalerIdleSeconds != nil {
		u.SetScalerIdleSeconds(*in.ScalerIdleSeconds)
	}
	g, err := u.Save(ctx)
	if err != nil {
		return nil, err
	}
	s.Kick()
	info := groupInfo(g)
	return &info, nil
}

func policyInfo(p *ent.ResourcePolicy) apitypes.PolicyInfo {
	return apitypes.PolicyInfo{Name: p.ID, TotalResourceSlots: resource.Slots(p.TotalResourceSlots).ToJSON(),
		DefaultSessionSlots:   resource.Slots(p.DefaultSessionSlots).ToJSON(),
		DefaultForUnspecified: string(p.DefaultForUnspecified), MaxConcurrentSessions: p.MaxConcurrentSessions,
		MaxSessionLifetime: p.MaxSessionLifetime, IdleTimeout: p.IdleTimeout, MaxExecSeconds: p.MaxExecSeconds,
		MaxVfolderCount: p.MaxVfolderCount, MaxVfolderSize: p.MaxVfolderSize}
}

// Policies lists the resource policies.
func (s *Service) Policies(ctx context.Context) ([]apitypes.PolicyInfo, error) {
	ps, err := s.st.ResourcePolicy.Query().Order(ent.Asc("name")).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]apitypes.PolicyInfo, 0, len(ps))
	for _, p := range ps {
		out = append(out, policyInfo(p))
	}
	return out, nil
}

// SetPolicy creates or updates a resource policy.
func (s *Service) SetPolicy(ctx context.Context, name string, in apitypes.PolicySettings) (*apitypes.PolicyInfo, error) {
	if name == "" || len(name) > 64 {
		return nil, fmt.Errorf("resource policy name must be 1 to 64 characters: %w", errdefs.ErrInvalidArgument)
	}
	nonNeg := map[string]*int{"max_concurrent_sessions": in.MaxConcurrentSessions, "max_session_lifetime": in.MaxSessionLifetime,
		"idle_timeout": in.IdleTimeout, "max_exec_seconds": in.MaxExecSeconds, "max_vfolder_count": in.MaxVfolderCount}
	keys := make([]string, 0, len(nonNeg))
	for k := range nonNeg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if v := nonNeg[k]; v != nil && *v < 0 {
			return nil, fmt.Errorf("field %q must not be negative (0 means unlimited): %w", k, errdefs.ErrInvalidArgument)
		}
	}
	if v := in.MaxVfolderSize; v != nil && *v < 0 {
		return nil, fmt.Errorf("field \"max_vfolder_size\" must not be negative (0 means unlimited): %w", errdefs.ErrInvalidArgument)
	}
	var slots resource.Slots
	if in.TotalResourceSlots != nil {
		slots = resource.Slots{}
		for k, raw := range in.TotalResourceSlots {
			v, err := resource.ParseValue(k, raw)
			if err != nil {
				return nil, fmt.Errorf("field \"total_resource_slots\": %w", err)
			}
			slots[k] = v
		}
	}
	var defaults resource.Slots
	if in.DefaultSessionSlots != nil {
		defaults = resource.Slots{}
		for k, raw := range in.DefaultSessionSlots {
			v, err := resource.ParseValue(k, raw)
			if err != nil {
				return nil, fmt.Errorf("field \"default_session_slots\": %w", err)
			}
			defaults[k] = v
		}
	}
	var dfu resourcepolicy.DefaultForUnspecified
	if in.DefaultForUnspecified != nil {
		dfu = resourcepolicy.DefaultForUnspecified(*in.DefaultForUnspecified)
		if err := resourcepolicy.DefaultForUnspecifiedValidator(dfu); err != nil {
			return nil, fmt.Errorf("field \"default_for_unspecified\" must be LIMITED or UNLIMITED: %w", errdefs.ErrInvalidArgument)
		}
	}
	if err := s.st.ResourcePolicy.Create().SetID(name).SetTotalResourceSlots(map[string]float64{}).
		OnConflictColumns("name").Ignore().Exec(ctx); err != nil {
		return nil, err
	}
	u := s.st.ResourcePolicy.UpdateOneID(name)
	if slots != nil {
		u.SetTotalResourceSlots(slots)
	}
	if defaults != nil {
		u.SetDefaultSessionSlots(defaults)
	}
	if in.DefaultForUnspecified != nil {
		u.SetDefaultForUnspecified(dfu)
	}
	if v := in.MaxConcurrentSessions; v != nil {
		u.SetMaxConcurrentSessions(*v)
	}
	if v := in.MaxSessionLifetime; v != nil {
		u.SetMaxSessionLifetime(*v)
	}
	if v := in.IdleTimeout; v != nil {
		u.SetIdleTimeout(*v)
	}
	if v := in.MaxExecSeconds; v != nil {
		u.SetMaxExecSeconds(*v)
	}
	if v := in.MaxVfolderCount; v != nil {
		u.SetMaxVfolderCount(*v)
	}
	if v := in.MaxVfolderSize; v != nil {
		u.SetMaxVfolderSize(*v)
	}
	p, err := u.Save(ctx)
	if err != nil {
		return nil, err
	}
	s.polMu.Lock()
	s.polCache = nil
	s.polMu.Unlock()
	s.Kick()
	info := policyInfo(p)
	return &info, nil
}

// DeletePolicy removes a resource policy that no keypair uses. The default
// policy stays (new keypairs get it); a policy in use is a conflict naming
// how many keypairs to move first.
func (s *Service) DeletePolicy(ctx context.Context, name string) error {
	if name == "default" {
		return fmt.Errorf("the default resource policy cannot be deleted (new keypairs get it): %w", errdefs.ErrInvalidArgument)
	}
	err := s.st.Tx(ctx, func(tx *ent.Tx) error {
		n, err := tx.KeyPair.Query().Where(keypair.ResourcePolicyEQ(name)).Count(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("resource policy %q is used by %d keypair(s); give them another policy first (PUT /keypairs/{access_key}/resource-policy): %w", name, n, errdefs.ErrConflict)
		}
		if err := tx.ResourcePolicy.DeleteOneID(name).Exec(ctx); err != nil {
			if ent.IsNotFound(err) {
				return fmt.Errorf("resource policy %q: %w", name, errdefs.ErrNotFound)
			}
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.polMu.Lock()
	s.polCache = nil
	s.polMu.Unlock()
	return nil
}

// SetKeyPairPolicy assigns a resource policy to a keypair.
func (s *Service) SetKeyPairPolicy(ctx context.Context, accessKey, policy string) error {
	if _, err := s.st.ResourcePolicy.Get(ctx, policy); err != nil {
		if ent.IsNotFound(err) {
			return fmt.Errorf("resource policy %q does not exist; create it first: %w", policy, errdefs.ErrInvalidArgument)
		}
		return err
	}
	err := s.st.KeyPair.UpdateOneID(accessKey).SetResourcePolicy(policy).Exec(ctx)
	if ent.IsNotFound(err) {
		return fmt.Errorf("keypair %q: %w", accessKey, errdefs.ErrNotFound)
	}
	s.polMu.Lock()
	s.polCache = nil
	s.polMu.Unlock()
	return err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// orZero gives an agent without sessions its all-zero live statistics.
func orZero(m map[string]float64) map[string]float64 {
	if m == nil {
		return map[string]float64{"cpu_util": 0, "mem": 0, "sampled": 0}
	}
	return m
}
