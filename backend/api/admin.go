package api

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"baigo.dev/bai/backend/auth"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
)

// The admin API (REST, as API.md names it): the fleet (agents, scaling
// groups) and the limits tenants live under (resource policies).
// Superadmins only; the middleware is per route so that unknown paths still
// answer 404, not 403.
func (h *Handlers) registerAdmin(g *echo.Group) {
	a := adminRoutes{g}
	a.GET("/agents", func(c echo.Context) error {
		ags, err := h.Sessions.Agents(c.Request().Context())
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"agents": ags})
	})
	a.POST("/agents/:id/schedulable", func(c echo.Context) error {
		var in struct {
			Schedulable *bool `json:"schedulable"`
		}
		if err := bind(c, &in, true); err != nil {
			return err
		}
		if in.Schedulable == nil {
			return fmt.Errorf("field \"schedulable\" (true or false) is required: %w", errdefs.ErrInvalidArgument)
		}
		if err := h.Sessions.SetSchedulable(c.Request().Context(), c.Param("id"), *in.Schedulable); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	})
	a.GET("/scaling-groups", func(c echo.Context) error {
		gs, err := h.Sessions.Groups(c.Request().Context())
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"scaling_groups": gs})
	})
	a.PUT("/scaling-groups/:name", func(c echo.Context) error {
		var in apitypes.GroupSettings
		if err := bind(c, &in, true); err != nil {
			return err
		}
		g, err := h.Sessions.SetGroup(c.Request().Context(), c.Param("name"), in)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, g)
	})
	a.GET("/resource-policies", func(c echo.Context) error {
		ps, err := h.Sessions.Policies(c.Request().Context())
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"resource_policies": ps})
	})
	a.PUT("/resource-policies/:name", func(c echo.Context) error {
		var in apitypes.PolicySettings
		if err := bind(c, &in, true); err != nil {
			return err
		}
		p, err := h.Sessions.SetPolicy(c.Request().Context(), c.Param("name"), in)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, p)
	})
	a.PUT("/keypairs/:ak/resource-policy", func(c echo.Context) error {
		var in struct {
			ResourcePolicy string `json:"resource_policy"`
		}
		if err := bind(c, &in, true); err != nil {
			return err
		}
		if err := h.Sessions.SetKeyPairPolicy(c.Request().Context(), c.Param("ak"), in.ResourcePolicy); err != nil {
			return err
		}
		h.Keys.Forget(c.Param("ak"))
		return c.NoContent(http.StatusNoContent)
	})
}

func superadminOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		kp, _ := auth.From(c.Request().Context())
		if kp == nil || !kp.Superadmin {
			return fmt.Errorf("%s %s is for superadmins: %w", c.Request().Method, c.Path(), errdefs.ErrPermissionDenied)
		}
		return next(c)
	}
}

type adminRoutes struct{ g *echo.Group }

func (a adminRoutes) GET(p string, h echo.HandlerFunc)  { a.g.GET(p, h, superadminOnly) }
func (a adminRoutes) PUT(p string, h echo.HandlerFunc)  { a.g.PUT(p, h, superadminOnly) }
func (a adminRoutes) POST(p string, h echo.HandlerFunc) { a.g.POST(p, h, superadminOnly) }
