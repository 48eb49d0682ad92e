package apitypes

import "time"

// SessionTemplateRequest is the body of POST /template/session and
// PUT /template/session/{id}. Template holds the fields of a create request
// (image, type, config, bootstrap_script, ...); a session name does not
// belong in it and is given when a session is created from the template.
type SessionTemplateRequest struct {
	Name     string         `json:"name"`
	Template map[string]any `json:"template"`
}

// SessionTemplate is a stored template as the API returns it.
type SessionTemplate struct {
	ID       string         `json:"id"`
	Name     string         `json:"name"`
	Owner    string         `json:"ownerAccessKey"`
	Template map[string]any `json:"template"`
	Created  time.Time      `json:"createdAt"`
	Modified time.Time      `json:"modifiedAt"`
}

// SessionTemplateList answers GET /template/session.
type SessionTemplateList struct {
	Items []SessionTemplate `json:"items"`
}
