package e2e_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite", to read the provisioned keypair's secret

	"baigo.dev/bai/e2e/compat"
	"baigo.dev/bai/e2e/devserver"
	"baigo.dev/bai/e2e/oidcprovider"
)

// oidcBrowser is an HTTP client with a cookie jar that does not follow
// redirects, so the test sees (and can change) every step of the flow.
type oidcBrowser struct {
	t  *testing.T
	hc *http.Client
}

func newOIDCBrowser(t *testing.T) *oidcBrowser {
	jar, _ := cookiejar.New(nil)
	return &oidcBrowser{t: t, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request and returns the status, the Location (resolved) and
// the body.
func (b *oidcBrowser) do(method, rawURL string, body io.Reader, hdr map[string]string) (int, *url.URL, string) {
	b.t.Helper()
	req, err := http.NewRequest(method, rawURL, body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	var loc *url.URL
	if l := resp.Header.Get("Location"); l != "" {
		if loc, err = req.URL.Parse(l); err != nil {
			b.t.Fatalf("Location %q: %v", l, err)
		}
	}
	return resp.StatusCode, loc, string(out)
}

func (b *oidcBrowser) redirect(method, rawURL string, body io.Reader, hdr map[string]string) *url.URL {
	b.t.Helper()
	code, loc, out := b.do(method, rawURL, body, hdr)
	if code != http.StatusFound && code != http.StatusSeeOther || loc == nil {
		b.t.Fatalf("%s %s: %d %.300s, want a redirect", method, rawURL, code, out)
	}
	return loc
}

// start begins a sign-in at bai and returns the provider's authorization
// URL bai sent the browser to.
func (b *oidcBrowser) start(base, next string) *url.URL {
	b.t.Helper()
	return b.redirect("GET", base+"/auth/oidc/login?next="+url.QueryEscape(next), nil, nil)
}

// atProvider takes the browser from the authorization URL through the
// provider's login form and returns the callback URL the provider sends
// it back to (not followed).
func (b *oidcBrowser) atProvider(authURL *url.URL, username, password string) *url.URL {
	b.t.Helper()
	form := b.redirect("GET", authURL.String(), nil, nil)
	if form.Path != oidcprovider.LoginPath {
		b.t.Fatalf("the provider sent the browser to %s, not its login form", form)
	}
	code, _, page := b.do("GET", form.String(), nil, nil)
	if code != 200 || !strings.Contains(page, `name="password"`) {
		b.t.Fatalf("login form: %d %.300s", code, page)
	}
	vals := url.Values{"id": {form.Query().Get("authRequestID")}, "username": {username}, "password": {password}}
	done := b.redirect("POST", form.ResolveReference(&url.URL{Path: oidcprovider.LoginPath}).String(), strings.NewReader(vals.Encode()),
		map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	return b.redirect("GET", done.String(), nil, nil)
}

// signIn runs the whole flow and returns where bai sent the browser at
// the end.
func (b *oidcBrowser) signIn(base, next, username, password string) *url.URL {
	b.t.Helper()
	cb := b.atProvider(b.start(base, next), username, password)
	return b.redirect("GET", cb.String(), nil, nil)
}

func (b *oidcBrowser) cookie(base, name string) string {
	u, _ := url.Parse(base)
	for _, c := range b.hc.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

type oidcMe struct {
	Email, Username, Role, AccessKey, CSRFToken, AuthMethod string
	ResourcePolicy                                          struct{ Name string }
}

func (b *oidcBrowser) me(base string) (int, oidcMe) {
	b.t.Helper()
	code, _, body := b.do("GET", base+"/auth/me", nil, map[string]string{"Accept": "application/json"})
	var me oidcMe
	if code == 200 {
		if err := json.Unmarshal([]byte(body), &me); err != nil {
			b.t.Fatalf("me: %v: %s", err, body)
		}
	}
	return code, me
}

// wantRefused checks that a sign-in ended on the sign-in page with an
// error that contains msg, and without a browser session.
func wantRefused(t *testing.T, what string, b *oidcBrowser, base string, end *url.URL, msg string) {
	t.Helper()
	if end.Path != "/login" || !strings.Contains(end.Query().Get("error"), msg) {
		t.Errorf("%s: ended at %s, want /login?error=...%s...", what, end, msg)
	}
	if code, _ := b.me(base); code != 401 {
		t.Errorf("%s: /auth/me answers %d, want 401 (no session)", what, code)
	}
}

// TestOIDCLogin signs in to a dedicated bai through a real OpenID provider
// run by the test: users are provisioned by e-mail with roles from the
// groups claim and get a keypair that also signs API requests; tampered
// state, a replayed callback, a changed nonce, an ID token signed by
// another key, another browser's callback, an unverified e-mail and a
// deactivated user are all refused.
func TestOIDCLogin(t *testing.T) {
	t.Parallel()
	listen, err := devserver.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + listen
	const clientID, clientSecret = "bai-web", "oidc-client-secret-for-the-e2e-test"
	users := []oidcprovider.User{
		{Username: "root", Password: "pw-root-8d1", Email: "Root@Example.com", EmailVerified: true, FirstName: "Ro", LastName: "Ot", Groups: []string{"staff", "bai-superadmins"}},
		{Username: "ada", Password: "pw-ada-77c", Email: "ada@example.com", EmailVerified: true, Groups: []string{"staff"}},
		{Username: "bob", Password: "pw-bob-3e0", Email: "bob@example.com", EmailVerified: true},
		{Username: "unverified", Password: "pw-unv-a41", Email: "unverified@example.com", EmailVerified: false},
		{Username: "leaver", Password: "pw-lea-5b2", Email: "leaver@example.com", EmailVerified: true},
	}
	// No --oidc-redirect-url: bai derives it from the request's host.
	p := oidcprovider.Start(t, clientID, clientSecret, base+"/auth/oidc/callback", users...)
	args, err := p.ManagerArgs(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := startOwnServer(t, listen, "", append(args, "--oidc-name", "Test IdP", "--oidc-superadmin-values", "bai-superadmins", "--oidc-admin-values", "staff,ops")...)
	admin := srv.Client()
	ctx := testCtx(t, 3*time.Minute)
	var seen []string // codes, states and cookies that must not reach the log

	b := newOIDCBrowser(t)
	code, _, body := b.do("GET", base+"/auth/config", nil, map[string]string{"Accept": "application/json"})
	if code != 200 || !strings.Contains(body, `"oidc":{"enabled":true,"name":"Test IdP"}`) {
		t.Errorf("auth config: %d %s", code, body)
	}

	// The authorization request: code flow, PKCE S256, state, nonce, and
	// the redirect URL derived from the request.
	authURL := b.start(base, "/app/sessions")
	q := authURL.Query()
	if !strings.HasPrefix(authURL.String(), p.Issuer) || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" ||
		len(q.Get("code_challenge")) < 43 || len(q.Get("state")) < 32 || len(q.Get("nonce")) < 32 ||
		q.Get("redirect_uri") != base+"/auth/oidc/callback" || q.Get("client_id") != clientID || !strings.Contains(q.Get("scope"), "email") {
		t.Fatalf("authorization URL %s", authURL)
	}
	cb := b.atProvider(authURL, "root", "pw-root-8d1")
	seen = append(seen, cb.Query().Get("code"), cb.Query().Get("state"))

	// Tampered state: refused, and the real one still works after it.
	bad := *cb
	bq := bad.Query()
	bq.Set("state", bq.Get("state")+"x")
	bad.RawQuery = bq.Encode()
	wantRefused(t, "tampered state", b, base, b.redirect("GET", bad.String(), nil, nil), "expired or was used already")
	b2 := newOIDCBrowser(t) // (cookies of b are needed below)
	b2.hc.Jar.SetCookies(&url.URL{Scheme: "http", Host: listen, Path: "/auth/oidc/"}, b.hc.Jar.Cookies(&url.URL{Scheme: "http", Host: listen, Path: "/auth/oidc/"}))

	end := b.redirect("GET", cb.String(), nil, nil)
	if end.Host != listen || end.Path != "/app/sessions" {
		t.Fatalf("after the callback: sent to %s, want /app/sessions", end)
	}
	session := b.cookie(base, "bai_session")
	if session == "" {
		t.Fatal("no bai_session cookie after the callback")
	}
	seen = append(seen, session)
	code, me := b.me(base)
	if code != 200 || me.Email != "Root@Example.com" || me.Role != "superadmin" || me.AuthMethod != "oidc" ||
		!strings.HasPrefix(me.AccessKey, "AKIA") || len(me.AccessKey) != 20 || me.CSRFToken == "" || me.ResourcePolicy.Name != "default" || me.Username != "root" {
		t.Fatalf("me after OIDC sign-in: %d %+v", code, me)
	}

	// Replay: the same callback again (same code, same state) is refused,
	// from the same browser and from another one holding its cookies.
	fresh := newOIDCBrowser(t)
	wantRefused(t, "replayed callback", fresh, base, fresh.redirect("GET", cb.String(), nil, nil), "expired or was used already")
	wantRefused(t, "replayed callback with the start cookie", b2, base, b2.redirect("GET", cb.String(), nil, nil), "expired or was used already")

	// The provisioned keypair: listed by the admin API (no secret there),
	// and its secret (read from the database) signs API requests as the
	// same owner the cookie acts as.
	r, err := admin.Do(ctx, compat.Request{Method: "GET", Path: "/admin/keypairs"})
	if err != nil || r.Status != 200 || !strings.Contains(string(r.Body), `"accessKey":"`+me.AccessKey+`","userEmail":"Root@Example.com","isActive":true,"isAdmin":true`) {
		t.Fatalf("admin keypair list: %v %s", err, r)
	}
	r, err = admin.Do(ctx, compat.Request{Method: "GET", Path: "/admin/users"})
	if err != nil || !strings.Contains(string(r.Body), `"email":"Root@Example.com","username":"root","role":"superadmin","isActive":true`) {
		t.Errorf("admin user list: %v %s", err, r)
	}
	sk := secretKeyOf(t, srv, me.AccessKey)
	mine := compat.New(base, me.AccessKey, sk)
	if _, err := mine.List(ctx); err != nil {
		t.Fatalf("the provisioned keypair signs API requests: %v", err)
	}
	r, err = mine.Do(ctx, compat.Request{Method: "GET", Path: "/admin/agents"})
	if err != nil || r.Status != 200 {
		t.Errorf("the provisioned superadmin keypair on the admin API: %v %s", err, r)
	}
	// With the cookie: a write needs the CSRF token.
	if code, _, body := b.do("POST", base+"/folders", strings.NewReader(`{"name":"oidcf"}`), map[string]string{"Content-Type": "application/json", "Accept": "application/json"}); code != 403 {
		t.Errorf("cookie POST without CSRF: %d %s", code, body)
	}
	if code, _, body := b.do("POST", base+"/folders", strings.NewReader(`{"name":"oidcf"}`), map[string]string{"Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": me.CSRFToken}); code != 201 {
		t.Errorf("cookie POST with CSRF: %d %s", code, body)
	}
	if r, err := mine.Do(ctx, compat.Request{Method: "GET", Path: "/folders"}); err != nil || !strings.Contains(string(r.Body), `"oidcf"`) {
		t.Errorf("the folder made with the cookie, seen by the keypair: %v %s", err, r)
	}

	// Signing in again reuses the keypair; an open redirect in next is
	// cut to /.
	again := newOIDCBrowser(t)
	if end := again.signIn(base, "//evil.example/x", "root", "pw-root-8d1"); end.Host != listen || end.Path != "/" {
		t.Errorf("next=//evil.example: sent to %s", end)
	}
	if _, me2 := again.me(base); me2.AccessKey != me.AccessKey {
		t.Errorf("second sign-in acts as %s, the first as %s", me2.AccessKey, me.AccessKey)
	}

	// Roles follow the claim at every sign-in: ada (staff) is an admin,
	// back to admin after a superadmin made her a user; bob has no group.
	ada := newOIDCBrowser(t)
	ada.signIn(base, "/app", "ada", "pw-ada-77c")
	if _, m := ada.me(base); m.Role != "admin" || m.Email != "ada@example.com" {
		t.Errorf("ada: %+v", m)
	}
	if r, err := admin.Do(ctx, compat.Request{Method: "PATCH", Path: "/admin/users/ada@example.com", Body: []byte(`{"role":"user"}`)}); err != nil || r.Status != 200 {
		t.Fatalf("demote ada: %v %s", err, r)
	}
	ada = newOIDCBrowser(t)
	ada.signIn(base, "/app", "ada", "pw-ada-77c")
	if _, m := ada.me(base); m.Role != "admin" {
		t.Errorf("ada after demotion and a new sign-in: %+v, want admin from the claim", m)
	}
	bob := newOIDCBrowser(t)
	bob.signIn(base, "/app", "bob", "pw-bob-3e0")
	if _, m := bob.me(base); m.Role != "user" {
		t.Errorf("bob: %+v", m)
	}
	if code, _, _ := bob.do("GET", base+"/admin/users", nil, map[string]string{"Accept": "application/json"}); code != 403 {
		t.Errorf("bob (user) on the admin API: %d", code)
	}

	// A nonce other than the one bai sent: the provider signs what it was
	// given, bai refuses it.
	nb := newOIDCBrowser(t)
	au := nb.start(base, "/app")
	aq := au.Query()
	aq.Set("nonce", "a-nonce-bai-never-sent-0123456789abcdef")
	au.RawQuery = aq.Encode()
	wantRefused(t, "changed nonce", nb, base, nb.redirect("GET", nb.atProvider(au, "bob", "pw-bob-3e0").String(), nil, nil), "could not be verified")

	// A callback started in another browser (no bai_oidc cookie there).
	starter, victim := newOIDCBrowser(t), newOIDCBrowser(t)
	cb2 := starter.atProvider(starter.start(base, "/app"), "bob", "pw-bob-3e0")
	wantRefused(t, "another browser's callback", victim, base, victim.redirect("GET", cb2.String(), nil, nil), "another browser")

	// ID tokens not signed by the provider: re-signed with another key,
	// and a changed claim under the original signature.
	for name, f := range map[string]func(string) (string, error){
		"signed by another key": oidcprovider.SignWithForeignKey,
		"changed subject claim": func(tok string) (string, error) { return oidcprovider.ReplaceClaim(tok, "sub", "user-1") },
	} {
		p.TamperIDTokens(f)
		fb := newOIDCBrowser(t)
		wantRefused(t, name, fb, base, fb.signIn(base, "/app", "bob", "pw-bob-3e0"), "could not be verified")
	}
	p.TamperIDTokens(nil)

	// An e-mail address the provider has not verified.
	ub := newOIDCBrowser(t)
	wantRefused(t, "unverified e-mail", ub, base, ub.signIn(base, "/app", "unverified", "pw-unv-a41"), "not verified")

	// A deactivated user (made by the admin API, then deactivated).
	if r, err := admin.Do(ctx, compat.Request{Method: "POST", Path: "/admin/users", Body: []byte(`{"email":"Leaver@example.com"}`)}); err != nil || r.Status != 201 {
		t.Fatalf("create leaver: %v %s", err, r)
	}
	if r, err := admin.Do(ctx, compat.Request{Method: "PATCH", Path: "/admin/users/leaver@example.com", Body: []byte(`{"isActive":false}`)}); err != nil || r.Status != 200 {
		t.Fatalf("deactivate leaver: %v %s", err, r)
	}
	lb := newOIDCBrowser(t)
	wantRefused(t, "deactivated user", lb, base, lb.signIn(base, "/app", "leaver", "pw-lea-5b2"), "deactivated")

	// Logout ends the session; the cookie is refused afterwards.
	if code, _, body := b.do("POST", base+"/auth/logout", nil, map[string]string{"X-CSRF-Token": me.CSRFToken}); code != 204 {
		t.Errorf("logout: %d %s", code, body)
	}
	stale := newOIDCBrowser(t)
	stale.hc.Jar.SetCookies(&url.URL{Scheme: "http", Host: listen}, []*http.Cookie{{Name: "bai_session", Value: session, Path: "/"}})
	if code, _ := stale.me(base); code != 401 {
		t.Errorf("the cookie after logout: %d", code)
	}

	// The refusals are logged with their reasons; no token, code, state,
	// cookie or client secret is.
	logged, err := os.ReadFile(srv.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"oidc sign-in refused", "unknown or already used state", "nonce", "failed to verify signature",
		"not verified", "deactivated", "did not start the sign-in", "browser signed in"} {
		if !strings.Contains(string(logged), want) {
			t.Errorf("the server log lacks %q", want)
		}
	}
	for _, s := range append(seen, clientSecret, sk) {
		if s != "" && strings.Contains(string(logged), s) {
			t.Errorf("the server log holds a secret value (%.8s...)", s)
		}
	}
}

// secretKeyOf reads a keypair's secret key from the dedicated server's
// SQLite database: the API shows a secret only when an admin creates the
// keypair, and an OIDC sign-in creates it without showing it to anyone.
func secretKeyOf(t *testing.T, srv *devserver.Server, accessKey string) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(srv.Opts.DataDir, "bai.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sk string
	if err := db.QueryRowContext(context.Background(), "SELECT secret_key FROM key_pairs WHERE access_key = ?", accessKey).Scan(&sk); err != nil {
		t.Fatalf("read the secret of %s: %v", accessKey, err)
	}
	return sk
}
