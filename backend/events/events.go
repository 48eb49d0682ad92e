// Package events is the manager's in-process event bus: session lifecycle
// events are published once and delivered to every subscriber whose filter
// matches, so waiters (a create call waiting for RUNNING, SSE streams) are
// woken by the event itself instead of polling the database.
package events

import "sync"

// Event is one session lifecycle event (names as in API.md).
type Event struct {
	Name           string `json:"name"` // session_started, session_terminated, ...
	SessionID      string `json:"sessionId"`
	SessionName    string `json:"sessionName"`
	OwnerAccessKey string `json:"ownerAccessKey"`
	Status         string `json:"status"`
	Reason         string `json:"reason"`
}

// Event names.
const (
	SessionEnqueued   = "session_enqueued"
	SessionScheduled  = "session_scheduled"
	SessionPreparing  = "session_preparing"
	SessionStarted    = "session_started"
	SessionTerminated = "session_terminated"
	SessionCancelled  = "session_cancelled"
	SessionFailure    = "session_failure"
	SessionRestarted  = "session_restarted"
)

// Bus fans events out to subscribers.
type Bus struct {
	mu   sync.Mutex
	next int
	subs map[int]*sub
	out  func(Event) // forwards local events to other managers; nil alone
}

// SetForward makes Publish also hand every event to fn (a relay to the
// other managers). fn must not block.
func (b *Bus) SetForward(fn func(Event)) {
	b.mu.Lock()
	b.out = fn
	b.mu.Unlock()
}

type sub struct {
	match func(Event) bool
	ch    chan Event
}

// NewBus returns an empty bus.
func NewBus() *Bus { return &Bus{subs: map[int]*sub{}} }

// Subscribe delivers matching events on the returned channel until cancel is
// called. A subscriber that falls 64 events behind loses the oldest ones
// rather than blocking publishers.
func (b *Bus) Subscribe(match func(Event) bool) (<-chan Event, func()) {
	return b.SubscribeN(match, 64)
}

// SubscribeN is Subscribe with room for n events: streams to clients, which
// may see bursts of thousands (a scheduling round), ask for more.
func (b *Bus) SubscribeN(match func(Event) bool, n int) (<-chan Event, func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	id := b.next
	b.next++
	s := &sub{match: match, ch: make(chan Event, n)}
	b.subs[id] = s
	return s.ch, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.subs, id)
	}
}

// Publish delivers e to every matching subscriber without blocking, and
// forwards it to the other managers when a relay is set.
func (b *Bus) Publish(e Event) {
	b.Deliver(e)
	b.mu.Lock()
	out := b.out
	b.mu.Unlock()
	if out != nil {
		out(e)
	}
}

// Deliver delivers e to this process's subscribers only (events that came
// from another manager).
func (b *Bus) Deliver(e Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.subs {
		if s.match != nil && !s.match(e) {
			continue
		}
		select {
		case s.ch <- e:
		default:
			select { // drop the oldest, keep the newest
			case <-s.ch:
			default:
			}
			select {
			case s.ch <- e:
			default:
			}
		}
	}
}
