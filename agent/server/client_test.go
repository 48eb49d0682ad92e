package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"baigo.dev/bai/agent/server"
	"baigo.dev/bai/backend/config"
	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/internal/servertest"
)

func beat(id string, first bool, images []aproto.Image) aproto.Heartbeat {
	return aproto.Heartbeat{AgentID: id, Addr: "http://127.0.0.1:1", Capacity: map[string]float64{"cpu": 1, "mem": 1 << 30},
		Images: images, ImagesDigest: aproto.ImagesDigest([]aproto.Image{{Name: "python:3.11-debian", Ref: "bai/python"}}), First: first}
}

var imgs = []aproto.Image{{Name: "python:3.11-debian", Ref: "bai/python"}}

// The heartbeat stream against a real manager: heartbeats go over one
// WebSocket, the image list is asked for when the manager lacks it, and the
// agent fails over to another replica when its manager goes away.
func TestHeartbeatStream(t *testing.T) {
	secret := "stream-test-secret"
	cfg := func(c *config.Config) { c.ClusterSecret = secret }
	m1 := servertest.New(t, servertest.Options{Config: cfg})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	c := server.NewClient(m1.URL, secret, nil)
	defer c.Close()
	if r, err := c.Heartbeat(ctx, beat("s1", true, imgs)); err != nil || !r.Empty() {
		t.Fatalf("first heartbeat: %+v %v", r, err)
	}
	for i := 0; i < 12; i++ { // mostly unanswered, some acknowledged
		if r, err := c.Heartbeat(ctx, beat("s1", false, nil)); err != nil || !r.Empty() {
			t.Fatalf("heartbeat %d: %+v %v", i, r, err)
		}
	}
	// A second agent whose digest this manager never saw is asked for the
	// list (the answer may come with the next call: it was not asked for).
	c2 := server.NewClient(m1.URL, secret, nil)
	defer c2.Close()
	hb := beat("s2", false, nil)
	hb.ImagesDigest = "unknown-digest"
	asked := false
	for i := 0; i < 3 && !asked; i++ {
		r, err := c2.Heartbeat(ctx, hb)
		if err != nil {
			t.Fatal(err)
		}
		asked = r.NeedImages
	}
	if !asked {
		t.Error("manager never asked for the unknown image list")
	}
	// A refused heartbeat is an error, not a silent drop.
	if _, err := c2.Heartbeat(ctx, aproto.Heartbeat{AgentID: "s2", Ack: true}); err == nil {
		t.Error("a heartbeat without addr was accepted")
	}
}

func TestHeartbeatFailover(t *testing.T) {
	// A replica without the stream (answers POST only) behind one that is
	// down: the client skips the dead one and POSTs to the other.
	var posts atomic.Int32
	old := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/agent/heartbeat" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		posts.Add(1)
		_ = json.NewEncoder(w).Encode(aproto.HeartbeatReply{})
	}))
	defer old.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	c := server.NewClient(deadURL+","+old.URL, "s", nil)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < 3; i++ {
		if _, err := c.Heartbeat(ctx, beat("f1", i == 0, imgs)); err != nil {
			t.Fatalf("heartbeat %d: %v", i, err)
		}
	}
	if posts.Load() != 3 {
		t.Errorf("POSTs to the stream-less replica: %d, want 3", posts.Load())
	}
}
