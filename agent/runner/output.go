package runner

import (
	"bytes"
	"sync"
	"time"
	"unicode/utf8"
)

// Output is where a run writes what the agent should see. The emitter is the
// implementation; drivers and batch runs only see this interface.
type Output interface {
	// Text queues valid UTF-8 text for a stream op (kproto.OpStdout or
	// kproto.OpStderr). Consecutive text of the same op may be coalesced.
	Text(op string, p []byte)
	// Send flushes queued text, then sends one message, preserving order.
	Send(op string, payload []byte)
}

// Default coalescing parameters: a burst is flushed once this much is queued
// or this long after its first byte, whichever comes first.
const (
	defaultFlushBytes = 64 << 10
	defaultFlushDelay = time.Millisecond
)

type segment struct {
	op  string
	buf []byte
}

// emitter coalesces stream text into few messages while keeping the order of
// everything it sends. All messages to the agent go through it.
type emitter struct {
	send  func(op string, payload []byte)
	max   int
	delay time.Duration

	mu    sync.Mutex
	segs  []segment
	size  int
	timer *time.Timer
	armed bool
}

func newEmitter(send func(op string, payload []byte), maxBytes int, delay time.Duration) *emitter {
	return &emitter{send: send, max: maxBytes, delay: delay}
}

// Text implements Output.
func (e *emitter) Text(op string, p []byte) {
	if len(p) == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	n := len(e.segs)
	if n > 0 && e.segs[n-1].op == op {
		e.segs[n-1].buf = append(e.segs[n-1].buf, p...)
	} else {
		if n < cap(e.segs) {
			// Reuse the buffer left by an earlier flush.
			e.segs = e.segs[:n+1]
			e.segs[n].op = op
			e.segs[n].buf = append(e.segs[n].buf[:0], p...)
		} else {
			e.segs = append(e.segs, segment{op: op, buf: append([]byte(nil), p...)})
		}
	}
	e.size += len(p)
	if e.size >= e.max {
		e.flushLocked()
		return
	}
	if !e.armed {
		e.armed = true
		if e.timer == nil {
			e.timer = time.AfterFunc(e.delay, e.Flush)
		} else {
			e.timer.Reset(e.delay)
		}
	}
}

// Flush sends whatever text is queued.
func (e *emitter) Flush() {
	e.mu.Lock()
	e.flushLocked()
	e.mu.Unlock()
}

// Send implements Output.
func (e *emitter) Send(op string, payload []byte) {
	e.mu.Lock()
	e.flushLocked()
	e.send(op, payload)
	e.mu.Unlock()
}

func (e *emitter) flushLocked() {
	if e.armed {
		e.timer.Stop()
		e.armed = false
	}
	for i := range e.segs {
		e.sendChunks(e.segs[i].op, e.segs[i].buf)
		if cap(e.segs[i].buf) > 4*e.max {
			e.segs[i].buf = nil // do not keep a huge burst's buffer around
		}
	}
	e.segs = e.segs[:0]
	e.size = 0
}

// sendChunks sends text in messages of at most e.max bytes, cutting only at
// rune boundaries, so one huge print does not become one huge message.
func (e *emitter) sendChunks(op string, p []byte) {
	for len(p) > e.max {
		cut := e.max
		for cut > e.max-utf8.UTFMax && !utf8.RuneStart(p[cut]) {
			cut--
		}
		e.send(op, p[:cut])
		p = p[cut:]
	}
	e.send(op, p)
}

// utf8Stream turns a byte stream into valid UTF-8 text chunks: an incomplete
// sequence at the end of a chunk is held back until the next one, and
// invalid bytes become U+FFFD.
type utf8Stream struct {
	op   string
	tail []byte
}

// feed passes the complete text of tail+p to out.
func (s *utf8Stream) feed(out Output, p []byte) {
	if len(s.tail) > 0 {
		p = append(s.tail, p...)
		s.tail = nil
	}
	cut := incompleteSuffix(p)
	if cut < len(p) {
		s.tail = append([]byte(nil), p[cut:]...)
		p = p[:cut]
	}
	if len(p) == 0 {
		return
	}
	if !utf8.Valid(p) {
		p = bytes.ToValidUTF8(p, []byte("\uFFFD"))
	}
	out.Text(s.op, p)
}

// flush emits a held-back incomplete sequence as U+FFFD.
func (s *utf8Stream) flush(out Output) {
	if len(s.tail) > 0 {
		s.tail = nil
		out.Text(s.op, []byte("\uFFFD"))
	}
}

// incompleteSuffix returns where a trailing, possibly valid but incomplete
// UTF-8 sequence starts in p, or len(p) when p ends on a boundary.
func incompleteSuffix(p []byte) int {
	n := len(p)
	for i := n - 1; i >= 0 && i >= n-3; i-- {
		b := p[i]
		if b < 0x80 {
			return n // ASCII: boundary
		}
		if b < 0xC0 {
			continue // continuation byte
		}
		if !utf8.FullRune(p[i:]) {
			return i
		}
		return n
	}
	return n
}
