package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"baigo.dev/bai/common/apitypes"
)

func templatePath(id string) string { return "/template/session/" + url.PathEscape(id) }

// CreateSessionTemplate stores a session template; the manager validates
// its body like a create request.
func (c *Client) CreateSessionTemplate(ctx context.Context, req apitypes.SessionTemplateRequest) (*apitypes.SessionTemplate, error) {
	var out apitypes.SessionTemplate
	if err := c.do(ctx, http.MethodPost, "/template/session", nil, req, &out, true); err != nil {
		return nil, fmt.Errorf("create session template: %w", err)
	}
	return &out, nil
}

// ListSessionTemplates returns the caller's own session templates.
func (c *Client) ListSessionTemplates(ctx context.Context) ([]apitypes.SessionTemplate, error) {
	var out apitypes.SessionTemplateList
	if err := c.do(ctx, http.MethodGet, "/template/session", nil, nil, &out, true); err != nil {
		return nil, fmt.Errorf("list session templates: %w", err)
	}
	return out.Items, nil
}

// GetSessionTemplate returns one of the caller's session templates.
func (c *Client) GetSessionTemplate(ctx context.Context, id string) (*apitypes.SessionTemplate, error) {
	var out apitypes.SessionTemplate
	if err := c.do(ctx, http.MethodGet, templatePath(id), nil, nil, &out, true); err != nil {
		return nil, fmt.Errorf("session template %s: %w", id, err)
	}
	return &out, nil
}

// UpdateSessionTemplate replaces a session template's name and body.
func (c *Client) UpdateSessionTemplate(ctx context.Context, id string, req apitypes.SessionTemplateRequest) (*apitypes.SessionTemplate, error) {
	var out apitypes.SessionTemplate
	if err := c.do(ctx, http.MethodPut, templatePath(id), nil, req, &out, true); err != nil {
		return nil, fmt.Errorf("update session template %s: %w", id, err)
	}
	return &out, nil
}

// DeleteSessionTemplate removes a session template.
func (c *Client) DeleteSessionTemplate(ctx context.Context, id string) error {
	if err := c.do(ctx, http.MethodDelete, templatePath(id), nil, nil, nil, true); err != nil {
		return fmt.Errorf("delete session template %s: %w", id, err)
	}
	return nil
}

// CreateSessionFromTemplate starts a session from a template. The set
// fields of overrides (typically Name, and perhaps Config.Environ or
// BootstrapScript) replace the template's; config is merged one level deep.
func (c *Client) CreateSessionFromTemplate(ctx context.Context, templateID string, overrides apitypes.CreateSession) (*apitypes.CreateSessionResult, error) {
	// Through a map so only the fields the caller set travel, next to
	// template_id.
	raw, err := json.Marshal(overrides)
	if err != nil {
		return nil, fmt.Errorf("create session from template: %w", err)
	}
	body := map[string]any{}
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, fmt.Errorf("create session from template: %w", err)
	}
	body["template_id"] = templateID
	var out apitypes.CreateSessionResult
	if err := c.do(ctx, http.MethodPost, "/session/_/create-from-template", nil, body, &out, true); err != nil {
		return nil, fmt.Errorf("create session from template %s: %w", templateID, err)
	}
	if out.SessionID == "" {
		out.SessionID = out.KernelID
	}
	return &out, nil
}
