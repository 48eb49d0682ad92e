package api_test

import (
	"encoding/json"
	"testing"
	"time"

	"baigo.dev/bai/internal/servertest"
)

// TestKeypairLastUsed: a signed request marks its keypair's last use,
// which the admin keypair list shows.
func TestKeypairLastUsed(t *testing.T) {
	s := servertest.New(t, servertest.Options{})
	before := time.Now().Add(-time.Second)
	if r := s.Do("GET", "/session", nil, nil); r.Status != 200 {
		t.Fatalf("list sessions: %d %s", r.Status, r.Body)
	}
	// The write is off the request's path: wait for it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := s.Do("GET", "/admin/keypairs", nil, nil)
		if r.Status != 200 {
			t.Fatalf("keypairs: %d %s", r.Status, r.Body)
		}
		var out struct {
			Keypairs []struct {
				AccessKey string     `json:"accessKey"`
				LastUsed  *time.Time `json:"lastUsed"`
			} `json:"keypairs"`
		}
		if err := json.Unmarshal(r.Body, &out); err != nil {
			t.Fatal(err)
		}
		var seen *time.Time
		for _, k := range out.Keypairs {
			if k.AccessKey == s.Creds.AccessKey {
				seen = k.LastUsed
			}
		}
		if seen != nil {
			if seen.Before(before) {
				t.Errorf("lastUsed %s is older than the request (%s)", seen, before)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lastUsed never set for %s: %s", s.Creds.AccessKey, r.Body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
