package auth

import (
	"sync"
	"time"
)

// RateWindow is the rolling window of per-keypair rate limits, as in
// Backend.AI (X-RateLimit-Window: 900).
const RateWindow = 15 * time.Minute

// rateSlots is how many buckets the window is cut into; the count is exact
// to within one bucket (a minute).
const rateSlots = 15

// RateLimiter counts each keypair's requests over a rolling window. The
// counts live in this manager's memory: with several managers each one
// enforces the limit on what it serves.
type RateLimiter struct {
	mu   sync.Mutex
	keys map[string]*rateRing
	now  func() time.Time
}

type rateRing struct {
	counts [rateSlots]int
	stamps [rateSlots]int64 // bucket number each count belongs to
}

// NewRateLimiter returns an empty limiter; now may be nil (time.Now).
func NewRateLimiter(now func() time.Time) *RateLimiter {
	if now == nil {
		now = time.Now
	}
	return &RateLimiter{keys: map[string]*rateRing{}, now: now}
}

// Allow counts one request of key against limit and returns the requests
// left in the window and whether this one is allowed. A limit of 0 or
// less means unlimited. A refused request is not counted.
func (l *RateLimiter) Allow(key string, limit int) (remaining int, ok bool) {
	bucket := l.now().UnixNano() / int64(RateWindow/rateSlots)
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.keys[key]
	if r == nil {
		r = &rateRing{}
		l.keys[key] = r
	}
	used := 0
	for i := range r.counts {
		if bucket-r.stamps[i] < rateSlots {
			used += r.counts[i]
		}
	}
	if limit <= 0 {
		return -1, true
	}
	if used >= limit {
		return 0, false
	}
	i := bucket % rateSlots
	if r.stamps[i] != bucket {
		r.stamps[i], r.counts[i] = bucket, 0
	}
	r.counts[i]++
	return limit - used - 1, true
}
