package api

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"baigo.dev/bai/backend/auth"
	"baigo.dev/bai/backend/webauth"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
)

// The admin API (REST, as API.md names it): the fleet (agents, scaling
// groups), the limits tenants live under (resource policies), and users
// and keypairs. Superadmins only; the middleware is per route so that
// unknown paths still answer 404, not 403. Every route is served at its
// path (GET /agents, as clients have used it) and under /admin (GET
// /admin/agents, where the web app looks).
func (h *Handlers) registerAdmin(g *echo.Group) {
	a := adminRoutes{g}
	if h.Web != nil {
		h.registerAccounts(a)
	}
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
	a.DELETE("/resource-policies/:name", func(c echo.Context) error {
		if err := h.Sessions.DeletePolicy(c.Request().Context(), c.Param("name")); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
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

func (a adminRoutes) add(method, p string, h echo.HandlerFunc) {
	a.g.Add(method, p, h, superadminOnly)
	a.g.Add(method, "/admin"+p, h, superadminOnly)
}

func (a adminRoutes) GET(p string, h echo.HandlerFunc)   { a.add(http.MethodGet, p, h) }
func (a adminRoutes) PUT(p string, h echo.HandlerFunc)   { a.add(http.MethodPut, p, h) }
func (a adminRoutes) POST(p string, h echo.HandlerFunc)  { a.add(http.MethodPost, p, h) }
func (a adminRoutes) PATCH(p string, h echo.HandlerFunc) { a.add(http.MethodPatch, p, h) }
func (a adminRoutes) DELETE(p string, h echo.HandlerFunc) {
	a.add(http.MethodDelete, p, h)
}

// registerAccounts mounts the user and keypair administration: lists for
// the admin pages, and the only way to add users and keypairs besides OIDC
// sign-in. A new keypair's secret key is in the answer that creates it and
// nowhere else.
func (h *Handlers) registerAccounts(a adminRoutes) {
	a.GET("/users", func(c echo.Context) error {
		us, err := h.Web.Users(c.Request().Context())
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"users": us})
	})
	a.POST("/users", func(c echo.Context) error {
		var in webauth.NewUser
		if err := bind(c, &in, true); err != nil {
			return err
		}
		u, kp, err := h.Web.CreateUser(c.Request().Context(), in)
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusCreated, map[string]any{"user": u, "keypair": kp})
	})
	a.PATCH("/users/:email", func(c echo.Context) error {
		var in webauth.UserChange
		if err := bind(c, &in, true); err != nil {
			return err
		}
		email, err := url.PathUnescape(c.Param("email")) // encodeURIComponent sends @ as %40
		if err != nil {
			return fmt.Errorf("malformed e-mail address in the path: %w", errdefs.ErrInvalidArgument)
		}
		kp, _ := auth.From(c.Request().Context())
		u, err := h.Web.UpdateUser(c.Request().Context(), kp.UserID, email, in)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, u)
	})
	a.GET("/keypairs", func(c echo.Context) error {
		ks, err := h.Web.KeyPairs(c.Request().Context())
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]any{"keypairs": ks})
	})
	a.POST("/keypairs", func(c echo.Context) error {
		var in struct {
			UserEmail string `json:"userEmail"`
		}
		if err := bind(c, &in, true); err != nil {
			return err
		}
		kp, err := h.Web.CreateKeyPair(c.Request().Context(), in.UserEmail)
		if err != nil {
			return err
		}
		c.Response().Header().Set("Cache-Control", "no-store")
		return c.JSON(http.StatusCreated, map[string]any{"keypair": kp})
	})
}
