// Package scheduler decides where pending sessions run. It exists so that
// placement, the part of the manager with the most rules, is a pure function:
// Plan gets a read-only Snapshot (pending sessions, agent capacities, owner
// usage and limits) and returns a Result (placements and, for every session
// left pending, why). It does no I/O and reads no clock, so the same
// snapshot always gives the same result and it is tested without a server.
//
// # Rounds
//
// One call to Plan is one scheduling round. Pending sessions are split by
// scaling group ("" means "default"); groups are planned one after another in
// name order, each with its own Group settings (a group missing from
// Snapshot.Groups uses FIFO and Concentrated). Capacity and owner usage taken
// by a placement count for every later decision of the round, in every group.
//
// For each session, in the order its group's Policy gives:
//
//  1. Owner limit: if any slot the session requests would push its owner's
//     usage (Snapshot.Usage plus placements made earlier in this round) past
//     the owner's limit (Snapshot.Limits, a keypair resource policy's
//     total_resource_slots), the session is skipped. A slot missing from the
//     owner's limits, or an owner missing from Limits, is unlimited.
//  2. Candidates: the schedulable agents of the session's scaling group that
//     have its image. Draining agents (Schedulable false) receive nothing.
//  3. Fit: every slot the session requests (cpu, mem, cuda.device, any
//     other) must fit in the agent's Available minus Occupied minus what this
//     round already placed there, with the same tolerance as resource.Fits.
//     A slot an agent does not report is zero there. Nothing is over-committed.
//  4. Selector: of the agents that fit, the Group's Selector picks one.
//
// A session that cannot be placed is skipped with a reason; it does not block
// the sessions behind it (no head-of-line blocking).
//
// # Policies
//
// The Policy orders a group's queue, as Backend.AI's schedulers do:
//
//   - FIFO: oldest Enqueued first; equal times by SessionID.
//   - LIFO: newest Enqueued first; equal times by SessionID.
//   - DRF (dominant resource fairness): repeatedly take the next session of
//     the owner with the lowest dominant share. An owner's dominant share is
//     the largest, over slot types, of its usage (Snapshot.Usage plus
//     placements made earlier in this round) divided by the group's total
//     capacity (the sum of Available over the group's schedulable agents;
//     slots with no capacity are ignored). Equal shares go to the owner
//     whose next session was enqueued first. An owner's own sessions are
//     taken oldest first. So a light owner is served before a heavy one, and
//     owners with many queued sessions take turns instead of one draining
//     the queue.
//
// # Selectors
//
// Agents are compared by their free capacity, slot by slot in priority order:
// accelerator slots (every slot other than cpu and mem, by name) first, then
// cpu, then mem, like Backend.AI's agent_selection_resource_priority. The
// first slot that differs decides; agents equal on every slot go to the
// lowest ID.
//
//   - Concentrated: the fitting agent with the least free capacity (bin
//     packing, so large holes stay free for large sessions). Accelerators
//     first means a cpu-only session prefers an agent without free GPUs,
//     keeping GPU machines for GPU sessions.
//   - Dispersed: the fitting agent with the most free capacity (spreading
//     load).
package scheduler

import (
	"cmp"
	"container/heap"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/resource"
)

// Policy orders the pending sessions of a scaling group.
type Policy string

// Scheduling policies; see the package comment.
const (
	FIFO Policy = "fifo"
	LIFO Policy = "lifo"
	DRF  Policy = "drf"
)

// Selector picks one agent among those a session fits on.
type Selector string

// Agent selectors; see the package comment.
const (
	Concentrated Selector = "concentrated"
	Dispersed    Selector = "dispersed"
)

// defaultGroup is the scaling group of sessions and agents that name none.
const defaultGroup = "default"

// eps is resource.Fits's tolerance for float rounding.
const eps = 1e-9

// ParsePolicy parses a policy name case-insensitively; "" is FIFO.
func ParsePolicy(s string) (Policy, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", string(FIFO):
		return FIFO, nil
	case string(LIFO):
		return LIFO, nil
	case string(DRF):
		return DRF, nil
	}
	return "", fmt.Errorf("unknown scheduling policy %q (use fifo, lifo or drf): %w", s, errdefs.ErrInvalidArgument)
}

// ParseSelector parses a selector name case-insensitively; "" is
// Concentrated.
func ParseSelector(s string) (Selector, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", string(Concentrated):
		return Concentrated, nil
	case string(Dispersed):
		return Dispersed, nil
	}
	return "", fmt.Errorf("unknown agent selector %q (use concentrated or dispersed): %w", s, errdefs.ErrInvalidArgument)
}

// Pending is a session waiting for placement.
type Pending struct {
	SessionID    string
	ScalingGroup string         // "" is "default"
	Image        string         // canonical image name
	Owner        string         // access key
	Requested    resource.Slots // what the session needs
	Enqueued     time.Time      // queue order for FIFO and LIFO (ties by SessionID)
}

// Agent is an agent's capacity at snapshot time.
type Agent struct {
	ID           string
	ScalingGroup string         // "" is "default"
	Available    resource.Slots // total capacity
	Occupied     resource.Slots // taken by sessions already running there
	Images       []string       // canonical image names present; may be unsorted
	Schedulable  bool           // false: draining, receives nothing
}

// Group is a scaling group's scheduling settings. Zero or unknown values
// mean FIFO and Concentrated; callers validate user input with ParsePolicy
// and ParseSelector.
type Group struct {
	Policy   Policy
	Selector Selector
}

// Snapshot is everything Plan needs. Plan does not modify it.
type Snapshot struct {
	Pending []Pending
	Agents  []Agent
	Groups  map[string]Group          // by scaling group name; missing: FIFO and Concentrated
	Usage   map[string]resource.Slots // owner to the slots their live sessions already occupy
	Limits  map[string]resource.Slots // owner to total slots allowed; a missing slot is unlimited
}

// Placement assigns a session to an agent.
type Placement struct {
	SessionID string
	AgentID   string
}

// Skip says why a pending session was not placed this round.
type Skip struct {
	SessionID string
	Reason    string // human-readable, e.g. "no agent in scaling group \"default\" has cpu=8 mem=16g free"
}

// Result is a round's plan. Placements are in decision order (groups by
// name, then queue order); every pending session is in exactly one of
// Placements and Skipped.
type Result struct {
	Placements []Placement
	Skipped    []Skip
}

// Plan runs one scheduling round over the snapshot; see the package comment
// for the rules. It is deterministic: the output depends only on the
// snapshot's contents, not on the order of its slices or maps.
func Plan(s Snapshot) Result {
	p := newPlanner(s)
	names := make([]string, 0, len(p.groups))
	for name := range p.groups {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		p.planGroup(p.groups[name])
	}
	return p.res
}

// planner holds one round's state. Slot amounts are dense vectors of k
// floats (slot i is names[i]), so the inner loops neither hash nor allocate.
type planner struct {
	s      Snapshot
	k      int
	names  []string  // slot names in selector priority order
	free   []float64 // agent a's free slots at [a*k:(a+1)*k]; shrinks as sessions are placed
	total  []float64 // agent a's Available
	req    []float64 // pending j's request at [j*k:(j+1)*k]
	owner  []int     // pending j's owner index
	usage  []float64 // owner o's usage at [o*k:(o+1)*k]; grows as sessions are placed
	limit  []float64 // owner o's limits; +Inf where unlimited
	groups map[string]*group
	res    Result
}

// group is one scaling group's share of the round.
type group struct {
	name     string
	policy   Policy
	selector Selector
	pending  []int            // indexes into s.Pending
	agents   []int            // schedulable agents, by ID
	byImage  map[string][]int // requested image to the agents (by ID) that have it
	capacity []float64        // sum of the agents' Available
	failed   map[string]failures
}

// failures remembers requests that fit none of an image's candidates this
// round. Free capacity only shrinks during a round, so a request at least as
// large in every slot cannot fit either and needs no scan; in a full cluster
// that skips most of the work.
type failures [][]float64

// maxFailures bounds the memo so checking it stays cheaper than a scan.
const maxFailures = 16

// covers reports whether some remembered request is no larger than r in
// every slot.
func (fs failures) covers(r []float64) bool {
	for _, f := range fs {
		if leq(f, r) {
			return true
		}
	}
	return false
}

// add remembers r, dropping remembered requests r covers.
func (fs failures) add(r []float64) failures {
	if fs.covers(r) {
		return fs
	}
	out := fs[:0]
	for _, f := range fs {
		if !leq(r, f) {
			out = append(out, f)
		}
	}
	if len(out) >= maxFailures {
		return out
	}
	return append(out, r)
}

func leq(a, b []float64) bool {
	for i, x := range a {
		if x > b[i] {
			return false
		}
	}
	return true
}

func newPlanner(s Snapshot) *planner {
	p := &planner{s: s, groups: map[string]*group{}}

	// Slot names: everything an agent reports or a session requests, in
	// priority order. Usage and limits of other slots never matter.
	seen := map[string]bool{}
	for i := range s.Agents {
		for k := range s.Agents[i].Available {
			seen[k] = true
		}
		for k := range s.Agents[i].Occupied {
			seen[k] = true
		}
	}
	for i := range s.Pending {
		for k := range s.Pending[i].Requested {
			seen[k] = true
		}
	}
	for k := range seen {
		p.names = append(p.names, k)
	}
	slices.SortFunc(p.names, func(a, b string) int {
		return cmp.Or(cmp.Compare(slotRank(a), slotRank(b)), strings.Compare(a, b))
	})
	p.k = len(p.names)
	idx := make(map[string]int, p.k)
	for i, n := range p.names {
		idx[n] = i
	}
	dense := func(dst []float64, v resource.Slots, sign float64) {
		for k, x := range v {
			if i, ok := idx[k]; ok {
				dst[i] += sign * x
			}
		}
	}

	// Pending sessions and their owners.
	p.req = make([]float64, len(s.Pending)*p.k)
	p.owner = make([]int, len(s.Pending))
	owners := map[string]int{}
	for j := range s.Pending {
		pe := &s.Pending[j]
		r := p.req[j*p.k : (j+1)*p.k]
		dense(r, pe.Requested, 1)
		for i := range r {
			r[i] = max(r[i], 0)
		}
		o, ok := owners[pe.Owner]
		if !ok {
			o = len(owners)
			owners[pe.Owner] = o
		}
		p.owner[j] = o
		g := p.group(pe.ScalingGroup)
		g.pending = append(g.pending, j)
	}
	p.usage = make([]float64, len(owners)*p.k)
	p.limit = make([]float64, len(owners)*p.k)
	for name, o := range owners {
		dense(p.usage[o*p.k:(o+1)*p.k], s.Usage[name], 1)
		l := p.limit[o*p.k : (o+1)*p.k]
		for i, n := range p.names {
			if v, ok := s.Limits[name][n]; ok {
				l[i] = v
			} else {
				l[i] = math.Inf(1)
			}
		}
	}

	// Agents of the groups that have pending sessions.
	p.free = make([]float64, len(s.Agents)*p.k)
	p.total = make([]float64, len(s.Agents)*p.k)
	for a := range s.Agents {
		ag := &s.Agents[a]
		g := p.groups[groupName(ag.ScalingGroup)]
		if !ag.Schedulable || g == nil {
			continue
		}
		t := p.total[a*p.k : (a+1)*p.k]
		dense(t, ag.Available, 1)
		f := p.free[a*p.k : (a+1)*p.k]
		copy(f, t)
		dense(f, ag.Occupied, -1)
		g.agents = append(g.agents, a)
	}
	for _, g := range p.groups {
		slices.SortStableFunc(g.agents, func(a, b int) int { return strings.Compare(s.Agents[a].ID, s.Agents[b].ID) })
		g.capacity = make([]float64, p.k)
		g.byImage = map[string][]int{}
		g.failed = map[string]failures{}
		for _, j := range g.pending {
			g.byImage[s.Pending[j].Image] = nil
		}
		for _, a := range g.agents {
			for i, x := range p.total[a*p.k : (a+1)*p.k] {
				g.capacity[i] += x
			}
			for _, im := range s.Agents[a].Images {
				list, ok := g.byImage[im]
				if ok && (len(list) == 0 || list[len(list)-1] != a) {
					g.byImage[im] = append(list, a)
				}
			}
		}
	}
	return p
}

// slotRank orders slot kinds for the selectors: accelerators, cpu, mem.
func slotRank(name string) int {
	switch name {
	case resource.CPU:
		return 1
	case resource.Mem:
		return 2
	}
	return 0
}

func groupName(s string) string {
	if s == "" {
		return defaultGroup
	}
	return s
}

// group returns the named scaling group's state, creating it.
func (p *planner) group(name string) *group {
	name = groupName(name)
	if g := p.groups[name]; g != nil {
		return g
	}
	cfg := p.s.Groups[name]
	pol, err := ParsePolicy(string(cfg.Policy))
	if err != nil {
		pol = FIFO
	}
	sel, err := ParseSelector(string(cfg.Selector))
	if err != nil {
		sel = Concentrated
	}
	g := &group{name: name, policy: pol, selector: sel}
	p.groups[name] = g
	return g
}

// queueOrder compares pending sessions oldest first, ties by SessionID.
func (p *planner) queueOrder(a, b int) int {
	x, y := &p.s.Pending[a], &p.s.Pending[b]
	return cmp.Or(x.Enqueued.Compare(y.Enqueued), strings.Compare(x.SessionID, y.SessionID))
}

func (p *planner) planGroup(g *group) {
	q := slices.Clone(g.pending)
	switch g.policy {
	case LIFO:
		slices.SortStableFunc(q, func(a, b int) int {
			x, y := &p.s.Pending[a], &p.s.Pending[b]
			return cmp.Or(y.Enqueued.Compare(x.Enqueued), strings.Compare(x.SessionID, y.SessionID))
		})
	case DRF:
		slices.SortStableFunc(q, p.queueOrder)
		p.planDRF(g, q)
		return
	default:
		slices.SortStableFunc(q, p.queueOrder)
	}
	for _, j := range q {
		p.place(g, j)
	}
}

// planDRF serves owners lowest dominant share first. Only the served owner's
// share changes (it grows), so a heap of owners keyed by share stays valid.
func (p *planner) planDRF(g *group, q []int) {
	// Per-owner queues, oldest first, in one backing slice.
	byOwner := map[int][]int{}
	var order []int
	for _, j := range q {
		o := p.owner[j]
		if _, ok := byOwner[o]; !ok {
			order = append(order, o)
		}
		byOwner[o] = append(byOwner[o], j)
	}
	h := &drfHeap{p: p}
	for _, o := range order {
		h.items = append(h.items, drfItem{share: p.share(g, o), queue: byOwner[o]})
	}
	heap.Init(h)
	for h.Len() > 0 {
		it := &h.items[0]
		j := it.queue[0]
		it.queue = it.queue[1:]
		if p.place(g, j) {
			it.share = p.share(g, p.owner[j])
		}
		if len(it.queue) == 0 {
			heap.Pop(h)
		} else {
			heap.Fix(h, 0)
		}
	}
}

// share is owner o's dominant share of group g's capacity.
func (p *planner) share(g *group, o int) float64 {
	var s float64
	for i, u := range p.usage[o*p.k : (o+1)*p.k] {
		if c := g.capacity[i]; c > 0 {
			s = max(s, u/c)
		}
	}
	return s
}

type drfItem struct {
	share float64
	queue []int // the owner's remaining sessions, oldest first; never empty in the heap
}

type drfHeap struct {
	p     *planner
	items []drfItem
}

func (h *drfHeap) Len() int { return len(h.items) }
func (h *drfHeap) Less(a, b int) bool {
	x, y := &h.items[a], &h.items[b]
	if x.share != y.share {
		return x.share < y.share
	}
	return h.p.queueOrder(x.queue[0], y.queue[0]) < 0
}
func (h *drfHeap) Swap(a, b int) { h.items[a], h.items[b] = h.items[b], h.items[a] }
func (h *drfHeap) Push(x any)    { h.items = append(h.items, x.(drfItem)) }
func (h *drfHeap) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}

// place tries pending session j in group g, recording a Placement or a Skip.
func (p *planner) place(g *group, j int) bool {
	pe := &p.s.Pending[j]
	k := p.k
	r := p.req[j*k : (j+1)*k]
	o := p.owner[j]
	u, l := p.usage[o*k:(o+1)*k], p.limit[o*k:(o+1)*k]
	for i, x := range r {
		if x > 0 && u[i]+x > l[i]+eps {
			return p.skip(j, fmt.Sprintf("owner's total_resource_slots %s would be exceeded (%s in use, %s requested)",
				p.amount(i, l[i]), p.amount(i, u[i]), p.amount(i, x)))
		}
	}
	cands := g.byImage[pe.Image]
	if len(cands) == 0 {
		return p.skip(j, fmt.Sprintf("no schedulable agent in scaling group %q has the image %s", g.name, pe.Image))
	}
	best := -1
	var bestFree []float64
	if !g.failed[pe.Image].covers(r) {
		for _, a := range cands {
			f := p.free[a*k : (a+1)*k]
			if !fits(r, f) {
				continue
			}
			if best < 0 || better(g.selector, f, bestFree) {
				best, bestFree = a, f
			}
		}
	}
	if best < 0 {
		g.failed[pe.Image] = g.failed[pe.Image].add(r)
		big := false
		for _, a := range cands {
			if fits(r, p.total[a*k:(a+1)*k]) {
				big = true
				break
			}
		}
		if !big {
			return p.skip(j, fmt.Sprintf("no agent in scaling group %q with the image %s is large enough for %s", g.name, pe.Image, p.format(r)))
		}
		return p.skip(j, fmt.Sprintf("no agent in scaling group %q has %s free", g.name, p.format(r)))
	}
	for i, x := range r {
		bestFree[i] -= x
		u[i] += x
	}
	p.res.Placements = append(p.res.Placements, Placement{SessionID: pe.SessionID, AgentID: p.s.Agents[best].ID})
	return true
}

func (p *planner) skip(j int, reason string) bool {
	p.res.Skipped = append(p.res.Skipped, Skip{SessionID: p.s.Pending[j].SessionID, Reason: reason})
	return false
}

// fits is resource.Fits on dense vectors.
func fits(want, free []float64) bool {
	for i, x := range want {
		if x > 0 && x > free[i]+eps {
			return false
		}
	}
	return true
}

// better reports whether free capacity f beats cur under the selector,
// comparing slot by slot in priority order. Equal vectors are not better,
// so the first candidate (lowest ID) wins ties.
func better(sel Selector, f, cur []float64) bool {
	for i, x := range f {
		if x != cur[i] {
			if sel == Dispersed {
				return x > cur[i]
			}
			return x < cur[i]
		}
	}
	return false
}

// format renders a request's non-zero slots by name, e.g. "cpu=2 mem=4g".
func (p *planner) format(v []float64) string {
	var parts []string
	for i, x := range v {
		if x > 0 {
			parts = append(parts, p.amount(i, x))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

// amount renders one slot amount, e.g. "mem=4g" or "cpu=0.5".
func (p *planner) amount(i int, x float64) string {
	n := p.names[i]
	if n == resource.Mem && x == math.Trunc(x) && x >= 0 && x < 1<<62 {
		return n + "=" + resource.FormatBytes(int64(x))
	}
	return n + "=" + strconv.FormatFloat(x, 'f', -1, 64)
}
