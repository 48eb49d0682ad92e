package kernel

import (
	"context"
	"encoding/json"
	"math"
	"sync"
	"time"

	"baigo.dev/bai/common/resource"
)

// statsTimeout bounds one kernel's statistics sample; statsParallel bounds
// how many are taken at once (the Docker engine fallback takes a second or
// so, the cgroup files microseconds).
const (
	statsTimeout  = 2 * time.Second
	statsParallel = 8
)

// encodeSlots renders a kernel's resource slots for types.LabelSlots, which
// carries them across agent restarts.
func encodeSlots(s map[string]float64) string {
	if len(s) == 0 {
		return ""
	}
	b, err := json.Marshal(s)
	if err != nil {
		return ""
	}
	return string(b)
}

// decodeSlots reads types.LabelSlots back; nil when absent or malformed.
func decodeSlots(v string) resource.Slots {
	if v == "" {
		return nil
	}
	var s resource.Slots
	if err := json.Unmarshal([]byte(v), &s); err != nil {
		return nil
	}
	return s
}

// Count returns how many kernels the agent holds, in any state.
func (m *Manager) Count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.kernels)
}

// Occupied sums the resource slots of the kernels that hold them: all but
// the dead ones (whose containers no longer run).
func (m *Manager) Occupied() resource.Slots {
	m.mu.Lock()
	ks := make([]*Kernel, 0, len(m.kernels))
	for _, k := range m.kernels {
		ks = append(ks, k)
	}
	m.mu.Unlock()
	out := resource.Slots{}
	for _, k := range ks {
		k.mu.Lock()
		if k.state != stateDead {
			for name, v := range k.slots {
				out[name] += v
			}
		}
		k.mu.Unlock()
	}
	return out
}

// Stats samples the usage of every running kernel through the runtime
// (see runtime.Runtime.Stats) and returns it by kernel id. Kernels whose
// sample fails or is not taken before ctx ends are left out.
func (m *Manager) Stats(ctx context.Context) map[string]map[string]any {
	type target struct{ id, cid string }
	m.mu.Lock()
	ks := make([]*Kernel, 0, len(m.kernels))
	for _, k := range m.kernels {
		ks = append(ks, k)
	}
	m.mu.Unlock()
	var ts []target
	byID := make(map[string]*Kernel, len(ks))
	for _, k := range ks {
		k.mu.Lock()
		if k.state == stateRunning && k.containerID != "" {
			ts = append(ts, target{k.id, k.containerID})
			byID[k.id] = k
		}
		k.mu.Unlock()
	}
	out := make(map[string]map[string]any, len(ts))
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, statsParallel)
	)
	for _, t := range ts {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			sctx, cancel := context.WithTimeout(ctx, statsTimeout)
			defer cancel()
			s, err := m.rt.Stats(sctx, t.cid)
			if err != nil || len(s) == 0 {
				return
			}
			byID[t.id].cpuUtil(s, time.Now())
			mu.Lock()
			out[t.id] = s
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// cpuUtil adds "cpu_util" to a usage sample: the percentage of one core the
// kernel used since its previous sample (cpu_used is a cumulative count of
// milliseconds, which says nothing about load on its own). The first sample
// of a kernel has none.
func (k *Kernel) cpuUtil(s map[string]any, now time.Time) {
	used, ok := s["cpu_used"].(float64)
	if !ok {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.cpuPrevAt.IsZero() && used >= k.cpuPrev {
		if wall := now.Sub(k.cpuPrevAt).Milliseconds(); wall > 0 {
			s["cpu_util"] = math.Round((used-k.cpuPrev)/float64(wall)*1000) / 10
		}
	}
	k.cpuPrev, k.cpuPrevAt = used, now
}
