// Package metrics exposes an agent's Prometheus metrics on its control
// server: the host's capacity and what the kernels occupy per resource slot,
// the number of kernel containers, and each running kernel's cpu time and
// memory. Kernels are labelled by kernel id only (never by owner or session
// name), so the endpoint can go without authentication as Prometheus
// expects.
//
// Everything is sampled when scraped. Each Metrics owns a private registry,
// so several agents can live in one process, as they do in tests.
package metrics

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"baigo.dev/bai/common/resource"
)

// Kernels is what the metrics need from the kernel manager.
type Kernels interface {
	// Count returns how many kernel containers the agent holds.
	Count() int
	// Occupied sums the slots of the kernels that hold resources.
	Occupied() resource.Slots
	// Stats samples each running kernel's usage, by kernel id.
	Stats(ctx context.Context) map[string]map[string]any
}

// scrapeTimeout bounds the sampling of one scrape.
const scrapeTimeout = 5 * time.Second

var (
	capacityDesc = prometheus.NewDesc("bai_agent_capacity",
		"Resource slots the agent offers (cpu in cores, mem in bytes, accelerators in devices).", []string{"slot"}, nil)
	occupiedDesc = prometheus.NewDesc("bai_agent_occupied",
		"Resource slots held by the agent's kernels.", []string{"slot"}, nil)
	containersDesc = prometheus.NewDesc("bai_agent_containers",
		"Kernel containers the agent holds.", nil, nil)
	cpuDesc = prometheus.NewDesc("bai_agent_kernel_cpu_seconds_total",
		"CPU time used by a running kernel's container.", []string{"kernel_id"}, nil)
	memDesc = prometheus.NewDesc("bai_agent_kernel_memory_bytes",
		"Memory used by a running kernel's container.", []string{"kernel_id"}, nil)
)

// Metrics serves one agent's metrics.
type Metrics struct {
	k        Kernels
	capacity func() resource.Slots
	reg      *prometheus.Registry

	mu   sync.Mutex // one scrape at a time; guards snap
	snap snapshot
}

// snapshot is what one scrape sampled.
type snapshot struct {
	capacity, occupied resource.Slots
	containers         int
	stats              map[string]map[string]any
}

// New builds the metrics of an agent whose kernels are k and whose
// capacity capacity returns.
func New(k Kernels, capacity func() resource.Slots) *Metrics {
	m := &Metrics{k: k, capacity: capacity, reg: prometheus.NewRegistry()}
	m.reg.MustRegister((*collector)(m), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format, sampling the
// kernels under the request's context.
func (m *Metrics) Handler() http.Handler {
	prom := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), scrapeTimeout)
		defer cancel()
		snap := snapshot{capacity: m.capacity(), occupied: m.k.Occupied(), containers: m.k.Count(), stats: m.k.Stats(ctx)}
		m.mu.Lock()
		defer m.mu.Unlock()
		m.snap = snap
		prom.ServeHTTP(w, r)
	})
}

// collector turns the current snapshot into samples.
type collector Metrics

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{capacityDesc, occupiedDesc, containersDesc, cpuDesc, memDesc} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.snap // the handler holds mu while gathering
	for slot, v := range s.capacity {
		ch <- prometheus.MustNewConstMetric(capacityDesc, prometheus.GaugeValue, v, slot)
	}
	occ := s.occupied
	for slot := range s.capacity { // report every offered slot, 0 when free
		if _, ok := occ[slot]; !ok {
			ch <- prometheus.MustNewConstMetric(occupiedDesc, prometheus.GaugeValue, 0, slot)
		}
	}
	for slot, v := range occ {
		ch <- prometheus.MustNewConstMetric(occupiedDesc, prometheus.GaugeValue, v, slot)
	}
	ch <- prometheus.MustNewConstMetric(containersDesc, prometheus.GaugeValue, float64(s.containers))
	for id, st := range s.stats {
		if ms, ok := number(st["cpu_used"]); ok {
			ch <- prometheus.MustNewConstMetric(cpuDesc, prometheus.CounterValue, ms/1e3, id)
		}
		if b, ok := number(st["mem"]); ok {
			ch <- prometheus.MustNewConstMetric(memDesc, prometheus.GaugeValue, b, id)
		}
	}
}

// number reads a statistic, whatever numeric type the runtime used.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	}
	return 0, false
}
