package webauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"

	"baigo.dev/bai/backend/config"
	"baigo.dev/bai/ent"
	"baigo.dev/bai/ent/keypair"
	"baigo.dev/bai/ent/oidclogin"
	"baigo.dev/bai/ent/user"
)

// OIDC sign-in (authorization code flow with PKCE):
//
//	browser ── GET /auth/oidc/login?next=/app/x ──► manager: records state, nonce,
//	   │                                             PKCE verifier; cookie bai_oidc
//	   ◄── 302 provider/authorize?state&nonce&code_challenge (S256)
//	   ── the person signs in at the provider ──►
//	   ◄── 302 /auth/oidc/callback?code&state
//	browser ── GET /auth/oidc/callback ──► manager: takes the state (once), checks
//	                                        bai_oidc, exchanges the code with the
//	                                        verifier, verifies the ID token and its
//	                                        nonce, provisions the user, bai_session
//	   ◄── 302 next (or /login?error=... on any failure)

// oidcCookie ties a sign-in to the browser that started it, so a callback
// link made by someone else (with their code) does not sign this browser
// into their account.
const oidcCookie = "bai_oidc"

// oidcLoginTTL is how long a person has at the provider.
const oidcLoginTTL = 10 * time.Minute

type oidcClient struct {
	cfg  config.OIDC
	http *http.Client

	mu       sync.Mutex
	provider *oidc.Provider // discovered on first use
}

func newOIDCClient(cfg config.OIDC) *oidcClient {
	if !slices.Contains(cfg.Scopes, oidc.ScopeOpenID) {
		cfg.Scopes = append([]string{oidc.ScopeOpenID}, cfg.Scopes...)
	}
	return &oidcClient{cfg: cfg, http: &http.Client{Timeout: 15 * time.Second}}
}

func (o *oidcClient) ctx(ctx context.Context) context.Context { return oidc.ClientContext(ctx, o.http) }

// discover fetches the provider's metadata once; a failure is retried on
// the next sign-in.
func (o *oidcClient) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	p, err := oidc.NewProvider(o.ctx(ctx), o.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	o.provider = p
	return p, nil
}

func (o *oidcClient) oauth(p *oidc.Provider, redirectURL string) *oauth2.Config {
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: redirectURL, Scopes: o.cfg.Scopes}
}

// refusal is a failed OIDC sign-in: what the person is told, and what the
// log says (never a token).
type refusal struct{ msg, reason string }

func (r *refusal) Error() string { return r.reason }

func refuse(msg, format string, a ...any) error {
	return &refusal{msg: msg, reason: fmt.Sprintf(format, a...)}
}

const (
	msgStartAgain  = "This sign-in link has expired or was used already. Sign in again."
	msgUnreachable = "The identity provider cannot be reached. Try again later, or ask an administrator."
	msgUnverified  = "The identity provider's answer could not be verified. Sign in again; if it keeps failing, ask an administrator to check the OIDC settings."
)

// oidcLogin serves GET /auth/oidc/login?next=/app/...: it sends the browser
// to the provider.
func (s *Service) oidcLogin(c echo.Context) error {
	if s.oidc == nil {
		return s.failOIDC(c, refuse("Sign-in through an identity provider is not set up on this server; sign in with a keypair.", "oidc is not configured"))
	}
	r := c.Request()
	ctx := r.Context()
	// Each start stores a record for 10 minutes, and any web page can send
	// browsers here: bound how many one address may begin.
	addr := s.clientAddr(r)
	if s.starts.blocked(addr) {
		return s.failOIDC(c, refuse("Too many sign-ins were started from your address; wait a minute and try again.", "oidc start rate limit for %s", addr))
	}
	s.starts.add(addr)
	p, err := s.oidc.discover(ctx)
	if err != nil {
		return s.failOIDC(c, refuse(msgUnreachable, "discovery at %s: %v", s.cfg.OIDC.Issuer, err))
	}
	state, nonce, verifier, browser := randomToken(), randomToken(), oauth2.GenerateVerifier(), randomToken()
	redirect := s.redirectURL(r)
	now := s.now()
	err = s.st.OIDCLogin.Create().SetID(hashToken(state)).SetBrowser(hashToken(browser)).SetNonce(nonce).
		SetVerifier(verifier).SetRedirectURL(redirect).SetNext(localPath(c.QueryParam("next"))).
		SetCreatedAt(now).SetExpiresAt(now.Add(oidcLoginTTL)).Exec(ctx)
	if err != nil {
		return fmt.Errorf("record oidc sign-in: %w", err)
	}
	c.SetCookie(&http.Cookie{Name: oidcCookie, Value: browser, Path: "/auth/oidc/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.secure(r), MaxAge: int(oidcLoginTTL.Seconds())})
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Redirect(http.StatusFound, s.oidc.oauth(p, redirect).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)))
}

// oidcCallback serves GET /auth/oidc/callback?code=&state=.
func (s *Service) oidcCallback(c echo.Context) error {
	if s.oidc == nil {
		return s.failOIDC(c, refuse("Sign-in through an identity provider is not set up on this server; sign in with a keypair.", "oidc is not configured"))
	}
	kp, next, err := s.finishOIDC(c)
	if err != nil {
		return s.failOIDC(c, err)
	}
	if _, err := s.startSession(c, kp.ID, MethodOIDC); err != nil {
		return s.failOIDC(c, err)
	}
	s.log.Info("browser signed in", "access_key", kp.ID, "method", MethodOIDC, "email", kp.Edges.User.Email,
		"role", kp.Edges.User.Role, "client", s.clientAddr(c.Request()))
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Redirect(http.StatusFound, next)
}

// finishOIDC checks the provider's answer and returns the keypair the
// browser signs in as (with its user) and where to go next.
func (s *Service) finishOIDC(c echo.Context) (*ent.KeyPair, string, error) {
	r := c.Request()
	ctx := r.Context()
	q := r.URL.Query()
	// The state is taken (deleted) before anything else is looked at, so
	// it works once whatever happens next, a replayed callback included.
	login, err := s.takeLogin(ctx, q.Get("state"))
	if err != nil {
		// The browser's bai_oidc cookie may belong to a sign-in still
		// in progress (this callback's state is not it): keep it.
		return nil, "", err
	}
	c.SetCookie(&http.Cookie{Name: oidcCookie, Value: "", Path: "/auth/oidc/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: s.secure(r), MaxAge: -1})
	if e := q.Get("error"); e != "" {
		desc := q.Get("error_description")
		return nil, "", refuse("The identity provider did not sign you in: "+printable(firstNonEmpty(desc, e), 200),
			"provider answered error %q: %q", printable(e, 100), printable(desc, 200))
	}
	ck, err := r.Cookie(oidcCookie)
	if err != nil || !equal(hashToken(ck.Value), login.Browser) {
		return nil, "", refuse("This sign-in was started in another browser, or this browser lost its cookie. Start again from the sign-in page.",
			"the callback's browser did not start the sign-in (bai_oidc cookie missing or different)")
	}
	code := q.Get("code")
	if code == "" {
		return nil, "", refuse(msgUnverified, "the callback has no code")
	}
	p, err := s.oidc.discover(ctx)
	if err != nil {
		return nil, "", refuse(msgUnreachable, "discovery at %s: %v", s.cfg.OIDC.Issuer, err)
	}
	tok, err := s.oidc.oauth(p, login.RedirectURL).Exchange(s.oidc.ctx(ctx), code, oauth2.VerifierOption(login.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			// Not re.Error(): it quotes the whole response body.
			return nil, "", refuse(msgStartAgain, "the token endpoint refused the code: %d %s %s", re.Response.StatusCode, re.ErrorCode, printable(re.ErrorDescription, 200))
		}
		return nil, "", refuse(msgUnreachable, "token exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, "", refuse(msgUnverified, "the token response has no id_token (is the openid scope allowed for this client?)")
	}
	// Signature (the provider's published keys), issuer, audience, expiry.
	// The provider's key set is cached (and fetched again for an unknown
	// key id, so the provider can rotate keys).
	idt, err := p.Verifier(&oidc.Config{ClientID: s.cfg.OIDC.ClientID}).Verify(ctx, raw)
	if err != nil {
		return nil, "", refuse(msgUnverified, "id token refused: %v", err)
	}
	if !equal(idt.Nonce, login.Nonce) {
		return nil, "", refuse(msgUnverified, "id token refused: its nonce is not the one this sign-in sent")
	}
	claims := map[string]any{}
	if err := idt.Claims(&claims); err != nil {
		return nil, "", refuse(msgUnverified, "id token claims: %v", err)
	}
	// Some providers keep profile claims out of the ID token when they
	// issue an access token (as OIDC Core 5.4 allows): ask the userinfo
	// endpoint for what is missing.
	if claims["email"] == nil || (s.cfg.OIDC.RoleClaim != "" && claimAt(claims, s.cfg.OIDC.RoleClaim) == nil) {
		if err := s.addUserinfo(ctx, p, tok, idt.Subject, claims); err != nil {
			return nil, "", err
		}
	}
	email, _ := claims["email"].(string)
	if email = strings.TrimSpace(email); email == "" {
		return nil, "", refuse("The identity provider sent no e-mail address for your account. Ask an administrator to request the email scope.",
			"subject %q has no email claim", idt.Subject)
	}
	if v, ok := boolClaim(claims["email_verified"]); ok && !v {
		return nil, "", refuse("Your e-mail address is not verified at the identity provider. Verify it there, then sign in again.",
			"email %s is not verified", email)
	}
	if _, err := checkEmail(email); err != nil {
		return nil, "", refuse("The identity provider sent an e-mail address this server cannot use. Ask an administrator.", "email claim %q is not an address", printable(email, 100))
	}
	role, fromClaim := s.roleOf(claims)
	name := firstNonEmpty(stringClaim(claims["preferred_username"]), stringClaim(claims["name"]), email[:strings.LastIndex(email, "@")])
	kp, err := s.provision(ctx, email, printable(name, 64), role, fromClaim)
	if err != nil {
		return nil, "", err
	}
	return kp, login.Next, nil
}

// takeLogin deletes and returns the sign-in a state belongs to. It is
// found by the state's hash, so the lookup's timing tells nothing about
// stored states; the delete's count makes it single-use even when two
// callbacks race.
func (s *Service) takeLogin(ctx context.Context, state string) (*ent.OIDCLogin, error) {
	if state == "" {
		return nil, refuse(msgStartAgain, "the callback has no state")
	}
	id := hashToken(state)
	l, err := s.st.OIDCLogin.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, refuse(msgStartAgain, "unknown or already used state")
	}
	if err != nil {
		return nil, err
	}
	n, err := s.st.OIDCLogin.Delete().Where(oidclogin.IDEQ(id)).Exec(ctx)
	if err != nil {
		return nil, err
	}
	if n != 1 {
		return nil, refuse(msgStartAgain, "state used by a concurrent callback")
	}
	if !s.now().Before(l.ExpiresAt) {
		return nil, refuse(msgStartAgain, "state expired (started at %s)", l.CreatedAt.Format(time.RFC3339))
	}
	return l, nil
}

// addUserinfo merges the userinfo endpoint's claims into claims (the ID
// token's win), after checking they are about the same subject.
func (s *Service) addUserinfo(ctx context.Context, p *oidc.Provider, tok *oauth2.Token, subject string, claims map[string]any) error {
	if p.UserInfoEndpoint() == "" {
		return nil
	}
	ui, err := p.UserInfo(s.oidc.ctx(ctx), oauth2.StaticTokenSource(tok))
	if err != nil {
		return refuse(msgUnreachable, "userinfo: %v", err)
	}
	if ui.Subject != subject {
		return refuse(msgUnverified, "userinfo is about subject %q, the id token about %q", ui.Subject, subject)
	}
	more := map[string]any{}
	if err := ui.Claims(&more); err != nil {
		return refuse(msgUnverified, "userinfo claims: %v", err)
	}
	for k, v := range more {
		if _, ok := claims[k]; !ok {
			claims[k] = v
		}
	}
	return nil
}

// roleOf maps the configured role claim to a role; false when no claim is
// configured (roles are then managed in bai alone).
func (s *Service) roleOf(claims map[string]any) (user.Role, bool) {
	o := s.cfg.OIDC
	if o.RoleClaim == "" {
		return user.RoleUser, false
	}
	vals := claimStrings(claimAt(claims, o.RoleClaim))
	for _, v := range vals {
		if slices.Contains(o.SuperadminValues, v) {
			return user.RoleSuperadmin, true
		}
	}
	for _, v := range vals {
		if slices.Contains(o.AdminValues, v) {
			return user.RoleAdmin, true
		}
	}
	return user.RoleUser, true
}

// provision finds the user with this e-mail address (any case) or creates
// it, applies the role from the provider when one is configured, and
// returns the keypair the browser acts as: the user's oldest active one,
// or a new one.
func (s *Service) provision(ctx context.Context, email, name string, role user.Role, fromClaim bool) (*ent.KeyPair, error) {
	var kp *ent.KeyPair
	var u *ent.User
	roleChanged := false
	err := s.st.Tx(ctx, func(tx *ent.Tx) error {
		var err error
		if u, err = userByEmail(ctx, tx.Client(), email); err != nil {
			return err
		}
		if u == nil {
			if u, err = tx.User.Create().SetEmail(email).SetUsername(name).SetRole(role).Save(ctx); err != nil {
				return err
			}
			s.log.Info("user created at first oidc sign-in", "email", email, "role", role)
		} else {
			if !u.IsActive {
				return refuse("Your account is deactivated. Ask an administrator.", "user %s is deactivated", u.Email)
			}
			if fromClaim && u.Role != role {
				s.log.Info("user role changed by the identity provider's claim", "email", u.Email, "from", u.Role, "to", role)
				if u, err = tx.User.UpdateOne(u).SetRole(role).Save(ctx); err != nil {
					return err
				}
				if err := tx.KeyPair.Update().Where(keypair.HasUserWith(user.IDEQ(u.ID))).SetIsAdmin(role != user.RoleUser).Exec(ctx); err != nil {
					return err
				}
				roleChanged = true
			}
		}
		kp, err = tx.KeyPair.Query().Where(keypair.HasUserWith(user.IDEQ(u.ID)), keypair.IsActive(true)).
			Order(ent.Asc(keypair.FieldCreatedAt), ent.Asc(keypair.FieldID)).First(ctx)
		if ent.IsNotFound(err) {
			kp, err = newKeyPair(ctx, tx.Client(), u)
			if err == nil {
				s.log.Info("keypair created at oidc sign-in", "email", u.Email, "access_key", kp.ID)
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if roleChanged {
		s.forgetKeys(ctx, u)
	}
	kp.Edges.User = u
	return kp, nil
}

// failOIDC sends the browser to the sign-in page with a message a person
// understands, and logs why.
func (s *Service) failOIDC(c echo.Context, err error) error {
	msg := "Sign-in failed because of a server error. Try again, or ask an administrator to look at the manager's log."
	var rf *refusal
	if errors.As(err, &rf) {
		msg = rf.msg
		s.log.Warn("oidc sign-in refused", "reason", rf.reason, "client", s.clientAddr(c.Request()))
	} else {
		s.log.Error("oidc sign-in failed", "err", err, "client", s.clientAddr(c.Request()))
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Redirect(http.StatusFound, "/login?error="+url.QueryEscape(msg))
}

// redirectURL is the callback URL registered with the provider.
func (s *Service) redirectURL(r *http.Request) string {
	if s.cfg.OIDC.RedirectURL != "" {
		return s.cfg.OIDC.RedirectURL
	}
	base := s.publicOrigin
	if base == "" {
		base = requestOrigin(r)
	}
	return base + "/auth/oidc/callback"
}

// localPath returns next when it is a path on this server ("/app/x"),
// else "/": a sign-in must not end on another site (an open redirect).
func localPath(next string) string {
	if len(next) < 1 || next[0] != '/' || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || len(next) > 2000 {
		return "/"
	}
	for _, r := range next {
		if unicode.IsControl(r) || r == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return next
}

// claimAt returns the claim name, or the nested one a dotted name points
// to ("realm_access.roles", as Keycloak nests realm roles).
func claimAt(claims map[string]any, name string) any {
	if v, ok := claims[name]; ok {
		return v
	}
	var cur any = claims
	for _, part := range strings.Split(name, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

// claimStrings reads a claim that is a string or a list of strings.
func claimStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// boolClaim reads a boolean claim, which some providers send as a string.
func boolClaim(v any) (value, present bool) {
	switch v := v.(type) {
	case bool:
		return v, true
	case string:
		return strings.EqualFold(v, "true"), true
	}
	return false, false
}

func stringClaim(v any) string {
	s, _ := v.(string)
	return strings.TrimSpace(s)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// printable cuts s to n runes and drops control characters, for text from
// the provider that goes into a message or a log line.
func printable(s string, n int) string {
	var b strings.Builder
	for i, r := range []rune(s) {
		if i >= n {
			b.WriteString("…")
			break
		}
		if !unicode.IsControl(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}
