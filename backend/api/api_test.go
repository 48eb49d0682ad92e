package api_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/internal/servertest"
)

// scenario is one request and what must come back.
type scenario struct {
	name     string
	method   string
	path     string
	body     any
	hdr      map[string]string
	status   int
	contains []string
}

func run(t *testing.T, s *servertest.Server, cases []scenario) {
	t.Helper()
	for _, c := range cases {
		r := s.Do(c.method, c.path, c.body, c.hdr)
		if r.Status != c.status {
			t.Errorf("%s: %s %s = %d, want %d: %s", c.name, c.method, c.path, r.Status, c.status, r.Body)
			continue
		}
		for _, want := range c.contains {
			if !strings.Contains(string(r.Body), want) {
				t.Errorf("%s: body %s lacks %q", c.name, r.Body, want)
			}
		}
		if r.Status >= 400 && r.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: error content type %q, want application/problem+json", c.name, r.Header.Get("Content-Type"))
		}
	}
}

func TestAPIWithoutKernels(t *testing.T) {
	for db, dsn := range servertest.Backends(t) {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			s := servertest.New(t, servertest.Options{Postgres: dsn})
			old := time.Now().UTC().Add(-20 * time.Minute).Format("2006-01-02T15:04:05.000000+00:00")
			run(t, s, []scenario{
				{name: "announcement", method: "GET", path: "/manager/announcement", status: 200, contains: []string{`"enabled":false`, `"message":""`}},
				{name: "unknown session", method: "GET", path: "/session/nosuchsession", status: 404, contains: []string{`"type":"https://api.backend.ai/probs/not-found"`, "nosuchsession"}},
				{name: "unknown session by uuid", method: "DELETE", path: "/session/" + uuid.NewString(), status: 404},
				{name: "malformed json", method: "POST", path: "/session", body: `{"image": `, status: 400, contains: []string{"malformed JSON"}},
				{name: "empty body", method: "POST", path: "/session", body: ``, status: 400, contains: []string{"JSON object"}},
				{name: "missing image", method: "POST", path: "/session", body: map[string]any{"name": "abcd"}, status: 400, contains: []string{`\"image\"`}},
				{name: "wrong type", method: "POST", path: "/session", body: `{"image": 5}`, status: 400, contains: []string{`\"image\"`}},
				{name: "unknown image", method: "POST", path: "/session", body: map[string]any{"image": "cobol:1"}, status: 400, contains: []string{"unknown image", "available images"}},
				{name: "bad name", method: "POST", path: "/session", body: map[string]any{"image": "python", "name": "a/b"}, status: 400, contains: []string{`\"name\"`}},
				{name: "oversized", method: "POST", path: "/session", body: `{"image":"` + strings.Repeat("x", 5<<20) + `"}`, status: 413},
				{name: "date too old", method: "GET", path: "/manager/announcement", hdr: map[string]string{"X-BackendAI-Date": old}, status: 401, contains: []string{"off the server clock"}},
				{name: "Date header instead", method: "GET", path: "/manager/announcement", hdr: map[string]string{"X-BackendAI-Date": "", "Date": time.Now().UTC().Format("2006-01-02T15:04:05Z")}, status: 200},
				{name: "no auth", method: "GET", path: "/session", hdr: map[string]string{"Authorization": ""}, status: 401},
				{name: "bad auth header", method: "GET", path: "/session", hdr: map[string]string{"Authorization": "Bearer x"}, status: 401},
				{name: "old version hashes body", method: "POST", path: "/kernel/create", body: map[string]any{"lang": "python"}, hdr: map[string]string{"X-BackendAI-Version": "v3.20170615"}, status: 400, contains: []string{"unknown image"}},
				{name: "legacy path prefix", method: "POST", path: "/v2/kernel/create", body: map[string]any{"lang": "python"}, hdr: map[string]string{"X-BackendAI-Version": "v2.20170315"}, status: 400, contains: []string{"unknown image"}},
				{name: "bad version", method: "GET", path: "/session", hdr: map[string]string{"X-BackendAI-Version": "6"}, status: 400},
				{name: "list", method: "GET", path: "/session", status: 200, contains: []string{`"items":[]`}},
				{name: "no such route", method: "GET", path: "/nope", status: 404},
			})

			// Wrong secret, and an unsigned root.
			if r := s.DoAs(s.Creds.AccessKey, strings.Repeat("x", 40), "GET", "/session", nil, nil); r.Status != 401 {
				t.Errorf("wrong secret: %d %s", r.Status, r.Body)
			}
			r := s.Do("GET", "/", nil, map[string]string{"Authorization": ""})
			var info apitypes.ServerInfo
			r.JSON(t, &info)
			if r.Status != 200 || !regexp.MustCompile(`^v\d+\.\d{8}$`).MatchString(info.Version) {
				t.Errorf("GET / = %d %s", r.Status, r.Body)
			}
			// A regular user cannot act for another keypair.
			ak, sk := s.AddUser(t, "u1@example.com")
			if r := s.DoAs(ak, sk, "GET", "/session?owner_access_key="+s.Creds.AccessKey, nil, nil); r.Status != 403 {
				t.Errorf("owner_access_key by non-admin: %d %s", r.Status, r.Body)
			}
		})
	}
}

func execute(t *testing.T, s *servertest.Server, name, code string) apitypes.ExecuteResult {
	t.Helper()
	runID := uuid.NewString()[:8]
	var all apitypes.ExecuteResult
	body := map[string]any{"mode": "query", "runId": runID, "code": code}
	for i := 0; i < 100; i++ {
		r := s.Do("POST", "/session/"+name, body, nil)
		if r.Status != 200 {
			t.Fatalf("execute %q: %d %s", code, r.Status, r.Body)
		}
		var res apitypes.ExecuteResponse
		r.JSON(t, &res)
		all.Console = append(all.Console, res.Result.Console...)
		all.Status, all.ExitCode = res.Result.Status, res.Result.ExitCode
		if res.Result.Status != apitypes.RunContinued {
			return all
		}
		body = map[string]any{"mode": "continue", "runId": runID, "code": ""}
	}
	t.Fatalf("execute %q never finished", code)
	return all
}

func text(res apitypes.ExecuteResult, kind string) string {
	var b strings.Builder
	for _, it := range res.Console {
		if it[0] == kind {
			b.WriteString(it[1].(string))
		}
	}
	return b.String()
}

func TestSessionLifecycle(t *testing.T) {
	for db, dsn := range servertest.Backends(t) {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			s := servertest.New(t, servertest.Options{Postgres: dsn, Agent: true})
			r := s.Do("POST", "/session", map[string]any{"image": "python", "name": "life1", "tag": nil, "config": map[string]any{"resources": map[string]any{"cpu": 1, "mem": "512m"}, "environ": nil}}, nil)
			if r.Status != 201 {
				t.Fatalf("create: %d %s", r.Status, r.Body)
			}
			var cr apitypes.CreateSessionResult
			r.JSON(t, &cr)
			if _, err := uuid.Parse(cr.SessionID); err != nil || cr.Status != "RUNNING" || !cr.Created {
				t.Fatalf("create answer: %+v", cr)
			}
			// Reuse by name.
			r = s.Do("POST", "/session", map[string]any{"image": "python", "name": "life1"}, nil)
			var cr2 apitypes.CreateSessionResult
			r.JSON(t, &cr2)
			if r.Status != 200 || cr2.Created || cr2.SessionID != cr.SessionID {
				t.Fatalf("reuse: %d %s", r.Status, r.Body)
			}

			res := execute(t, s, "life1", "x = 41\nprint(x + 1)")
			if res.Status != "finished" || res.ExitCode == nil || *res.ExitCode != 0 || text(res, "stdout") != "42\n" {
				t.Fatalf("first run: %+v", res)
			}
			res = execute(t, s, cr.SessionID, "print(x)") // by UUID, state kept
			if text(res, "stdout") != "41\n" {
				t.Fatalf("state not kept: %+v", res)
			}
			res = execute(t, s, "life1", "1/0")
			if !strings.Contains(text(res, "stderr"), "ZeroDivisionError") || res.ExitCode == nil || *res.ExitCode == 0 {
				t.Fatalf("exception: %+v", res)
			}

			// Another tenant sees nothing of it.
			ak, sk := s.AddUser(t, "other@example.com")
			for _, c := range []struct{ m, p string }{{"GET", "/session/life1"}, {"GET", "/session/" + cr.SessionID}, {"POST", "/session/life1"}, {"DELETE", "/session/life1"}, {"POST", "/session/life1/interrupt"}} {
				if r := s.DoAs(ak, sk, c.m, c.p, map[string]any{"mode": "query", "code": "print(1)"}, nil); r.Status != 404 {
					t.Errorf("other tenant %s %s = %d %s", c.m, c.p, r.Status, r.Body)
				}
			}
			if r := s.DoAs(ak, sk, "GET", "/session", nil, nil); !strings.Contains(string(r.Body), `"items":[]`) {
				t.Errorf("other tenant list: %s", r.Body)
			}

			// Interrupt an endless loop; state survives.
			done := make(chan apitypes.ExecuteResult, 1)
			go func() { done <- execute(t, s, "life1", "while True: pass") }()
			deadline := time.Now().Add(10 * time.Second)
			var got apitypes.ExecuteResult
		loop:
			for time.Now().Before(deadline) {
				if r := s.Do("POST", "/session/life1/interrupt", nil, nil); r.Status != 204 {
					t.Fatalf("interrupt: %d %s", r.Status, r.Body)
				}
				select {
				case got = <-done:
					break loop
				case <-time.After(200 * time.Millisecond):
				}
			}
			if !strings.Contains(text(got, "stderr"), "KeyboardInterrupt") {
				t.Fatalf("interrupt result: %+v", got)
			}
			if res := execute(t, s, "life1", "print(x)"); text(res, "stdout") != "41\n" {
				t.Fatalf("state lost after interrupt: %+v", res)
			}

			// Restart loses state but keeps the session.
			if r := s.Do("PATCH", "/session/life1", nil, nil); r.Status != 204 {
				t.Fatalf("restart: %d %s", r.Status, r.Body)
			}
			if res := execute(t, s, "life1", "print('x' in globals())"); text(res, "stdout") != "False\n" {
				t.Fatalf("after restart: %+v", res)
			}
			var info apitypes.SessionInfo
			s.Do("GET", "/session/life1", nil, nil).JSON(t, &info)
			if info.Status != "RUNNING" || info.ExecutionCount < 4 || info.ResourceSlots["cpu"] != "1" {
				t.Errorf("info: %+v", info)
			}

			// Destroy, then the session is gone for execution.
			r = s.Do("DELETE", "/session/life1", nil, nil)
			if r.Status != 200 || !strings.Contains(string(r.Body), `"stats"`) {
				t.Fatalf("destroy: %d %s", r.Status, r.Body)
			}
			s.Do("GET", "/session/"+cr.SessionID, nil, nil).JSON(t, &info)
			if info.Status != "TERMINATED" {
				t.Errorf("after destroy: %+v", info)
			}
			if r := s.Do("POST", "/session/life1", map[string]any{"mode": "query", "code": "1"}, nil); r.Status != 409 {
				t.Errorf("execute after destroy: %d %s", r.Status, r.Body)
			}
			if r := s.Do("DELETE", "/session/life1", nil, nil); r.Status != 404 {
				t.Errorf("second destroy: %d %s", r.Status, r.Body)
			}
		})
	}
}

func TestV4KernelAPI(t *testing.T) {
	s := servertest.New(t, servertest.Options{Agent: true})
	v4 := map[string]string{"X-BackendAI-Version": "v4.20190615"}
	r := s.Do("POST", "/kernel/create", map[string]any{"lang": "python:3.11-debian", "clientSessionToken": "v4sess", "config": map[string]any{"instanceMemory": nil}}, v4)
	if r.Status != 201 {
		t.Fatalf("v4 create: %d %s", r.Status, r.Body)
	}
	var cr map[string]any
	r.JSON(t, &cr)
	kid, _ := cr["kernelId"].(string)
	if kid == "" {
		t.Fatalf("v4 answer lacks kernelId: %s", r.Body)
	}
	r = s.Do("POST", "/kernel/"+kid, map[string]any{"mode": "query", "runId": "r1", "code": "print('v4')"}, v4)
	var res apitypes.ExecuteResponse
	r.JSON(t, &res)
	if r.Status != 200 || text(res.Result, "stdout") != "v4\n" {
		t.Fatalf("v4 execute: %d %s", r.Status, r.Body)
	}
	if r := s.Do("DELETE", "/kernel/v4sess", nil, v4); r.Status != 200 {
		t.Fatalf("v4 destroy: %d %s", r.Status, r.Body)
	}
	_ = json.Valid
}

func TestExecTimeoutCappedByPolicy(t *testing.T) {
	s := servertest.New(t, servertest.Options{Agent: true})
	if err := s.Store.ResourcePolicy.UpdateOneID("default").SetMaxExecSeconds(1).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := s.Do("POST", "/session", map[string]any{"image": "python", "name": "slow1"}, nil); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	start := time.Now()
	// The request asks for 60 s; the policy allows 1 s.
	r := s.Do("POST", "/session/slow1", map[string]any{"mode": "query", "runId": "r1", "code": "import time\ntime.sleep(30)", "options": map[string]any{"exec_timeout": 60}}, nil)
	var res apitypes.ExecuteResponse
	r.JSON(t, &res)
	for res.Result.Status == apitypes.RunContinued && time.Since(start) < 20*time.Second {
		r = s.Do("POST", "/session/slow1", map[string]any{"mode": "continue", "runId": "r1"}, nil)
		r.JSON(t, &res)
	}
	if res.Result.Status != apitypes.RunExecTimeout {
		t.Fatalf("status %q after %s: %s", res.Result.Status, time.Since(start), r.Body)
	}
	// The session stays usable.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := s.Do("POST", "/session/slow1", map[string]any{"mode": "query", "code": "print('ok')"}, nil)
		if r.Status == 200 && strings.Contains(string(r.Body), `ok\n`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session unusable after exec-timeout: %d %s", r.Status, r.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestRateLimit(t *testing.T) {
	s := servertest.New(t, servertest.Options{})
	ak, sk := s.AddUser(t, "busy@example.com")
	if err := s.Store.KeyPair.UpdateOneID(ak).SetRateLimit(3).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		r := s.DoAs(ak, sk, "GET", "/session", nil, nil)
		if r.Status != 200 || r.Header.Get("X-RateLimit-Limit") != "3" || r.Header.Get("X-RateLimit-Window") != "900" ||
			r.Header.Get("X-RateLimit-Remaining") != strconv.Itoa(2-i) {
			t.Fatalf("request %d: %d %v", i, r.Status, r.Header)
		}
	}
	r := s.DoAs(ak, sk, "GET", "/session", nil, nil)
	if r.Status != 429 || !strings.Contains(string(r.Body), "too-many-requests") || r.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("over the limit: %d %s %v", r.Status, r.Body, r.Header)
	}
	// Another keypair is not affected.
	if r := s.Do("GET", "/session", nil, nil); r.Status != 200 {
		t.Fatalf("other keypair: %d", r.Status)
	}
}
