// Package config holds the manager's settings. It is the only place of the
// manager that may read the environment; main fills Config from flags and
// environment variables and passes it down.
package config

import (
	"net/netip"
	"time"
)

// Config holds every setting of the manager.
type Config struct {
	// ListenAddr is the public API address, e.g. 127.0.0.1:8081.
	ListenAddr string
	// DatabaseURL is a Postgres URL, or an SQLite file path.
	DatabaseURL string
	// DataDir holds the SQLite file and generated secrets by default.
	DataDir string
	// ClusterSecret authenticates agents to the manager and back.
	ClusterSecret string
	// AgentTimeout marks an agent LOST when no heartbeat came for this long.
	AgentTimeout time.Duration
	// DateSkew is how far a request's date may be off the server clock.
	DateSkew time.Duration
	// MaxBodyBytes caps JSON request bodies (413 above it).
	MaxBodyBytes int64
	// FlushTimeout is how long an execute request is held for more output.
	FlushTimeout time.Duration
	// CreateWait is how long POST /session waits for RUNNING by default.
	CreateWait time.Duration
	// CullInterval is how often idle, over-age and overdue sessions are
	// looked for.
	CullInterval time.Duration
	// VFolderRoot holds one directory per virtual folder; empty:
	// DataDir/vfolders. Agents bind-mount from the same path, so with
	// agents on several hosts it must be a shared file system (NFS)
	// mounted at this path everywhere.
	VFolderRoot string
	// Version is the manager's own version string.
	Version string
	// Web configures the browser app's sign-in and cookie sessions.
	Web Web
}

// Web configures the browser app's sign-in (package webauth).
type Web struct {
	// SessionIdle ends a browser session that made no request for this
	// long; SessionLifetime ends every session this long after sign-in.
	SessionIdle     time.Duration
	SessionLifetime time.Duration
	// PublicURL is the app's address as browsers see it
	// (https://bai.example.com) when the manager sits behind a proxy that
	// terminates TLS: it is an accepted Origin, makes cookies Secure, and
	// is the base of the default OIDC redirect URL. Empty: taken from
	// each request.
	PublicURL string
	// LoginFailures is how many failed keypair sign-ins one client address
	// may make per minute before it gets 429 for the rest of the minute.
	LoginFailures int
	// OIDCStarts is how many OIDC sign-ins one client address may begin
	// per minute (each one stores a short-lived record).
	OIDCStarts int
	// TrustedProxies are the reverse proxies (addresses or CIDR
	// prefixes) whose X-Forwarded-For names the real client: sign-in
	// limits count per client, not per proxy. Empty: the TCP peer is the
	// client, and X-Forwarded-For is ignored (anyone can send it).
	TrustedProxies []netip.Prefix
	OIDC           OIDC
}

// OIDC configures sign-in through an OpenID Connect provider; an empty
// Issuer turns it off.
type OIDC struct {
	Issuer       string
	ClientID     string
	ClientSecret string // empty: a public client (PKCE only)
	// RedirectURL is the callback registered with the provider; empty:
	// PublicURL (or the request's scheme and host) + /auth/oidc/callback.
	RedirectURL string
	// Name labels the sign-in button ("Sign in with Name").
	Name   string
	Scopes []string
	// RoleClaim names the ID token (or userinfo) claim, a string or a
	// list of strings, whose values map to roles: any of
	// SuperadminValues makes a superadmin, else any of AdminValues an
	// admin, else a user. Empty: roles are not taken from the provider.
	RoleClaim        string
	SuperadminValues []string
	AdminValues      []string
}

// Enabled reports whether OIDC sign-in is configured.
func (o OIDC) Enabled() bool { return o.Issuer != "" }

// Defaults fills zero fields with the documented defaults.
func (c *Config) Defaults() {
	if c.ListenAddr == "" {
		c.ListenAddr = "127.0.0.1:8081"
	}
	if c.AgentTimeout == 0 {
		c.AgentTimeout = 15 * time.Second
	}
	if c.DateSkew == 0 {
		c.DateSkew = 15 * time.Minute
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 4 << 20
	}
	if c.FlushTimeout == 0 {
		c.FlushTimeout = 2 * time.Second
	}
	if c.CreateWait == 0 {
		c.CreateWait = 90 * time.Second
	}
	if c.CullInterval == 0 {
		c.CullInterval = 5 * time.Second
	}
	if c.Version == "" {
		c.Version = "0.1.0"
	}
	if c.Web.SessionIdle == 0 {
		c.Web.SessionIdle = 12 * time.Hour
	}
	if c.Web.SessionLifetime == 0 {
		c.Web.SessionLifetime = 7 * 24 * time.Hour
	}
	if c.Web.OIDCStarts == 0 {
		c.Web.OIDCStarts = 30
	}
	if c.Web.LoginFailures == 0 {
		c.Web.LoginFailures = 10
	}
	if len(c.Web.OIDC.Scopes) == 0 {
		c.Web.OIDC.Scopes = []string{"openid", "email", "profile"}
	}
	if c.Web.OIDC.Name == "" {
		c.Web.OIDC.Name = "single sign-on"
	}
}
