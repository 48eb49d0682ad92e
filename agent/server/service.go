package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"baigo.dev/bai/common/aproto"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/kproto"
)

// Services is what the service-port routes need from the kernel manager.
type Services interface {
	StartService(ctx context.Context, id string, req aproto.StartService) (aproto.ServiceResult, error)
	ShutdownService(ctx context.Context, id, app string) error
	DialService(ctx context.Context, id string, port int) (net.Conn, error)
}

func registerServices(e *echo.Echo, k Kernels) {
	s, ok := k.(Services)
	if !ok {
		return
	}
	e.POST("/v1/kernels/:id/start-service", func(c echo.Context) error {
		var req aproto.StartService
		if err := bind(c, &req); err != nil {
			return err
		}
		res, err := s.StartService(c.Request().Context(), c.Param("id"), req)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, res)
	})
	e.POST("/v1/kernels/:id/shutdown-service", func(c echo.Context) error {
		var req aproto.ShutdownService
		if err := bind(c, &req); err != nil {
			return err
		}
		if err := s.ShutdownService(c.Request().Context(), c.Param("id"), req.App); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	})
	e.GET("/v1/kernels/:id/proxy", func(c echo.Context) error { return proxy(c, s) })
}

// proxy joins the manager's hijacked connection to a relay into the kernel.
// The relay is opened before switching protocols, so a service that is not
// listening is still answered with a proper error.
func proxy(c echo.Context, s Services) error {
	r := c.Request()
	if !strings.EqualFold(r.Header.Get("Upgrade"), aproto.RelayProtocol) {
		return fmt.Errorf("the proxy route needs Upgrade: %s: %w", aproto.RelayProtocol, errdefs.ErrInvalidArgument)
	}
	port, err := strconv.Atoi(c.QueryParam("port"))
	if err != nil {
		return fmt.Errorf("query parameter port must be a number: %w", errdefs.ErrInvalidArgument)
	}
	svc, err := s.DialService(r.Context(), c.Param("id"), port)
	if err != nil {
		return err
	}
	defer svc.Close()
	conn, rw, err := c.Response().Hijack()
	if err != nil {
		return fmt.Errorf("hijack: %v: %w", err, errdefs.ErrInternal)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: "+aproto.RelayProtocol+"\r\nConnection: Upgrade\r\n\r\n"); err != nil {
		return nil
	}
	// Bytes the manager sent right behind its request sit in rw's buffer.
	if n := rw.Reader.Buffered(); n > 0 {
		b, _ := rw.Reader.Peek(n)
		if _, err := svc.Write(b); err != nil {
			return nil
		}
	}
	kproto.Pipe(conn, svc)
	return nil
}
