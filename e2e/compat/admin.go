package compat

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
)

// SetResourcePolicy creates or updates a resource policy through the admin
// REST API (PUT /resource-policies/{name}, superadmins only); settings are
// the policy's fields, e.g. {"max_session_lifetime": 10}.
func (c *Client) SetResourcePolicy(ctx context.Context, name string, settings map[string]any) (*Response, error) {
	b, err := json.Marshal(settings)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(ctx, Request{Method: http.MethodPut, Path: "/resource-policies/" + url.PathEscape(name), Body: b})
	if err != nil {
		return nil, err
	}
	if resp.Status != http.StatusOK {
		return resp, &StatusError{Op: "set resource policy " + name, Resp: resp}
	}
	return resp, nil
}

// SetKeyPairPolicy assigns a resource policy to a keypair (PUT
// /keypairs/{access key}/resource-policy, superadmins only); 204 expected.
func (c *Client) SetKeyPairPolicy(ctx context.Context, accessKey, policy string) (*Response, error) {
	b, err := json.Marshal(map[string]string{"resource_policy": policy})
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(ctx, Request{Method: http.MethodPut, Path: "/keypairs/" + url.PathEscape(accessKey) + "/resource-policy", Body: b})
	if err != nil {
		return nil, err
	}
	if resp.Status != http.StatusNoContent {
		return resp, &StatusError{Op: "set the resource policy of " + accessKey, Resp: resp}
	}
	return resp, nil
}
