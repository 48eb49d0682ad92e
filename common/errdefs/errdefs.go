// Package errdefs holds the typed error sentinels shared by every part of the
// system. Code wraps them with context at the source
// (fmt.Errorf("session %s: %w", name, errdefs.ErrNotFound)) and only the
// boundaries (the HTTP error handler, the CLI) translate them into status
// codes or messages, so that the meaning of an error survives every layer.
package errdefs

import "errors"

// The sentinels. Each maps to one HTTP status at the API boundary.
var (
	ErrNotFound         = errors.New("not found")           // 404
	ErrInvalidArgument  = errors.New("invalid argument")    // 400
	ErrConflict         = errors.New("conflict")            // 409
	ErrUnauthenticated  = errors.New("unauthenticated")     // 401
	ErrPermissionDenied = errors.New("permission denied")   // 403
	ErrQuotaExceeded    = errors.New("quota exceeded")      // 412
	ErrUnavailable      = errors.New("unavailable")         // 503
	ErrTooLarge         = errors.New("request too large")   // 413
	ErrTimeout          = errors.New("timed out")           // 504
	ErrInternal         = errors.New("internal error")      // 500
	ErrRateLimited      = errors.New("rate limit exceeded") // 429
)

// Is reports whether err wraps target; a shorthand for errors.Is so callers
// need only this package.
func Is(err, target error) bool { return errors.Is(err, target) }
