package session

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"time"

	"baigo.dev/bai/backend/scheduler"
	"baigo.dev/bai/common/resource"
	"baigo.dev/bai/common/types"
	"baigo.dev/bai/ent"
	"baigo.dev/bai/ent/agent"
	"baigo.dev/bai/ent/scalinggroup"
	"baigo.dev/bai/ent/session"
)

// A scaling group's scaler is asked for more agents when sessions wait for
// capacity, and to remove agents that stayed idle. It is either a command
// ("exec:/path/to/scaler arg...") or a webhook ("https://..."). Both get a
// ScaleRequest as JSON: on stdin (with the action appended to the command's
// arguments), or as the body of a POST. Success is exit status 0 or a 2xx
// answer; what the scaler does (start a VM, a container, a process) is up to
// it. New agents simply register by heartbeat.

// ScaleRequest is what a scaler receives.
type ScaleRequest struct {
	Action       string            `json:"action"` // "scale-up" or "scale-down"
	ScalingGroup string            `json:"scaling_group"`
	Pending      int               `json:"pending_sessions,omitempty"`
	Requested    map[string]string `json:"requested_slots,omitempty"` // sum over the waiting sessions
	Largest      map[string]string `json:"largest_session,omitempty"` // the biggest single request
	AgentID      string            `json:"agent_id,omitempty"`        // scale-down: the drained agent
	AgentAddr    string            `json:"agent_addr,omitempty"`
}

type scalerSpec struct {
	argv []string // exec
	url  string   // webhook
}

func parseScaler(s string) (scalerSpec, error) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "exec:"):
		argv := strings.Fields(strings.TrimPrefix(s, "exec:"))
		if len(argv) == 0 {
			return scalerSpec{}, errors.New(`"exec:" needs a command, e.g. exec:/usr/local/bin/bai-scaler`)
		}
		return scalerSpec{argv: argv}, nil
	case strings.HasPrefix(s, "http://"), strings.HasPrefix(s, "https://"):
		if _, err := url.Parse(s); err != nil {
			return scalerSpec{}, err
		}
		return scalerSpec{url: s}, nil
	}
	return scalerSpec{}, fmt.Errorf("%q is neither exec:COMMAND nor an http(s) URL", s)
}

// call runs the scaler once.
func (sp scalerSpec) call(ctx context.Context, req ScaleRequest) error {
	body, _ := json.Marshal(req)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if sp.url != "" {
		r, err := http.NewRequestWithContext(ctx, http.MethodPost, sp.url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		r.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("webhook answered %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
		}
		return nil
	}
	cmd := exec.CommandContext(ctx, sp.argv[0], append(sp.argv[1:], req.Action)...)
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", sp.argv[0], err, bytes.TrimSpace(out))
	}
	return nil
}

// demand is what the last scheduling round could not place, per group.
type demand struct {
	mu     sync.Mutex
	groups map[string]groupDemand
}

type groupDemand struct {
	pending   int
	requested resource.Slots
	largest   resource.Slots
}

// wantCapacity records the sessions a round could not place, for the scaler.
func (s *Service) wantCapacity(skipped []scheduler.Skip, byID map[string]*ent.Session) {
	m := map[string]groupDemand{}
	for _, sk := range skipped {
		p := byID[sk.SessionID]
		if p == nil {
			continue
		}
		d := m[p.ScalingGroup]
		d.pending++
		d.requested = d.requested.Add(p.RequestedSlots)
		if resource.Slots(p.RequestedSlots)[resource.CPU] > d.largest[resource.CPU] {
			d.largest = resource.Slots{}.Add(p.RequestedSlots)
		}
		m[p.ScalingGroup] = d
	}
	s.demand.mu.Lock()
	s.demand.groups = m
	s.demand.mu.Unlock()
}

// ScalerCooldown is how long a group waits after asking for more agents
// before it asks again (the new agents need time to start and register).
var ScalerCooldown = 30 * time.Second

// Scale asks scalers for agents where sessions wait, and drains and removes
// agents idle past their group's scaler_idle_seconds, every interval.
func (s *Service) Scale(ctx context.Context, interval time.Duration) {
	every(ctx, interval, func() {
		if err := s.scaleOnce(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("scaler", "err", err)
		}
	})
}

func (s *Service) scaleOnce(ctx context.Context) error {
	gs, err := s.groups(ctx)
	if err != nil {
		return err
	}
	s.demand.mu.Lock()
	dem := s.demand.groups
	s.demand.mu.Unlock()
	for name, g := range gs {
		if g.Scaler == "" || !g.IsActive {
			continue
		}
		sp, err := parseScaler(g.Scaler)
		if err != nil {
			continue
		}
		if d := dem[name]; d.pending > 0 {
			s.scaleUp(ctx, name, sp, d)
		}
		if g.ScalerIdleSeconds > 0 {
			if err := s.scaleDown(ctx, name, sp, time.Duration(g.ScalerIdleSeconds)*time.Second); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Service) scaleUp(ctx context.Context, group string, sp scalerSpec, d groupDemand) {
	// Only the replica whose conditional update wins asks, once per cooldown.
	now := time.Now()
	n, err := s.st.ScalingGroup.Update().Where(scalinggroup.IDEQ(group),
		scalinggroup.Or(scalinggroup.ScalerActedAtIsNil(), scalinggroup.ScalerActedAtLT(now.Add(-ScalerCooldown)))).
		SetScalerActedAt(now).Save(ctx)
	if err != nil || n == 0 {
		return
	}
	req := ScaleRequest{Action: "scale-up", ScalingGroup: group, Pending: d.pending,
		Requested: d.requested.ToJSON(), Largest: d.largest.ToJSON()}
	s.log.Info("asking the scaler for agents", "group", group, "pending", d.pending, "requested", req.Requested)
	if err := sp.call(ctx, req); err != nil {
		s.log.Error("scaler failed to add agents", "group", group, "err", err)
	}
}

// scaleDown drains agents of the group that ran nothing for idle, then asks
// the scaler to remove them. Draining happens under the scheduling lock, so
// no session can be placed on an agent between the check and the drain.
func (s *Service) scaleDown(ctx context.Context, group string, sp scalerSpec, idle time.Duration) error {
	var drained []*ent.Agent
	err := s.st.WithSchedulingLock(ctx, func() error {
		ags, err := s.st.Agent.Query().Where(agent.ScalingGroupEQ(group), agent.StatusEQ(agent.StatusALIVE),
			agent.Schedulable(true), agent.FirstContactLT(time.Now().Add(-idle))).All(ctx)
		if err != nil {
			return err
		}
		for _, a := range ags {
			busy, err := s.st.Session.Query().Where(session.AgentIDEQ(a.ID), session.StatusIn(aliveStatuses...)).Exist(ctx)
			if err != nil || busy {
				continue
			}
			last, err := s.st.Session.Query().Where(session.AgentIDEQ(a.ID), session.TerminatedAtNotNil()).
				Order(ent.Desc(session.FieldTerminatedAt)).First(ctx)
			if err == nil && last.TerminatedAt != nil && time.Since(*last.TerminatedAt) < idle {
				continue
			}
			n, err := s.st.Agent.Update().Where(agent.IDEQ(a.ID), agent.Schedulable(true)).
				SetSchedulable(false).SetStatusInfo(fmt.Sprintf("drained: idle for %s; the scaler removes it", idle)).Save(ctx)
			if err == nil && n == 1 {
				drained = append(drained, a)
			}
		}
		return nil
	})
	for _, a := range drained {
		s.log.Info("asking the scaler to remove an idle agent", "group", group, "agent_id", a.ID)
		if err := sp.call(ctx, ScaleRequest{Action: "scale-down", ScalingGroup: group, AgentID: a.ID, AgentAddr: a.Addr}); err != nil {
			s.log.Error("scaler failed to remove an agent; returning it to service", "agent_id", a.ID, "err", err)
			_ = s.st.Agent.UpdateOneID(a.ID).SetSchedulable(true).SetStatusInfo("").Exec(ctx)
		}
	}
	return err
}

// AgentLeft records that an agent shut down on purpose: it is TERMINATED and
// whatever it still ran ends with a reason.
func (s *Service) AgentLeft(ctx context.Context, id string) error {
	n, err := s.st.Agent.Update().Where(agent.IDEQ(id), agent.StatusNEQ(agent.StatusTERMINATED)).
		SetStatus(agent.StatusTERMINATED).SetStatusInfo("agent shut down").Save(ctx)
	if err != nil || n == 0 {
		return err
	}
	s.beats.forget(id)
	s.log.Info("agent shut down", "agent_id", id)
	ids, _ := s.st.Session.Query().Where(session.AgentIDEQ(id), session.StatusIn(aliveStatuses...)).IDs(ctx)
	for _, sid := range ids {
		s.finish(ctx, sid, types.StatusError, "agent "+id+" shut down")
	}
	return nil
}
