// Package metrics exposes the manager's Prometheus metrics: HTTP traffic by
// route, the scheduler's rounds and placements, agent heartbeats, and the
// number of sessions and agents per status, counted in the database at
// scrape time so that every manager of a cluster reports the same totals.
//
// Each Metrics owns a private registry (never the global default one), so
// several managers can live in one process, as they do in tests. Labels
// never carry tenant data: no access keys, session names or raw paths, only
// echo's route patterns, methods, status codes and status enums.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"baigo.dev/bai/backend/store"
	"baigo.dev/bai/common/types"
	"baigo.dev/bai/ent"
	entagent "baigo.dev/bai/ent/agent"
	"baigo.dev/bai/ent/session"
)

// Metrics holds the manager's collectors. A nil *Metrics is valid and
// records nothing, so services may hold one unconditionally.
type Metrics struct {
	st  *store.Store
	reg *prometheus.Registry

	requests   *prometheus.CounterVec
	durations  *prometheus.HistogramVec
	sessions   *prometheus.GaugeVec
	agents     *prometheus.GaugeVec
	scheduling prometheus.Histogram
	placements prometheus.Counter
	heartbeats prometheus.Counter

	scrapeMu sync.Mutex // one database refresh and gather at a time
}

// sessionStatuses and agentStatuses are always reported, with 0 when no
// row has them, so that alerts on a status never see a missing series.
var (
	sessionStatuses = []types.SessionStatus{
		types.StatusPending, types.StatusScheduled, types.StatusPreparing, types.StatusPulling,
		types.StatusRunning, types.StatusRestarting, types.StatusTerminating, types.StatusTerminated,
		types.StatusError, types.StatusCancelled,
	}
	agentStatuses = []types.AgentStatus{types.AgentAlive, types.AgentLost, types.AgentTerminated}
)

// New builds the collectors on a fresh registry; st is queried at scrape
// time for the session and agent gauges.
func New(st *store.Store) *Metrics {
	m := &Metrics{
		st:  st,
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bai_manager_http_requests_total",
			Help: "HTTP requests served, by method, route pattern and status code.",
		}, []string{"method", "route", "code"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bai_manager_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by method and route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route"}),
		sessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bai_manager_sessions",
			Help: "Sessions in the database, by status.",
		}, []string{"status"}),
		agents: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bai_manager_agents",
			Help: "Agents in the database, by status.",
		}, []string{"status"}),
		scheduling: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "bai_manager_scheduling_duration_seconds",
			Help:    "Time of one scheduling round (snapshot, plan and reservations).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5 ms to ~4 s
		}),
		placements: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bai_manager_placements_total",
			Help: "Sessions the scheduler placed on an agent.",
		}),
		heartbeats: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bai_manager_heartbeats_total",
			Help: "Agent heartbeats received.",
		}),
	}
	m.reg.MustRegister(m.requests, m.durations, m.sessions, m.agents, m.scheduling, m.placements, m.heartbeats,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry returns the private registry, for callers that add collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format. The session and
// agent gauges are counted in the database first, under the request's
// context; when that fails they are left out of the answer (the database is
// down, which the other metrics may help to explain) rather than reported
// stale.
func (m *Metrics) Handler() http.Handler {
	prom := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.scrapeMu.Lock()
		defer m.scrapeMu.Unlock()
		if err := m.refresh(r.Context()); err != nil {
			m.sessions.Reset()
			m.agents.Reset()
		}
		prom.ServeHTTP(w, r)
	})
}

// refresh counts sessions and agents per status with one GROUP BY each.
func (m *Metrics) refresh(ctx context.Context) error {
	if m.st == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var sess []struct {
		Status string `json:"status"`
		Count  int    `json:"count"`
	}
	if err := m.st.Session.Query().GroupBy(session.FieldStatus).Aggregate(ent.Count()).Scan(ctx, &sess); err != nil {
		return err
	}
	var ags []struct {
		Status string `json:"status"`
		Count  int    `json:"count"`
	}
	if err := m.st.Agent.Query().GroupBy(entagent.FieldStatus).Aggregate(ent.Count()).Scan(ctx, &ags); err != nil {
		return err
	}
	m.sessions.Reset()
	for _, s := range sessionStatuses {
		m.sessions.WithLabelValues(string(s)).Set(0)
	}
	for _, r := range sess {
		m.sessions.WithLabelValues(r.Status).Set(float64(r.Count))
	}
	m.agents.Reset()
	for _, s := range agentStatuses {
		m.agents.WithLabelValues(string(s)).Set(0)
	}
	for _, r := range ags {
		m.agents.WithLabelValues(r.Status).Set(float64(r.Count))
	}
	return nil
}

// Middleware counts and times every request by echo's route pattern (never
// the raw path, which would carry session names and unbounded values). It
// hands a handler's error to echo's error handler itself, so that the
// status code it records is the one the client got.
func (m *Metrics) Middleware(next echo.HandlerFunc) echo.HandlerFunc {
	if m == nil {
		return next
	}
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		method := normMethod(c.Request().Method)
		m.requests.WithLabelValues(method, route, strconv.Itoa(c.Response().Status)).Inc()
		m.durations.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
		return nil
	}
}

// normMethod folds non-standard methods into one label value, so a client
// cannot create series at will.
func normMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// ObserveSchedulingRound records one scheduling round that took d and
// placed the given number of sessions.
func (m *Metrics) ObserveSchedulingRound(d time.Duration, placed int) {
	if m == nil {
		return
	}
	m.scheduling.Observe(d.Seconds())
	if placed > 0 {
		m.placements.Add(float64(placed))
	}
}

// Heartbeat counts one agent heartbeat.
func (m *Metrics) Heartbeat() {
	if m == nil {
		return
	}
	m.heartbeats.Inc()
}
