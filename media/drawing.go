package media

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"baigo.dev/bai/common/errdefs"
)

// DrawingMIME is the media type of the animated drawings that
// python/bai_media's Canvas emits; python/README.md defines the format.
const DrawingMIME = "application/x-bai-drawing"

// Limits of RenderDrawing. A drawing stream comes from user code, so every
// dimension of it is bounded before it turns into memory or output.
const (
	// MaxDrawingInput is the largest total size, in bytes, of the
	// documents RenderDrawing reads.
	MaxDrawingInput = 32 << 20
	// MaxDrawingDocs is the most documents one drawing may have.
	MaxDrawingDocs = 20_000
	// MaxDrawingCommands is the most commands (over all documents of the
	// drawing) RenderDrawing applies unless DrawingOptions.MaxCommands is
	// lower.
	MaxDrawingCommands = 200_000
	// MaxDrawingPoints is the most points of one polygon.
	MaxDrawingPoints = 10_000
	// MaxDrawingText is the longest text of one text shape, in bytes.
	MaxDrawingText = 10_000
	// MaxDrawingSide is the largest canvas width or height, in pixels.
	MaxDrawingSide = 10_000
	// MaxDrawingDuration is the longest animation RenderDrawing writes.
	MaxDrawingDuration = time.Hour
	// MaxDrawingCoord bounds the absolute value of every coordinate, size,
	// radius, line width and angle.
	MaxDrawingCoord = 1e6
)

// Defaults of DrawingOptions.
const (
	DefaultFrameInterval = 100 * time.Millisecond
	DefaultHold          = time.Second
)

// maxDrawingNotes is how many skipped-input notes the output's comment
// lists one by one; the rest are counted.
const maxDrawingNotes = 20

// DrawingOptions tune RenderDrawing. The zero value renders the first
// canvas of the stream, one document every DefaultFrameInterval, played
// once, with the default limits.
type DrawingOptions struct {
	// Canvas is the id of the canvas to render; "" means the canvas of the
	// first document. Documents of other canvases are skipped.
	Canvas string
	// Times, when not nil, holds the time of each document (one per
	// document passed to RenderDrawing, all canvases counted, in order,
	// never decreasing), such as the time each one arrived. The first
	// rendered document starts the animation.
	Times []time.Duration
	// FrameInterval is the time between two documents when Times is nil;
	// 0 means DefaultFrameInterval. The drawing format carries no time
	// stamps, so without Times each document is one frame.
	FrameInterval time.Duration
	// Hold is how long the last frame stays before the animation ends (or
	// starts again); 0 means DefaultHold.
	Hold time.Duration
	// Loop plays the animation forever instead of once.
	Loop bool
	// MaxCommands lowers MaxDrawingCommands; 0 or more than it means
	// MaxDrawingCommands.
	MaxCommands int
	// MaxSize is the largest output, in bytes; 0 or more than MaxSVGSize
	// means MaxSVGSize, so that the output always passes SanitizeSVG.
	MaxSize int
}

// RenderDrawing turns the stream of application/x-bai-drawing documents
// that a program emitted (a full snapshot, then diffs; see
// python/README.md) into one standalone SVG document that plays the
// drawing with SMIL animation and no script, for clients that run no
// JavaScript.
//
// Every shape that was ever visible is one element, in drawing order.
// What changes over time (geometry, colours, rotation, visibility, text)
// is one <animate> or <animateTransform> per attribute with
// calcMode="discrete", keyTimes taken from the documents' times and
// fill="freeze" (or repeatCount="indefinite" with DrawingOptions.Loop), so
// the animation loops without chains of event-timed elements. The
// attributes themselves hold the last frame, so a viewer without SMIL (an
// image converter) shows the finished drawing. A stream whose documents
// all fall at one time gives a static SVG.
//
// The output is deterministic: the same input gives the same bytes
// (attributes sorted by name, numbers with at most three decimals, the one
// id derived from a hash of the input). It is a fixed point of
// SanitizeSVG except for a leading comment, present only when some input
// was skipped, that says what: unknown operations and shape kinds,
// malformed commands, and invalid property values (non-finite or huge
// numbers, colours that are not "#rgb", "#rrggbb" or "#rrggbbaa", font
// names with characters outside a plain set, an unknown alignment). Those
// are skipped rather than fatal because the format asks renderers to
// ignore what they do not know. Text is escaped; characters that XML
// cannot hold become U+FFFD.
//
// A document that is not a JSON object with the format's canvas fields,
// or an invalid width or height, is refused with an error wrapping
// errdefs.ErrInvalidArgument; a stream over MaxDrawingInput bytes,
// MaxDrawingDocs documents or the command limit, or an output over the
// size limit, is refused with one wrapping errdefs.ErrTooLarge.
func RenderDrawing(docs [][]byte, opt DrawingOptions) ([]byte, error) {
	if err := checkDrawingOptions(docs, &opt); err != nil {
		return nil, err
	}
	r := &drawRender{opt: opt, live: map[int64]*drawShape{}}
	total := 0
	for _, d := range docs {
		total += len(d)
	}
	if total > MaxDrawingInput {
		return nil, fmt.Errorf("drawing: %d bytes of documents, over the limit of %d: %w", total, MaxDrawingInput, errdefs.ErrTooLarge)
	}
	if len(docs) > MaxDrawingDocs {
		return nil, fmt.Errorf("drawing: %d documents, over the limit of %d: %w", len(docs), MaxDrawingDocs, errdefs.ErrTooLarge)
	}
	h := sha256.New()
	var t0 time.Duration
	rendered := 0
	for i, raw := range docs {
		doc, err := parseDrawingDoc(raw)
		if err != nil {
			return nil, fmt.Errorf("drawing: document %d: %w", i+1, err)
		}
		if r.opt.Canvas == "" {
			r.opt.Canvas = doc.Canvas
		}
		if doc.Canvas != r.opt.Canvas {
			r.note("document %d is for another canvas", i+1)
			continue
		}
		at := time.Duration(rendered) * opt.FrameInterval
		if opt.Times != nil {
			if rendered == 0 {
				t0 = opt.Times[i]
			}
			at = opt.Times[i] - t0
		}
		if at > MaxDrawingDuration {
			return nil, fmt.Errorf("drawing: document %d comes %s after the first, over the limit of %s: %w", i+1, at, MaxDrawingDuration, errdefs.ErrTooLarge)
		}
		rendered++
		h.Write(raw)
		h.Write([]byte{0})
		r.startFrame(at.Milliseconds())
		if err := r.apply(i+1, doc); err != nil {
			return nil, err
		}
	}
	if rendered == 0 {
		return nil, fmt.Errorf("drawing: no document for canvas %q: %w", r.opt.Canvas, errdefs.ErrInvalidArgument)
	}
	sum := h.Sum(nil)
	return r.write("bai-drawing-" + hex.EncodeToString(sum[:4]))
}

func checkDrawingOptions(docs [][]byte, opt *DrawingOptions) error {
	if opt.Times != nil && len(opt.Times) != len(docs) {
		return fmt.Errorf("drawing: %d times for %d documents: %w", len(opt.Times), len(docs), errdefs.ErrInvalidArgument)
	}
	for i, t := range opt.Times {
		if t < 0 {
			return fmt.Errorf("drawing: the time of document %d is negative: %w", i+1, errdefs.ErrInvalidArgument)
		}
		if i > 0 && t < opt.Times[i-1] {
			return fmt.Errorf("drawing: the time of document %d is before that of document %d: %w", i+1, i, errdefs.ErrInvalidArgument)
		}
	}
	if len(docs) == 0 {
		return fmt.Errorf("drawing: no documents: %w", errdefs.ErrInvalidArgument)
	}
	if opt.FrameInterval < 0 || opt.Hold < 0 || opt.FrameInterval > MaxDrawingDuration {
		return fmt.Errorf("drawing: the frame interval and the hold must be between 0 and %s: %w", MaxDrawingDuration, errdefs.ErrInvalidArgument)
	}
	if opt.FrameInterval == 0 {
		opt.FrameInterval = DefaultFrameInterval
	}
	if opt.Hold == 0 {
		opt.Hold = DefaultHold
	}
	if opt.Hold > MaxDrawingDuration {
		opt.Hold = MaxDrawingDuration
	}
	if opt.MaxCommands <= 0 || opt.MaxCommands > MaxDrawingCommands {
		opt.MaxCommands = MaxDrawingCommands
	}
	if opt.MaxSize <= 0 || opt.MaxSize > MaxSVGSize {
		opt.MaxSize = MaxSVGSize
	}
	return nil
}

// drawingDoc is one decoded document. Its commands stay JSON until
// apply streams through them, one at a time, so that a document of a
// million commands costs no memory beyond the limit.
type drawingDoc struct {
	Canvas   string          `json:"canvas"`
	Width    *float64        `json:"width"`
	Height   *float64        `json:"height"`
	BGColor  json.RawMessage `json:"bgcolor"`
	Full     bool            `json:"full"`
	Commands jsonSpan        `json:"commands"`
}

// jsonSpan keeps the JSON of a value without decoding or copying it.
type jsonSpan []byte

// UnmarshalJSON keeps data itself: RenderDrawing's documents are not
// changed while it runs, so the slice stays valid.
func (s *jsonSpan) UnmarshalJSON(data []byte) error {
	*s = data
	return nil
}

func parseDrawingDoc(raw []byte) (*drawingDoc, error) {
	var doc drawingDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("not a drawing document: %w: %w", err, errdefs.ErrInvalidArgument)
	}
	if c := bytes.TrimSpace(doc.Commands); len(c) > 0 && c[0] != '[' && string(c) != "null" {
		return nil, fmt.Errorf("\"commands\" must be an array: %w", errdefs.ErrInvalidArgument)
	}
	if doc.Canvas == "" || len(doc.Canvas) > 200 {
		return nil, fmt.Errorf("\"canvas\" must be a non-empty string of at most 200 bytes: %w", errdefs.ErrInvalidArgument)
	}
	for _, f := range []struct {
		name string
		v    *float64
	}{{"width", doc.Width}, {"height", doc.Height}} {
		if f.v == nil || !(*f.v > 0 && *f.v <= MaxDrawingSide) {
			return nil, fmt.Errorf("%q must be a number in (0, %d]: %w", f.name, MaxDrawingSide, errdefs.ErrInvalidArgument)
		}
	}
	return &doc, nil
}

// drawRender holds the state of one RenderDrawing call: the canvas as the
// documents so far left it, and the history of every shape.
type drawRender struct {
	opt      DrawingOptions
	times    []int64 // milliseconds of each frame from the first
	frame    int     // index of the current frame in times
	commands int
	recorded int // bytes of the values in all timelines, to bound memory
	notes    []string
	dropped  int    // notes not kept in notes
	where    cmdPos // the command being applied, for notes

	width, height, bg, bgOpacity timeline // of the canvas
	maxW, maxH                   float64

	shapes  []*drawShape         // every shape instance, in drawing order
	live    map[int64]*drawShape // by the stream's object id
	pending map[int64]*drawShape // dropped by the current full document, may come back
	revived int                  // seq of the last shape a full document brought back
	scratch [nAttrs]string
}

// drawShape is one shape instance: an object of the stream from its
// creation to its deletion. A full document that lists an object again
// continues the same instance when it can (see obj), so a program that
// calls show() in a loop does not pile up elements.
type drawShape struct {
	seq   int
	kind  shapeKind
	props shapeProps
	alive bool
	attrs []timeline // by position in kindAttrs[kind]
	text  timeline   // of a text shape
}

// timeline is the history of one value: its changes, by frame, minimal
// (no two neighbours equal, at most one change per frame).
type timeline []change

type change struct {
	frame int
	val   string
}

// set records that the value is v from frame on, and reports whether
// that added a value.
func (t *timeline) set(frame int, v string) bool {
	n := len(*t)
	switch {
	case n > 0 && (*t)[n-1].frame == frame:
		(*t)[n-1].val = v
		if n > 1 && (*t)[n-2].val == v {
			*t = (*t)[:n-1]
		}
		return false
	case n > 0 && (*t)[n-1].val == v:
		return false
	}
	*t = append(*t, change{frame, v})
	return true
}

func (t timeline) last() string {
	if len(t) == 0 {
		return ""
	}
	return t[len(t)-1].val
}

func (r *drawRender) note(format string, args ...any) {
	if len(r.notes) < maxDrawingNotes {
		r.notes = append(r.notes, fmt.Sprintf(format, args...))
	} else {
		r.dropped++
	}
}

func (r *drawRender) startFrame(ms int64) {
	if n := len(r.times); n == 0 || r.times[n-1] != ms {
		r.times = append(r.times, ms)
	}
	r.frame = len(r.times) - 1
}

func (r *drawRender) setBG(c color) {
	col, op := c.paint()
	r.bg.set(r.frame, col)
	r.bgOpacity.set(r.frame, op)
}

func (r *drawRender) apply(n int, doc *drawingDoc) error {
	w, h := *doc.Width, *doc.Height
	r.width.set(r.frame, fmtNum(w))
	r.height.set(r.frame, fmtNum(h))
	r.maxW, r.maxH = max(r.maxW, w), max(r.maxH, h)
	if len(doc.BGColor) > 0 {
		var v any
		if err := json.Unmarshal(doc.BGColor, &v); err != nil {
			v = err // not a colour
		}
		if c, ok := parseColor(v); ok {
			r.setBG(c)
		} else {
			r.note("document %d: bad bgcolor", n)
		}
	}
	if len(r.bg) == 0 {
		r.setBG(color{})
	}
	if doc.Full {
		// Keep the dropped objects aside: the snapshot's obj commands may
		// continue them; the rest end with this document.
		r.pending = r.live
		r.live = map[int64]*drawShape{}
		r.revived = 0
	}
	if c := bytes.TrimSpace(doc.Commands); len(c) > 0 && c[0] == '[' {
		d := json.NewDecoder(bytes.NewReader(c))
		if _, err := d.Token(); err != nil {
			return fmt.Errorf("drawing: document %d: %w: %w", n, err, errdefs.ErrInvalidArgument)
		}
		for i := 1; d.More(); i++ {
			r.commands++
			if r.commands > r.opt.MaxCommands {
				return fmt.Errorf("drawing: more than %d commands: %w", r.opt.MaxCommands, errdefs.ErrTooLarge)
			}
			var cmd any
			err := d.Decode(&cmd)
			var typeErr *json.UnmarshalTypeError
			switch {
			case errors.As(err, &typeErr):
				// A number out of float64's range: the command was read
				// to its end and is skipped.
				r.note("document %d command %d: a number out of range", n, i)
				continue
			case err != nil:
				return fmt.Errorf("drawing: document %d command %d: %w: %w", n, i, err, errdefs.ErrInvalidArgument)
			}
			r.where = cmdPos{n, i}
			r.command(cmd)
			// Nearly every recorded value ends up in the output; stopping
			// here bounds memory long before the writer could tell.
			if r.recorded > 2*r.opt.MaxSize {
				return fmt.Errorf("drawing: the SVG would be over %d bytes (document %d, %d shapes): %w", r.opt.MaxSize, n, len(r.shapes), errdefs.ErrTooLarge)
			}
		}
	}
	if doc.Full {
		for _, id := range sortedIDs(r.pending) {
			r.kill(r.pending[id])
		}
		r.pending = nil
	}
	return nil
}

// cmdPos is where a command is: its document and its index, from 1.
type cmdPos struct{ doc, cmd int }

func (p cmdPos) String() string { return fmt.Sprintf("document %d command %d", p.doc, p.cmd) }

func (r *drawRender) command(v any) {
	cmd, ok := v.([]any)
	if !ok || len(cmd) == 0 {
		r.note("%s: not a command array", r.where)
		return
	}
	op, ok := cmd[0].(string)
	if !ok {
		r.note("%s: the operation is not a string", r.where)
		return
	}
	args := cmd[1:]
	var id int64
	if op == "obj" || op == "upd" || op == "del" {
		if id, ok = parseID(args); !ok {
			r.note("%s: %s without a valid object id", r.where, op)
			return
		}
	}
	switch op {
	case "obj":
		var kind string
		var props map[string]any
		if len(args) == 3 {
			kind, _ = args[1].(string)
			props, _ = args[2].(map[string]any)
		}
		if kind == "" || props == nil {
			r.note("%s: obj needs an id, a kind and a property object", r.where)
			return
		}
		r.obj(id, kind, props)
	case "upd":
		var props map[string]any
		if len(args) == 2 {
			props, _ = args[1].(map[string]any)
		}
		if props == nil {
			r.note("%s: upd needs an id and a property object", r.where)
			return
		}
		if s := r.live[id]; s != nil {
			r.update(s, props)
		}
	case "del":
		if s := r.live[id]; s != nil {
			r.kill(s)
			delete(r.live, id)
		}
	case "clear":
		for _, id := range sortedIDs(r.live) {
			r.kill(r.live[id])
		}
		r.live = map[int64]*drawShape{}
	case "bg":
		var c color
		ok := len(args) == 1
		if ok {
			c, ok = parseColor(args[0])
		}
		if !ok {
			r.note("%s: bg needs a colour", r.where)
			return
		}
		r.setBG(c)
	default:
		r.note("%s: unknown operation %s", r.where, noteWord(op))
	}
}

// sortedIDs returns the ids of shapes in a fixed order.
func sortedIDs(m map[int64]*drawShape) []int64 {
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func parseID(args []any) (int64, bool) {
	if len(args) == 0 {
		return 0, false
	}
	f, ok := args[0].(float64)
	if !ok || f != math.Trunc(f) || f < 0 || f > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

func (r *drawRender) obj(id int64, kindName string, raw map[string]any) {
	kind, ok := kindByName(kindName)
	if !ok {
		r.note("%s: unknown shape kind %s", r.where, noteWord(kindName))
		return
	}
	props := defaultProps(kind)
	for _, p := range kindGeometry[kind] {
		v, ok := raw[propNames[p]]
		if !ok {
			r.note("%s: %s without %s", r.where, kindName, propNames[p])
			return
		}
		if !props.set(p, v) {
			r.note("%s: %s with an invalid %s", r.where, kindName, propNames[p])
			return
		}
	}
	if old := r.live[id]; old != nil {
		r.kill(old)
	}
	// A full document lists the objects it keeps in drawing order, so an
	// earlier instance can continue only while the order holds.
	if s := r.pending[id]; s != nil && s.kind == kind && s.seq > r.revived {
		delete(r.pending, id)
		r.revived = s.seq
		s.props = props
		s.alive = true
		r.live[id] = s
		r.update(s, raw)
		return
	}
	s := &drawShape{seq: len(r.shapes) + 1, kind: kind, props: props, alive: true, attrs: make([]timeline, len(kindAttrs[kind]))}
	if r.frame > 0 {
		// Not there before it was created.
		s.attrs[slices.Index(kindAttrs[kind], aDisplay)].set(0, "none")
	}
	r.shapes = append(r.shapes, s)
	r.revived = s.seq // what a full document lists later must come after it
	r.live[id] = s
	r.update(s, raw)
}

// update merges raw properties into a live shape and records its
// attributes. An invalid or unknown property is skipped with a note.
func (r *drawRender) update(s *drawShape, raw map[string]any) {
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		p, ok := propByName(k)
		if !ok || !hasProp(s.kind, p) {
			r.note("%s: %s has no property %s", r.where, kindNames[s.kind], noteWord(k))
			continue
		}
		if !s.props.set(p, raw[k]) {
			r.note("%s: invalid %s for %s", r.where, k, kindNames[s.kind])
		}
	}
	r.record(s)
}

// record writes the shape's current attributes into its timelines.
func (r *drawRender) record(s *drawShape) {
	shapeAttrs(s.kind, &s.props, &r.scratch)
	disp := "inline"
	if !s.alive || s.props.hidden {
		disp = "none"
	}
	r.scratch[aDisplay] = disp
	for i, a := range kindAttrs[s.kind] {
		if s.attrs[i].set(r.frame, r.scratch[a]) {
			r.recorded += len(r.scratch[a])
		}
	}
	if s.kind == kindText && s.text.set(r.frame, s.props.text) {
		r.recorded += len(s.props.text)
	}
}

// kill ends a shape instance at the current frame.
func (r *drawRender) kill(s *drawShape) {
	s.alive = false
	r.record(s)
}

// noteWord makes a word from the input safe and short for the output's
// comment.
func noteWord(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i, c := range []byte(s) {
		if i == 24 {
			b.WriteString("...")
			break
		}
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' {
			b.WriteByte(c)
		} else {
			b.WriteByte('?')
		}
	}
	b.WriteByte('"')
	return b.String()
}
