package e2e_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"baigo.dev/bai/common/types"
	"baigo.dev/bai/e2e/compat"
)

func TestServerVersion(t *testing.T) {
	t.Parallel()
	v, mgr, err := st.shared.Client().ServerVersion(testCtx(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^v\d+\.\d{8}$`).MatchString(v) {
		t.Errorf("GET / version %q does not match ^v\\d+\\.\\d{8}$", v)
	}
	if mgr == "" {
		t.Errorf("GET / has no manager version")
	}
}

func TestAnnouncement(t *testing.T) {
	t.Parallel()
	resp, err := st.shared.Client().Do(testCtx(t, 10*time.Second), compat.Request{Method: "GET", Path: "/manager/announcement"})
	if err != nil {
		t.Fatal(err)
	}
	var a map[string]any
	if resp.Status != http.StatusOK || resp.JSON(&a) != nil {
		t.Fatalf("announcement: %s", resp)
	}
	if _, ok := a["enabled"].(bool); !ok {
		t.Errorf("announcement lacks boolean enabled: %s", resp)
	}
}

func TestCreateReuseListInfo(t *testing.T) {
	t.Parallel()
	c := st.shared.Client()
	ctx := testCtx(t, 90*time.Second)
	name := uniqueName(t)
	first, err := c.Create(ctx, compat.CreateOptions{Image: imageName, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	remember(first.ID())
	t.Cleanup(func() { destroyQuietly(t, c, first.ID()) })
	if first.HTTPStatus != http.StatusCreated || !first.Created {
		t.Errorf("first create: HTTP %d created=%v, want 201 created=true", first.HTTPStatus, first.Created)
	}
	if !uuidRE.MatchString(first.SessionID) {
		t.Errorf("sessionId %q is not a UUID", first.SessionID)
	}
	if first.Status != string(types.StatusRunning) {
		t.Errorf("create answered status %q, want RUNNING", first.Status)
	}
	if first.SessionName != name {
		t.Errorf("sessionName %q, want %q", first.SessionName, name)
	}
	if first.ServicePorts == nil {
		t.Errorf("servicePorts missing (must be a list)")
	}

	again, err := c.Create(ctx, compat.CreateOptions{Image: imageName, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if again.HTTPStatus != http.StatusOK || again.Created || again.SessionID != first.SessionID {
		t.Errorf("reuse: HTTP %d created=%v id=%s, want 200 created=false id=%s", again.HTTPStatus, again.Created, again.SessionID, first.SessionID)
	}
	if n := len(containersOf(t, first.SessionID)); n != 1 {
		t.Errorf("session has %d containers, want 1", n)
	}

	for _, key := range []string{name, first.SessionID} {
		si, _, err := c.Info(ctx, key)
		if err != nil {
			t.Errorf("info by %q: %v", key, err)
			continue
		}
		if si.SessionID != first.SessionID || si.SessionName != name || si.Status != "RUNNING" {
			t.Errorf("info by %q: id=%s name=%s status=%s", key, si.SessionID, si.SessionName, si.Status)
		}
	}

	list, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, s := range list {
		found = found || s.SessionID == first.SessionID
	}
	if !found {
		t.Errorf("GET /session does not list %s", first.SessionID)
	}

	images, err := c.Images(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(images, " "), imageName) {
		t.Errorf("GET /images %v lacks %s", images, imageName)
	}
}

func TestExecute(t *testing.T) {
	t.Parallel()
	c := st.shared.Client()
	name, _ := newSession(t, c)

	t.Run("print", func(t *testing.T) {
		r := run(t, c, name, "print(1)")
		want := []compat.Item{{Type: "stdout", Data: "1\n"}}
		if !reflect.DeepEqual(r.Console, want) || r.Status != "finished" || r.Exit() != 0 {
			t.Errorf("console %v status %s exit %d; want %v finished 0", r.Console, r.Status, r.Exit(), want)
		}
		if last := r.Answers[len(r.Answers)-1]; last.RunID != r.RunID {
			t.Errorf("answer runId %q, want %q", last.RunID, r.RunID)
		}
	})
	t.Run("state kept", func(t *testing.T) {
		run(t, c, name, "x = 41")
		if r := run(t, c, name, "print(x + 1)"); r.Stdout() != "42\n" {
			t.Errorf("stdout %q, want 42 (console %v)", r.Stdout(), r.Console)
		}
	})
	t.Run("stdout stderr order", func(t *testing.T) {
		r := run(t, c, name, "import sys\nfor i in range(3):\n    print('out', i, flush=True)\n    print('err', i, file=sys.stderr, flush=True)\n")
		var want []compat.Item
		for _, i := range []string{"0", "1", "2"} {
			want = append(want, compat.Item{Type: "stdout", Data: "out " + i + "\n"}, compat.Item{Type: "stderr", Data: "err " + i + "\n"})
		}
		if !reflect.DeepEqual(r.Console, want) {
			t.Errorf("console %v, want %v", r.Console, want)
		}
	})
	t.Run("exception", func(t *testing.T) {
		r := run(t, c, name, "def f():\n    return 1/0\nf()\n")
		if !strings.Contains(r.Stderr(), "Traceback") || !strings.Contains(r.Stderr(), "ZeroDivisionError") {
			t.Errorf("stderr %q lacks the traceback", r.Stderr())
		}
		if r.Status != "finished" || r.Exit() == 0 {
			t.Errorf("status %s exit %d, want finished with a non-zero exit code", r.Status, r.Exit())
		}
		if r2 := run(t, c, name, "print('alive')"); r2.Stdout() != "alive\n" {
			t.Errorf("after an exception: stdout %q", r2.Stdout())
		}
	})
	t.Run("unicode", func(t *testing.T) {
		r := run(t, c, name, "print('héllo 😀 ' * 3)")
		if want := strings.Repeat("héllo 😀 ", 3) + "\n"; r.Stdout() != want {
			t.Errorf("stdout %q, want %q", r.Stdout(), want)
		}
	})
	t.Run("large output", func(t *testing.T) {
		r := run(t, c, name, "for i in range(20000):\n    print(i)\nprint('y' * 300000)\n")
		var sb strings.Builder
		for i := range 20000 {
			sb.WriteString(strconv.Itoa(i) + "\n")
		}
		sb.WriteString(strings.Repeat("y", 300000) + "\n")
		if got := r.Stdout(); got != sb.String() {
			t.Errorf("stdout of %d bytes differs from the expected %d bytes (answers %d)", len(got), sb.Len(), len(r.Answers))
		}
	})
	t.Run("user input", func(t *testing.T) {
		r, err := c.RunCode(testCtx(t, 60*time.Second), name, "who = input('who? ')\nprint('hi', who)\n", "bob")
		if err != nil {
			t.Fatal(err)
		}
		waited := false
		for _, a := range r.Answers {
			if a.Status == "waiting-input" {
				waited = true
				if _, ok := a.Options["is_password"]; !ok {
					t.Errorf("waiting-input options %v lack is_password", a.Options)
				}
			}
		}
		if !waited || !strings.Contains(r.Stdout(), "hi bob\n") || r.Exit() != 0 {
			t.Errorf("waited=%v console %v exit %d, want a waiting-input answer then hi bob", waited, r.Console, r.Exit())
		}
	})
	t.Run("long run streams with continue", func(t *testing.T) {
		start := time.Now()
		r := run(t, c, name, "import time\nfor i in range(6):\n    print(i, flush=True)\n    time.sleep(0.5)\n")
		if r.Stdout() != "0\n1\n2\n3\n4\n5\n" {
			t.Errorf("stdout %q", r.Stdout())
		}
		if r.Continued < 1 {
			t.Errorf("no continued answer for a %s run", time.Since(start).Round(time.Millisecond))
		}
		if r.Status != "finished" || r.Exit() != 0 {
			t.Errorf("status %s exit %d", r.Status, r.Exit())
		}
	})
	t.Run("execution count", func(t *testing.T) {
		si, _, err := c.Info(testCtx(t, 10*time.Second), name)
		if err != nil {
			t.Fatal(err)
		}
		if si.ExecutionCount < 1 {
			t.Errorf("numQueriesExecuted %d after several runs", si.ExecutionCount)
		}
	})
}

func TestInterrupt(t *testing.T) {
	t.Parallel()
	c := st.shared.Client()
	name, _ := newSession(t, c)
	run(t, c, name, "x = 7")

	ctx := testCtx(t, 60*time.Second)
	runID := compat.NewRunID()
	res, _, err := c.Execute(ctx, name, "query", runID, "while True:\n    pass\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "continued" {
		t.Fatalf("busy loop answered %q, want continued", res.Status)
	}
	if _, err := c.Interrupt(ctx, name); err != nil {
		t.Fatalf("interrupt: %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for res.Status == "continued" {
		if time.Now().After(deadline) {
			t.Fatal("run still continued 20s after the interrupt")
		}
		if res, _, err = c.Execute(ctx, name, "continue", runID, "", nil); err != nil {
			t.Fatal(err)
		}
	}
	if res.Status != "finished" {
		t.Errorf("interrupted run ended %q", res.Status)
	}
	if r := run(t, c, name, "print(x)"); r.Stdout() != "7\n" {
		t.Errorf("after interrupt: stdout %q stderr %q, want 7 (state kept)", r.Stdout(), r.Stderr())
	}
}

func TestRestartLogsDestroy(t *testing.T) {
	t.Parallel()
	c := st.shared.Client()
	name, id := newSession(t, c)
	ctx := testCtx(t, 120*time.Second)

	run(t, c, name, "x = 5\nprint('hello-logs', flush=True)")
	if _, err := c.Restart(ctx, name); err != nil {
		t.Fatalf("restart: %v", err)
	}
	if si := waitStatus(t, c, name, 30*time.Second, "RUNNING"); si.SessionID != id {
		t.Errorf("restart changed the session id: %s", si.SessionID)
	}
	r := run(t, c, name, "print(x)")
	if !strings.Contains(r.Stderr(), "NameError") {
		t.Errorf("state survived the restart: stdout %q stderr %q", r.Stdout(), r.Stderr())
	}
	if r := run(t, c, name, "print(1)"); r.Stdout() != "1\n" {
		t.Errorf("after restart: stdout %q", r.Stdout())
	}

	if _, err := c.Logs(ctx, name); err != nil {
		t.Errorf("logs: %v", err)
	}

	stats, err := c.Destroy(ctx, name, false)
	if err != nil {
		t.Fatalf("destroy: %v", err)
	}
	t.Logf("destroy stats: %v", stats)
	waitNoContainers(t, id, 10*time.Second)
	si, resp, err := c.Info(ctx, id)
	switch {
	case err == nil && si.Status != "TERMINATED":
		t.Errorf("after destroy: status %s, want TERMINATED or 404", si.Status)
	case err != nil && (resp == nil || resp.Status != http.StatusNotFound):
		t.Errorf("after destroy: %v, want TERMINATED or 404", err)
	}
	if _, _, err := c.Execute(ctx, id, "query", compat.NewRunID(), "print(1)", nil); statusOf(err) < 400 {
		t.Errorf("execute on a destroyed session: %v, want a 4xx", err)
	}
}

// TestOlderClients drives whole sessions with the v4 /kernel API and an
// old-style v3 client that hashes the body, through a legacy /v3 prefix.
func TestOlderClients(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		client  *compat.Client
		wantKID bool
	}{
		{"v4 kernel", st.shared.Client().WithVersion(compat.V4), true},
		{"v3 legacy prefix body hash", func() *compat.Client {
			c := st.shared.Client().WithVersion(compat.V3)
			c.PathPrefix = "/v3"
			return c
		}(), true},
		{"v5 session", st.shared.Client().WithVersion(compat.V5), false},
		{"v5 _/create alias", func() *compat.Client {
			c := st.shared.Client().WithVersion(compat.V5)
			c.CreatePathOverride = "/session/_/create"
			return c
		}(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.client
			ctx := testCtx(t, 90*time.Second)
			name := uniqueName(t)
			res, err := c.Create(ctx, compat.CreateOptions{Image: "python", Name: name})
			if err != nil {
				t.Fatal(err)
			}
			remember(res.ID())
			t.Cleanup(func() { destroyQuietly(t, st.shared.Client(), res.ID()) })
			if res.HTTPStatus != http.StatusCreated {
				t.Errorf("create: HTTP %d", res.HTTPStatus)
			}
			if tc.wantKID && !uuidRE.MatchString(res.KernelID) {
				t.Errorf("v4 answer kernelId %q is not a UUID", res.KernelID)
			}
			if !uuidRE.MatchString(res.ID()) {
				t.Errorf("id %q is not a UUID", res.ID())
			}
			if res.Status != "RUNNING" {
				waitStatus(t, c, name, 60*time.Second, "RUNNING")
			}
			if r := run(t, c, name, "print(6*7)"); r.Stdout() != "42\n" || r.Exit() != 0 {
				t.Errorf("run: console %v exit %d", r.Console, r.Exit())
			}
			if _, err := c.Destroy(ctx, name, false); err != nil {
				t.Fatalf("destroy: %v", err)
			}
			waitNoContainers(t, res.ID(), 10*time.Second)
		})
	}
}

func TestSignatures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		client func() *compat.Client
		req    compat.Request
		want   int
	}{
		{"valid", st.shared.Client, compat.Request{Method: "GET", Path: "/session"}, 200},
		{"wrong secret", st.shared.Client, compat.Request{Method: "GET", Path: "/session", SignWith: strings.Repeat("x", 40)}, 401},
		{"unknown access key", func() *compat.Client {
			c := st.shared.Client()
			c.AccessKey = "AKIANOSUCHKEY0000000"
			return c
		}, compat.Request{Method: "GET", Path: "/session"}, 401},
		{"date 20 min ahead", func() *compat.Client {
			c := st.shared.Client()
			c.Now = func() time.Time { return time.Now().Add(20 * time.Minute) }
			return c
		}, compat.Request{Method: "GET", Path: "/session"}, 401},
		{"date 20 min behind", func() *compat.Client {
			c := st.shared.Client()
			c.Now = func() time.Time { return time.Now().Add(-20 * time.Minute) }
			return c
		}, compat.Request{Method: "GET", Path: "/session"}, 401},
		{"Date header", func() *compat.Client {
			c := st.shared.Client()
			c.DateHeader = "Date"
			return c
		}, compat.Request{Method: "GET", Path: "/session"}, 200},
		{"no authorization", st.shared.Client, compat.Request{Method: "GET", Path: "/session", Header: http.Header{"Authorization": {""}}}, 401},
		{"tampered version header", st.shared.Client, compat.Request{Method: "GET", Path: "/session", Header: http.Header{"X-Backendai-Version": {compat.V5}}}, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := tc.client().Do(testCtx(t, 10*time.Second), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tc.want {
				t.Fatalf("got %s, want %d", resp, tc.want)
			}
			if tc.want == 401 {
				if p, ok := resp.Problem(); !ok || !strings.HasPrefix(p.Type, "https://api.backend.ai/probs/") || p.Title == "" {
					t.Errorf("401 is not a problem+json with type and title: %s", resp)
				}
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	c := st.shared.Client()
	big := `{"image":"` + imageName + `","name":"e2e-too-big","bootstrap_script":"` + strings.Repeat("a", 64<<20) + `"}`
	tests := []struct {
		name     string
		req      compat.Request
		want     int
		contains []string
	}{
		{"unknown session", compat.Request{Method: "GET", Path: "/session/e2e-no-such-session"}, 404, nil},
		{"unknown session execute", compat.Request{Method: "POST", Path: "/session/e2e-no-such-session", Body: []byte(`{"mode":"query","runId":"abc","code":"print(1)"}`)}, 404, nil},
		{"malformed json", compat.Request{Method: "POST", Path: "/session", Body: []byte(`{"image": "python",`)}, 400, nil},
		{"missing image", compat.Request{Method: "POST", Path: "/session", Body: []byte(`{"name":"e2e-missing-image"}`)}, 400, []string{"image"}},
		{"unknown image", compat.Request{Method: "POST", Path: "/session", Body: []byte(`{"image":"nosuchlang:0.0","name":"e2e-unknown-image"}`)}, 400, []string{imageName}},
		{"bad name", compat.Request{Method: "POST", Path: "/session", Body: []byte(`{"image":"python","name":"a b"}`)}, 400, []string{"name"}},
		{"oversized body", compat.Request{Method: "POST", Path: "/session", Body: []byte(big)}, 413, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := c.Do(testCtx(t, 60*time.Second), tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tc.want {
				t.Fatalf("got %s, want %d", resp, tc.want)
			}
			p, ok := resp.Problem()
			if !ok || !strings.HasPrefix(p.Type, "https://api.backend.ai/probs/") || p.Title == "" {
				t.Errorf("not a problem+json with type and title: %s", resp)
			}
			text := p.Title + " " + p.Msg
			for _, s := range tc.contains {
				if !strings.Contains(text, s) {
					t.Errorf("problem %q does not mention %q", text, s)
				}
			}
		})
	}
	// Nothing of the refused creates may exist.
	list, err := c.List(testCtx(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if strings.HasPrefix(s.SessionName, "e2e-missing") || strings.HasPrefix(s.SessionName, "e2e-unknown") || s.SessionName == "e2e-too-big" {
			b, _ := json.Marshal(s)
			t.Errorf("a refused create left a session: %s", b)
			destroyQuietly(t, c, s.SessionID)
		}
	}
}
