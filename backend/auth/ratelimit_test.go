package auth_test

import (
	"testing"
	"time"

	"baigo.dev/bai/backend/auth"
)

func TestRateLimiter(t *testing.T) {
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	l := auth.NewRateLimiter(func() time.Time { return now })
	for i := 0; i < 3; i++ {
		left, ok := l.Allow("AK", 3)
		if !ok || left != 2-i {
			t.Fatalf("request %d: left %d ok %v", i, left, ok)
		}
	}
	if _, ok := l.Allow("AK", 3); ok {
		t.Fatal("fourth request allowed")
	}
	if _, ok := l.Allow("OTHER", 3); !ok {
		t.Fatal("another key was limited")
	}
	now = now.Add(10 * time.Minute) // still inside the window
	if _, ok := l.Allow("AK", 3); ok {
		t.Fatal("allowed 10 minutes later")
	}
	now = now.Add(6 * time.Minute) // the first requests left the window
	if left, ok := l.Allow("AK", 3); !ok || left != 2 {
		t.Fatalf("after the window: left %d ok %v", left, ok)
	}
	if left, ok := l.Allow("AK", 0); !ok || left != -1 {
		t.Fatalf("unlimited: %d %v", left, ok)
	}
}
