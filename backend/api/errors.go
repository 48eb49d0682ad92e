// Package api holds the manager's HTTP handlers for the public
// Backend.AI-compatible API and the agents' control endpoints. Handlers
// return errors; ErrorHandler is the one place that turns them into RFC 7807
// problem+json answers.
package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
)

var problemOf = []struct {
	err    error
	status int
	slug   string
	title  string
}{
	{errdefs.ErrNotFound, http.StatusNotFound, "not-found", "Not found"},
	{errdefs.ErrInvalidArgument, http.StatusBadRequest, "invalid-api-params", "Invalid API parameters"},
	{errdefs.ErrConflict, http.StatusConflict, "conflict", "Conflict"},
	{errdefs.ErrUnauthenticated, http.StatusUnauthorized, "auth-failed", "Authentication failed"},
	{errdefs.ErrPermissionDenied, http.StatusForbidden, "forbidden", "Forbidden"},
	{errdefs.ErrQuotaExceeded, http.StatusPreconditionFailed, "quota-exceeded", "Quota exceeded"},
	{errdefs.ErrTooLarge, http.StatusRequestEntityTooLarge, "too-large", "Request too large"},
	{errdefs.ErrUnavailable, http.StatusServiceUnavailable, "unavailable", "Service unavailable"},
	{errdefs.ErrTimeout, http.StatusGatewayTimeout, "timeout", "Timed out"},
	{errdefs.ErrRateLimited, http.StatusTooManyRequests, "too-many-requests", "Too many requests"},
}

// ErrorHandler returns echo's error handler writing problem+json.
func ErrorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		p := apitypes.Problem{Type: apitypes.ProblemTypeBase + "internal-error", Title: "Internal server error", Status: 500}
		var he *echo.HTTPError
		matched := false
		for _, m := range problemOf {
			if errors.Is(err, m.err) {
				p = apitypes.Problem{Type: apitypes.ProblemTypeBase + m.slug, Title: m.title, Status: m.status, Msg: message(err, m.err)}
				matched = true
				break
			}
		}
		if !matched && errors.As(err, &he) {
			p.Status = he.Code
			p.Title = http.StatusText(he.Code)
			p.Type = apitypes.ProblemTypeBase + strings.ReplaceAll(strings.ToLower(p.Title), " ", "-")
			if msg, ok := he.Message.(string); ok {
				p.Msg = msg
			}
			switch he.Code {
			case http.StatusRequestEntityTooLarge:
				p.Type, p.Msg = apitypes.ProblemTypeBase+"too-large", "the request body is larger than the server accepts"
			case http.StatusNotFound:
				p.Type, p.Msg = apitypes.ProblemTypeBase+"not-found", "no such API endpoint: "+c.Request().Method+" "+c.Request().URL.Path
			case http.StatusMethodNotAllowed:
				p.Msg = "method " + c.Request().Method + " is not allowed on " + c.Request().URL.Path
			}
		}
		if p.Status >= 500 {
			log.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
			if !matched && he == nil {
				p.Msg = "the server hit an unexpected error; see its log"
			}
		} else {
			// What the client is told, never its headers or body (they
			// carry signatures, secrets by mistake, and tenants' data).
			log.Debug("request refused", "method", c.Request().Method, "path", c.Request().URL.Path, "status", p.Status, "msg", p.Msg)
		}
		b, _ := json.Marshal(p)
		if c.Request().Method == http.MethodHead {
			_ = c.NoContent(p.Status)
			return
		}
		_ = c.Blob(p.Status, "application/problem+json", b)
	}
}

// message strips the sentinel's own text from the end of the chain so the
// person reading it gets the specific part ("session \"x\": not found" →
// "session \"x\" not found").
func message(err, sentinel error) string {
	s := err.Error()
	s = strings.TrimSuffix(s, ": "+sentinel.Error())
	return s
}
