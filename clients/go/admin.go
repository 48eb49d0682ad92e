package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"baigo.dev/bai/common/apitypes"
)

// The admin API needs a superadmin keypair; others get 403.

// Agents lists the agents with their capacity and occupancy.
func (c *Client) Agents(ctx context.Context) ([]apitypes.AgentInfo, error) {
	var out struct {
		Agents []apitypes.AgentInfo `json:"agents"`
	}
	if err := c.do(ctx, http.MethodGet, "/agents", nil, nil, &out, true); err != nil {
		return nil, fmt.Errorf("list agents: %w", err)
	}
	return out.Agents, nil
}

// SetAgentSchedulable drains an agent (false) or returns it to service.
func (c *Client) SetAgentSchedulable(ctx context.Context, id string, on bool) error {
	if err := c.do(ctx, http.MethodPost, "/agents/"+url.PathEscape(id)+"/schedulable", nil, map[string]bool{"schedulable": on}, nil, true); err != nil {
		return fmt.Errorf("agent %s: %w", id, err)
	}
	return nil
}

// ScalingGroups lists the scaling groups.
func (c *Client) ScalingGroups(ctx context.Context) ([]apitypes.GroupInfo, error) {
	var out struct {
		Groups []apitypes.GroupInfo `json:"scaling_groups"`
	}
	if err := c.do(ctx, http.MethodGet, "/scaling-groups", nil, nil, &out, true); err != nil {
		return nil, fmt.Errorf("list scaling groups: %w", err)
	}
	return out.Groups, nil
}

// SetScalingGroup creates or updates a scaling group.
func (c *Client) SetScalingGroup(ctx context.Context, name string, in apitypes.GroupSettings) (*apitypes.GroupInfo, error) {
	var out apitypes.GroupInfo
	if err := c.do(ctx, http.MethodPut, "/scaling-groups/"+url.PathEscape(name), nil, in, &out, true); err != nil {
		return nil, fmt.Errorf("scaling group %s: %w", name, err)
	}
	return &out, nil
}

// ResourcePolicies lists the keypair resource policies.
func (c *Client) ResourcePolicies(ctx context.Context) ([]apitypes.PolicyInfo, error) {
	var out struct {
		Policies []apitypes.PolicyInfo `json:"resource_policies"`
	}
	if err := c.do(ctx, http.MethodGet, "/resource-policies", nil, nil, &out, true); err != nil {
		return nil, fmt.Errorf("list resource policies: %w", err)
	}
	return out.Policies, nil
}

// SetResourcePolicy creates or updates a resource policy.
func (c *Client) SetResourcePolicy(ctx context.Context, name string, in apitypes.PolicySettings) (*apitypes.PolicyInfo, error) {
	var out apitypes.PolicyInfo
	if err := c.do(ctx, http.MethodPut, "/resource-policies/"+url.PathEscape(name), nil, in, &out, true); err != nil {
		return nil, fmt.Errorf("resource policy %s: %w", name, err)
	}
	return &out, nil
}

// SetKeyPairPolicy assigns a resource policy to a keypair.
func (c *Client) SetKeyPairPolicy(ctx context.Context, accessKey, policy string) error {
	if err := c.do(ctx, http.MethodPut, "/keypairs/"+url.PathEscape(accessKey)+"/resource-policy", nil,
		map[string]string{"resource_policy": policy}, nil, true); err != nil {
		return fmt.Errorf("keypair %s: %w", accessKey, err)
	}
	return nil
}
