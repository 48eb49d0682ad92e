package session

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"baigo.dev/bai/backend/agentrpc"
	"baigo.dev/bai/backend/events"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/resource"
	"baigo.dev/bai/common/types"
	"baigo.dev/bai/ent"
	"baigo.dev/bai/ent/agent"
	"baigo.dev/bai/ent/resourcepolicy"
	"baigo.dev/bai/ent/session"
)

// Default slots of a session that asks for none (raised to the image's
// minimum).
var defaultSlots = resource.Slots{resource.CPU: 1, resource.Mem: 512 << 20}

func requestedSlots(req apitypes.CreateSession, img *ent.Image, defaults resource.Slots) (resource.Slots, error) {
	want := resource.Slots{}.Add(defaultSlots)
	for k, v := range defaults { // the owner's policy's defaults
		want[k] = v
	}
	if c := req.Config; c != nil {
		if c.InstanceCores != nil {
			v, err := resource.ParseValue(resource.CPU, c.InstanceCores)
			if err != nil {
				return nil, fmt.Errorf("config.instanceCores: %w", err)
			}
			want[resource.CPU] = v
		}
		if c.InstanceMemory != nil {
			v, err := resource.ParseValue(resource.Mem, c.InstanceMemory)
			if err != nil {
				return nil, fmt.Errorf("config.instanceMemory: %w", err)
			}
			if f, ok := c.InstanceMemory.(float64); ok && f < 1<<20 {
				v = f * (1 << 30) // old clients send GiB as a plain number
			}
			want[resource.Mem] = v
		}
		if c.InstanceGPUs != nil {
			v, err := resource.ParseValue(resource.CUDADevice, c.InstanceGPUs)
			if err != nil {
				return nil, fmt.Errorf("config.instanceGPUs: %w", err)
			}
			if v > 0 {
				want[resource.CUDADevice] = v
			}
		}
		for k, raw := range c.Resources {
			v, err := resource.ParseValue(k, raw)
			if err != nil {
				return nil, fmt.Errorf("config.resources: %w", err)
			}
			want[k] = v
		}
	}
	if g := want[resource.CUDADevice]; g != float64(int64(g)) || g < 0 {
		return nil, fmt.Errorf("config.resources.cuda.device must be a whole number of GPUs (got %v): %w", g, errdefs.ErrInvalidArgument)
	}
	if want[resource.CPU] <= 0 {
		return nil, fmt.Errorf("config.resources.cpu must be positive: %w", errdefs.ErrInvalidArgument)
	}
	if img != nil {
		for k, min := range img.MinResources {
			if want[k] < min {
				want[k] = min
			}
		}
	}
	return want, nil
}

// Create creates a session, or returns the owner's live session of the same
// name when reuse is allowed. It waits until the session runs (or fails, or
// the wait ends) unless EnqueueOnly is set.
func (s *Service) Create(ctx context.Context, owner Owner, req apitypes.CreateSession) (*apitypes.CreateSessionResult, error) {
	name := req.Name
	if name == "" {
		name = req.ClientSessionToken
	}
	if name == "" {
		name = newName()
	}
	if !NameOK(name) {
		return nil, fmt.Errorf("field \"name\": %q must be 4 to 64 characters of letters, digits, '_', '-' and '.', starting and ending with a letter or digit: %w", name, errdefs.ErrInvalidArgument)
	}
	imgName := req.Image
	if imgName == "" {
		imgName = req.Lang
	}
	if imgName == "" {
		return nil, fmt.Errorf("field \"image\" (or \"lang\") is required: %w", errdefs.ErrInvalidArgument)
	}
	if req.Type != "" && req.Type != "interactive" && req.Type != "batch" {
		return nil, fmt.Errorf("field \"type\" must be \"interactive\" or \"batch\", not %q: %w", req.Type, errdefs.ErrInvalidArgument)
	}
	img, avail, err := s.ImageByName(ctx, imgName)
	if err != nil {
		return nil, err
	}
	if img == nil {
		return nil, unknownImage(imgName, avail)
	}
	slots, err := requestedSlots(req, img, s.policyDefaults(ctx, owner.AccessKey))
	if err != nil {
		return nil, err
	}
	if err := s.checkCapacity(ctx, slots); err != nil {
		return nil, err
	}
	reuse := req.ReuseIfExists == nil || *req.ReuseIfExists
	if existing, err := s.st.Session.Query().Where(session.OwnerAccessKeyEQ(owner.AccessKey), session.AliveNameEQ(name)).Only(ctx); err == nil {
		if !reuse {
			return nil, fmt.Errorf("session %q already exists: %w", name, errdefs.ErrConflict)
		}
		if existing.Image != img.ID {
			return nil, fmt.Errorf("session %q already exists with image %s: %w", name, existing.Image, errdefs.ErrConflict)
		}
		return s.result(existing, false), nil
	}
	if err := s.checkPolicy(ctx, owner); err != nil {
		return nil, err
	}
	var mounts []aproto.Mount
	if req.Config != nil && len(req.Config.Mounts) > 0 {
		if s.mounts == nil {
			return nil, fmt.Errorf("config.mounts: this manager keeps no virtual folders: %w", errdefs.ErrInvalidArgument)
		}
		if mounts, err = s.mounts(ctx, owner.AccessKey, req.Config.Mounts); err != nil {
			return nil, err
		}
	}
	group := ""
	if req.Config != nil {
		group = req.Config.ScalingGroup
		if group == "" {
			group = req.Config.ScalingGroupAlt
		}
	}
	grp, err := s.groupFor(ctx, group)
	if err != nil {
		return nil, err
	}
	if err := s.checkTotalSlots(ctx, owner.AccessKey, slots); err != nil {
		return nil, err
	}

	sid := uuid.New()
	wait := s.cfg.CreateWait
	if req.MaxWaitSeconds > 0 {
		wait = time.Duration(req.MaxWaitSeconds) * time.Second
	}
	// Subscribe before the session exists so no event can be missed.
	evs, cancel := s.bus.Subscribe(func(e events.Event) bool { return e.SessionID == sid.String() })
	defer cancel()

	var sess *ent.Session
	err = s.st.Tx(ctx, func(tx *ent.Tx) error {
		typ := req.Type
		if typ == "" {
			typ = "interactive"
		}
		environ := map[string]string{}
		network := req.Network
		if req.Config != nil {
			for k, v := range req.Config.Environ {
				environ[k] = v
			}
		}
		c := tx.Session.Create().SetID(sid).SetName(name).SetAliveName(name).
			SetOwnerAccessKey(owner.AccessKey).SetImage(img.ID).SetType(typ).
			SetRequestedSlots(slots).SetEnviron(environ).SetNetwork(network).SetMounts(mounts)
		if owner.Domain != "" {
			c.SetDomainName(owner.Domain)
		}
		if req.Group != "" {
			c.SetGroupName(req.Group)
		}
		if req.Tag != nil {
			c.SetTag(*req.Tag)
		}
		if req.BootstrapScript != nil {
			c.SetBootstrapScript(*req.BootstrapScript)
		}
		c.SetScalingGroup(grp.ID)
		var err error
		sess, err = c.Save(ctx)
		if err != nil {
			return err
		}
		return tx.Kernel.Create().SetSession(sess).SetImage(img.ID).SetSlots(slots).Exec(ctx)
	})
	if ent.IsConstraintError(err) {
		// Lost a race with a create of the same name: reuse theirs.
		if existing, err2 := s.st.Session.Query().Where(session.OwnerAccessKeyEQ(owner.AccessKey), session.AliveNameEQ(name)).Only(ctx); err2 == nil && reuse {
			return s.result(existing, false), nil
		}
		return nil, fmt.Errorf("session %q already exists: %w", name, errdefs.ErrConflict)
	}
	if err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	s.publish(sess, events.SessionEnqueued, string(types.StatusPending), "")
	s.Kick()
	if req.EnqueueOnly {
		return s.result(sess, true), nil
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case e := <-evs:
			st := types.SessionStatus(e.Status)
			if st == types.StatusRunning || st.Final() {
				fresh, err := s.st.Session.Get(context.WithoutCancel(ctx), sid)
				if err != nil {
					return nil, err
				}
				return s.result(fresh, true), nil
			}
		case <-timer.C:
			fresh, err := s.st.Session.Get(ctx, sid)
			if err != nil {
				return nil, err
			}
			return s.result(fresh, true), nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *Service) result(sess *ent.Session, created bool) *apitypes.CreateSessionResult {
	return &apitypes.CreateSessionResult{
		SessionID: sess.ID.String(), KernelID: sess.ID.String(), SessionName: sess.Name,
		Status: sess.Status, StatusInfo: sess.StatusInfo, ServicePorts: s.createdServicePorts(sess.Image), Created: created,
	}
}

// checkCapacity refuses a request no alive agent could ever hold. The
// agents' capacities are cached for a second: a create must not read every
// agent row.
func (s *Service) checkCapacity(ctx context.Context, want resource.Slots) error {
	caps, err := s.capacities(ctx)
	if err != nil || len(caps) == 0 {
		return err // no agent yet: the session waits in PENDING
	}
	var lastSlot string
	for _, c := range caps {
		ok, slot := resource.Fits(want, c)
		if ok {
			return nil
		}
		lastSlot = slot
	}
	return fmt.Errorf("no agent can ever hold %s=%s (the largest request that fits: see GET /agents): %w",
		lastSlot, resource.Slots{lastSlot: want[lastSlot]}.ToJSON()[lastSlot], errdefs.ErrQuotaExceeded)
}

func (s *Service) capacities(ctx context.Context) ([]resource.Slots, error) {
	s.capMu.Lock()
	defer s.capMu.Unlock()
	if s.capAt.After(time.Now().Add(-time.Second)) {
		return s.capCache, nil
	}
	ags, err := s.st.Agent.Query().Where(agent.StatusEQ(agent.StatusALIVE)).Select(agent.FieldAvailableSlots).All(ctx)
	if err != nil {
		return nil, err
	}
	caps := make([]resource.Slots, 0, len(ags))
	for _, a := range ags {
		caps = append(caps, a.AvailableSlots)
	}
	s.capCache, s.capAt = caps, time.Now()
	return caps, nil
}

// invalidateCapacities drops the cached capacities (an agent came, went or
// changed).
func (s *Service) invalidateCapacities() {
	s.capMu.Lock()
	s.capAt = time.Time{}
	s.capMu.Unlock()
}

// checkPolicy enforces the keypair's resource policy on session count.
func (s *Service) checkPolicy(ctx context.Context, owner Owner) error {
	pol := s.policyEntry(ctx, owner.AccessKey)
	if pol.maxSessions > 0 {
		// COUNT(*), which the (owner, status) index answers alone; ent's
		// Count is COUNT(id), which reads every one of the owner's rows.
		n, err := s.st.Session.Query().Where(session.OwnerAccessKeyEQ(owner.AccessKey), session.StatusIn(aliveStatuses...)).
			Aggregate(ent.Count()).Int(ctx)
		if err != nil {
			return err
		}
		if n >= pol.maxSessions {
			return fmt.Errorf("keypair resource policy %q allows at most %d concurrent sessions (max_concurrent_sessions); destroy one first: %w",
				pol.name, pol.maxSessions, errdefs.ErrQuotaExceeded)
		}
	}
	return nil
}

// Info describes a session.
func (s *Service) Info(ctx context.Context, owner, nameOrID string) (*apitypes.SessionInfo, error) {
	sess, err := s.Find(ctx, owner, nameOrID)
	if err != nil {
		return nil, err
	}
	return s.info(sess), nil
}

func (s *Service) info(sess *ent.Session) *apitypes.SessionInfo {
	end := time.Now()
	if sess.TerminatedAt != nil {
		end = *sess.TerminatedAt
	}
	occ := resource.Slots{}
	if types.SessionStatus(sess.Status) == types.StatusRunning || sess.Status == string(types.StatusRestarting) {
		occ = sess.RequestedSlots
	}
	return &apitypes.SessionInfo{
		SessionID: sess.ID.String(), SessionName: sess.Name, Domain: sess.DomainName, Group: sess.GroupName,
		OwnerAccessKey: sess.OwnerAccessKey, Image: sess.Image, Lang: sess.Image, Type: sess.Type,
		Status: sess.Status, StatusInfo: sess.StatusInfo, Agent: sess.AgentID,
		ResourceSlots: resource.Slots(sess.RequestedSlots).ToJSON(), OccupiedSlots: occ.ToJSON(),
		Created: sess.CreatedAt, Terminated: sess.TerminatedAt, Age: end.Sub(sess.CreatedAt).Seconds(),
		ExecutionCount: sess.NumQueries, LastStat: sess.LastStat,
	}
}

// List lists the owner's sessions that are not yet destroyed (live ones and
// ERROR ones awaiting removal), newest first.
func (s *Service) List(ctx context.Context, owner string) ([]apitypes.SessionInfo, error) {
	rows, err := s.st.Session.Query().Where(session.OwnerAccessKeyEQ(owner),
		session.StatusNotIn(string(types.StatusTerminated), string(types.StatusCancelled))).
		Order(ent.Desc(session.FieldCreatedAt)).Limit(1000).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]apitypes.SessionInfo, 0, len(rows))
	for _, r := range rows {
		out = append(out, *s.info(r))
	}
	return out, nil
}

// Destroy terminates a session and returns its last statistics. An ERROR
// session is cleaned up and marked TERMINATED.
func (s *Service) Destroy(ctx context.Context, owner, nameOrID string, forced bool) (map[string]any, error) {
	sess, err := s.Find(ctx, owner, nameOrID)
	if err != nil {
		return nil, err
	}
	return s.terminate(ctx, sess, forced, "user-requested")
}

// destroyTimeout bounds a destroy once it has begun.
const destroyTimeout = 2 * time.Minute

// terminate ends a session for reason (what status_info will say). Once
// begun it runs to its end even when the caller goes away (a client that
// hangs up mid-destroy): a half-done destroy would leave the session
// TERMINATING with its container already gone.
func (s *Service) terminate(ctx context.Context, sess *ent.Session, forced bool, reason string) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), destroyTimeout)
	defer cancel()
	again := func() (map[string]any, error) { // it moved on meanwhile
		fresh, err := s.st.Session.Query().Where(session.IDEQ(sess.ID)).WithKernels().Only(ctx)
		if err != nil {
			return nil, err
		}
		return s.terminate(ctx, fresh, forced, reason)
	}
	st := types.SessionStatus(sess.Status)
	switch st {
	case types.StatusTerminated, types.StatusCancelled:
		return nil, fmt.Errorf("session %q was already %s: %w", sess.Name, st, errdefs.ErrNotFound)
	case types.StatusPending:
		if s.finish(ctx, sess.ID, types.StatusCancelled, reason) {
			return map[string]any{}, nil
		}
		return again()
	case types.StatusError:
		s.removeKernel(ctx, sess)
		now := time.Now()
		_ = s.st.Session.UpdateOneID(sess.ID).SetStatus(string(types.StatusTerminated)).SetStatusChanged(now).Exec(ctx)
		return map[string]any{}, nil
	}
	if st != types.StatusTerminating {
		n, err := s.st.Session.Update().Where(session.IDEQ(sess.ID), session.StatusEQ(sess.Status)).
			SetStatus(string(types.StatusTerminating)).SetStatusChanged(time.Now()).Save(ctx)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return again()
		}
	}
	stats := map[string]any{}
	if len(sess.Edges.Kernels) > 0 && sess.Edges.Kernels[0].AgentAddr != "" {
		k := sess.Edges.Kernels[0]
		res, err := s.rpc.DestroyKernel(ctx, k.AgentAddr, k.ID.String())
		switch {
		case err == nil:
			if res.Stats != nil {
				stats = res.Stats
			}
		case agentrpcGone(err):
		case forced:
			s.log.Warn("forced destroy: agent did not confirm", "session_id", sess.ID, "err", err)
		default:
			// Put it back so nothing is half-done; the caller may retry or force.
			_ = s.st.Session.Update().Where(session.IDEQ(sess.ID), session.StatusEQ(string(types.StatusTerminating))).
				SetStatus(sess.Status).Exec(ctx)
			return nil, fmt.Errorf("destroy session %q: %w (retry, or use ?forced=true)", sess.Name, err)
		}
	}
	if len(stats) > 0 {
		_ = s.st.Session.UpdateOneID(sess.ID).SetLastStat(stats).Exec(ctx)
	}
	s.finish(ctx, sess.ID, types.StatusTerminated, reason)
	return stats, nil
}

func (s *Service) removeKernel(ctx context.Context, sess *ent.Session) {
	for _, k := range sess.Edges.Kernels {
		if k.AgentAddr != "" {
			if _, err := s.rpc.DestroyKernel(ctx, k.AgentAddr, k.ID.String()); err != nil && !agentrpcGone(err) {
				s.log.Warn("clean up kernel", "kernel_id", k.ID, "err", err)
			}
		}
	}
}

// Restart restarts the session's kernel: state is lost, files are kept.
func (s *Service) Restart(ctx context.Context, owner, nameOrID string) error {
	sess, k, err := s.running(ctx, owner, nameOrID)
	if err != nil {
		return err
	}
	n, err := s.st.Session.Update().Where(session.IDEQ(sess.ID), session.StatusEQ(string(types.StatusRunning))).
		SetStatus(string(types.StatusRestarting)).SetStatusChanged(time.Now()).Save(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("session %q changed state meanwhile: %w", sess.Name, errdefs.ErrConflict)
	}
	if err := s.rpc.RestartKernel(ctx, k.AgentAddr, k.ID.String()); err != nil {
		s.finish(ctx, sess.ID, types.StatusError, "restart failed: "+err.Error())
		return fmt.Errorf("restart session %q: %w", sess.Name, err)
	}
	_ = s.st.Session.Update().Where(session.IDEQ(sess.ID), session.StatusEQ(string(types.StatusRestarting))).
		SetStatus(string(types.StatusRunning)).SetStatusChanged(time.Now()).Exec(ctx)
	s.publish(sess, events.SessionRestarted, string(types.StatusRunning), "")
	return nil
}

var execModes = map[string]bool{"query": true, "batch": true, "continue": true, "input": true}

// Execute runs code or continues a run, holding the request until the run
// finishes, asks for input, or the flush timeout passes.
func (s *Service) Execute(ctx context.Context, owner, nameOrID string, req apitypes.Execute) (*apitypes.ExecuteResult, error) {
	return s.ExecuteFlush(ctx, owner, nameOrID, req, s.cfg.FlushTimeout)
}

// ExecuteFlush is Execute with its own flush timeout: streams use a short
// one so output reaches the client while the run goes on.
func (s *Service) ExecuteFlush(ctx context.Context, owner, nameOrID string, req apitypes.Execute, flush time.Duration) (*apitypes.ExecuteResult, error) {
	if req.Mode == "" {
		req.Mode = "query"
	}
	if !execModes[req.Mode] {
		return nil, fmt.Errorf("field \"mode\" must be one of query, batch, continue, input (got %q): %w", req.Mode, errdefs.ErrInvalidArgument)
	}
	var opts map[string]any
	if len(req.Options) > 0 && string(req.Options) != "null" {
		if err := json.Unmarshal(req.Options, &opts); err != nil {
			return nil, fmt.Errorf("field \"options\" must be an object: %w", errdefs.ErrInvalidArgument)
		}
	}
	sess, k, err := s.running(ctx, owner, nameOrID)
	if err != nil {
		return nil, err
	}
	if req.Mode == "query" || req.Mode == "batch" {
		if capped, ok := s.capExecTimeout(ctx, owner, opts); ok {
			req.Options = capped
		}
	}
	if req.RunID == "" {
		if req.Mode == "continue" || req.Mode == "input" {
			return nil, fmt.Errorf("field \"runId\" is required for mode %q: %w", req.Mode, errdefs.ErrInvalidArgument)
		}
		req.RunID = uuid.NewString()[:8]
	}
	res, err := s.rpc.Execute(ctx, k.AgentAddr, k.ID.String(), aproto.Execute{
		RunID: req.RunID, Mode: req.Mode, Code: req.Code, Options: req.Options, FlushTimeout: flush,
	})
	if err != nil {
		return nil, s.kernelGone(ctx, sess, err)
	}
	s.Touch(sess.ID)
	if req.Mode == "query" || req.Mode == "batch" {
		go func(id uuid.UUID) { // bookkeeping off the hot path
			_ = s.st.Session.UpdateOneID(id).AddNumQueries(1).Exec(context.Background())
		}(sess.ID)
	}
	sanitizeConsole(s.log, sess.ID, res.Console)
	out := &apitypes.ExecuteResult{RunID: res.RunID, Status: res.Status, ExitCode: res.ExitCode,
		Options: res.Options, Files: res.Files, Console: res.Console}
	if out.RunID == "" {
		out.RunID = req.RunID
	}
	if out.Console == nil {
		out.Console = [][2]any{}
	}
	if out.Files == nil {
		out.Files = []any{}
	}
	if out.Options == nil {
		out.Options = map[string]any{}
	}
	return out, nil
}

// Interrupt interrupts the running code.
func (s *Service) Interrupt(ctx context.Context, owner, nameOrID string) error {
	sess, k, err := s.running(ctx, owner, nameOrID)
	if err != nil {
		return err
	}
	s.Touch(sess.ID)
	return s.kernelGone(ctx, sess, s.rpc.Interrupt(ctx, k.AgentAddr, k.ID.String()))
}

// Complete asks the kernel for completions.
func (s *Service) Complete(ctx context.Context, owner, nameOrID string, req apitypes.Complete) ([]any, error) {
	sess, k, err := s.running(ctx, owner, nameOrID)
	if err != nil {
		return nil, err
	}
	res, err := s.rpc.Complete(ctx, k.AgentAddr, k.ID.String(), aproto.Complete{Code: req.Code, Options: req.Options})
	if err != nil {
		return nil, s.kernelGone(ctx, sess, err)
	}
	if res.Result == nil {
		res.Result = []any{}
	}
	return res.Result, nil
}

// Logs returns the kernel container's logs.
func (s *Service) Logs(ctx context.Context, owner, nameOrID string) (string, error) {
	sess, k, err := s.running(ctx, owner, nameOrID)
	if err != nil {
		return "", err
	}
	logs, err := s.rpc.Logs(ctx, k.AgentAddr, k.ID.String())
	return logs, s.kernelGone(ctx, sess, err)
}

func agentrpcGone(err error) bool { return agentrpc.IsGone(err) }

// capExecTimeout applies the owner's policy limit (max_exec_seconds) to a
// run's options.exec_timeout: a run asks for less or gets the limit. It
// reports false when nothing changes.
func (s *Service) capExecTimeout(ctx context.Context, owner string, opts map[string]any) (json.RawMessage, bool) {
	limit := s.policyExecLimit(ctx, owner)
	if limit <= 0 {
		return nil, false
	}
	if t, ok := opts["exec_timeout"].(float64); ok && t > 0 && t <= float64(limit) {
		return nil, false
	}
	if opts == nil {
		opts = map[string]any{}
	}
	opts["exec_timeout"] = limit
	b, err := json.Marshal(opts)
	return b, err == nil
}

// policyExecLimit returns the owner's max_exec_seconds.
func (s *Service) policyExecLimit(ctx context.Context, owner string) int {
	return s.policyEntry(ctx, owner).maxExec
}

// policyDefaults returns the slots the owner's sessions get by default.
func (s *Service) policyDefaults(ctx context.Context, owner string) resource.Slots {
	return s.policyEntry(ctx, owner).defaults
}

// policyEntry returns what the hot paths need of the owner's policy,
// cached briefly because it is read on every execute.
func (s *Service) policyEntry(ctx context.Context, owner string) policyEntry {
	s.polMu.Lock()
	c, ok := s.polCache[owner]
	s.polMu.Unlock()
	if ok && time.Since(c.at) < 10*time.Second {
		return c
	}
	e := policyEntry{at: time.Now()}
	if kp, err := s.st.KeyPair.Get(ctx, owner); err == nil {
		if pol, err := s.st.ResourcePolicy.Get(ctx, kp.ResourcePolicy); err == nil {
			e.name = pol.ID
			e.maxExec = pol.MaxExecSeconds
			e.maxSessions = pol.MaxConcurrentSessions
			e.defaults = pol.DefaultSessionSlots
			e.limited = len(pol.TotalResourceSlots) > 0 || pol.DefaultForUnspecified == resourcepolicy.DefaultForUnspecifiedLIMITED
		}
	}
	s.polMu.Lock()
	if s.polCache == nil {
		s.polCache = map[string]policyEntry{}
	}
	s.polCache[owner] = e
	s.polMu.Unlock()
	return e
}

type policyEntry struct {
	name        string
	maxExec     int
	maxSessions int
	defaults    resource.Slots
	limited     bool // total_resource_slots or LIMITED defaults apply
	at          time.Time
}
