package session

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/resource"
	"baigo.dev/bai/common/types"
	"baigo.dev/bai/ent"
	"baigo.dev/bai/ent/agent"
	"baigo.dev/bai/ent/kernel"
	"baigo.dev/bai/ent/session"
)

// The agent registry lives here because what it decides (an agent is lost,
// a kernel vanished) is a session transition.

// Heartbeat records an agent's heartbeat. The first heartbeat after the
// agent (or this manager) started reconciles the agent's kernels against
// the database: sessions whose kernel vanished turn ERROR, kernels nobody
// wants any more are returned as orphans for the agent to remove.
func (s *Service) Heartbeat(ctx context.Context, hb aproto.Heartbeat) (*aproto.HeartbeatReply, error) {
	if hb.AgentID == "" || hb.Addr == "" {
		return nil, fmt.Errorf("heartbeat needs agentId and addr: %w", errInvalid)
	}
	if h := s.hooks.Heartbeat; h != nil {
		h()
	}
	if hb.ScalingGroup == "" {
		hb.ScalingGroup = DefaultGroup
	}
	if hb.Leaving {
		return &aproto.HeartbeatReply{}, s.AgentLeft(ctx, hb.AgentID)
	}
	sum := heartbeatSum(hb)
	// Fast path: an agent this manager already reconciled, reporting the
	// same facts as last time, costs no database round trip; its heartbeat
	// time is written in a batch by flushHeartbeats.
	if !hb.First && s.beats.fresh(hb.AgentID, sum) {
		s.recordStatsAsync(hb)
		return &aproto.HeartbeatReply{}, nil
	}
	// The image list comes only when it changed; otherwise its digest
	// stands for it. A digest this replica has not seen (the agent talked
	// to another replica before) leaves the stored list alone and asks for
	// the full list.
	var names []string
	needImages := false
	switch {
	case hb.Images != nil:
		names = make([]string, 0, len(hb.Images))
		for _, im := range hb.Images {
			names = append(names, im.Name)
		}
		sort.Strings(names)
		if hb.ImagesDigest != "" {
			s.digests.Store(hb.ImagesDigest, names)
		}
	case hb.ImagesDigest != "":
		if v, ok := s.digests.Load(hb.ImagesDigest); ok {
			names = v.([]string)
		} else {
			needImages = true
		}
	default:
		names = []string{}
	}
	devices := make([]map[string]any, 0, len(hb.Devices))
	for _, d := range hb.Devices {
		devices = append(devices, map[string]any{"index": d.Index, "uuid": d.UUID, "model": d.Model,
			"memoryBytes": d.MemoryBytes, "source": d.Source})
	}
	problems, diskFree := []string{}, int64(0)
	if hb.Health != nil {
		problems = append(problems, hb.Health.Problems...)
		diskFree = hb.Health.DiskFreeBytes
	}
	now := time.Now()
	prev, err := s.st.Agent.Get(ctx, hb.AgentID)
	if err != nil && !ent.IsNotFound(err) {
		return nil, err
	}
	wasAlive := prev != nil && prev.Status == agent.StatusALIVE
	if err := s.EnsureGroup(ctx, hb.ScalingGroup); err != nil {
		s.log.Warn("record scaling group", "group", hb.ScalingGroup, "err", err)
	}
	// Create-or-update rather than an upsert: ent's upsert builders do not
	// encode JSON fields.
	if prev == nil {
		c := s.st.Agent.Create().SetID(hb.AgentID).SetAddr(hb.Addr).SetStatus(agent.StatusALIVE).
			SetRegion(hb.Region).SetScalingGroup(hb.ScalingGroup).SetVersion(hb.Version).
			SetAvailableSlots(hb.Capacity).SetDevices(devices).SetLastHeartbeat(now).
			SetHealthProblems(problems).SetDiskFree(diskFree)
		if names != nil {
			c.SetImages(names)
		}
		err = c.Exec(ctx)
	}
	if prev != nil || ent.IsConstraintError(err) {
		u := s.st.Agent.UpdateOneID(hb.AgentID).SetAddr(hb.Addr).SetStatus(agent.StatusALIVE).SetStatusInfo("").
			SetRegion(hb.Region).SetScalingGroup(hb.ScalingGroup).SetVersion(hb.Version).
			SetAvailableSlots(hb.Capacity).SetDevices(devices).SetLastHeartbeat(now).
			SetHealthProblems(problems).SetDiskFree(diskFree)
		if names != nil {
			u.SetImages(names)
		}
		err = u.Exec(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("record heartbeat: %w", err)
	}
	if hb.Images != nil {
		if err := s.syncImages(ctx, hb.Images); err != nil {
			s.log.Warn("record images", "agent_id", hb.AgentID, "err", err)
		}
	}
	s.seenMu.Lock()
	seen := s.seen[hb.AgentID]
	s.seen[hb.AgentID] = true
	s.seenMu.Unlock()
	reply := &aproto.HeartbeatReply{}
	if hb.First || !seen || !wasAlive {
		reply.Orphans, err = s.reconcile(ctx, hb)
		if err != nil {
			return nil, err
		}
		s.log.Info("agent registered", "agent_id", hb.AgentID, "addr", hb.Addr, "kernels", len(hb.Kernels), "orphans", len(reply.Orphans))
	}
	if needImages {
		reply.NeedImages = true // and no fast path until the list came
	} else {
		s.beats.remember(hb.AgentID, sum)
	}
	s.recordStatsAsync(hb)
	if len(problems) > 0 && (prev == nil || len(prev.HealthProblems) == 0) {
		s.log.Warn("agent unhealthy: no new sessions go to it", "agent_id", hb.AgentID, "problems", problems)
	}
	if !wasAlive || prev.AvailableSlots == nil || !maps.Equal(prev.AvailableSlots, hb.Capacity) ||
		len(prev.HealthProblems) != len(problems) {
		s.invalidateCapacities()
		s.Kick()
	}
	return reply, nil
}

// heartbeatSum renders what a heartbeat says about the agent, apart from
// the time and the kernels' statistics, as a compact string: when it is
// unchanged there is nothing to write but the heartbeat time. It is built
// with appends, not fmt or a hash, because it runs for every heartbeat.
func heartbeatSum(hb aproto.Heartbeat) string {
	b := make([]byte, 0, 256)
	for _, f := range []string{hb.Addr, hb.Version, hb.Region, hb.ScalingGroup, hb.AgentID} {
		b = append(b, f...)
		b = append(b, 0)
	}
	keys := make([]string, 0, len(hb.Capacity))
	for k := range hb.Capacity {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b = append(b, k...)
		b = append(b, '=')
		b = strconv.AppendFloat(b, hb.Capacity[k], 'g', -1, 64)
		b = append(b, 0)
	}
	if hb.ImagesDigest != "" {
		b = append(b, hb.ImagesDigest...)
	} else {
		for _, im := range hb.Images {
			b = append(b, im.Name...)
			b = append(b, '|')
			b = append(b, im.Ref...)
			b = append(b, '|')
			b = append(b, im.ID...)
			b = append(b, 0)
		}
	}
	for _, k := range hb.Kernels {
		b = append(b, k.KernelID...)
		b = append(b, '|')
		b = append(b, k.ContainerID...)
		b = strconv.AppendBool(b, k.Running)
		b = append(b, 0)
	}
	if h := hb.Health; h != nil {
		for _, p := range h.Problems {
			b = append(b, p...)
			b = append(b, 0)
		}
		// Free space moves all the time: record it when it moved by a GiB.
		b = strconv.AppendInt(b, h.DiskFreeBytes>>30, 10)
	}
	for _, d := range hb.Devices {
		b = strconv.AppendInt(b, int64(d.Index), 10)
		b = append(b, d.UUID...)
		b = append(b, d.Model...)
		b = strconv.AppendInt(b, d.MemoryBytes, 10)
		b = append(b, 0)
	}
	return string(b)
}

// beats remembers, per agent, the digest of its last fully recorded
// heartbeat and the time of the latest one not yet written.
type beats struct {
	mu      sync.Mutex
	sum     map[string]string
	pending map[string]time.Time
}

func (b *beats) fresh(id string, sum string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if prev, ok := b.sum[id]; !ok || prev != sum {
		return false
	}
	if b.pending == nil {
		b.pending = map[string]time.Time{}
	}
	b.pending[id] = time.Now()
	return true
}

func (b *beats) remember(id string, sum string) {
	b.mu.Lock()
	if b.sum == nil {
		b.sum = map[string]string{}
	}
	b.sum[id] = sum
	delete(b.pending, id)
	b.mu.Unlock()
}

func (b *beats) forget(id string) {
	b.mu.Lock()
	delete(b.sum, id)
	delete(b.pending, id)
	b.mu.Unlock()
}

// flushHeartbeats writes the batched heartbeat times: one UPDATE per
// second for the whole fleet instead of one per heartbeat. An agent that
// another replica marked LOST meanwhile is not revived here: it is
// forgotten, so its next heartbeat takes the full path and is reconciled.
func (s *Service) flushHeartbeats(ctx context.Context) error {
	s.beats.mu.Lock()
	var latest time.Time
	ids := make([]string, 0, len(s.beats.pending))
	for id, t := range s.beats.pending {
		ids = append(ids, id)
		if t.After(latest) {
			latest = t
		}
	}
	clear(s.beats.pending) // keep the map's room: it refills every second
	s.beats.mu.Unlock()
	for len(ids) > 0 {
		n := min(len(ids), 500)
		chunk := ids[:n]
		ids = ids[n:]
		// The batch shares one time (the newest in it): at most one flush
		// interval later than an agent's own, far below the LOST timeout.
		done, err := s.st.Agent.Update().Where(agent.IDIn(chunk...), agent.StatusEQ(agent.StatusALIVE)).
			SetLastHeartbeat(latest).Save(ctx)
		if err != nil {
			return err
		}
		if done < len(chunk) {
			alive, err := s.st.Agent.Query().Where(agent.IDIn(chunk...), agent.StatusEQ(agent.StatusALIVE)).IDs(ctx)
			if err != nil {
				return err
			}
			ok := map[string]bool{}
			for _, id := range alive {
				ok[id] = true
			}
			for _, id := range chunk {
				if !ok[id] {
					s.beats.forget(id)
				}
			}
		}
	}
	return nil
}

var errInvalid = fmt.Errorf("bad heartbeat: %w", errdefsInvalid)

// syncImages upserts the images an agent reports when they changed.
func (s *Service) syncImages(ctx context.Context, imgs []aproto.Image) error {
	h := sha256.New()
	for _, im := range imgs {
		fmt.Fprintf(h, "%s|%s|%s\n", im.Name, im.Ref, im.ID)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	s.imgMu.Lock()
	if s.imgHash == nil {
		s.imgHash = map[string]bool{}
	}
	known := s.imgHash[sum]
	s.imgMu.Unlock()
	if known {
		return nil
	}
	for _, im := range imgs {
		l := im.Labels
		minRes := resource.Slots{}
		if v, err := strconv.ParseFloat(l[types.LabelMinCPU], 64); err == nil {
			minRes[resource.CPU] = v
		}
		if v, err := resource.ParseBytes(l[types.LabelMinMem]); err == nil && l[types.LabelMinMem] != "" {
			minRes[resource.Mem] = float64(v)
		}
		aliases := imageAliases(im.Name)
		err := s.st.Image.Create().SetID(im.Name).SetRef(im.Ref).SetRuntimeType(l[types.LabelRuntimeType]).
			SetRuntimePath(l[types.LabelRuntimePath]).SetLabels(l).SetAliases(aliases).SetMinResources(minRes).SetSize(im.Size).
			Exec(ctx)
		if ent.IsConstraintError(err) {
			err = s.st.Image.UpdateOneID(im.Name).SetRef(im.Ref).SetRuntimeType(l[types.LabelRuntimeType]).
				SetRuntimePath(l[types.LabelRuntimePath]).SetLabels(l).SetAliases(aliases).SetMinResources(minRes).SetSize(im.Size).
				Exec(ctx)
		}
		if err != nil {
			return err
		}
	}
	s.imgMu.Lock()
	s.imgHash[sum] = true
	s.imgMu.Unlock()
	s.invalidateImages()
	return nil
}

// imageAliases gives "python:3.11-debian" the aliases "python" and
// "python3.11" so clients may name just the language.
// extraAliases are the other names people use for a language.
var extraAliases = map[string][]string{
	"nodejs":  {"node", "javascript", "js"},
	"cpp":     {"c++"},
	"haskell": {"ghc"},
	"scheme":  {"guile"},
	"r":       {"R"},
	"bash":    {"sh", "shell"},
}

func imageAliases(name string) []string {
	repo, tag, _ := strings.Cut(name, ":")
	out := []string{repo}
	out = append(out, extraAliases[repo]...)
	if v, _, _ := strings.Cut(tag, "-"); v != "" {
		out = append(out, repo+v)
		if major, _, ok := strings.Cut(v, "."); ok && repo == "python" {
			out = append(out, repo+major)
		}
	}
	return out
}

func (s *Service) reconcile(ctx context.Context, hb aproto.Heartbeat) ([]string, error) {
	reported := map[string]aproto.KernelState{}
	for _, k := range hb.Kernels {
		reported[k.KernelID] = k
	}
	live, err := s.st.Session.Query().Where(session.AgentIDEQ(hb.AgentID), session.StatusIn(aliveStatuses...)).WithKernels().All(ctx)
	if err != nil {
		return nil, err
	}
	wanted := map[string]bool{}
	for _, sess := range live {
		for _, k := range sess.Edges.Kernels {
			st, ok := reported[k.ID.String()]
			switch types.SessionStatus(sess.Status) {
			case types.StatusScheduled, types.StatusPreparing, types.StatusPending:
				// Possibly being started right now by this manager; a start
				// older than its deadline is stale.
				if time.Since(sess.StatusChanged) < time.Minute+startWait(sess) {
					wanted[k.ID.String()] = true
					continue
				}
				s.finish(ctx, sess.ID, types.StatusError, "kernel start was interrupted (agent or manager restarted)")
			case types.StatusTerminating:
				s.finish(ctx, sess.ID, types.StatusTerminated, "user-requested")
			default:
				if ok && st.Running {
					wanted[k.ID.String()] = true
					if k.AgentAddr != hb.Addr {
						_ = s.st.Kernel.UpdateOneID(k.ID).SetAgentAddr(hb.Addr).Exec(ctx)
					}
					continue
				}
				s.finish(ctx, sess.ID, types.StatusError, "kernel container was gone when its agent reported in")
			}
		}
	}
	var orphans []string
	for id := range reported {
		if !wanted[id] {
			orphans = append(orphans, id)
		}
	}
	sort.Strings(orphans)
	return orphans, nil
}

// KernelDied handles an agent's report that a kernel's container died
// without being asked to.
func (s *Service) KernelDied(ctx context.Context, ev aproto.KernelEvent) error {
	id, err := uuid.Parse(ev.KernelID)
	if err != nil {
		return fmt.Errorf("kernel id %q: %w", ev.KernelID, errdefsInvalid)
	}
	sess, err := s.st.Session.Query().Where(session.HasKernelsWith(kernel.IDEQ(id))).Only(ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	switch types.SessionStatus(sess.Status) {
	case types.StatusRunning, types.StatusPreparing, types.StatusScheduled:
	default:
		return nil // being restarted or destroyed: expected
	}
	reason := ev.Reason
	if reason == "" {
		reason = fmt.Sprintf("kernel container exited with code %d", ev.ExitCode)
	}
	if s.finish(ctx, sess.ID, types.StatusError, reason) {
		s.log.Warn("kernel died", "session_id", sess.ID, "kernel_id", id, "reason", reason)
	}
	return nil
}

// WatchAgents marks agents LOST when their heartbeats stop, and turns their
// sessions to ERROR. Agents get a grace period after this manager starts.
func (s *Service) WatchAgents(ctx context.Context) {
	every(ctx, time.Second, func() {
		if err := s.flushHeartbeats(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("record heartbeats", "err", err)
		}
		s.markLost(ctx)
	})
}

// markLost marks ALIVE agents silent past the timeout LOST and ends their
// sessions.
func (s *Service) markLost(ctx context.Context) {
	cutoff := time.Now().Add(-s.cfg.AgentTimeout)
	if s.start.After(cutoff) {
		return
	}
	lost, err := s.st.Agent.Query().Where(agent.StatusEQ(agent.StatusALIVE), agent.LastHeartbeatLT(cutoff)).All(ctx)
	if err != nil {
		return
	}
	for _, a := range lost {
		n, err := s.st.Agent.Update().Where(agent.IDEQ(a.ID), agent.StatusEQ(agent.StatusALIVE), agent.LastHeartbeatLT(cutoff)).
			SetStatus(agent.StatusLOST).SetStatusInfo("no heartbeat for " + s.cfg.AgentTimeout.String()).Save(ctx)
		if err != nil || n == 0 {
			continue
		}
		s.beats.forget(a.ID)
		s.log.Warn("agent lost", "agent_id", a.ID, "last_heartbeat", a.LastHeartbeat)
		sess, _ := s.st.Session.Query().Where(session.AgentIDEQ(a.ID), session.StatusIn(aliveStatuses...)).IDs(ctx)
		for _, id := range sess {
			s.finish(ctx, id, types.StatusError, "agent "+a.ID+" lost (no heartbeat)")
		}
	}
}

var errdefsInvalid = errdefs.ErrInvalidArgument

// recordStatsAsync stores the kernels' statistics a heartbeat carries, off
// the heartbeat's own path. One write per agent is in flight at a time; a
// heartbeat arriving meanwhile skips its sample (the next one carries
// fresher numbers anyway), so a slow database cannot pile up goroutines.
func (s *Service) recordStatsAsync(hb aproto.Heartbeat) {
	has := false
	for _, k := range hb.Kernels {
		if len(k.Stats) > 0 {
			has = true
			break
		}
	}
	if !has {
		return
	}
	if _, busy := s.statsBusy.LoadOrStore(hb.AgentID, true); busy {
		return
	}
	go func() {
		defer s.statsBusy.Delete(hb.AgentID)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.recordKernelStats(ctx, hb)
	}()
}
