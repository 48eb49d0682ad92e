package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"baigo.dev/bai/internal/servertest"
)

type sseEvent struct {
	name string
	data map[string]any
}

// openEvents opens GET path as a Server-Sent Events stream and returns a
// channel of its events.
func openEvents(t *testing.T, s *servertest.Server, h http.Header, path string) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+path, nil)
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	ch := make(chan sseEvent, 64)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.data)
			case line == "" && ev.name != "":
				ch <- ev
				ev = sseEvent{}
			}
		}
	}()
	return ch
}

func next(t *testing.T, ch <-chan sseEvent) sseEvent {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(30 * time.Second):
		t.Fatal("no event within 30s")
	}
	return sseEvent{}
}

func TestSessionEvents(t *testing.T) {
	s := servertest.New(t, servertest.Options{Agent: true})
	ak, sk := s.AddUser(t, "watcher@example.com")
	mine := openEvents(t, s, s.SignedHeader("GET", "/events/session?name=ev-1"), "/events/session?name=ev-1")
	theirs := openEvents(t, s, s.SignedHeaderAs(ak, sk, "GET", "/events/session"), "/events/session")

	if r := s.Do("POST", "/session", map[string]any{"image": "python", "name": "ev-1"}, nil); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var names []string
	for e := next(t, mine); ; e = next(t, mine) {
		if e.data["sessionName"] != "ev-1" || e.data["ownerAccessKey"] != s.Creds.AccessKey {
			t.Fatalf("event data %+v", e.data)
		}
		names = append(names, e.name)
		if e.name == "session_started" {
			break
		}
	}
	if strings.Join(names, ",") != "session_enqueued,session_scheduled,session_preparing,session_started" {
		t.Errorf("lifecycle events %v", names)
	}
	if r := s.Do("DELETE", "/session/ev-1", nil, nil); r.Status != 200 {
		t.Fatalf("destroy: %d", r.Status)
	}
	if e := next(t, mine); e.name != "session_terminated" || e.data["result"] != "SUCCESS" {
		t.Errorf("after destroy: %+v", e)
	}

	// The other tenant saw none of that: the first event it gets is about
	// its own session.
	if r := s.DoAs(ak, sk, "POST", "/session", map[string]any{"image": "python", "name": "ev-2", "enqueueOnly": true}, nil); r.Status != 201 {
		t.Fatalf("create as user: %d %s", r.Status, r.Body)
	}
	if e := next(t, theirs); e.data["sessionName"] != "ev-2" {
		t.Errorf("other tenant got %+v", e)
	}
	// Only superadmins may watch everybody.
	if r := s.DoAs(ak, sk, "GET", "/events/session?scope=*", nil, nil); r.Status != 403 {
		t.Errorf("scope=* by a user: %d", r.Status)
	}
}
