package scheduler_test

import (
	"fmt"
	"math/rand"
	"testing"

	"baigo.dev/bai/backend/scheduler"
	"baigo.dev/bai/common/resource"
)

// BenchmarkPlan plans 5,000 pending sessions over 500 agents in one scaling
// group (the worst case: every session scans every agent with its image).
// Demand exceeds capacity, so about a third of the sessions are skipped
// after a full scan.
func BenchmarkPlan(b *testing.B) {
	for _, pol := range []scheduler.Policy{scheduler.FIFO, scheduler.LIFO, scheduler.DRF} {
		for _, sel := range []scheduler.Selector{scheduler.Concentrated, scheduler.Dispersed} {
			snap := benchSnapshot(5000, 500)
			snap.Groups = groups(pol, sel, "default")
			b.Run(fmt.Sprintf("%s/%s", pol, sel), func(b *testing.B) {
				b.ReportAllocs()
				var r scheduler.Result
				for b.Loop() {
					r = scheduler.Plan(snap)
				}
				b.ReportMetric(float64(len(r.Placements)), "placed")
			})
		}
	}
}

func benchSnapshot(nPending, nAgents int) scheduler.Snapshot {
	rng := rand.New(rand.NewSource(1))
	images := make([]string, 10)
	for i := range images {
		images[i] = fmt.Sprintf("cr.example.com/stable/python:3.%d-ubuntu22.04", i)
	}
	var s scheduler.Snapshot
	for i := range nAgents {
		a := scheduler.Agent{
			ID:          fmt.Sprintf("agent-%03d", i),
			Available:   slots(32, 128),
			Occupied:    slots(float64(rng.Intn(16)), float64(rng.Intn(64))),
			Schedulable: i%50 != 0,
		}
		if i%5 == 0 {
			a.Available[resource.CUDADevice] = 4
			a.Occupied[resource.CUDADevice] = float64(rng.Intn(3))
		}
		for _, j := range rng.Perm(len(images))[:8] {
			a.Images = append(a.Images, images[j])
		}
		s.Agents = append(s.Agents, a)
	}
	s.Usage = map[string]resource.Slots{}
	s.Limits = map[string]resource.Slots{}
	for i := range 200 {
		o := fmt.Sprintf("AKIA%06d", i)
		s.Usage[o] = slots(float64(rng.Intn(32)), float64(rng.Intn(128)))
		if i%2 == 0 {
			s.Limits[o] = resource.Slots{resource.CPU: 96, resource.CUDADevice: 4}
		}
	}
	for i := range nPending {
		p := scheduler.Pending{
			SessionID: fmt.Sprintf("%08x-0000-4000-8000-%012d", rng.Uint32(), i),
			Image:     images[rng.Intn(len(images))],
			Owner:     fmt.Sprintf("AKIA%06d", rng.Intn(200)),
			Requested: slots(float64(1+rng.Intn(8)), float64(1+rng.Intn(16))),
			Enqueued:  at(rng.Intn(3600)),
		}
		if rng.Intn(10) == 0 {
			p.Requested[resource.CUDADevice] = float64(1 + rng.Intn(2))
		}
		s.Pending = append(s.Pending, p)
	}
	return s
}

// TestPlanLargeSnapshot checks the invariants on a benchmark-shaped
// snapshot, where the planner's shortcuts for a full cluster kick in.
func TestPlanLargeSnapshot(t *testing.T) {
	t.Parallel()
	snap := benchSnapshot(1000, 60)
	for _, pol := range []scheduler.Policy{scheduler.FIFO, scheduler.LIFO, scheduler.DRF} {
		for _, sel := range []scheduler.Selector{scheduler.Concentrated, scheduler.Dispersed} {
			snap.Groups = groups(pol, sel, "default")
			r := scheduler.Plan(snap)
			if len(r.Placements) == 0 || len(r.Skipped) == 0 {
				t.Errorf("%s/%s: %d placed, %d skipped; want both", pol, sel, len(r.Placements), len(r.Skipped))
			}
			checkInvariants(t, snap, r)
		}
	}
}
