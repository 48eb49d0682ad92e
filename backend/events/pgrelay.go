package events

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// Channel is the Postgres NOTIFY channel that carries session events
// between managers sharing one database.
const Channel = "bai_events"

// wire is an event on the channel, tagged with the manager that published
// it so a manager does not deliver its own events twice.
type wire struct {
	Origin string `json:"o"`
	Event  Event  `json:"e"`
}

// Relay connects a Bus to the other managers through Postgres LISTEN/NOTIFY:
// every locally published event is NOTIFYed, every notification from another
// manager is delivered to the local subscribers. A client's SSE stream or a
// waiting create call therefore sees events no matter which replica
// produced them.
//
// Delivery is at most once: events published while the listening connection
// is down are lost to this replica (clients that must not miss a state read
// it with GET /session/{id}; the stream resumes on reconnect).
type Relay struct {
	bus    *Bus
	db     *sql.DB
	dsn    string
	origin string
	log    *slog.Logger
	out    chan Event
	ready  chan struct{}
}

// NewRelay builds a relay; db is the manager's pool (used to NOTIFY), dsn
// opens the dedicated LISTEN connection.
func NewRelay(bus *Bus, db *sql.DB, dsn string, log *slog.Logger) *Relay {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	r := &Relay{bus: bus, db: db, dsn: dsn, origin: hex.EncodeToString(b), log: log,
		out: make(chan Event, 4096), ready: make(chan struct{})}
	bus.SetForward(r.forward)
	return r
}

// Ready is closed once the relay listens for the first time.
func (r *Relay) Ready() <-chan struct{} { return r.ready }

func (r *Relay) forward(e Event) {
	select {
	case r.out <- e:
	default:
		r.log.Warn("event relay is behind; an event was not sent to the other managers", "event", e.Name, "session_id", e.SessionID)
	}
}

// Run listens and notifies until ctx ends.
func (r *Relay) Run(ctx context.Context) {
	go r.send(ctx)
	backoff := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		err := r.listen(ctx, func() {
			backoff = 100 * time.Millisecond
			if first {
				first = false
				close(r.ready)
			}
		})
		if ctx.Err() != nil {
			return
		}
		r.log.Warn("event relay: listening connection failed; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (r *Relay) listen(ctx context.Context, ok func()) error {
	conn, err := pgx.Connect(ctx, r.dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+Channel); err != nil {
		return err
	}
	ok()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var w wire
		if err := json.Unmarshal([]byte(n.Payload), &w); err != nil || w.Origin == r.origin {
			continue
		}
		r.bus.Deliver(w.Event)
	}
}

// send NOTIFYs local events in publish order from one goroutine.
func (r *Relay) send(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-r.out:
			b, err := json.Marshal(wire{Origin: r.origin, Event: e})
			if err != nil {
				continue
			}
			if _, err := r.db.ExecContext(ctx, "SELECT pg_notify($1, $2)", Channel, string(b)); err != nil && ctx.Err() == nil {
				r.log.Warn("event relay: notify failed", "err", err, "event", e.Name)
			}
		}
	}
}
