package session

import (
	"fmt"
	"log/slog"
	"mime"
	"strings"

	"github.com/google/uuid"

	"baigo.dev/bai/media"
)

// svgDroppedType is the media type of the item that stands in for an SVG
// that could not be sanitised.
const svgDroppedType = "text/plain"

// sanitizeConsole makes the console items of an execute answer safe to
// hand to a client: every image/svg+xml media item goes through
// media.SanitizeSVG (user code wrote it, and a browser that shows it
// inline would run its scripts and event handlers), and one that is not
// a well-formed SVG document becomes a text/plain media item that says it
// was dropped and why. Every path that sends console items (the execute
// answer and the execute WebSocket stream) gets them from ExecuteFlush,
// which calls this. Items are changed in place; other items are left as
// they are.
//
// A media item's data is [mime, data] as the agent writes it; the
// {"type", "data"} form of the runner's own record is accepted too.
func sanitizeConsole(log *slog.Logger, sessionID uuid.UUID, items [][2]any) {
	for _, it := range items {
		if it[0] != "media" {
			continue
		}
		typ, data, set := mediaFields(it[1])
		if set == nil || !isSVGType(typ) {
			continue
		}
		s, ok := data.(string)
		if !ok {
			set(svgDroppedType, fmt.Sprintf("[SVG output dropped: its data is a %T, not the text of an SVG document]", data))
			continue
		}
		clean, err := media.SanitizeSVG([]byte(s))
		if err != nil {
			log.Info("svg output dropped", "session_id", sessionID, "bytes", len(s), "err", err)
			set(svgDroppedType, "[SVG output dropped: "+err.Error()+"]")
			continue
		}
		set(typ, string(clean))
	}
}

// mediaFields returns the type and data of a media item's payload, and a
// function that replaces them; set is nil when the payload has neither
// known shape.
func mediaFields(v any) (typ string, data any, set func(typ string, data any)) {
	switch p := v.(type) {
	case []any:
		if len(p) < 2 {
			return "", nil, nil
		}
		typ, _ = p[0].(string)
		return typ, p[1], func(t string, d any) { p[0], p[1] = t, d }
	case map[string]any:
		typ, _ = p["type"].(string)
		return typ, p["data"], func(t string, d any) { p["type"], p["data"] = t, d }
	}
	return "", nil, nil
}

// isSVGType reports whether a media type names SVG, in any case and with
// any parameters, as a client would take it.
func isSVGType(typ string) bool {
	mt, _, err := mime.ParseMediaType(typ)
	if err != nil {
		mt, _, _ = strings.Cut(typ, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
	}
	return mt == "image/svg+xml"
}
