// Package webauth is the manager's side of the browser app. API clients
// sign every request with their keypair; a browser cannot keep a secret key
// safe from the page's scripts, so it signs in once (with a keypair, or
// through an OpenID Connect provider) and then holds an HttpOnly cookie that
// stands for the keypair on every API route.
//
// A cookie is sent by the browser whoever asks it to, so cookie-borne
// requests get two more checks than signed ones: a state-changing request
// must echo the session's CSRF token in a header (which another site's page
// cannot read), and a request that carries an Origin must come from the
// app's own origin (WebSocket handshakes are not covered by CORS, so this is
// their only guard).
//
// Browser sessions live in the database (table web_sessions), so several
// managers share them and a logout takes effect everywhere at once:
//
//	sign-in ──► active ──(no request for SessionIdle)──► gone
//	              │ └────(SessionLifetime after sign-in)──► gone
//	              └──(POST /auth/logout)──────────────────► gone
//
// The package also serves the app's files (spa.go) and the user and keypair
// administration the admin pages and OIDC provisioning share (accounts.go).
package webauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"baigo.dev/bai/backend/auth"
	"baigo.dev/bai/backend/config"
	"baigo.dev/bai/backend/store"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/ent/oidclogin"
	"baigo.dev/bai/ent/websession"
)

// CookieName is the browser session cookie.
const CookieName = "bai_session"

// CSRFHeader carries the session's CSRF token on state-changing requests.
const CSRFHeader = "X-CSRF-Token"

// Options are what New needs.
type Options struct {
	// Config is the manager's configuration (its Web section and Version).
	Config config.Config
	Store  *store.Store
	Keys   *auth.Keys
	// Policy returns a resource policy as GET /resource-policies lists it,
	// for the signed-in user's page.
	Policy func(ctx context.Context, name string) (apitypes.PolicyInfo, error)
	Log    *slog.Logger
	// Now is the clock (nil: time.Now); tests move it to expire sessions.
	Now func() time.Time
}

// Service signs browsers in and out and authenticates their requests.
type Service struct {
	cfg     config.Web
	version string
	st      *store.Store
	keys    *auth.Keys
	policy  func(ctx context.Context, name string) (apitypes.PolicyInfo, error)
	log     *slog.Logger
	now     func() time.Time
	fails   *failures
	starts  *failures   // OIDC sign-ins begun, per client address
	oidc    *oidcClient // nil: OIDC sign-in is off
	// publicOrigin is scheme://host of Config.Web.PublicURL ("" when unset).
	publicOrigin string
}

// New returns the service; it talks to no OpenID provider until the first
// sign-in, so a provider that is down does not keep the manager from
// starting.
func New(o Options) *Service {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	s := &Service{cfg: o.Config.Web, version: o.Config.Version, st: o.Store, keys: o.Keys, policy: o.Policy,
		log: o.Log, now: now, fails: newFailures(o.Config.Web.LoginFailures, time.Minute, now),
		starts: newFailures(o.Config.Web.OIDCStarts, time.Minute, now)}
	if u, err := url.Parse(o.Config.Web.PublicURL); err == nil && u.Scheme != "" && u.Host != "" {
		s.publicOrigin = u.Scheme + "://" + u.Host
	}
	if o.Config.Web.OIDC.Enabled() {
		s.oidc = newOIDCClient(o.Config.Web.OIDC)
	}
	return s
}

// Register mounts /auth/... on e. The app's own files are mounted by
// ServeApp.
func (s *Service) Register(e *echo.Echo) {
	e.GET("/auth/config", s.authConfig)
	e.POST("/auth/login", s.login)
	e.GET("/auth/me", s.me)
	e.POST("/auth/logout", s.logout)
	e.GET("/auth/oidc/login", s.oidcLogin)
	e.GET("/auth/oidc/callback", s.oidcCallback)
}

// Run deletes ended browser sessions and abandoned OIDC sign-ins every
// interval until ctx ends. Lookups refuse ended sessions anyway; this only
// keeps the tables small.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.Sweep(ctx)
		}
	}
}

// Sweep deletes the browser sessions and OIDC sign-ins that have ended.
func (s *Service) Sweep(ctx context.Context) {
	now := s.now()
	n, err := s.st.WebSession.Delete().Where(websession.Or(
		websession.ExpiresAtLT(now), websession.LastSeenLT(now.Add(-s.cfg.SessionIdle)))).Exec(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("sweep browser sessions", "err", err)
	}
	m, err := s.st.OIDCLogin.Delete().Where(oidclogin.ExpiresAtLT(now)).Exec(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("sweep oidc sign-ins", "err", err)
	}
	s.fails.prune()
	s.starts.prune()
	if n+m > 0 {
		s.log.Debug("swept browser sessions", "sessions", n, "oidc_logins", m)
	}
}

// randomToken returns 32 random bytes, URL-safe base64 encoded.
func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // the OS random source does not fail on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is how a cookie or state value is stored: its SHA-256, so the
// database never holds a value that would work if copied.
func hashToken(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

func equal(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// requestOrigin is scheme://host as the browser addressed this server.
func requestOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// originAllowed reports whether r carries no Origin (not a cross-origin
// browser request) or the app's own.
func (s *Service) originAllowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	return strings.EqualFold(o, requestOrigin(r)) || (s.publicOrigin != "" && strings.EqualFold(o, s.publicOrigin))
}

// secure reports whether cookies set on r's answer should be Secure: the
// browser reached us over TLS, directly or through the public URL's proxy.
func (s *Service) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(s.publicOrigin, "https://")
}

// clientAddr is the address sign-in limits count by: the TCP peer, or,
// when the peer is one of the operator's trusted proxies, the nearest
// address in X-Forwarded-For that is not a trusted proxy (read from the
// right: entries further left were written by the client and can be
// anything). Forwarded headers from anyone else are ignored.
func (s *Service) clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if len(s.cfg.TrustedProxies) == 0 || !s.trusted(host) {
		return host
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		a, err := netip.ParseAddr(hop)
		if err != nil {
			break // garbage: stop at the last address we could trust
		}
		if !s.trusted(hop) {
			return a.Unmap().String()
		}
		host = hop
	}
	return host
}

// trusted reports whether addr is one of the configured proxies.
func (s *Service) trusted(addr string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
