package e2e_test

import (
	"net/http"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"baigo.dev/bai/e2e/compat"
)

// TestContainerKilledFromOutside kills a kernel container behind the
// server's back: the session must turn ERROR or TERMINATED with a reason and
// an execute must answer an error at once instead of hanging.
func TestContainerKilledFromOutside(t *testing.T) {
	t.Parallel()
	c := st.shared.Client()
	name, id := newSession(t, c)
	run(t, c, name, "x = 1")
	ids := containersOf(t, id)
	if len(ids) != 1 {
		t.Fatalf("session %s has containers %v, want one", id, ids)
	}
	if out, err := exec.Command("docker", "kill", ids[0]).CombinedOutput(); err != nil {
		t.Fatalf("docker kill: %v: %s", err, out)
	}
	si := waitStatus(t, c, name, 10*time.Second, "ERROR", "TERMINATED")
	if si.StatusInfo == "" {
		t.Errorf("status %s without a statusInfo reason", si.Status)
	}

	ctx := testCtx(t, 15*time.Second)
	start := time.Now()
	_, resp, err := c.Execute(ctx, name, "query", compat.NewRunID(), "print(x)", nil)
	took := time.Since(start)
	switch {
	case err == nil:
		t.Errorf("execute on a dead session succeeded: %s", resp)
	case resp == nil:
		t.Errorf("execute on a dead session: %v after %s (want a clear error answer)", err, took.Round(time.Millisecond))
	case resp.Status < 400:
		t.Errorf("execute on a dead session: %s", resp)
	default:
		if p, ok := resp.Problem(); !ok || p.Title == "" {
			t.Errorf("error answer is not a problem+json: %s", resp)
		}
		t.Logf("execute on a dead session answered %d in %s: %s", resp.Status, took.Round(time.Millisecond), resp.Body)
	}
	if took > 5*time.Second {
		t.Errorf("execute on a dead session took %s", took)
	}
}

// TestManagerRestartAdoptsSessions stops bai dev, removes one container
// while it is down, and starts it again on the same data directory.
func TestManagerRestartAdoptsSessions(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "restart")
	srv, err := startServer(dir, "", "")
	if err != nil {
		t.Fatal(err)
	}
	cur := srv // the process the cleanup stops
	t.Cleanup(func() {
		if cur != nil {
			_ = cur.Stop()
		}
		if t.Failed() {
			t.Logf("restart instance log:\n%s", srv.LogTail(80))
		}
	})
	c := srv.Client()
	keep, keepID := newSession(t, c)
	gone, goneID := newSession(t, c)
	run(t, c, keep, "x = 99")

	if err := srv.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if ids := containersOf(t, keepID); len(ids) != 1 {
		t.Fatalf("after SIGTERM the kept session has containers %v, want its one container left running", ids)
	}
	for _, cid := range containersOf(t, goneID) {
		if out, err := exec.Command("docker", "rm", "-f", cid).CombinedOutput(); err != nil {
			t.Fatalf("docker rm: %v: %s", err, out)
		}
	}

	cur = nil
	srv2, err := startServer(dir, srv.Opts.Listen, srv.Opts.AgentListen)
	if err != nil {
		removeContainers(append(containersOf(t, keepID), containersOf(t, goneID)...))
		t.Fatalf("restart: %v", err)
	}
	cur = srv2
	c = srv2.Client()
	if srv2.Creds.AccessKey != srv.Creds.AccessKey {
		t.Errorf("restart made a new keypair")
	}

	list, err := c.List(testCtx(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	for _, s := range list {
		listed[s.SessionID] = s.Status
	}
	if listed[keepID] != "RUNNING" {
		t.Errorf("kept session listed as %q after restart, want RUNNING (list %v)", listed[keepID], listed)
	}
	if r := run(t, c, keep, "print(x)"); r.Stdout() != "99\n" {
		t.Errorf("state after restart: stdout %q stderr %q, want 99", r.Stdout(), r.Stderr())
	}
	if ids := containersOf(t, keepID); len(ids) != 1 {
		t.Errorf("kept session has containers %v after restart, want the same one", ids)
	}
	si := waitStatus(t, c, gone, 15*time.Second, "ERROR", "TERMINATED")
	if si.StatusInfo == "" {
		t.Errorf("removed session is %s without a reason", si.Status)
	}
	t.Logf("after the restart: kept session %s with its state; removed one %s (%s)", listed[keepID], si.Status, si.StatusInfo)
	if _, _, err := c.Execute(testCtx(t, 15*time.Second), gone, "query", compat.NewRunID(), "print(1)", nil); statusOf(err) < 400 {
		t.Errorf("execute on the removed session: %v, want an error status", err)
	}
	// Destroy both now, through the running instance, before it stops.
	for _, id := range []string{keepID, goneID} {
		destroyQuietly(t, c, id)
		waitNoContainers(t, id, 10*time.Second)
	}
	if _, resp, _ := c.Info(testCtx(t, 10*time.Second), keepID); resp != nil && resp.Status != http.StatusOK && resp.Status != http.StatusNotFound {
		t.Errorf("info after destroy: %s", resp)
	}
}
