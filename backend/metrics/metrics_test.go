package metrics_test

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"baigo.dev/bai/internal/servertest"
)

// scrape fetches /metrics without any credentials, as Prometheus does.
func scrape(t *testing.T, s *servertest.Server) string {
	t.Helper()
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d: %s", resp.StatusCode, b)
	}
	return string(b)
}

// value returns the sample of one series, written exactly as the text
// format writes it (labels sorted), or -1 when it is absent.
func value(body, series string) float64 {
	for _, line := range strings.Split(body, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				return -1
			}
			return v
		}
	}
	return -1
}

func TestManagerMetrics(t *testing.T) {
	for db, dsn := range servertest.Backends(t) {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			s := servertest.New(t, servertest.Options{Postgres: dsn})
			ctx := context.Background()
			const secretName = "metrics-secret-session-name"
			for _, st := range []string{"RUNNING", "RUNNING", "TERMINATED"} {
				if err := s.Store.Session.Create().SetName(secretName).SetOwnerAccessKey(s.Creds.AccessKey).
					SetImage("python:3.11-debian").SetStatus(st).Exec(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Store.Agent.Create().SetID("metrics-test-agent").SetAddr("http://127.0.0.1:1").Exec(ctx); err != nil {
				t.Fatal(err)
			}
			s.Metrics.ObserveSchedulingRound(3*time.Millisecond, 2)
			s.Metrics.ObserveSchedulingRound(time.Millisecond, 0)
			s.Metrics.Heartbeat()

			const listed = `bai_manager_http_requests_total{code="200",method="GET",route="/session"}`
			before := value(scrape(t, s), listed)
			if r := s.Do("GET", "/session", nil, nil); r.Status != 200 {
				t.Fatalf("GET /session = %d: %s", r.Status, r.Body)
			}
			if r := s.Do("GET", "/session/"+secretName+"-nope", nil, nil); r.Status != 404 {
				t.Fatalf("GET /session/{name} = %d: %s", r.Status, r.Body)
			}
			body := scrape(t, s)
			if after := value(body, listed); after != max(before, 0)+1 {
				t.Errorf("%s went from %v to %v, want one more", listed, before, after)
			}
			for _, c := range []struct {
				series string
				want   float64
			}{
				{`bai_manager_http_requests_total{code="404",method="GET",route="/session/:name"}`, 1},
				{`bai_manager_http_request_duration_seconds_count{method="GET",route="/session/:name"}`, 1},
				{`bai_manager_sessions{status="RUNNING"}`, 2},
				{`bai_manager_sessions{status="TERMINATED"}`, 1},
				{`bai_manager_sessions{status="PENDING"}`, 0},
				{`bai_manager_agents{status="ALIVE"}`, 1},
				{`bai_manager_agents{status="LOST"}`, 0},
				{`bai_manager_scheduling_duration_seconds_count`, 2},
				{`bai_manager_placements_total`, 2},
				{`bai_manager_heartbeats_total`, 1},
			} {
				if got := value(body, c.series); got != c.want {
					t.Errorf("%s = %v, want %v", c.series, got, c.want)
				}
			}
			for _, leak := range []string{s.Creds.AccessKey, secretName} {
				if strings.Contains(body, leak) {
					t.Errorf("metrics carry tenant data %q", leak)
				}
			}
			// The scrapes themselves are counted under their route.
			if v := value(body, `bai_manager_http_requests_total{code="200",method="GET",route="/metrics"}`); v < 1 {
				t.Errorf("scrapes not counted: %v", v)
			}
		})
	}
}
