// Package server is the agent's network face: the control HTTP API the
// manager drives (aproto's manager → agent routes) and the client that sends
// heartbeats and kernel events to the manager. Both directions carry the
// shared cluster secret, so nothing but the manager can drive an agent and
// nothing but an agent can report to the manager.
package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
)

// Kernels is what the control API needs from the kernel manager.
type Kernels interface {
	Create(ctx context.Context, req aproto.CreateKernel) (aproto.KernelInfo, error)
	Destroy(ctx context.Context, id string) (aproto.DestroyResult, error)
	Restart(ctx context.Context, id string) (aproto.KernelInfo, error)
	Execute(ctx context.Context, id string, req aproto.Execute) (aproto.ExecuteResult, error)
	Interrupt(ctx context.Context, id string) error
	Complete(ctx context.Context, id string, req aproto.Complete) (aproto.CompleteResult, error)
	Logs(ctx context.Context, id string) (aproto.Logs, error)
}

// maxBody bounds request bodies (code to execute included).
const maxBody = "16M"

// metricsPath serves the Prometheus metrics.
const metricsPath = "/metrics"

// NewHandler returns the control API. Every route needs the cluster
// secret: nobody but the manager may drive an agent. metrics, when not nil,
// is served at GET /metrics (with the secret too; MetricsHandler serves it
// without, on a separate listener an operator chooses).
func NewHandler(k Kernels, secret string, log *slog.Logger, metrics http.Handler) http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(log)
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: maxBody, Skipper: skipBodyLimit}))
	e.Use(requireSecret(secret))
	if metrics != nil {
		e.GET(metricsPath, echo.WrapHandler(metrics))
	}

	h := &handlers{k: k}
	e.GET("/v1/health", func(c echo.Context) error { return c.JSON(http.StatusOK, map[string]string{"status": "ok"}) })
	e.POST("/v1/kernels", h.create)
	e.DELETE("/v1/kernels/:id", h.destroy)
	e.POST("/v1/kernels/:id/restart", h.restart)
	e.POST("/v1/kernels/:id/execute", h.execute)
	e.POST("/v1/kernels/:id/interrupt", h.interrupt)
	e.POST("/v1/kernels/:id/complete", h.complete)
	e.GET("/v1/kernels/:id/logs", h.logs)
	registerFiles(e, k)
	registerServices(e, k)
	return e
}

// requireSecret refuses every request without the cluster secret.
func requireSecret(secret string) echo.MiddlewareFunc {
	want := []byte(secret)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			got := []byte(c.Request().Header.Get(aproto.HeaderClusterSecret))
			if len(want) == 0 || subtle.ConstantTimeCompare(got, want) != 1 {
				return fmt.Errorf("missing or wrong cluster secret: %w", errdefs.ErrUnauthenticated)
			}
			return next(c)
		}
	}
}

type handlers struct {
	k Kernels
}

func bind(c echo.Context, v any) error {
	if err := c.Bind(v); err != nil {
		return fmt.Errorf("request body: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	return nil
}

func (h *handlers) create(c echo.Context) error {
	var req aproto.CreateKernel
	if err := bind(c, &req); err != nil {
		return err
	}
	info, err := h.k.Create(c.Request().Context(), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, info)
}

func (h *handlers) destroy(c echo.Context) error {
	res, err := h.k.Destroy(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	if res.Stats == nil {
		res.Stats = map[string]any{}
	}
	return c.JSON(http.StatusOK, res)
}

func (h *handlers) restart(c echo.Context) error {
	info, err := h.k.Restart(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, info)
}

func (h *handlers) execute(c echo.Context) error {
	var req aproto.Execute
	if err := bind(c, &req); err != nil {
		return err
	}
	res, err := h.k.Execute(c.Request().Context(), c.Param("id"), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func (h *handlers) interrupt(c echo.Context) error {
	if err := h.k.Interrupt(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *handlers) complete(c echo.Context) error {
	var req aproto.Complete
	if err := bind(c, &req); err != nil {
		return err
	}
	res, err := h.k.Complete(c.Request().Context(), c.Param("id"), req)
	if err != nil {
		return err
	}
	if res.Result == nil {
		res.Result = []any{}
	}
	return c.JSON(http.StatusOK, res)
}

func (h *handlers) logs(c echo.Context) error {
	res, err := h.k.Logs(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

// problem is an RFC 7807 error body.
type problem struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	Msg   string `json:"msg,omitempty"`
}

var statuses = []struct {
	err    error
	status int
	slug   string
}{
	{errdefs.ErrNotFound, http.StatusNotFound, "not-found"},
	{errdefs.ErrInvalidArgument, http.StatusBadRequest, "invalid-api-params"},
	{errdefs.ErrConflict, http.StatusConflict, "conflict"},
	{errdefs.ErrUnauthenticated, http.StatusUnauthorized, "auth-failed"},
	{errdefs.ErrPermissionDenied, http.StatusForbidden, "forbidden"},
	{errdefs.ErrQuotaExceeded, http.StatusPreconditionFailed, "quota-exceeded"},
	{errdefs.ErrTooLarge, http.StatusRequestEntityTooLarge, "too-large"},
	{errdefs.ErrUnavailable, http.StatusServiceUnavailable, "service-unavailable"},
	{errdefs.ErrTimeout, http.StatusGatewayTimeout, "timeout"},
}

// StatusOf maps an error to its HTTP status and problem slug.
func StatusOf(err error) (int, string) {
	for _, s := range statuses {
		if errors.Is(err, s.err) {
			return s.status, s.slug
		}
	}
	if errors.Is(err, context.Canceled) {
		return 499, "canceled"
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return http.StatusGatewayTimeout, "timeout"
	}
	return http.StatusInternalServerError, "internal-error"
}

func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		status, slug := StatusOf(err)
		msg := err.Error()
		var he *echo.HTTPError
		if errors.As(err, &he) {
			status, slug, msg = he.Code, "http-error", fmt.Sprint(he.Message)
			if he.Code == http.StatusNotFound {
				slug = "not-found"
			}
		}
		if status >= 500 {
			log.Warn("control request failed", "method", c.Request().Method, "path", c.Path(), "status", status, "err", err)
		}
		c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
		c.Response().WriteHeader(status)
		_ = c.Echo().JSONSerializer.Serialize(c, problem{
			Type:  "https://api.backend.ai/probs/" + slug,
			Title: http.StatusText(status),
			Msg:   msg,
		}, "")
	}
}

// MetricsHandler serves only GET /metrics, without authentication, for an
// agent's separate metrics listener (--metrics-listen): the metrics carry no
// tenant data, and Prometheus needs no cluster secret to scrape them.
func MetricsHandler(metrics http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+metricsPath, metrics)
	return mux
}
