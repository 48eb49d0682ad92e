// Package client is the Go SDK for the Backend.AI-compatible API served by the
// bai manager. It exists so that Go programs (our own `bai` CLI, the Jupyter
// gateway, the live-code-runner bridge) share one correct implementation of
// request signing, error decoding and the execute polling loop instead of
// each speaking raw HTTP.
//
// A Client is safe for concurrent use. Every method takes a context first and
// returns errors that wrap the common/errdefs sentinels, so callers can test
// them with errdefs.Is(err, errdefs.ErrNotFound) and friends.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/common/errdefs"
	"baigo.dev/bai/common/sign"
)

// DefaultEndpoint is the manager address used when BACKEND_ENDPOINT is unset:
// the port `bai dev` listens on.
const DefaultEndpoint = "http://127.0.0.1:8081"

// Environment variable names; the same ones Backend.AI's own CLI reads.
const (
	EnvEndpoint  = "BACKEND_ENDPOINT"
	EnvAccessKey = "BACKEND_ACCESS_KEY"
	EnvSecretKey = "BACKEND_SECRET_KEY"
)

// dateLayout renders the X-BackendAI-Date header the way Python's
// datetime.isoformat() does for an aware UTC time.
const dateLayout = "2006-01-02T15:04:05.000000+00:00"

// Config says where the manager is and which keypair signs the requests.
type Config struct {
	// Endpoint is the manager's base URL, e.g. http://127.0.0.1:8081.
	Endpoint string
	// AccessKey and SecretKey form the HMAC keypair.
	AccessKey string
	SecretKey string
	// APIVersion is sent in X-BackendAI-Version; sign.NewestVersion when empty.
	APIVersion string
	// HTTPClient performs the requests; a client without timeout when nil
	// (execute requests are long polls, so bound them with the context).
	HTTPClient *http.Client
	// UserAgent is sent in User-Agent; "bai-go-sdk" when empty.
	UserAgent string
	// Now is the clock used to date requests; time.Now when nil.
	Now func() time.Time
}

// ConfigFromEnv builds a Config from BACKEND_ENDPOINT (default
// DefaultEndpoint), BACKEND_ACCESS_KEY and BACKEND_SECRET_KEY, read through
// getenv (pass os.Getenv). Missing keys are an error wrapping
// errdefs.ErrInvalidArgument whose text tells the user what to set.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{
		Endpoint:  strings.TrimSpace(getenv(EnvEndpoint)),
		AccessKey: strings.TrimSpace(getenv(EnvAccessKey)),
		SecretKey: strings.TrimSpace(getenv(EnvSecretKey)),
	}
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		return cfg, fmt.Errorf("set %s and %s (printed by `make run`): %w", EnvAccessKey, EnvSecretKey, errdefs.ErrInvalidArgument)
	}
	return cfg, nil
}

// Client talks to one manager with one keypair.
type Client struct {
	cfg  Config
	base *url.URL
	http *http.Client
	now  func() time.Time
}

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.Endpoint == "" {
		cfg.Endpoint = DefaultEndpoint
	}
	u, err := url.Parse(strings.TrimRight(cfg.Endpoint, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("endpoint %q must look like http://host:port (set %s): %w", cfg.Endpoint, EnvEndpoint, errdefs.ErrInvalidArgument)
	}
	if cfg.APIVersion == "" {
		cfg.APIVersion = sign.NewestVersion
	}
	v, err := sign.ParseVersion(cfg.APIVersion)
	if err != nil {
		return nil, err
	}
	if v.Major < 5 {
		// v4 and older address sessions under /kernel; this SDK speaks /session.
		return nil, fmt.Errorf("api version %s: the SDK speaks v5 and newer: %w", cfg.APIVersion, errdefs.ErrInvalidArgument)
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "bai-go-sdk"
	}
	c := &Client{cfg: cfg, base: u, http: cfg.HTTPClient, now: cfg.Now}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// Endpoint returns the manager's base URL as configured.
func (c *Client) Endpoint() string { return c.base.String() }

// APIError is an error answer of the manager, decoded from its RFC 7807
// problem+json body. It unwraps to the errdefs sentinel of its status.
type APIError struct {
	Status int    // HTTP status code
	Type   string // problem type URI
	Title  string // short summary
	Msg    string // details, may be empty
}

// Error renders the problem for a human: the title and the details.
func (e *APIError) Error() string {
	title := e.Title
	if title == "" {
		title = http.StatusText(e.Status)
	}
	if title == "" {
		title = "error"
	}
	s := fmt.Sprintf("%s (HTTP %d)", strings.TrimRight(title, "."), e.Status)
	if e.Msg != "" && e.Msg != e.Title {
		s += ": " + e.Msg
	}
	return s
}

// Unwrap maps the status to a common/errdefs sentinel.
func (e *APIError) Unwrap() error {
	switch {
	case e.Status == http.StatusNotFound:
		return errdefs.ErrNotFound
	case e.Status == http.StatusUnauthorized:
		return errdefs.ErrUnauthenticated
	case e.Status == http.StatusForbidden:
		return errdefs.ErrPermissionDenied
	case e.Status == http.StatusBadRequest || e.Status == http.StatusUnprocessableEntity:
		return errdefs.ErrInvalidArgument
	case e.Status == http.StatusConflict:
		return errdefs.ErrConflict
	case e.Status == http.StatusPreconditionFailed:
		return errdefs.ErrQuotaExceeded
	case e.Status == http.StatusTooManyRequests:
		return errdefs.ErrRateLimited
	case e.Status == http.StatusRequestEntityTooLarge:
		return errdefs.ErrTooLarge
	case e.Status >= 500:
		return errdefs.ErrUnavailable
	}
	return nil
}

// UnreachableError says the manager could not be contacted at all
// (connection refused, unknown host). It unwraps to errdefs.ErrUnavailable
// and to the network error.
type UnreachableError struct {
	Endpoint string
	Err      error
}

// Error tells the user what to check.
func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the manager at %s: is it running? (set %s)", e.Endpoint, EnvEndpoint)
}

// Unwrap returns errdefs.ErrUnavailable and the underlying network error.
func (e *UnreachableError) Unwrap() []error { return []error{errdefs.ErrUnavailable, e.Err} }

// do sends one request. in, when non-nil, is encoded as the JSON body; out,
// when non-nil, receives the decoded JSON answer. signed selects HMAC
// signing. Statuses >= 400 become *APIError.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any, signed bool) error {
	var body []byte
	contentType := "text/plain"
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		body = b
		contentType = "application/json"
	}
	pathQuery := c.base.EscapedPath() + path
	if len(query) > 0 {
		pathQuery += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.Scheme+"://"+c.base.Host+pathQuery, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body == nil {
		req.Body = http.NoBody
		req.ContentLength = 0
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	if signed {
		c.sign(req, pathQuery, contentType, body)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s %s: %w", method, path, ctx.Err())
		}
		if isUnreachable(err) {
			return &UnreachableError{Endpoint: c.base.String(), Err: err}
		}
		return fmt.Errorf("%s %s: %w: %w", method, path, err, errdefs.ErrUnavailable)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w: %w", method, path, err, errdefs.ErrUnavailable)
	}
	if resp.StatusCode >= 400 {
		return decodeProblem(resp.StatusCode, data)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w: %w", method, path, err, errdefs.ErrInternal)
	}
	return nil
}

// sign adds the Backend.AI version, date and Authorization headers.
func (c *Client) sign(req *http.Request, pathQuery, contentType string, body []byte) {
	now := c.now().UTC()
	date := now.Format(dateLayout)
	r := sign.Request{
		Method:      req.Method,
		PathQuery:   pathQuery,
		Date:        date,
		Host:        c.base.Host,
		ContentType: contentType,
		Version:     c.cfg.APIVersion,
	}
	if v, err := sign.ParseVersion(c.cfg.APIVersion); err == nil && v.HashesBody() {
		r.BodyHash = sign.BodyHash(body)
	}
	req.Header.Set(apitypes.HeaderVersion, c.cfg.APIVersion)
	req.Header.Set(apitypes.HeaderDate, date)
	req.Header.Set("Authorization", sign.Authorization(c.cfg.AccessKey, sign.Signature(c.cfg.SecretKey, r, now)))
}

// decodeProblem turns an error answer into *APIError, tolerating bodies that
// are not problem+json.
func decodeProblem(status int, data []byte) error {
	e := &APIError{Status: status}
	var p struct {
		Type   string `json:"type"`
		Title  string `json:"title"`
		Msg    string `json:"msg"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(data, &p); err == nil {
		e.Type, e.Title, e.Msg = p.Type, p.Title, p.Msg
		if e.Msg == "" {
			e.Msg = p.Detail
		}
	} else if s := strings.TrimSpace(string(data)); s != "" && len(s) < 500 {
		e.Msg = s
	}
	return e
}

// isUnreachable reports whether err means no connection could be made.
func isUnreachable(err error) bool {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// sessionPath escapes a session name or id into /session/{name}.
func sessionPath(name string, suffix ...string) string {
	p := "/session/" + url.PathEscape(name)
	for _, s := range suffix {
		p += "/" + s
	}
	return p
}

// ServerInfo asks GET / (unsigned) for the API version and manager version.
func (c *Client) ServerInfo(ctx context.Context) (*apitypes.ServerInfo, error) {
	var out apitypes.ServerInfo
	if err := c.do(ctx, http.MethodGet, "/", nil, nil, &out, false); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateSession creates a session, or returns the existing one of the same
// name when reuseIfExists allows it (the default).
func (c *Client) CreateSession(ctx context.Context, req apitypes.CreateSession) (*apitypes.CreateSessionResult, error) {
	var out apitypes.CreateSessionResult
	if err := c.do(ctx, http.MethodPost, "/session", nil, req, &out, true); err != nil {
		return nil, fmt.Errorf("create session: %w", err)
	}
	if out.SessionID == "" {
		out.SessionID = out.KernelID
	}
	return &out, nil
}

// GetSession returns the information of a session by name or id.
func (c *Client) GetSession(ctx context.Context, nameOrID string) (*apitypes.SessionInfo, error) {
	var out apitypes.SessionInfo
	if err := c.do(ctx, http.MethodGet, sessionPath(nameOrID), nil, nil, &out, true); err != nil {
		return nil, fmt.Errorf("session %s: %w", nameOrID, err)
	}
	return &out, nil
}

// ListSessions returns the caller's own sessions.
func (c *Client) ListSessions(ctx context.Context) ([]apitypes.SessionInfo, error) {
	var out apitypes.SessionList
	if err := c.do(ctx, http.MethodGet, "/session", nil, nil, &out, true); err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return out.Items, nil
}

// DestroySession terminates a session; forced skips the graceful shutdown.
func (c *Client) DestroySession(ctx context.Context, nameOrID string, forced bool) (*apitypes.DestroyResult, error) {
	var q url.Values
	if forced {
		q = url.Values{"forced": {"true"}}
	}
	var out apitypes.DestroyResult
	if err := c.do(ctx, http.MethodDelete, sessionPath(nameOrID), q, nil, &out, true); err != nil {
		return nil, fmt.Errorf("destroy session %s: %w", nameOrID, err)
	}
	return &out, nil
}

// RestartSession restarts the session's kernel: its state is lost, its
// files are kept.
func (c *Client) RestartSession(ctx context.Context, nameOrID string) error {
	if err := c.do(ctx, http.MethodPatch, sessionPath(nameOrID), nil, nil, nil, true); err != nil {
		return fmt.Errorf("restart session %s: %w", nameOrID, err)
	}
	return nil
}

// Execute sends one execute request (query, batch, continue, input) and
// returns its result. RunCode drives the whole loop on top of it.
func (c *Client) Execute(ctx context.Context, nameOrID string, req apitypes.Execute) (*apitypes.ExecuteResult, error) {
	var out apitypes.ExecuteResponse
	if err := c.do(ctx, http.MethodPost, sessionPath(nameOrID), nil, req, &out, true); err != nil {
		return nil, fmt.Errorf("execute in session %s: %w", nameOrID, err)
	}
	return &out.Result, nil
}

// Interrupt interrupts the code running in a session.
func (c *Client) Interrupt(ctx context.Context, nameOrID string) error {
	if err := c.do(ctx, http.MethodPost, sessionPath(nameOrID, "interrupt"), nil, nil, nil, true); err != nil {
		return fmt.Errorf("interrupt session %s: %w", nameOrID, err)
	}
	return nil
}

// Logs returns the container logs of a session.
func (c *Client) Logs(ctx context.Context, nameOrID string) (string, error) {
	var out apitypes.LogsResult
	if err := c.do(ctx, http.MethodGet, sessionPath(nameOrID, "logs"), nil, nil, &out, true); err != nil {
		return "", fmt.Errorf("logs of session %s: %w", nameOrID, err)
	}
	return out.Result.Logs, nil
}

// Complete asks the session's kernel for completions of code.
func (c *Client) Complete(ctx context.Context, nameOrID string, req apitypes.Complete) ([]any, error) {
	var out apitypes.CompleteResult
	if err := c.do(ctx, http.MethodPost, sessionPath(nameOrID, "complete"), nil, req, &out, true); err != nil {
		return nil, fmt.Errorf("complete in session %s: %w", nameOrID, err)
	}
	return out.Result, nil
}

// Images lists the kernel images the manager knows.
func (c *Client) Images(ctx context.Context) ([]apitypes.ImageInfo, error) {
	var out apitypes.ImageList
	if err := c.do(ctx, http.MethodGet, "/images", nil, nil, &out, true); err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	return out.Items, nil
}
