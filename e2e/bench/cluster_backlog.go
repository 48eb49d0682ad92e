package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"baigo.dev/bai/e2e/compat"
)

// backlogPhase measures placement on its own: a backlog of pending
// sessions meets a fleet that arrives all at once. The sessions are
// submitted first, to a scaling group that has no agents yet, so the
// submission rate (an HTTP figure, measured separately) does not limit the
// result; then the agents of that group start, and the figure is the
// sessions placed per second from the first CreateKernel to the last.
func backlogPhase(ctx context.Context, cc clusterConfig, bai, dir, pg string, log *slog.Logger) ([]row, error) {
	m, err := startManagerProc(ctx, bai, dir, pg, cc.owners, cc.sessions+100)
	if err != nil {
		return nil, err
	}
	defer m.stop()
	// One agent of another group makes the images known.
	warm, err := startFleetIn(ctx, m.url, m.secret, "warm", "warm", 1, cc.interval, nil)
	if err != nil {
		return nil, err
	}
	defer warm.stop()
	if err := warm.waitRegistered(ctx, 30*time.Second); err != nil {
		return nil, errors.Join(err, m.alive())
	}
	admin := compat.New(m.url, m.admin.access, m.admin.secret)
	resp, err := admin.Do(ctx, compat.Request{Method: http.MethodPut, Path: "/scaling-groups/backlog",
		Body: []byte(`{"scheduler":"fifo","agent_selector":"concentrated"}`)})
	if err == nil && resp.Status != http.StatusOK {
		err = &compat.StatusError{Op: "PUT /scaling-groups/backlog", Resp: resp}
	}
	if err != nil {
		return nil, err
	}

	tr := newTracker("bl-"+randHex(3)+"-", cc.sessions)
	api := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConns: 4 * cc.inflight, MaxIdleConnsPerHost: 4 * cc.inflight}}
	defer api.CloseIdleConnections()
	clients := make([]*compat.Client, len(m.owners))
	for i, kp := range m.owners {
		clients[i] = compat.New(m.url, kp.access, kp.secret)
		clients[i].HTTP = api
	}
	log.Info("cluster benchmark: submitting the backlog", "sessions", cc.sessions)
	_, _, err = fanOut(ctx, cc.sessions, cc.inflight, func(ctx context.Context, i int) error {
		c := clients[i%len(clients)]
		b := c.CreateBody(compat.CreateOptions{Image: simImages[i%len(simImages)].name, Name: tr.name(i)})
		b["enqueueOnly"] = true
		b["config"] = map[string]any{"scaling_group": "backlog"}
		body, err := json.Marshal(b)
		if err != nil {
			return err
		}
		resp, err := c.Do(ctx, compat.Request{Method: http.MethodPost, Path: c.CreatePath(), Body: body})
		if err == nil && resp.Status != http.StatusCreated {
			err = &compat.StatusError{Op: "create " + tr.name(i), Resp: resp}
		}
		return err
	})
	if err != nil {
		return nil, errors.Join(err, m.alive())
	}
	// Let the manager settle (rounds explaining why the backlog waits).
	_ = sleepCtx(ctx, 2*time.Second)

	log.Info("cluster benchmark: the fleet arrives", "agents", cc.agents)
	arrive := time.Now()
	f, err := startFleetIn(ctx, m.url, m.secret, "bl", "backlog", cc.agents, cc.interval, tr.kernel)
	if err != nil {
		return nil, err
	}
	defer f.stop()
	select {
	case <-tr.done:
	case <-time.After(cc.timeout):
		tr.mu.Lock()
		k := tr.kernels
		tr.mu.Unlock()
		return nil, errors.Join(fmt.Errorf("backlog: only %d of %d sessions reached an agent after %s", k, cc.sessions, cc.timeout), m.alive())
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.failures > 0 || tr.dupes > 0 {
		return nil, fmt.Errorf("backlog: %d failed, %d created twice; first failure: %s", tr.failures, tr.dupes, tr.failWhy)
	}
	ks := make([]time.Time, 0, len(tr.s))
	for _, s := range tr.s {
		ks = append(ks, s.kernel)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].Before(ks[j]) })
	first, last := ks[0], ks[len(ks)-1]
	span := last.Sub(first)
	rate := float64(len(ks)-1) / span.Seconds()
	verdict := "MISS"
	if rate >= 1000 {
		verdict = "ok"
	}
	return []row{
		{metric: fmt.Sprintf("placement throughput, backlog (%d pending sessions, %d agents arriving)", cc.sessions, cc.agents),
			ours:     fmt.Sprintf("%.0f sessions/s", rate),
			baseline: fmt.Sprintf("first to last CreateKernel: %s", secs(span)),
			target:   "target ≥ 1000/s", verdict: verdict},
		{metric: "backlog: fleet start to first / last placement",
			ours:     fmt.Sprintf("%s / %s", secs(first.Sub(arrive)), secs(last.Sub(arrive))),
			baseline: fmt.Sprintf("agents register over one heartbeat interval (%s)", cc.interval),
			target:   "(info)", verdict: "-"},
	}, nil
}
