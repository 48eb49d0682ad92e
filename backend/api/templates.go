package api

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
)

// registerTemplates mounts the session template routes (Backend.AI's
// /template/session) and create-from-template.
func (h *Handlers) registerTemplates(g *echo.Group) {
	g.POST("/template/session", h.createTemplate)
	g.GET("/template/session", h.listTemplates)
	g.GET("/template/session/:id", h.getTemplate)
	g.PUT("/template/session/:id", h.updateTemplate)
	g.DELETE("/template/session/:id", h.deleteTemplate)
	g.POST("/session/_/create-from-template", h.createFromTemplate)
}

func (h *Handlers) createTemplate(c echo.Context) error {
	var req apitypes.SessionTemplateRequest
	if err := bind(c, &req, true); err != nil {
		return err
	}
	t, err := h.Sessions.CreateTemplate(c.Request().Context(), owner(c), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, t)
}

func (h *Handlers) listTemplates(c echo.Context) error {
	items, err := h.Sessions.ListTemplates(c.Request().Context(), owner(c).AccessKey)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, apitypes.SessionTemplateList{Items: items})
}

func (h *Handlers) getTemplate(c echo.Context) error {
	t, err := h.Sessions.GetTemplate(c.Request().Context(), owner(c).AccessKey, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

func (h *Handlers) updateTemplate(c echo.Context) error {
	var req apitypes.SessionTemplateRequest
	if err := bind(c, &req, true); err != nil {
		return err
	}
	t, err := h.Sessions.UpdateTemplate(c.Request().Context(), owner(c), c.Param("id"), req)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, t)
}

func (h *Handlers) deleteTemplate(c echo.Context) error {
	if err := h.Sessions.DeleteTemplate(c.Request().Context(), owner(c).AccessKey, c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// createFromTemplate answers POST /session/_/create-from-template: the body
// is {"template_id": ..., "name": ..., ...create fields overriding the
// template's}.
func (h *Handlers) createFromTemplate(c echo.Context) error {
	var body map[string]any
	if err := bind(c, &body, true); err != nil {
		return err
	}
	id, ok := body["template_id"].(string)
	if raw, present := body["template_id"]; present && !ok {
		return fmt.Errorf("field \"template_id\" must be a string, not %T: %w", raw, errdefs.ErrInvalidArgument)
	}
	delete(body, "template_id")
	res, err := h.Sessions.CreateFromTemplate(c.Request().Context(), owner(c), id, body)
	if err != nil {
		return err
	}
	code := http.StatusCreated
	if !res.Created {
		code = http.StatusOK
	}
	return c.JSON(code, res)
}
