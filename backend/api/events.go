package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"baigo.dev/bai/backend/auth"
	"baigo.dev/bai/backend/events"
	"baigo.dev/bai/common/errdefs"
)

// sseKeepAlive is how often an idle event stream sends a comment, so
// proxies and clients keep the connection.
const sseKeepAlive = 15 * time.Second

// sessionEvents serves GET /events/session as Server-Sent Events: the
// lifecycle events of the caller's sessions, optionally narrowed by name
// or sessionId. A superadmin may pass scope=* to see every tenant's.
func (h *Handlers) sessionEvents(c echo.Context) error {
	o := owner(c)
	name, id, scope := c.QueryParam("name"), c.QueryParam("sessionId"), c.QueryParam("scope")
	all := false
	if scope == "*" || scope == "all" {
		kp, _ := auth.From(c.Request().Context())
		if kp == nil || !kp.Superadmin {
			return fmt.Errorf("only superadmins may watch every tenant's sessions (scope=%s): %w", scope, errdefs.ErrPermissionDenied)
		}
		all = true
	}
	evs, cancel := h.Sessions.Subscribe(func(e events.Event) bool {
		if !all && e.OwnerAccessKey != o.AccessKey {
			return false
		}
		if name != "" && name != "*" && e.SessionName != name {
			return false
		}
		return id == "" || e.SessionID == id
	})
	defer cancel()

	w := c.Response()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, ": bai session events\n\n")
	w.Flush()
	tick := time.NewTicker(sseKeepAlive)
	defer tick.Stop()
	for {
		select {
		case <-c.Request().Context().Done():
			return nil
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return nil
			}
		case e := <-evs:
			data, _ := json.Marshal(map[string]any{
				"sessionId": e.SessionID, "sessionName": e.SessionName, "ownerAccessKey": e.OwnerAccessKey,
				"reason": e.Reason, "status": e.Status, "result": eventResult(e.Name),
			})
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.Name, data); err != nil {
				return nil
			}
		}
		w.Flush()
	}
}

// eventResult is Backend.AI's "result" field: the outcome of final events.
func eventResult(name string) string {
	switch name {
	case events.SessionTerminated:
		return "SUCCESS"
	case events.SessionFailure, events.SessionCancelled:
		return "FAILURE"
	}
	return "UNDEFINED"
}
