package webauth

import (
	"sync"
	"time"
)

// failures counts failed sign-ins per client address over a sliding
// window, so guessing secret keys through the sign-in form is slow. It
// lives in this manager's memory: with several managers each one counts
// what it serves.
type failures struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	now    func() time.Time
	at     map[string][]time.Time // failure times within the window, oldest first
}

func newFailures(limit int, window time.Duration, now func() time.Time) *failures {
	return &failures{limit: limit, window: window, now: now, at: map[string][]time.Time{}}
}

// recent drops the times that left the window and returns the rest.
func (f *failures) recent(addr string, now time.Time) []time.Time {
	ts := f.at[addr]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= f.window {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(f.at, addr)
	} else {
		f.at[addr] = ts
	}
	return ts
}

// blocked reports whether addr has used up its failures in the window.
func (f *failures) blocked(addr string) bool {
	if f.limit <= 0 {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.recent(addr, f.now())) >= f.limit
}

// add counts one failure of addr.
func (f *failures) add(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	ts := f.recent(addr, now)
	if len(ts) >= f.limit && f.limit > 0 {
		return // blocked already; the count need not grow
	}
	f.at[addr] = append(ts, now)
}

// prune forgets addresses whose failures have all left the window.
func (f *failures) prune() {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	for addr := range f.at {
		f.recent(addr, now)
	}
}
