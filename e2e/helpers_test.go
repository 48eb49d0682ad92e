package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"baigo.dev/bai/common/types"
	"baigo.dev/bai/e2e/compat"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// testCtx is a context bounded by limit and the test's end.
func testCtx(t *testing.T, limit time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	return ctx
}

// uniqueName makes a valid session name from the test name.
func uniqueName(t *testing.T) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	base := strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-"))
	base = strings.TrimPrefix(base, "test")
	if len(base) > 40 {
		base = base[len(base)-40:]
	}
	return strings.Trim("e2e-"+strings.Trim(base, "-"), "-") + "-" + hex.EncodeToString(b[:])
}

// newSession creates a running python session and destroys it at cleanup.
func newSession(t *testing.T, c *compat.Client) (name, id string) {
	t.Helper()
	return newSessionWith(t, c, compat.CreateOptions{})
}

// newSessionWith is newSession with more create options (image and name
// are filled in when empty).
func newSessionWith(t *testing.T, c *compat.Client, o compat.CreateOptions) (name, id string) {
	t.Helper()
	if o.Image == "" {
		o.Image = imageName
	}
	if o.Name == "" {
		o.Name = uniqueName(t)
	}
	name = o.Name
	ctx := testCtx(t, 90*time.Second)
	res, err := c.Create(ctx, o)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	id = res.ID()
	remember(id)
	t.Cleanup(func() { destroyQuietly(t, c, id) })
	if res.Status != string(types.StatusRunning) {
		waitStatus(t, c, id, 60*time.Second, string(types.StatusRunning))
	}
	return name, id
}

// destroyQuietly destroys a session at cleanup, accepting "already gone".
func destroyQuietly(t *testing.T, c *compat.Client, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := c.Destroy(ctx, id, true)
	var se *compat.StatusError
	if err != nil && !(errors.As(err, &se) && (se.Resp.Status == http.StatusNotFound || se.Resp.Status == http.StatusGone)) {
		t.Errorf("cleanup: destroy %s: %v", id, err)
	}
}

// waitStatus polls the session until its status is one of want.
func waitStatus(t *testing.T, c *compat.Client, name string, limit time.Duration, want ...string) *compat.SessionInfo {
	t.Helper()
	deadline := time.Now().Add(limit)
	var last string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		si, resp, err := c.Info(ctx, name)
		cancel()
		if err == nil {
			for _, w := range want {
				if si.Status == w {
					return si
				}
			}
			last = "status " + si.Status + " (" + si.StatusInfo + ")"
		} else if resp != nil {
			last = resp.String()
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s not in %v within %s; last: %s", name, want, limit, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// run executes code through the polling loop and fails the test on error.
func run(t *testing.T, c *compat.Client, name, code string) *compat.Run {
	t.Helper()
	r, err := c.RunCode(testCtx(t, 60*time.Second), name, code)
	if err != nil {
		t.Fatalf("run %q: %v", code, err)
	}
	return r
}

// containersOf lists the containers (any state) labelled with the session.
func containersOf(t *testing.T, sessionID string) []string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-a", "-q", "--filter", "label="+types.LabelSessionID+"="+sessionID).Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	return strings.Fields(string(out))
}

// waitNoContainers polls until the session has no container left.
func waitNoContainers(t *testing.T, sessionID string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		ids := containersOf(t, sessionID)
		if len(ids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("containers %v of session %s still exist %s after destroy", ids, sessionID, limit)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// statusOf returns the HTTP status of an error from the compat client.
func statusOf(err error) int {
	var se *compat.StatusError
	if errors.As(err, &se) {
		return se.Resp.Status
	}
	return 0
}

// syncBuffer collects a background program's output: safe for the
// program's writes and the test's reads at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
