// Package compat is an independent Backend.AI API client, written only from
// the public API description (API.md) and the observed wire behaviour of
// Backend.AI's Python SDK. It shares no code with the server or the Go SDK on
// purpose: the end-to-end tests and the benchmark use it to check that the
// server really speaks the protocol that existing clients speak, including
// the signing rules, the legacy /kernel paths and the polling execute loop.
package compat

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Versions spoken by the Backend.AI SDK releases this client imitates.
const (
	// V6 is the newest version (SDK 22.03).
	V6 = "v6.20220315"
	// V5 is the first /session version (SDK 20.03).
	V5 = "v5.20191215"
	// V4 is the last /kernel version (SDK 19.09).
	V4 = "v4.20190615"
	// V3 is an old-style version whose signature hashes the real body.
	V3 = "v3.20170615"
)

// SDKUserAgent is the User-Agent the Python SDK sends.
const SDKUserAgent = "Backend.AI Client for Python 22.03.0"

// Client talks to one endpoint with one keypair and one API version.
type Client struct {
	// Endpoint is the base URL, e.g. http://127.0.0.1:8081.
	Endpoint string
	// AccessKey and SecretKey form the keypair.
	AccessKey string
	SecretKey string
	// Version is sent as X-BackendAI-Version; it picks /kernel or /session.
	Version string
	// PathPrefix is put before every path (e.g. "/v2" for legacy clients).
	PathPrefix string
	// CreatePathOverride replaces the create endpoint (e.g. the v5 alias
	// /session/_/create).
	CreatePathOverride string
	// Domain is sent as X-BackendAI-Domain ("default" when empty).
	Domain string
	// DateHeader names the date header: X-BackendAI-Date (default) or Date.
	DateHeader string
	// Now gives the signing time (time.Now when nil); tests skew it.
	Now func() time.Time
	// HTTP is the transport (a client with a 60 s timeout when nil).
	HTTP *http.Client
}

// New returns a client for endpoint with the newest version.
func New(endpoint, accessKey, secretKey string) *Client {
	return &Client{Endpoint: strings.TrimRight(endpoint, "/"), AccessKey: accessKey, SecretKey: secretKey, Version: V6}
}

// WithVersion returns a copy of c speaking version v.
func (c *Client) WithVersion(v string) *Client {
	cp := *c
	cp.Version = v
	return &cp
}

// Major returns the major number of the client's API version.
func (c *Client) Major() int {
	v := strings.TrimPrefix(c.Version, "v")
	if i := strings.IndexByte(v, '.'); i >= 0 {
		v = v[:i]
	}
	n, _ := strconv.Atoi(v)
	return n
}

// versionDate returns the YYYYMMDD part of the version (0 when absent).
func (c *Client) versionDate() int {
	_, d, ok := strings.Cut(c.Version, ".")
	if !ok {
		return 0
	}
	n, _ := strconv.Atoi(d)
	return n
}

// hashesEmptyBody tells whether the signature uses the empty-body hash, which
// the SDK does from v4.20181215 on; older versions hash the real body.
func (c *Client) hashesEmptyBody() bool {
	m := c.Major()
	return m > 4 || (m == 4 && c.versionDate() >= 20181215)
}

// Response is a raw answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v.
func (r *Response) JSON(v any) error {
	if err := json.Unmarshal(r.Body, v); err != nil {
		return fmt.Errorf("decode %d answer %q: %w", r.Status, truncate(r.Body, 300), err)
	}
	return nil
}

// Problem decodes an RFC 7807 error body; ok is false when it is not one.
func (r *Response) Problem() (p Problem, ok bool) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
		return p, false
	}
	if json.Unmarshal(r.Body, &p) != nil {
		return p, false
	}
	return p, true
}

// String summarises the answer for test failure messages.
func (r *Response) String() string {
	return fmt.Sprintf("HTTP %d %s: %s", r.Status, r.Header.Get("Content-Type"), truncate(r.Body, 600))
}

// Problem is the RFC 7807 error body.
type Problem struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	Msg   string `json:"msg"`
}

// StatusError is returned by the typed helpers for unexpected status codes.
type StatusError struct {
	Op   string
	Resp *Response
}

func (e *StatusError) Error() string { return e.Op + ": " + e.Resp.String() }

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// Request describes one signed request.
type Request struct {
	Method string
	// Path is the path with its query, without the PathPrefix.
	Path        string
	Body        []byte
	ContentType string // text/plain when empty and there is no body
	// Stream, when set, is sent instead of Body with StreamLength as its
	// Content-Length (bodies too large to hold in memory). It is never
	// hashed, so it suits versions that sign the empty-body hash.
	Stream       io.Reader
	StreamLength int64
	// Header adds or overrides headers after signing.
	Header http.Header
	// SignWith overrides the secret key used for signing (bad-key tests).
	SignWith string
}

// Do sends a signed request and reads the whole answer.
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("endpoint %q: %w", c.Endpoint, err)
	}
	rel := c.PathPrefix + r.Path
	ct := r.ContentType
	if ct == "" {
		if r.Body == nil {
			ct = "text/plain"
		} else {
			ct = "application/json"
		}
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	date := now().UTC()
	rawDate := FormatDate(date)
	secret := c.SecretKey
	if r.SignWith != "" {
		secret = r.SignWith
	}
	bodyHash := sha256.Sum256(nil)
	if !c.hashesEmptyBody() {
		bodyHash = sha256.Sum256(r.Body)
	}
	sig := Sign(secret, date, u.Host, StringToSign(r.Method, rel, rawDate, u.Host, ct, c.Version, hex.EncodeToString(bodyHash[:])))

	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	if r.Stream != nil {
		body = r.Stream
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, c.Endpoint+rel, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if r.Stream != nil {
		req.ContentLength = r.StreamLength
	}
	dateHeader := c.DateHeader
	if dateHeader == "" {
		dateHeader = "X-BackendAI-Date"
	}
	domain := c.Domain
	if domain == "" {
		domain = "default"
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set(dateHeader, rawDate)
	req.Header.Set("X-BackendAI-Version", c.Version)
	req.Header.Set("X-BackendAI-Domain", domain)
	req.Header.Set("User-Agent", SDKUserAgent)
	req.Header.Set("Authorization", fmt.Sprintf("BackendAI signMethod=HMAC-SHA256, credential=%s:%s", c.AccessKey, sig))
	for k, vs := range r.Header {
		req.Header.Del(k)
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return c.send(req)
}

func (c *Client) send(req *http.Request) (*Response, error) {
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", req.Method, req.URL.Path, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// FormatDate writes t the way Python's datetime.isoformat() does for an
// aware UTC datetime: microseconds and a +00:00 offset.
func FormatDate(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000") + "+00:00"
}

// StringToSign joins the signed lines as the SDK does.
func StringToSign(method, pathQuery, rawDate, host, contentType, version, bodyHashHex string) string {
	return strings.Join([]string{
		strings.ToUpper(method),
		pathQuery,
		rawDate,
		"host:" + host,
		"content-type:" + strings.ToLower(contentType),
		"x-backendai-version:" + version,
		bodyHashHex,
	}, "\n")
}

// Sign derives the signing key from secret, the date's day and host, and
// returns the hex signature of stringToSign.
func Sign(secret string, date time.Time, host, stringToSign string) string {
	k1 := mac([]byte(secret), []byte(date.UTC().Format("20060102")))
	k2 := mac(k1, []byte(host))
	return hex.EncodeToString(mac(k2, []byte(stringToSign)))
}

func mac(key, msg []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return h.Sum(nil)
}

// ServerVersion calls the unsigned GET /.
func (c *Client) ServerVersion(ctx context.Context) (version, manager string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Endpoint+"/", nil)
	if err != nil {
		return "", "", err
	}
	req.Header.Set("User-Agent", SDKUserAgent)
	resp, err := c.send(req)
	if err != nil {
		return "", "", err
	}
	if resp.Status != http.StatusOK {
		return "", "", &StatusError{Op: "GET /", Resp: resp}
	}
	var v struct {
		Version string `json:"version"`
		Manager string `json:"manager"`
	}
	if err := resp.JSON(&v); err != nil {
		return "", "", err
	}
	return v.Version, v.Manager, nil
}
