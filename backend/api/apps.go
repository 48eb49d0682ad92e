package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/labstack/echo/v4"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
)

// registerApps mounts start-service and the app proxy streams.
func (h *Handlers) registerApps(g *echo.Group) {
	for _, p := range []string{"/session", "/kernel"} {
		g.POST(p+"/:name/start-service", h.startService)
		g.POST(p+"/:name/shutdown-service", h.shutdownService)
	}
	for _, p := range []string{"/stream/session", "/stream/kernel"} {
		g.GET(p+"/:name/tcpproxy", func(c echo.Context) error { return h.appProxy(c, "") })
		g.GET(p+"/:name/httpproxy", func(c echo.Context) error { return h.appProxy(c, "http") })
		g.GET(p+"/:name/pty", h.ptyStream) // pty.go
	}
}

func (h *Handlers) startService(c echo.Context) error {
	var req apitypes.StartService
	if err := bind(c, &req, true); err != nil {
		return err
	}
	res, err := h.Sessions.StartService(c.Request().Context(), owner(c).AccessKey, c.Param("name"), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func (h *Handlers) shutdownService(c echo.Context) error {
	var req apitypes.ShutdownService
	if err := bind(c, &req, true); err != nil {
		return err
	}
	app := req.ServiceName
	if app == "" {
		app = req.App
	}
	if err := h.Sessions.ShutdownService(c.Request().Context(), owner(c).AccessKey, c.Param("name"), app); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// appProxy serves GET /stream/session/{name}/tcpproxy?app= and httpproxy:
// a WebSocket whose binary frames carry the raw bytes of one TCP connection
// to the app inside the session (for httpproxy, an HTTP app's connection).
// Everything that can fail is checked before the upgrade, so errors are
// plain problem+json answers: 404 for a session the caller does not own,
// 400 for an app the image does not declare, 409 for an app not running.
func (h *Handlers) appProxy(c echo.Context, wantProto string) error {
	o := owner(c)
	name, app := c.Param("name"), c.QueryParam("app")
	reqCtx := c.Request().Context()
	sp, err := h.Sessions.CheckApp(reqCtx, o.AccessKey, name, app)
	if err != nil {
		return err
	}
	if wantProto != "" && sp.Protocol != wantProto {
		return fmt.Errorf("app %q speaks %s, not %s: use tcpproxy: %w", app, sp.Protocol, wantProto, errdefs.ErrInvalidArgument)
	}
	// The pipe outlives the handshake request, but not the server.
	ctx, cancel := context.WithCancel(context.WithoutCancel(reqCtx))
	defer cancel()
	rwc, err := h.Sessions.DialApp(ctx, o.AccessKey, name, app)
	if err != nil {
		return err
	}
	defer rwc.Close()
	if info, err := h.Sessions.Info(reqCtx, o.AccessKey, name); err == nil {
		if id, err := uuid.Parse(info.SessionID); err == nil {
			defer h.Sessions.StreamOpened(id)() // traffic keeps the session from idling out
		}
	}
	ws, err := upgrader.Upgrade(c.Response(), c.Request(), nil)
	if err != nil {
		return nil // the upgrader already answered
	}
	defer ws.Close()
	ws.SetReadLimit(1 << 20)

	go func() { // app → client
		defer cancel()
		buf := make([]byte, 32<<10)
		for {
			n, err := rwc.Read(buf)
			if n > 0 {
				_ = ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
				if ws.WriteMessage(websocket.BinaryMessage, buf[:n]) != nil {
					return
				}
			}
			if err != nil {
				_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "app closed the connection"), time.Now().Add(time.Second))
				return
			}
		}
	}()
	go func() { // client → app
		defer cancel()
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if _, err := rwc.Write(data); err != nil {
				return
			}
		}
	}()
	select {
	case <-ctx.Done():
	case <-h.closing:
	}
	return nil
}
