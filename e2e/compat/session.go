package compat

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// CreateOptions are the knobs of a create request.
type CreateOptions struct {
	Image string
	Name  string
	// Type is interactive (default) or batch.
	Type      string
	Resources map[string]any
	Environ   map[string]string
	// ReuseIfExists is sent only when set.
	ReuseIfExists  *bool
	StartupCommand *string
	// Network asks for a network (bai's extension; sent only when set).
	Network bool
}

// CreateResult is the create answer, read with both v4 and v5+ field names.
type CreateResult struct {
	HTTPStatus   int
	SessionID    string `json:"sessionId"`
	KernelID     string `json:"kernelId"`
	SessionName  string `json:"sessionName"`
	Status       string `json:"status"`
	StatusInfo   string `json:"statusInfo"`
	ServicePorts []struct {
		Name     string `json:"name"`
		Protocol string `json:"protocol"`
		Ports    []int  `json:"ports"`
	} `json:"servicePorts"`
	Created bool `json:"created"`
}

// ID returns the session id whichever field carried it.
func (r *CreateResult) ID() string {
	if r.SessionID != "" {
		return r.SessionID
	}
	return r.KernelID
}

// base is the resource prefix for the client's version.
func (c *Client) base() string {
	if c.Major() >= 5 {
		return "/session"
	}
	return "/kernel"
}

// SessionPath returns the path of a session resource plus suffix.
func (c *Client) SessionPath(name, suffix string) string {
	return c.base() + "/" + url.PathEscape(name) + suffix
}

// CreateBody builds the create request exactly as the SDK of the client's
// version lays it out, null keys included.
func (c *Client) CreateBody(o CreateOptions) map[string]any {
	typ := o.Type
	if typ == "" {
		typ = "interactive"
	}
	resources := o.Resources
	if resources == nil {
		resources = map[string]any{}
	}
	var environ any // null unless set, as the SDK sends it
	if o.Environ != nil {
		environ = o.Environ
	}
	var startup any
	if o.StartupCommand != nil {
		startup = *o.StartupCommand
	}
	config := map[string]any{
		"mounts":        []string{},
		"environ":       environ,
		"resources":     resources,
		"resource_opts": map[string]any{},
		"scalingGroup":  nil,
	}
	body := map[string]any{
		"tag":              nil,
		"config":           config,
		"owner_access_key": nil,
		"domain":           "default",
		"group":            "default",
		"type":             typ,
		"startupCommand":   startup,
		"enqueueOnly":      false,
		"maxWaitSeconds":   0,
	}
	if o.ReuseIfExists != nil {
		body["reuseIfExists"] = *o.ReuseIfExists
	}
	if o.Network {
		body["network"] = true
	}
	switch m := c.Major(); {
	case m >= 5:
		body["name"] = o.Name
		body["image"] = o.Image
		body["starts_at"] = nil
		body["bootstrap_script"] = nil
		body["dependencies"] = nil
		body["callback_url"] = nil
		body["clusterSize"] = 1
		body["clusterMode"] = "single-node"
		config["mount_map"] = map[string]any{}
		config["preopen_ports"] = nil
		config["agentList"] = nil
	case m == 4:
		body["clientSessionToken"] = o.Name
		body["lang"] = o.Image
		config["clusterSize"] = 1
	default:
		// The oldest SDKs sent only these keys.
		body = map[string]any{
			"clientSessionToken": o.Name,
			"lang":               o.Image,
			"config": map[string]any{
				"mounts":         []string{},
				"environ":        environ,
				"instanceCores":  nil,
				"instanceMemory": nil,
				"instanceGPUs":   nil,
			},
		}
	}
	return body
}

// CreatePath is the create endpoint of the client's version.
func (c *Client) CreatePath() string {
	if c.CreatePathOverride != "" {
		return c.CreatePathOverride
	}
	if c.Major() >= 5 {
		return "/session"
	}
	return "/kernel/create"
}

// Create creates (or reuses) a session; 200 and 201 are successes.
func (c *Client) Create(ctx context.Context, o CreateOptions) (*CreateResult, error) {
	b, err := json.Marshal(c.CreateBody(o))
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(ctx, Request{Method: http.MethodPost, Path: c.CreatePath(), Body: b})
	if err != nil {
		return nil, err
	}
	if resp.Status != http.StatusCreated && resp.Status != http.StatusOK {
		return nil, &StatusError{Op: "create " + o.Name, Resp: resp}
	}
	var r CreateResult
	if err := resp.JSON(&r); err != nil {
		return nil, err
	}
	r.HTTPStatus = resp.Status
	return &r, nil
}

// SessionInfo is the part of GET /session/{name} the tests read.
type SessionInfo struct {
	SessionID      string         `json:"sessionId"`
	SessionName    string         `json:"sessionName"`
	Image          string         `json:"image"`
	Lang           string         `json:"lang"`
	Status         string         `json:"status"`
	StatusInfo     string         `json:"statusInfo"`
	ResourceSlots  map[string]any `json:"resourceSlots"`
	OccupiedSlots  map[string]any `json:"occupiedSlots"`
	Age            float64        `json:"age"`
	ExecutionCount int            `json:"numQueriesExecuted"`
	// Raw is the whole answer.
	Raw json.RawMessage `json:"-"`
}

// Info reads a session; the raw answer is returned too (for 404 checks).
func (c *Client) Info(ctx context.Context, name string) (*SessionInfo, *Response, error) {
	resp, err := c.Do(ctx, Request{Method: http.MethodGet, Path: c.SessionPath(name, "")})
	if err != nil {
		return nil, nil, err
	}
	if resp.Status != http.StatusOK {
		return nil, resp, &StatusError{Op: "info " + name, Resp: resp}
	}
	var si SessionInfo
	if err := resp.JSON(&si); err != nil {
		return nil, resp, err
	}
	si.Raw = resp.Body
	return &si, resp, nil
}

// List reads GET /session.
func (c *Client) List(ctx context.Context) ([]SessionInfo, error) {
	resp, err := c.Do(ctx, Request{Method: http.MethodGet, Path: "/session"})
	if err != nil {
		return nil, err
	}
	if resp.Status != http.StatusOK {
		return nil, &StatusError{Op: "list", Resp: resp}
	}
	var l struct {
		Items []SessionInfo `json:"items"`
	}
	if err := resp.JSON(&l); err != nil {
		return nil, err
	}
	return l.Items, nil
}

// Destroy deletes a session and returns its stats.
func (c *Client) Destroy(ctx context.Context, name string, forced bool) (map[string]any, error) {
	p := c.SessionPath(name, "")
	if forced {
		p += "?forced=true"
	}
	resp, err := c.Do(ctx, Request{Method: http.MethodDelete, Path: p})
	if err != nil {
		return nil, err
	}
	if resp.Status != http.StatusOK {
		return nil, &StatusError{Op: "destroy " + name, Resp: resp}
	}
	var d struct {
		Stats map[string]any `json:"stats"`
	}
	if err := resp.JSON(&d); err != nil {
		return nil, err
	}
	if d.Stats == nil {
		return nil, fmt.Errorf("destroy %s: answer has no stats object: %s", name, resp)
	}
	return d.Stats, nil
}

// Restart restarts the kernel (PATCH); 204 expected.
func (c *Client) Restart(ctx context.Context, name string) (*Response, error) {
	return c.expect(ctx, http.MethodPatch, c.SessionPath(name, ""), http.StatusNoContent)
}

// Interrupt interrupts the running code; 204 expected.
func (c *Client) Interrupt(ctx context.Context, name string) (*Response, error) {
	return c.expect(ctx, http.MethodPost, c.SessionPath(name, "/interrupt"), http.StatusNoContent)
}

func (c *Client) expect(ctx context.Context, method, path string, want int) (*Response, error) {
	resp, err := c.Do(ctx, Request{Method: method, Path: path})
	if err != nil {
		return nil, err
	}
	if resp.Status != want {
		return resp, &StatusError{Op: method + " " + path, Resp: resp}
	}
	return resp, nil
}

// Logs reads the container logs.
func (c *Client) Logs(ctx context.Context, name string) (string, error) {
	resp, err := c.Do(ctx, Request{Method: http.MethodGet, Path: c.SessionPath(name, "/logs")})
	if err != nil {
		return "", err
	}
	if resp.Status != http.StatusOK {
		return "", &StatusError{Op: "logs " + name, Resp: resp}
	}
	var l struct {
		Result *struct {
			Logs *string `json:"logs"`
		} `json:"result"`
	}
	if err := resp.JSON(&l); err != nil {
		return "", err
	}
	if l.Result == nil || l.Result.Logs == nil {
		return "", fmt.Errorf("logs %s: answer lacks result.logs: %s", name, resp)
	}
	return *l.Result.Logs, nil
}

// ExecResult is one execute answer's result.
type ExecResult struct {
	RunID    string            `json:"runId"`
	Status   string            `json:"status"`
	ExitCode *int              `json:"exitCode"`
	Options  map[string]any    `json:"options"`
	Files    []any             `json:"files"`
	Console  []json.RawMessage `json:"console"`
}

// Item is one console entry; Data is a string for stdout/stderr/html.
type Item struct {
	Type string
	Data any
}

// Items decodes the console.
func (r *ExecResult) Items() ([]Item, error) {
	out := make([]Item, 0, len(r.Console))
	for _, raw := range r.Console {
		var pair []any
		if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
			return nil, fmt.Errorf("console item %s is not a [type, data] pair", raw)
		}
		t, ok := pair[0].(string)
		if !ok {
			return nil, fmt.Errorf("console item %s has a non-string type", raw)
		}
		out = append(out, Item{Type: t, Data: pair[1]})
	}
	return out, nil
}

// Execute sends one execute request. mode is query, batch, continue or input.
func (c *Client) Execute(ctx context.Context, name, mode, runID, code string, options map[string]any) (*ExecResult, *Response, error) {
	body := map[string]any{"mode": mode, "code": code, "runId": runID}
	if options != nil {
		body["options"] = options
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, nil, err
	}
	resp, err := c.Do(ctx, Request{Method: http.MethodPost, Path: c.SessionPath(name, ""), Body: b})
	if err != nil {
		return nil, nil, err
	}
	if resp.Status != http.StatusOK {
		return nil, resp, &StatusError{Op: "execute " + name, Resp: resp}
	}
	var env struct {
		Result *ExecResult `json:"result"`
	}
	if err := resp.JSON(&env); err != nil {
		return nil, resp, err
	}
	if env.Result == nil {
		return nil, resp, fmt.Errorf("execute %s: answer has no result: %s", name, resp)
	}
	return env.Result, resp, nil
}

// NewRunID returns a random run id like the SDK's token_hex(8).
func NewRunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Run is the outcome of a whole polling execute loop.
type Run struct {
	RunID string
	// Answers are the results in arrival order.
	Answers []*ExecResult
	// Console merges consecutive stdout or stderr items across answers.
	Console []Item
	// Continued counts the "continued" answers.
	Continued int
	Status    string
	ExitCode  *int
}

// Stdout concatenates the stdout items.
func (r *Run) Stdout() string { return r.text("stdout") }

// Stderr concatenates the stderr items.
func (r *Run) Stderr() string { return r.text("stderr") }

func (r *Run) text(kind string) string {
	var sb strings.Builder
	for _, it := range r.Console {
		if s, ok := it.Data.(string); ok && it.Type == kind {
			sb.WriteString(s)
		}
	}
	return sb.String()
}

// Exit returns the exit code, or -1 when absent.
func (r *Run) Exit() int {
	if r.ExitCode == nil {
		return -1
	}
	return *r.ExitCode
}

// RunCode runs code in query mode and polls with "continue" until the run is
// no longer "continued", as the SDK's run loop does without a WebSocket.
// inputs answers "waiting-input" prompts in order.
func (c *Client) RunCode(ctx context.Context, name, code string, inputs ...string) (*Run, error) {
	run := &Run{RunID: NewRunID()}
	mode, payload := "query", code
	for {
		res, _, err := c.Execute(ctx, name, mode, run.RunID, payload, nil)
		if err != nil {
			return run, err
		}
		run.Answers = append(run.Answers, res)
		items, err := res.Items()
		if err != nil {
			return run, err
		}
		for _, it := range items {
			run.Console = mergeItem(run.Console, it)
		}
		run.Status, run.ExitCode = res.Status, res.ExitCode
		switch res.Status {
		case "continued":
			run.Continued++
			mode, payload = "continue", ""
		case "waiting-input":
			if len(inputs) == 0 {
				return run, fmt.Errorf("run %s: waiting for input but none left", run.RunID)
			}
			mode, payload, inputs = "input", inputs[0], inputs[1:]
		default:
			return run, nil
		}
		if err := ctx.Err(); err != nil {
			return run, err
		}
	}
}

func mergeItem(items []Item, it Item) []Item {
	if n := len(items); n > 0 && (it.Type == "stdout" || it.Type == "stderr") && items[n-1].Type == it.Type {
		prev, ok1 := items[n-1].Data.(string)
		cur, ok2 := it.Data.(string)
		if ok1 && ok2 {
			items[n-1].Data = prev + cur
			return items
		}
	}
	return append(items, it)
}

// Images reads GET /images and returns the image names with their aliases.
func (c *Client) Images(ctx context.Context) ([]string, error) {
	resp, err := c.Do(ctx, Request{Method: http.MethodGet, Path: "/images"})
	if err != nil {
		return nil, err
	}
	if resp.Status != http.StatusOK {
		return nil, &StatusError{Op: "images", Resp: resp}
	}
	var l struct {
		Items []struct {
			Name    string   `json:"name"`
			Aliases []string `json:"aliases"`
		} `json:"items"`
	}
	if err := resp.JSON(&l); err != nil {
		return nil, err
	}
	var names []string
	for _, it := range l.Items {
		names = append(names, it.Name)
		names = append(names, it.Aliases...)
	}
	return names, nil
}
