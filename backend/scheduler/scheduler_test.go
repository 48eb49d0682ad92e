package scheduler_test

import (
	"errors"
	"fmt"
	"maps"
	"math/rand"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"baigo.dev/bai/backend/scheduler"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/resource"
)

const py = "python:3.11-debian"

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// at is the n-th second of the test queue.
func at(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

func slots(cpu, memGiB float64) resource.Slots {
	return resource.Slots{resource.CPU: cpu, resource.Mem: memGiB * (1 << 30)}
}

func gpus(cpu, memGiB, devices float64) resource.Slots {
	s := slots(cpu, memGiB)
	s[resource.CUDADevice] = devices
	return s
}

// agent is a schedulable agent in the default group with the python image.
func agent(id string, avail resource.Slots) scheduler.Agent {
	return scheduler.Agent{ID: id, Available: avail, Images: []string{py}, Schedulable: true}
}

// pend is a python session of owner enqueued at second n.
func pend(id, owner string, n int, req resource.Slots) scheduler.Pending {
	return scheduler.Pending{SessionID: id, Owner: owner, Image: py, Requested: req, Enqueued: at(n)}
}

func inGroup(p scheduler.Pending, g string) scheduler.Pending { p.ScalingGroup = g; return p }

func agentIn(a scheduler.Agent, g string) scheduler.Agent { a.ScalingGroup = g; return a }

func occupied(a scheduler.Agent, occ resource.Slots) scheduler.Agent { a.Occupied = occ; return a }

func pl(pairs ...string) []scheduler.Placement {
	var out []scheduler.Placement
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, scheduler.Placement{SessionID: pairs[i], AgentID: pairs[i+1]})
	}
	return out
}

func groups(pol scheduler.Policy, sel scheduler.Selector, names ...string) map[string]scheduler.Group {
	m := map[string]scheduler.Group{}
	for _, n := range names {
		m[n] = scheduler.Group{Policy: pol, Selector: sel}
	}
	return m
}

func TestPlan(t *testing.T) {
	t.Parallel()
	scarce := []scheduler.Pending{pend("s1", "u", 1, slots(2, 1)), pend("s2", "u", 2, slots(2, 1)), pend("s3", "u", 3, slots(2, 1))}
	full := `has cpu=2 mem=1g free`
	// Two owners with three sessions each; the agent has room for four.
	turns := []scheduler.Pending{
		pend("a1", "A", 1, slots(2, 1)), pend("a2", "A", 2, slots(2, 1)), pend("a3", "A", 3, slots(2, 1)),
		pend("b1", "B", 4, slots(2, 1)), pend("b2", "B", 5, slots(2, 1)), pend("b3", "B", 6, slots(2, 1)),
	}
	// heavy already uses half the cpu; the agent has room for one more session.
	fairness := scheduler.Snapshot{
		Pending: []scheduler.Pending{pend("h1", "heavy", 1, slots(2, 1)), pend("l1", "light", 2, slots(2, 1))},
		Agents:  []scheduler.Agent{occupied(agent("a", slots(8, 32)), slots(6, 0))},
		Usage:   map[string]resource.Slots{"heavy": slots(4, 0)},
	}
	twoGPUAgents := []scheduler.Agent{agent("a", gpus(16, 64, 2)), agent("b", gpus(16, 64, 2))}
	fourGPUSessions := []scheduler.Pending{
		pend("g1", "u", 1, gpus(1, 1, 1)), pend("g2", "u", 2, gpus(1, 1, 1)),
		pend("g3", "u", 3, gpus(1, 1, 1)), pend("g4", "u", 4, gpus(1, 1, 1)),
	}
	cases := []struct {
		name    string
		snap    scheduler.Snapshot
		want    []scheduler.Placement
		skipped map[string]string // session to a fragment of its reason
	}{
		{
			name:    "fifo places the oldest when capacity is scarce",
			snap:    scheduler.Snapshot{Pending: scarce, Agents: []scheduler.Agent{agent("a", slots(4, 16))}},
			want:    pl("s1", "a", "s2", "a"),
			skipped: map[string]string{"s3": full},
		},
		{
			name: "lifo places the newest when capacity is scarce",
			snap: scheduler.Snapshot{Pending: scarce, Agents: []scheduler.Agent{agent("a", slots(4, 16))},
				Groups: groups(scheduler.LIFO, "", "default")},
			want:    pl("s3", "a", "s2", "a"),
			skipped: map[string]string{"s1": full},
		},
		{
			name: "fifo breaks equal enqueue times by session id, not input order",
			snap: scheduler.Snapshot{
				Pending: []scheduler.Pending{pend("b", "u", 1, slots(2, 1)), pend("c", "u", 1, slots(2, 1)), pend("a", "u", 1, slots(2, 1))},
				Agents:  []scheduler.Agent{agent("x", slots(4, 16))},
			},
			want:    pl("a", "x", "b", "x"),
			skipped: map[string]string{"c": full},
		},
		{
			name:    "fifo serves the heavy owner who queued first",
			snap:    fairness,
			want:    pl("h1", "a"),
			skipped: map[string]string{"l1": full},
		},
		{
			name: "drf serves the light owner before the heavy one",
			snap: func() scheduler.Snapshot {
				s := fairness
				s.Groups = groups(scheduler.DRF, "", "default")
				return s
			}(),
			want:    pl("l1", "a"),
			skipped: map[string]string{"h1": full},
		},
		{
			name: "drf compares dominant shares: mem 75% outranks cpu 50%",
			snap: scheduler.Snapshot{
				Pending: []scheduler.Pending{pend("m1", "memhog", 1, slots(2, 1)), pend("c1", "cpuhog", 2, slots(2, 1))},
				Agents:  []scheduler.Agent{occupied(agent("a", slots(8, 32)), slots(6, 0))},
				Groups:  groups(scheduler.DRF, "", "default"),
				Usage:   map[string]resource.Slots{"memhog": slots(1, 24), "cpuhog": slots(4, 0)},
			},
			want:    pl("c1", "a"),
			skipped: map[string]string{"m1": full},
		},
		{
			name: "drf lets owners take turns, counting this round's placements",
			snap: scheduler.Snapshot{Pending: turns, Agents: []scheduler.Agent{agent("a", slots(8, 16))},
				Groups: groups(scheduler.DRF, "", "default")},
			want:    pl("a1", "a", "b1", "a", "a2", "a", "b2", "a"),
			skipped: map[string]string{"a3": full, "b3": full},
		},
		{
			name:    "fifo lets the first owner drain the queue",
			snap:    scheduler.Snapshot{Pending: turns, Agents: []scheduler.Agent{agent("a", slots(8, 16))}},
			want:    pl("a1", "a", "a2", "a", "a3", "a", "b1", "a"),
			skipped: map[string]string{"b2": full, "b3": full},
		},
		{
			name: "concentrated picks the fullest agent that fits",
			snap: scheduler.Snapshot{
				Pending: []scheduler.Pending{pend("s1", "u", 1, slots(1, 1))},
				Agents:  []scheduler.Agent{occupied(agent("a", slots(8, 16)), slots(1, 1)), occupied(agent("b", slots(8, 16)), slots(6, 8))},
			},
			want: pl("s1", "b"),
		},
		{
			name: "dispersed picks the emptiest agent",
			snap: scheduler.Snapshot{
				Pending: []scheduler.Pending{pend("s1", "u", 1, slots(1, 1))},
				Agents:  []scheduler.Agent{occupied(agent("a", slots(8, 16)), slots(1, 1)), occupied(agent("b", slots(8, 16)), slots(6, 8))},
				Groups:  groups("", scheduler.Dispersed, "default"),
			},
			want: pl("s1", "a"),
		},
		{
			name: "concentrated compares cpu before mem",
			snap: scheduler.Snapshot{
				Pending: []scheduler.Pending{pend("s1", "u", 1, slots(1, 1))},
				Agents:  []scheduler.Agent{occupied(agent("a", slots(8, 16)), slots(4, 1)), occupied(agent("b", slots(8, 16)), slots(3, 12))},
			},
			want: pl("s1", "a"),
		},
		{
			name: "concentrated keeps gpu agents free for gpu sessions",
			snap: scheduler.Snapshot{
				Pending: []scheduler.Pending{pend("s1", "u", 1, slots(1, 1))},
				Agents:  []scheduler.Agent{agent("c", slots(32, 64)), occupied(agent("g", gpus(8, 64, 2)), slots(6, 0))},
			},
			want: pl("s1", "c"),
		},
		{
			name: "equal agents go to the lowest id whatever the input order",
			snap: scheduler.Snapshot{
				Pending: []scheduler.Pending{pend("s1", "u", 1, slots(1, 1))},
				Agents:  []scheduler.Agent{agent("c", slots(8, 16)), agent("a", slots(8, 16)), agent("b", slots(8, 16))},
				Groups:  groups("", scheduler.Dispersed, "default"),
			},
			want: pl("s1", "a"),
		},
		{
			name: "no over-commit across one round",
			snap: scheduler.Snapshot{
				Pending: []scheduler.Pending{
					pend("s1", "u", 1, slots(2, 1)), pend("s2", "u", 2, slots(2, 1)),
					pend("s3", "u", 3, slots(1, 1)), pend("s4", "u", 4, slots(0.5, 14)),
				},
				Agents: []scheduler.Agent{agent("a", slots(4, 16))},
			},
			want:    pl("s1", "a", "s2", "a"),
			skipped: map[string]string{"s3": "has cpu=1 mem=1g free", "s4": "has cpu=0.5 mem=14g free"},
		},
		{
			name: "an agent with two gpus takes at most two one-gpu sessions",
			snap: scheduler.Snapshot{
				Pending: fourGPUSessions[:3],
				Agents:  []scheduler.Agent{agent("a", gpus(16, 64, 2))},
			},
			want:    pl("g1", "a", "g2", "a"),
			skipped: map[string]string{"g3": "has cpu=1 cuda.device=1 mem=1g free"},
		},
		{
			name:    "concentrated fills one gpu agent before the next",
			snap:    scheduler.Snapshot{Pending: fourGPUSessions, Agents: twoGPUAgents},
			want:    pl("g1", "a", "g2", "a", "g3", "b", "g4", "b"),
			skipped: map[string]string{},
		},
		{
			name:    "dispersed alternates gpu agents",
			snap:    scheduler.Snapshot{Pending: fourGPUSessions, Agents: twoGPUAgents, Groups: groups("", scheduler.Dispersed, "default")},
			want:    pl("g1", "a", "g2", "b", "g3", "a", "g4", "b"),
			skipped: map[string]string{},
		},
		{
			name:    "a gpu session never lands on an agent without gpus",
			snap:    scheduler.Snapshot{Pending: fourGPUSessions[:1], Agents: []scheduler.Agent{agent("a", slots(64, 256))}},
			skipped: map[string]string{"g1": "is large enough for cpu=1 cuda.device=1 mem=1g"},
		},
		{
			name: "owner limit counts usage and earlier placements of the round",
			snap: scheduler.Snapshot{
				Pending: []scheduler.Pending{pend("o1", "o", 1, slots(2, 1)), pend("o2", "o", 2, slots(2, 1)), pend("p1", "p", 3, slots(2, 1))},
				Agents:  []scheduler.Agent{agent("a", slots(64, 256))},
				Usage:   map[string]resource.Slots{"o": slots(2, 0)},
				Limits:  map[string]resource.Slots{"o": {resource.CPU: 4}},
			},
			want:    pl("o1", "a", "p1", "a"),
			skipped: map[string]string{"o2": "owner's total_resource_slots cpu=4 would be exceeded"},
		},
		{
			name: "a slot missing from the limits is unlimited",
			snap: scheduler.Snapshot{
				Pending: []scheduler.Pending{pend("big", "o", 1, slots(64, 1)), pend("gpu", "o", 2, gpus(1, 1, 1))},
				Agents:  []scheduler.Agent{agent("a", gpus(128, 256, 4))},
				Usage:   map[string]resource.Slots{"o": slots(1000, 0)},
				Limits:  map[string]resource.Slots{"o": {resource.Mem: 1 << 40, resource.CUDADevice: 0}},
			},
			want:    pl("big", "a"),
			skipped: map[string]string{"gpu": "total_resource_slots cuda.device=0 would be exceeded"},
		},
		{
			name: "owner limit spans scaling groups within the round",
			snap: scheduler.Snapshot{
				Pending: []scheduler.Pending{inGroup(pend("y1", "o", 1, slots(2, 1)), "b"), inGroup(pend("x1", "o", 2, slots(2, 1)), "a")},
				Agents:  []scheduler.Agent{agentIn(agent("aa", slots(8, 16)), "a"), agentIn(agent("bb", slots(8, 16)), "b")},
				Limits:  map[string]resource.Slots{"o": {resource.CPU: 3}},
			},
			want:    pl("x1", "aa"),
			skipped: map[string]string{"y1": "cpu=3 would be exceeded"},
		},
		{
			name: "draining agents receive nothing",
			snap: scheduler.Snapshot{
				Pending: []scheduler.Pending{pend("s1", "u", 1, slots(1, 1))},
				Agents: []scheduler.Agent{
					{ID: "a", Available: slots(64, 256), Images: []string{py}},
					occupied(agent("b", slots(8, 16)), slots(6, 8)),
				},
				Groups: groups("", scheduler.Dispersed, "default"),
			},
			want: pl("s1", "b"),
		},
		{
			name: "only draining agents",
			snap: scheduler.Snapshot{
				Pending: []scheduler.Pending{pend("s1", "u", 1, slots(1, 1))},
				Agents:  []scheduler.Agent{{ID: "a", Available: slots(64, 256), Images: []string{py}}},
			},
			skipped: map[string]string{"s1": `no schedulable agent in scaling group "default" has the image ` + py},
		},
		{
			name: "scaling groups are isolated",
			snap: scheduler.Snapshot{
				Pending: []scheduler.Pending{inGroup(pend("s1", "u", 1, slots(1, 1)), "gpu"), inGroup(pend("s2", "u", 2, slots(1, 1)), "cpu")},
				Agents:  []scheduler.Agent{agent("a", slots(64, 256)), agentIn(agent("b", slots(2, 2)), "cpu")},
			},
			want:    pl("s2", "b"),
			skipped: map[string]string{"s1": `scaling group "gpu"`},
		},
		{
			name: `"" is the default scaling group`,
			snap: scheduler.Snapshot{
				Pending: []scheduler.Pending{pend("s1", "u", 1, slots(1, 1)), inGroup(pend("s2", "u", 2, slots(1, 1)), "default")},
				Agents:  []scheduler.Agent{agentIn(agent("a", slots(1, 1)), "default"), agent("b", slots(1, 1))},
			},
			want:    pl("s1", "a", "s2", "b"),
			skipped: map[string]string{},
		},
		{
			name: "each scaling group uses its own policy",
			snap: scheduler.Snapshot{
				Pending: []scheduler.Pending{
					inGroup(pend("y1", "u", 1, slots(2, 1)), "y"), inGroup(pend("y2", "u", 2, slots(2, 1)), "y"),
					inGroup(pend("x1", "u", 1, slots(2, 1)), "x"), inGroup(pend("x2", "u", 2, slots(2, 1)), "x"),
				},
				Agents: []scheduler.Agent{agentIn(agent("ay", slots(2, 16)), "y"), agentIn(agent("ax", slots(2, 16)), "x")},
				Groups: map[string]scheduler.Group{"x": {Policy: scheduler.LIFO}, "y": {Policy: scheduler.FIFO}},
			},
			want:    pl("x2", "ax", "y1", "ay"),
			skipped: map[string]string{"x1": full, "y2": full},
		},
		{
			name: "unknown group settings fall back to fifo and concentrated",
			snap: scheduler.Snapshot{
				Pending: scarce,
				Agents:  []scheduler.Agent{agent("a", slots(4, 16)), occupied(agent("b", slots(4, 16)), slots(2, 0))},
				Groups:  groups("weird", "odd", "default"),
			},
			want:    pl("s1", "b", "s2", "a", "s3", "a"),
			skipped: map[string]string{},
		},
		{
			name: "the agent needs the image; image lists may be unsorted",
			snap: scheduler.Snapshot{
				Pending: []scheduler.Pending{
					{SessionID: "s1", Owner: "u", Image: "r:4", Requested: slots(1, 1)},
					{SessionID: "s2", Owner: "u", Image: "julia:1", Requested: slots(1, 1)},
				},
				Agents: []scheduler.Agent{
					occupied(agent("a", slots(8, 16)), slots(7, 0)),
					{ID: "b", Available: slots(8, 16), Images: []string{"z:1", "r:4", "a:1", "r:4"}, Schedulable: true},
				},
			},
			want:    pl("s1", "b"),
			skipped: map[string]string{"s2": `no schedulable agent in scaling group "default" has the image julia:1`},
		},
		{
			name: "no head-of-line blocking",
			snap: scheduler.Snapshot{
				Pending: []scheduler.Pending{
					pend("huge", "u", 1, slots(64, 1)), pend("big", "u", 2, slots(6, 1)), pend("small", "u", 3, slots(1, 1)),
				},
				Agents: []scheduler.Agent{occupied(agent("a", slots(8, 16)), slots(4, 0))},
			},
			want: pl("small", "a"),
			skipped: map[string]string{
				"huge": `no agent in scaling group "default" with the image ` + py + ` is large enough for cpu=64 mem=1g`,
				"big":  `no agent in scaling group "default" has cpu=6 mem=1g free`,
			},
		},
		{
			name:    "no agents at all",
			snap:    scheduler.Snapshot{Pending: scarce[:1]},
			skipped: map[string]string{"s1": "no schedulable agent"},
		},
		{
			name: "nothing pending",
			snap: scheduler.Snapshot{Agents: []scheduler.Agent{agent("a", slots(4, 16))}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			before := cloneSnapshot(c.snap)
			got := scheduler.Plan(c.snap)
			if !slices.Equal(got.Placements, c.want) {
				t.Errorf("placements:\n got %v\nwant %v", got.Placements, c.want)
			}
			if len(got.Skipped) != len(c.skipped) {
				t.Errorf("skipped %v, want %d", got.Skipped, len(c.skipped))
			}
			for _, sk := range got.Skipped {
				if frag, ok := c.skipped[sk.SessionID]; !ok || !strings.Contains(sk.Reason, frag) {
					t.Errorf("skip %s: reason %q, want it to contain %q", sk.SessionID, sk.Reason, frag)
				}
			}
			checkInvariants(t, c.snap, got)
			if again := scheduler.Plan(c.snap); !reflect.DeepEqual(again, got) {
				t.Errorf("not deterministic:\n%v\n%v", got, again)
			}
			if !reflect.DeepEqual(before, c.snap) {
				t.Errorf("snapshot modified")
			}
		})
	}
}

func TestParsePolicy(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]scheduler.Policy{
		"": scheduler.FIFO, "fifo": scheduler.FIFO, "FIFO": scheduler.FIFO, " Lifo ": scheduler.LIFO, "drf": scheduler.DRF, "DRF": scheduler.DRF,
	} {
		if got, err := scheduler.ParsePolicy(in); err != nil || got != want {
			t.Errorf("ParsePolicy(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"bogus", "round-robin", "fifo,lifo"} {
		_, err := scheduler.ParsePolicy(in)
		if err == nil || !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "fifo, lifo or drf") {
			t.Errorf("ParsePolicy(%q) error = %v; want invalid argument naming fifo, lifo or drf", in, err)
		}
	}
}

func TestParseSelector(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]scheduler.Selector{
		"": scheduler.Concentrated, "concentrated": scheduler.Concentrated, "Dispersed": scheduler.Dispersed, "DISPERSED": scheduler.Dispersed,
	} {
		if got, err := scheduler.ParseSelector(in); err != nil || got != want {
			t.Errorf("ParseSelector(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"spread", "roundrobin"} {
		_, err := scheduler.ParseSelector(in)
		if err == nil || !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), "concentrated or dispersed") {
			t.Errorf("ParseSelector(%q) error = %v; want invalid argument naming concentrated or dispersed", in, err)
		}
	}
}

// TestPlanProperties plans random snapshots with every policy and selector
// and checks what must always hold: no agent or owner ends over its
// capacity or limit, every session is accounted for, skipped sessions truly
// do not fit at the end of the round, and the result depends only on the
// snapshot's contents.
func TestPlanProperties(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(1))
	for i := range 300 {
		snap := randomSnapshot(rng)
		for _, pol := range []scheduler.Policy{scheduler.FIFO, scheduler.LIFO, scheduler.DRF} {
			for _, sel := range []scheduler.Selector{scheduler.Concentrated, scheduler.Dispersed} {
				snap.Groups = groups(pol, sel, "default", "gpu", "x")
				before := cloneSnapshot(snap)
				got := scheduler.Plan(snap)
				name := fmt.Sprintf("snapshot %d %s/%s", i, pol, sel)
				checkInvariants(t, snap, got)
				if !reflect.DeepEqual(before, snap) {
					t.Fatalf("%s: snapshot modified", name)
				}
				shuffled := cloneSnapshot(snap)
				rng.Shuffle(len(shuffled.Pending), func(a, b int) { shuffled.Pending[a], shuffled.Pending[b] = shuffled.Pending[b], shuffled.Pending[a] })
				rng.Shuffle(len(shuffled.Agents), func(a, b int) { shuffled.Agents[a], shuffled.Agents[b] = shuffled.Agents[b], shuffled.Agents[a] })
				if again := scheduler.Plan(shuffled); !reflect.DeepEqual(again, got) {
					t.Fatalf("%s: result depends on input order:\n%v\n%v", name, got, again)
				}
				if t.Failed() {
					t.Fatalf("%s failed: %+v", name, snap)
				}
			}
		}
	}
}

func randomSnapshot(rng *rand.Rand) scheduler.Snapshot {
	groupNames := []string{"", "default", "gpu", "x"}
	images := []string{"i1", "i2", "i3", "i4"}
	owners := []string{"o1", "o2", "o3", "o4"}
	var s scheduler.Snapshot
	for i, id := range rng.Perm(rng.Intn(14)) {
		a := scheduler.Agent{
			ID:           fmt.Sprintf("a%02d", id),
			ScalingGroup: groupNames[rng.Intn(len(groupNames))],
			Available:    slots(float64(rng.Intn(17)), float64(rng.Intn(33))),
			Schedulable:  rng.Intn(5) > 0,
		}
		if i%3 == 0 {
			a.Available[resource.CUDADevice] = float64(rng.Intn(5))
		}
		a.Occupied = resource.Slots{}
		for k, v := range a.Available {
			a.Occupied[k] = float64(rng.Intn(int(v)/2 + 2)) // sometimes more than available
		}
		for _, im := range images[:3] {
			if rng.Intn(3) > 0 {
				a.Images = append(a.Images, im)
			}
		}
		s.Agents = append(s.Agents, a)
	}
	for _, id := range rng.Perm(rng.Intn(50)) {
		p := scheduler.Pending{
			SessionID:    fmt.Sprintf("s%03d", id),
			ScalingGroup: groupNames[rng.Intn(len(groupNames))],
			Image:        images[rng.Intn(len(images))],
			Owner:        owners[rng.Intn(len(owners))],
			Requested:    slots([]float64{0.5, 1, 2, 4}[rng.Intn(4)], []float64{0.5, 1, 2, 4}[rng.Intn(4)]),
			Enqueued:     at(rng.Intn(20)),
		}
		if rng.Intn(4) == 0 {
			p.Requested[resource.CUDADevice] = float64(1 + rng.Intn(2))
		}
		s.Pending = append(s.Pending, p)
	}
	s.Usage = map[string]resource.Slots{}
	s.Limits = map[string]resource.Slots{}
	for _, o := range owners {
		if rng.Intn(2) == 0 {
			s.Usage[o] = slots(float64(rng.Intn(8)), float64(rng.Intn(16)))
		}
		if rng.Intn(2) == 0 {
			l := resource.Slots{}
			if rng.Intn(2) == 0 {
				l[resource.CPU] = float64(rng.Intn(16))
			}
			if rng.Intn(2) == 0 {
				l[resource.Mem] = float64(rng.Intn(32)) * (1 << 30)
			}
			if rng.Intn(2) == 0 {
				l[resource.CUDADevice] = float64(rng.Intn(3))
			}
			s.Limits[o] = l
		}
	}
	return s
}

// checkInvariants verifies a result against its snapshot independently of
// the planner: placements are legal, nothing is over-committed, every
// session appears once, and every skipped session really cannot be placed
// at the end of the round (so nothing was blocked by the head of the queue).
func checkInvariants(t *testing.T, s scheduler.Snapshot, r scheduler.Result) {
	t.Helper()
	group := func(g string) string {
		if g == "" {
			return "default"
		}
		return g
	}
	pending := map[string]scheduler.Pending{}
	for _, p := range s.Pending {
		pending[p.SessionID] = p
	}
	agents := map[string]scheduler.Agent{}
	for _, a := range s.Agents {
		agents[a.ID] = a
	}
	eligible := func(a scheduler.Agent, p scheduler.Pending) bool {
		return a.Schedulable && group(a.ScalingGroup) == group(p.ScalingGroup) && slices.Contains(a.Images, p.Image)
	}
	seen := map[string]bool{}
	placed := map[string]resource.Slots{} // by agent
	used := map[string]resource.Slots{}   // by owner, this round
	for _, x := range r.Placements {
		p, ok := pending[x.SessionID]
		if !ok || seen[x.SessionID] {
			t.Errorf("placement %v: unknown or repeated session", x)
			continue
		}
		seen[x.SessionID] = true
		a, ok := agents[x.AgentID]
		if !ok || !eligible(a, p) {
			t.Errorf("placement %v: agent unknown, draining, in another group or without image %s", x, p.Image)
		}
		placed[a.ID] = placed[a.ID].Add(p.Requested)
		used[p.Owner] = used[p.Owner].Add(p.Requested)
	}
	for _, x := range r.Skipped {
		if _, ok := pending[x.SessionID]; !ok || seen[x.SessionID] {
			t.Errorf("skip %v: unknown or repeated session", x)
		}
		seen[x.SessionID] = true
		if x.Reason == "" {
			t.Errorf("skip %s: empty reason", x.SessionID)
		}
	}
	if len(seen) != len(pending) {
		t.Errorf("%d of %d pending sessions accounted for", len(seen), len(pending))
	}
	free := func(a scheduler.Agent) resource.Slots { return a.Available.Sub(a.Occupied).Sub(placed[a.ID]) }
	for id, sum := range placed {
		if ok, slot := resource.Fits(sum, agents[id].Available.Sub(agents[id].Occupied)); !ok {
			t.Errorf("agent %s over-committed on %s: placed %v, available %v, occupied %v", id, slot, sum, agents[id].Available, agents[id].Occupied)
		}
	}
	overLimit := func(owner string, extra resource.Slots) string {
		total := s.Usage[owner].Add(used[owner]).Add(extra)
		for k, lim := range s.Limits[owner] {
			if (used[owner][k] > 0 || extra[k] > 0) && total[k] > lim+1e-9 {
				return k
			}
		}
		return ""
	}
	for o := range used {
		if k := overLimit(o, nil); k != "" {
			t.Errorf("owner %s over its %s limit: usage %v, placed %v, limit %v", o, k, s.Usage[o], used[o], s.Limits[o])
		}
	}
	for _, x := range r.Skipped {
		p := pending[x.SessionID]
		if overLimit(p.Owner, p.Requested) != "" {
			continue
		}
		for _, a := range s.Agents {
			if ok, _ := resource.Fits(p.Requested, free(a)); ok && eligible(a, p) {
				t.Errorf("skipped %s (%s) but it fits agent %s at the end of the round", p.SessionID, x.Reason, a.ID)
			}
		}
	}
}

func cloneSnapshot(s scheduler.Snapshot) scheduler.Snapshot {
	cloneSlots := func(m map[string]resource.Slots) map[string]resource.Slots {
		if m == nil {
			return nil
		}
		out := map[string]resource.Slots{}
		for k, v := range m {
			out[k] = maps.Clone(v)
		}
		return out
	}
	out := scheduler.Snapshot{Groups: maps.Clone(s.Groups), Usage: cloneSlots(s.Usage), Limits: cloneSlots(s.Limits)}
	for _, p := range s.Pending {
		p.Requested = maps.Clone(p.Requested)
		out.Pending = append(out.Pending, p)
	}
	for _, a := range s.Agents {
		a.Available, a.Occupied, a.Images = maps.Clone(a.Available), maps.Clone(a.Occupied), slices.Clone(a.Images)
		out.Agents = append(out.Agents, a)
	}
	return out
}
