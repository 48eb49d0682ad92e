// Package session is the manager's session service: it creates sessions,
// drives them through their lifecycle, relays execution to the agents, and
// reconciles what the database says with what agents report.
//
//	PENDING ─dispatch─▶ SCHEDULED ─▶ PREPARING ─agent ready─▶ RUNNING ─▶ TERMINATING ─▶ TERMINATED
//	   │                                 │                      │  ▲
//	   └─destroy─▶ CANCELLED             └─fail─▶ ERROR ◀─died──┘  └─ RESTARTING
//
// Every transition is a conditional update (WHERE status = expected), so a
// racing destroy, crash report or restart can never resurrect a session or
// free its resources twice. Agent occupancy is derived from the live
// sessions placed on an agent, never stored, so it cannot drift.
package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"baigo.dev/bai/backend/agentrpc"
	"baigo.dev/bai/backend/config"
	"baigo.dev/bai/backend/events"
	"baigo.dev/bai/backend/store"
	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/resource"
	"baigo.dev/bai/common/types"
	"baigo.dev/bai/ent"
	"baigo.dev/bai/ent/kernel"
	"baigo.dev/bai/ent/session"
)

// Owner identifies the keypair a request acts for.
type Owner struct {
	AccessKey string
	Domain    string
	Group     string
}

// Service is the session service.
type Service struct {
	st    *store.Store
	rpc   *agentrpc.Client
	bus   *events.Bus
	log   *slog.Logger
	cfg   config.Config
	wake  chan struct{}
	start time.Time

	imgMu    sync.Mutex
	imgCache []*ent.Image
	imgAt    time.Time
	imgHash  map[string]bool

	polMu    sync.Mutex
	polCache map[string]policyEntry

	seenMu sync.Mutex
	seen   map[string]bool // agents reconciled since this manager started

	act activity

	hooks     Hooks
	mounts    MountResolver
	beats     beats
	demand    demand
	starts    startQueue
	startedCh chan startedKernel
	runDone   <-chan struct{}

	capMu    sync.Mutex
	capCache []resource.Slots
	capAt    time.Time

	statsBusy sync.Map // agent id → a stats write is in flight
	digests   sync.Map // image-list digest → sorted image names
}

// SetHooks installs observers (metrics); call before Run.
func (s *Service) SetHooks(h Hooks) { s.hooks = h }

// New returns a session service.
func New(st *store.Store, rpc *agentrpc.Client, bus *events.Bus, cfg config.Config, log *slog.Logger) *Service {
	return &Service{st: st, rpc: rpc, bus: bus, cfg: cfg, log: log, wake: make(chan struct{}, 1), start: time.Now(), seen: map[string]bool{},
		starts: startQueue{wake: make(chan struct{}, 1)}, startedCh: make(chan startedKernel, 1024)}
}

var (
	aliveStatuses = []string{
		string(types.StatusPending), string(types.StatusScheduled), string(types.StatusPreparing),
		string(types.StatusPulling), string(types.StatusRunning), string(types.StatusRestarting),
		string(types.StatusTerminating),
	}
	nameRE = regexp.MustCompile(`^\w[\w.-]*\w$`)
)

func newName() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "sess-" + hex.EncodeToString(b)
}

// startWorkers is how many kernels one manager starts at once (each waits
// on an agent, mostly; 16 keeps a 2-core manager busy without flooding the
// database pool).
const startWorkers = 16

// startCommitters record started kernels in parallel batches.
const startCommitters = 4

// Kick wakes the dispatcher.
func (s *Service) Kick() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run dispatches pending sessions until ctx ends. It wakes on Kick (a new
// session, freed capacity, a new agent) and, as a safety net, every few
// seconds.
func (s *Service) Run(ctx context.Context) {
	s.runDone = ctx.Done()
	s.startWorkers(ctx, startWorkers)
	// A few committers: on Postgres each statement is a round trip, so
	// batches committed side by side keep up with the start workers.
	for range startCommitters {
		go s.commitStarted(ctx)
	}
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		if err := s.dispatch(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("dispatch", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-t.C:
		}
	}
}

// occupancy sums the slots of the live sessions placed on agents, per agent
// and per owner, in one pass.
func (s *Service) occupancy(ctx context.Context) (perAgent, perOwner map[string]resource.Slots, err error) {
	rows, err := s.st.Session.Query().
		Where(session.StatusIn(aliveStatuses...), session.AgentIDNEQ("")).
		Select(session.FieldAgentID, session.FieldOwnerAccessKey, session.FieldRequestedSlots).All(ctx)
	if err != nil {
		return nil, nil, err
	}
	perAgent, perOwner = map[string]resource.Slots{}, map[string]resource.Slots{}
	for _, r := range rows {
		perAgent[r.AgentID] = perAgent[r.AgentID].Add(r.RequestedSlots)
		perOwner[r.OwnerAccessKey] = perOwner[r.OwnerAccessKey].Add(r.RequestedSlots)
	}
	return perAgent, perOwner, nil
}

func (s *Service) publish(sess *ent.Session, name, status, reason string) {
	s.bus.Publish(events.Event{Name: name, SessionID: sess.ID.String(), SessionName: sess.Name,
		OwnerAccessKey: sess.OwnerAccessKey, Status: status, Reason: reason})
}

// startKernel asks the agent to start a placed (PREPARING) session's
// kernel; sess was loaded with its kernels by the scheduling round. The
// outcome is recorded by commitStarted.
func (s *Service) startKernel(ctx context.Context, sess *ent.Session, agentID, addr string) {
	id := sess.ID
	// A read, cheap and concurrent: skip sessions destroyed while queued.
	if ok, err := s.st.Session.Query().Where(session.IDEQ(id), session.StatusEQ(string(types.StatusPreparing))).Exist(ctx); err != nil || !ok {
		return
	}
	if len(sess.Edges.Kernels) == 0 {
		s.finish(ctx, id, types.StatusError, "session has no kernel record")
		return
	}
	k := sess.Edges.Kernels[0]
	req := aproto.CreateKernel{
		KernelID: k.ID.String(), SessionID: id.String(), SessionName: sess.Name,
		OwnerAccessKey: sess.OwnerAccessKey, Image: sess.Image,
		Resources: sess.RequestedSlots, Environ: sess.Environ, Network: sess.Network, Mounts: sess.Mounts,
		BootstrapScript: sess.BootstrapScript,
	}
	if img, _, _ := s.ImageByName(ctx, sess.Image); img != nil {
		req.Image, req.RuntimeType, req.RuntimePath = img.Ref, img.RuntimeType, img.RuntimePath
		req.JailPolicy = img.Labels[types.LabelJailPolicy]
	}
	cctx, cancel := context.WithTimeout(ctx, startWait(sess))
	info, err := s.rpc.CreateKernel(cctx, addr, req)
	cancel()
	if err != nil {
		reason := "kernel start failed: " + err.Error()
		// The script's own failure is the user's to fix: report it as
		// the agent worded it, without the wrapping.
		if i := strings.Index(err.Error(), aproto.BootstrapFailed); i >= 0 {
			reason = err.Error()[i:]
		} else {
			s.log.Warn("kernel start failed", "session_id", id, "agent_id", agentID, "err", err)
		}
		s.finish(ctx, id, types.StatusError, reason)
		return
	}
	select {
	case s.startedCh <- startedKernel{sess: sess, kernelID: k.ID, containerID: info.ContainerID, addr: addr}:
	case <-s.runDone: // shutting down: the next manager reconciles it
	}
}

// startWait is how long starting a session's kernel may take: a bootstrap
// script gets its own time limit on top.
func startWait(sess *ent.Session) time.Duration {
	if sess.BootstrapScript != "" {
		return 2*time.Minute + aproto.BootstrapTimeout
	}
	return 2 * time.Minute
}

// finish moves a live session to a final status. It is a no-op when the
// session is already final, so racing reports are harmless.
func (s *Service) finish(ctx context.Context, id uuid.UUID, st types.SessionStatus, reason string) bool {
	now := time.Now()
	var sess *ent.Session
	err := s.st.Tx(ctx, func(tx *ent.Tx) error {
		n, err := tx.Session.Update().Where(session.IDEQ(id), session.StatusIn(aliveStatuses...)).
			SetStatus(string(st)).SetStatusInfo(reason).SetStatusChanged(now).
			ClearAliveName().SetTerminatedAt(now).Save(ctx)
		if err != nil || n == 0 {
			return errors.Join(err, errdefs.ErrConflict)
		}
		if err := tx.Kernel.Update().Where(kernel.HasSessionWith(session.IDEQ(id))).
			SetStatus(string(st)).SetStatusInfo(reason).SetTerminatedAt(now).Exec(ctx); err != nil {
			return err
		}
		sess, err = tx.Session.Get(ctx, id)
		return err
	})
	if err != nil {
		return false
	}
	name := events.SessionTerminated
	switch st {
	case types.StatusError:
		name = events.SessionFailure
	case types.StatusCancelled:
		name = events.SessionCancelled
	}
	s.publish(sess, name, string(st), reason)
	s.Kick() // capacity freed
	return true
}

// NameOK reports whether a session name is acceptable.
func NameOK(n string) bool { return len(n) >= 4 && len(n) <= 64 && nameRE.MatchString(n) }

// Find resolves a session by UUID or name for owner: the live session with
// that name, else an ERROR one awaiting removal, else the most recent ended
// one (so callers can say why it ended).
func (s *Service) Find(ctx context.Context, owner string, nameOrID string) (*ent.Session, error) {
	q := s.st.Session.Query().Where(session.OwnerAccessKeyEQ(owner))
	if id, err := uuid.Parse(nameOrID); err == nil {
		sess, err := q.Where(session.IDEQ(id)).WithKernels().Only(ctx)
		if ent.IsNotFound(err) {
			return nil, fmt.Errorf("session %q: %w", nameOrID, errdefs.ErrNotFound)
		}
		return sess, err
	}
	sess, err := q.Where(session.AliveNameEQ(nameOrID)).WithKernels().Only(ctx)
	if err == nil {
		return sess, nil
	}
	if !ent.IsNotFound(err) {
		return nil, err
	}
	// No live one: an ERROR session still awaiting removal comes first (so
	// `rm NAME` cleans it), else the most recent ended one.
	sess, err = s.st.Session.Query().Where(session.OwnerAccessKeyEQ(owner), session.NameEQ(nameOrID),
		session.StatusEQ(string(types.StatusError))).Order(ent.Desc(session.FieldCreatedAt)).WithKernels().First(ctx)
	if ent.IsNotFound(err) {
		sess, err = s.st.Session.Query().Where(session.OwnerAccessKeyEQ(owner), session.NameEQ(nameOrID)).
			Order(ent.Desc(session.FieldCreatedAt)).WithKernels().First(ctx)
	}
	if ent.IsNotFound(err) {
		return nil, fmt.Errorf("session %q: %w", nameOrID, errdefs.ErrNotFound)
	}
	return sess, err
}

// running resolves a session that must be RUNNING and its kernel.
func (s *Service) running(ctx context.Context, owner, nameOrID string) (*ent.Session, *ent.Kernel, error) {
	sess, err := s.Find(ctx, owner, nameOrID)
	if err != nil {
		return nil, nil, err
	}
	if sess.Status != string(types.StatusRunning) || len(sess.Edges.Kernels) == 0 {
		why := ""
		if sess.StatusInfo != "" {
			why = " (" + sess.StatusInfo + ")"
		}
		hint := "wait until it is RUNNING"
		if types.SessionStatus(sess.Status).Final() {
			hint = "create a new session"
		}
		return nil, nil, fmt.Errorf("session %q is %s%s; %s: %w", sess.Name, sess.Status, why, hint, errdefs.ErrConflict)
	}
	return sess, sess.Edges.Kernels[0], nil
}

// kernelGone turns a session whose kernel vanished into ERROR.
func (s *Service) kernelGone(ctx context.Context, sess *ent.Session, err error) error {
	if agentrpc.IsGone(err) {
		s.finish(ctx, sess.ID, types.StatusError, "kernel container is gone")
		return fmt.Errorf("session %q lost its kernel container; create a new session: %w", sess.Name, errdefs.ErrConflict)
	}
	return err
}

// ImageByName resolves a canonical name, a docker reference or an alias.
func (s *Service) ImageByName(ctx context.Context, name string) (*ent.Image, []string, error) {
	imgs, err := s.Images(ctx)
	if err != nil {
		return nil, nil, err
	}
	var names []string
	for _, im := range imgs {
		names = append(names, im.ID)
		if im.ID == name || im.Ref == name {
			return im, nil, nil
		}
		for _, a := range im.Aliases {
			if a == name {
				return im, nil, nil
			}
		}
	}
	return nil, names, nil
}

// Images lists the known images (cached for a second: they change only
// with agents' heartbeats).
func (s *Service) Images(ctx context.Context) ([]*ent.Image, error) {
	s.imgMu.Lock()
	defer s.imgMu.Unlock()
	if s.imgCache != nil && time.Since(s.imgAt) < time.Second {
		return s.imgCache, nil
	}
	imgs, err := s.st.Image.Query().Order(ent.Asc("name")).All(ctx)
	if err != nil {
		return nil, err
	}
	s.imgCache, s.imgAt = imgs, time.Now()
	return imgs, nil
}

func (s *Service) invalidateImages() {
	s.imgMu.Lock()
	s.imgCache = nil
	s.imgMu.Unlock()
}

// ErrorReason renders why a request for a missing image failed.
func unknownImage(name string, avail []string) error {
	list := "none (build them with `make images`)"
	if len(avail) > 0 {
		list = strings.Join(avail, ", ")
	}
	return fmt.Errorf("unknown image %q; available images: %s: %w", name, list, errdefs.ErrInvalidArgument)
}

// Subscribe delivers session events that match until cancel is called; the
// events API streams them.
func (s *Service) Subscribe(match func(events.Event) bool) (<-chan events.Event, func()) {
	// Room for a burst: a scheduling round can place thousands at once.
	return s.bus.SubscribeN(match, 4096)
}
