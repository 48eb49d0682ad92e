package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"baigo.dev/bai/backend/webauth"
	"baigo.dev/bai/common/apitypes"
	"baigo.dev/bai/internal/servertest"
)

// browser is an HTTP client that behaves like the web app in a browser:
// it keeps cookies, sends the CSRF token it was given, and sends an Origin
// header when one is set.
type browser struct {
	t      *testing.T
	s      *servertest.Server
	hc     *http.Client
	csrf   string
	origin string
}

func newBrowser(t *testing.T, s *servertest.Server) *browser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &browser{t: t, s: s, hc: hc}
}

// do sends a request with the browser's cookies; hdr overrides headers
// ("" drops one). The CSRF header goes on requests other than GET and HEAD.
func (b *browser) do(method, path string, body any, hdr map[string]string) servertest.Response {
	b.t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(v)
	case string:
		rd = strings.NewReader(v)
	default:
		raw, _ := json.Marshal(v)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, b.s.URL+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if b.csrf != "" && method != "GET" && method != "HEAD" {
		req.Header.Set(webauth.CSRFHeader, b.csrf)
	}
	if b.origin != "" {
		req.Header.Set("Origin", b.origin)
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return servertest.Response{Status: resp.StatusCode, Header: resp.Header, Body: out}
}

// login signs in with a keypair and keeps the CSRF token.
func (b *browser) login(ak, sk string) webauth.Me {
	b.t.Helper()
	r := b.do("POST", "/auth/login", map[string]string{"accessKey": ak, "secretKey": sk}, nil)
	if r.Status != 200 {
		b.t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	var me webauth.Me
	r.JSON(b.t, &me)
	b.csrf = me.CSRFToken
	return me
}

// cookie returns the bai_session cookie the browser holds ("" if none).
func (b *browser) cookie() string {
	u, _ := url.Parse(b.s.URL)
	for _, c := range b.hc.Jar.Cookies(u) {
		if c.Name == webauth.CookieName {
			return c.Value
		}
	}
	return ""
}

// dial opens a WebSocket with the browser's cookies and Origin.
func (b *browser) dial(path, origin string) (*websocket.Conn, int) {
	b.t.Helper()
	d := websocket.Dialer{Jar: b.hc.Jar, HandshakeTimeout: 20 * time.Second}
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	ws, resp, err := d.Dial("ws"+strings.TrimPrefix(b.s.URL, "http")+path, h)
	if err != nil {
		if resp != nil {
			return nil, resp.StatusCode
		}
		b.t.Fatalf("dial %s: %v", path, err)
	}
	b.t.Cleanup(func() { ws.Close() })
	return ws, 101
}

func TestWebLoginAndCookieAuth(t *testing.T) {
	for db, dsn := range servertest.Backends(t) {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			s := servertest.New(t, servertest.Options{Postgres: dsn})
			b := newBrowser(t, s)

			r := b.do("GET", "/auth/config", nil, nil)
			var ac webauth.AuthConfig
			r.JSON(t, &ac)
			if r.Status != 200 || ac.OIDC.Enabled || ac.Version == "" {
				t.Errorf("auth config without OIDC: %d %s", r.Status, r.Body)
			}
			if r := b.do("GET", "/auth/me", nil, nil); r.Status != 401 {
				t.Errorf("me before sign-in: %d %s", r.Status, r.Body)
			}
			// One answer for an unknown key and a wrong secret.
			for name, body := range map[string]map[string]string{
				"wrong secret": {"accessKey": s.Creds.AccessKey, "secretKey": strings.Repeat("x", 40)},
				"unknown key":  {"accessKey": "AKIANOSUCHKEY0000000", "secretKey": s.Creds.SecretKey},
			} {
				r := b.do("POST", "/auth/login", body, nil)
				if r.Status != 401 || !strings.Contains(string(r.Body), "wrong access key or secret key") || r.Header.Get("Set-Cookie") != "" {
					t.Errorf("%s: %d %s (cookie %q)", name, r.Status, r.Body, r.Header.Get("Set-Cookie"))
				}
			}
			if r := b.do("POST", "/auth/login", `{"accessKey": `, nil); r.Status != 400 {
				t.Errorf("malformed body: %d %s", r.Status, r.Body)
			}

			r = b.do("POST", "/auth/login", map[string]string{"accessKey": s.Creds.AccessKey, "secretKey": s.Creds.SecretKey}, nil)
			if r.Status != 200 {
				t.Fatalf("login: %d %s", r.Status, r.Body)
			}
			var me webauth.Me
			r.JSON(t, &me)
			b.csrf = me.CSRFToken
			if me.Email != "admin@localhost" || me.Role != "superadmin" || me.AccessKey != s.Creds.AccessKey || len(me.CSRFToken) < 32 ||
				me.AuthMethod != "keypair" || me.ResourcePolicy.Name != "default" {
				t.Errorf("me after login: %s", r.Body)
			}
			if strings.Contains(string(r.Body), s.Creds.SecretKey) {
				t.Errorf("the login answer holds the secret key: %s", r.Body)
			}
			sc := r.Header.Get("Set-Cookie")
			for _, want := range []string{webauth.CookieName + "=", "HttpOnly", "Path=/", "SameSite=Lax"} {
				if !strings.Contains(sc, want) {
					t.Errorf("Set-Cookie %q lacks %q", sc, want)
				}
			}
			if strings.Contains(sc, "Secure") {
				t.Errorf("Set-Cookie %q is Secure over plain HTTP (the browser would drop it)", sc)
			}
			// The database holds the cookie's hash, not the cookie.
			cookie := b.cookie()
			sum := sha256.Sum256([]byte(cookie))
			ws, err := s.Store.WebSession.Get(context.Background(), hex.EncodeToString(sum[:]))
			if err != nil || ws.AccessKey != s.Creds.AccessKey || ws.ID == cookie {
				t.Errorf("web session record for the cookie: %+v %v", ws, err)
			}

			if r := b.do("GET", "/auth/me", nil, nil); r.Status != 200 || !strings.Contains(string(r.Body), me.CSRFToken) {
				t.Errorf("me: %d %s", r.Status, r.Body)
			}
			for _, c := range []struct {
				name, method, path string
				body               any
				hdr                map[string]string
				status             int
				contains           string
			}{
				{"cookie GET", "GET", "/session", nil, nil, 200, `"items":[]`},
				{"cookie GET, own Origin", "GET", "/session", nil, map[string]string{"Origin": s.URL}, 200, `"items"`},
				{"cookie GET, foreign Origin", "GET", "/session", nil, map[string]string{"Origin": "https://evil.example"}, 403, "another site"},
				{"cookie POST without CSRF", "POST", "/folders", map[string]any{"name": "webf"}, map[string]string{webauth.CSRFHeader: ""}, 403, "CSRF token: reload the page"},
				{"cookie POST, wrong CSRF", "POST", "/folders", map[string]any{"name": "webf"}, map[string]string{webauth.CSRFHeader: "nope"}, 403, "CSRF"},
				{"cookie POST with CSRF", "POST", "/folders", map[string]any{"name": "webf"}, nil, 201, `"webf"`},
				{"cookie DELETE with CSRF", "DELETE", "/folders/webf", nil, nil, 204, ""},
				{"admin list of users", "GET", "/admin/users", nil, nil, 200, `"email":"admin@localhost"`},
				{"admin list at the old path", "GET", "/resource-policies", nil, nil, 200, `"default"`},
				{"admin list under /admin", "GET", "/admin/resource-policies", nil, nil, 200, `"default"`},
				// With Authorization, the cookie is not looked at: a broken
				// signature fails though the cookie is good.
				{"signed request wins over the cookie", "GET", "/session", nil, map[string]string{"Authorization": "BackendAI signMethod=HMAC-SHA256, credential=AKIANOSUCHKEY0000000:00"}, 400, "api version"},
			} {
				r := b.do(c.method, c.path, c.body, c.hdr)
				if r.Status != c.status || !strings.Contains(string(r.Body), c.contains) {
					t.Errorf("%s: %s %s = %d %s, want %d with %q", c.name, c.method, c.path, r.Status, r.Body, c.status, c.contains)
				}
			}
			// A request signed by another keypair acts as that keypair,
			// though the superadmin's cookie comes along.
			ak, sk := s.AddUser(t, "plain@example.com")
			h := s.SignedHeaderAs(ak, sk, "GET", "/admin/users")
			h.Set("Cookie", webauth.CookieName+"="+cookie)
			req, _ := http.NewRequest("GET", s.URL+"/admin/users", nil)
			req.Header = h
			if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 {
				t.Errorf("signed as a user with the superadmin's cookie: %v %v", resp.StatusCode, err)
			} else {
				resp.Body.Close()
			}

			// WebSocket handshakes: a foreign Origin is refused before
			// anything else; the own Origin gets through to the handler
			// (which knows no such session).
			if _, code := b.dial("/stream/session/nosuch/execute", "https://evil.example"); code != 403 {
				t.Errorf("WebSocket with a foreign Origin: %d, want 403", code)
			}
			if _, code := b.dial("/stream/session/nosuch/execute", s.URL); code != 404 {
				t.Errorf("WebSocket with the own Origin: %d, want 404 (authenticated, no such session)", code)
			}

			// Logout needs the CSRF token, ends the session and clears
			// the cookie; the old cookie is refused afterwards.
			if r := b.do("POST", "/auth/logout", nil, map[string]string{webauth.CSRFHeader: ""}); r.Status != 403 {
				t.Errorf("logout without CSRF: %d %s", r.Status, r.Body)
			}
			r = b.do("POST", "/auth/logout", nil, nil)
			if r.Status != 204 || !strings.Contains(r.Header.Get("Set-Cookie"), "Max-Age=0") {
				t.Errorf("logout: %d %s (Set-Cookie %q)", r.Status, r.Body, r.Header.Get("Set-Cookie"))
			}
			if b.cookie() != "" {
				t.Errorf("the browser still holds the cookie after logout")
			}
			old := newBrowser(t, s)
			u, _ := url.Parse(s.URL)
			old.hc.Jar.SetCookies(u, []*http.Cookie{{Name: webauth.CookieName, Value: cookie, Path: "/"}})
			for _, p := range []string{"/auth/me", "/session"} {
				if r := old.do("GET", p, nil, nil); r.Status != 401 || !strings.Contains(string(r.Body), "sign in again") {
					t.Errorf("old cookie after logout, GET %s: %d %s", p, r.Status, r.Body)
				}
			}
		})
	}
}

func TestWebSessionExpiry(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, servertest.Options{})
	ctx := context.Background()
	hash := func(v string) string { sum := sha256.Sum256([]byte(v)); return hex.EncodeToString(sum[:]) }

	// Idle: a session whose last request is older than the idle timeout
	// (12 h by default) is over.
	idle := newBrowser(t, s)
	idle.login(s.Creds.AccessKey, s.Creds.SecretKey)
	if err := s.Store.WebSession.UpdateOneID(hash(idle.cookie())).SetLastSeen(time.Now().Add(-13 * time.Hour)).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if r := idle.do("GET", "/session", nil, nil); r.Status != 401 {
		t.Errorf("idle session: %d %s", r.Status, r.Body)
	}
	if n, _ := s.Store.WebSession.Query().Count(ctx); n != 0 {
		t.Errorf("%d session records left after the idle one was refused", n)
	}

	// Absolute: active, but signed in longer ago than the lifetime
	// (expires_at is fixed at sign-in; move the record's clock instead).
	old := newBrowser(t, s)
	old.login(s.Creds.AccessKey, s.Creds.SecretKey)
	id := hash(old.cookie())
	rec, err := s.Store.WebSession.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if d := rec.ExpiresAt.Sub(rec.CreatedAt); d != 7*24*time.Hour {
		t.Errorf("lifetime %s, want the 7-day default", d)
	}
	if r := old.do("GET", "/session", nil, nil); r.Status != 200 {
		t.Fatalf("fresh session: %d %s", r.Status, r.Body)
	}
	if _, err := s.Store.WebSession.Delete().Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Store.WebSession.Create().SetID(id).SetAccessKey(rec.AccessKey).SetCsrfToken(rec.CsrfToken).SetAuthMethod(rec.AuthMethod).
		SetCreatedAt(time.Now().Add(-8 * 24 * time.Hour)).SetExpiresAt(time.Now().Add(-time.Hour)).SetLastSeen(time.Now()).Exec(ctx); err != nil {
		t.Fatal(err)
	}
	if r := old.do("GET", "/auth/me", nil, nil); r.Status != 401 {
		t.Errorf("session past its lifetime: %d %s", r.Status, r.Body)
	}

	// A deactivated user's browser session stops working at once.
	ak, sk := s.AddUser(t, "leaver@example.com")
	user := newBrowser(t, s)
	user.login(ak, sk)
	admin := newBrowser(t, s)
	admin.login(s.Creds.AccessKey, s.Creds.SecretKey)
	if r := admin.do("PATCH", "/admin/users/"+url.PathEscape("leaver@example.com"), map[string]any{"isActive": false}, nil); r.Status != 200 || !strings.Contains(string(r.Body), `"isActive":false`) {
		t.Fatalf("deactivate: %d %s", r.Status, r.Body)
	}
	if r := user.do("GET", "/session", nil, nil); r.Status != 401 || !strings.Contains(string(r.Body), "deactivated") {
		t.Errorf("deactivated user's cookie: %d %s", r.Status, r.Body)
	}
	if r := s.DoAs(ak, sk, "GET", "/session", nil, nil); r.Status != 401 {
		t.Errorf("deactivated user's signed request: %d %s", r.Status, r.Body)
	}
	if r := newBrowser(t, s).do("POST", "/auth/login", map[string]string{"accessKey": ak, "secretKey": sk}, nil); r.Status != 401 || !strings.Contains(string(r.Body), "deactivated") {
		t.Errorf("deactivated user's sign-in: %d %s", r.Status, r.Body)
	}
}

func TestWebLoginRateLimit(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, servertest.Options{})
	b := newBrowser(t, s)
	for i := 0; i < 10; i++ {
		if r := b.do("POST", "/auth/login", map[string]string{"accessKey": s.Creds.AccessKey, "secretKey": "wrong"}, nil); r.Status != 401 {
			t.Fatalf("failure %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	// The 11th attempt within the minute is refused even with the right
	// secret: guessing gets 10 tries a minute.
	r := b.do("POST", "/auth/login", map[string]string{"accessKey": s.Creds.AccessKey, "secretKey": s.Creds.SecretKey}, nil)
	if r.Status != 429 || !strings.Contains(string(r.Body), "wait a minute") || r.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("after 10 failures: %d %s", r.Status, r.Body)
	}
	// A signed API client is not affected.
	if r := s.Do("GET", "/session", nil, nil); r.Status != 200 {
		t.Errorf("signed request: %d", r.Status)
	}
}

func TestWebForeignOriginLogin(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, servertest.Options{})
	b := newBrowser(t, s)
	b.origin = "https://evil.example"
	if r := b.do("POST", "/auth/login", map[string]string{"accessKey": s.Creds.AccessKey, "secretKey": s.Creds.SecretKey}, nil); r.Status != 403 || b.cookie() != "" {
		t.Errorf("sign-in from another site: %d %s", r.Status, r.Body)
	}
	b.origin = s.URL
	b.login(s.Creds.AccessKey, s.Creds.SecretKey)
}

func TestWebAppRouting(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, servertest.Options{})
	html := map[string]string{"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "Authorization": ""}
	jsonAccept := map[string]string{"Accept": "application/json", "Authorization": ""}
	b := newBrowser(t, s)
	for _, c := range []struct {
		name, method, path string
		hdr                map[string]string
		status             int
		ctype, contains    string
	}{
		{"browser at /", "GET", "/", html, 200, "text/html", "<html"},
		{"API client at /", "GET", "/", jsonAccept, 200, "application/json", `"version"`},
		{"no Accept at /", "GET", "/", map[string]string{"Authorization": ""}, 200, "application/json", `"manager"`},
		{"fetch's default Accept at /", "GET", "/", map[string]string{"Accept": "*/*", "Authorization": ""}, 200, "application/json", `"version"`},
		{"app page", "GET", "/app/sessions", html, 200, "text/html", "<html"},
		{"deep app page", "GET", "/app/notebook/my-session", html, 200, "text/html", "<html"},
		{"login page with an error", "GET", "/login?error=nope", html, 200, "text/html", "<html"},
		{"app page, JSON Accept", "GET", "/app/x", jsonAccept, 404, "application/problem+json", "no such API endpoint"},
		{"app page, POST", "POST", "/app/x", html, 404, "application/problem+json", ""},
		{"missing asset", "GET", "/assets/missing.js", html, 404, "application/problem+json", ""},
		{"html refused with q=0", "GET", "/app/x", map[string]string{"Accept": "text/html;q=0, application/json", "Authorization": ""}, 404, "application/problem+json", ""},
		{"API route, browser", "GET", "/session", html, 401, "application/problem+json", "Authorization"},
	} {
		r := b.do(c.method, c.path, nil, c.hdr)
		if r.Status != c.status || !strings.HasPrefix(r.Header.Get("Content-Type"), c.ctype) || !strings.Contains(string(r.Body), c.contains) {
			t.Errorf("%s: %s %s = %d %q %.200s, want %d %q with %q", c.name, c.method, c.path, r.Status, r.Header.Get("Content-Type"), r.Body, c.status, c.ctype, c.contains)
			continue
		}
		if c.ctype != "text/html" {
			continue
		}
		for k, v := range map[string]string{"Content-Security-Policy": webauth.ContentSecurityPolicy, "X-Content-Type-Options": "nosniff",
			"Referrer-Policy": "same-origin", "X-Frame-Options": "DENY", "Cache-Control": "no-cache"} {
			if got := r.Header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", c.name, k, got, v)
			}
		}
	}
	if r := b.do("HEAD", "/", nil, html); r.Status != 200 || len(r.Body) != 0 {
		t.Errorf("HEAD / from a browser: %d", r.Status)
	}
	var info apitypes.ServerInfo
	b.do("GET", "/", nil, jsonAccept).JSON(t, &info)
	if info.Version == "" {
		t.Errorf("server info %+v", info)
	}
}

func TestAdminUsersAndKeyPairs(t *testing.T) {
	for db, dsn := range servertest.Backends(t) {
		t.Run(db, func(t *testing.T) {
			t.Parallel()
			s := servertest.New(t, servertest.Options{Postgres: dsn})
			r := s.Do("POST", "/admin/users", map[string]any{"email": "Ada@Example.com", "username": "ada", "role": "admin"}, nil)
			if r.Status != 201 {
				t.Fatalf("create user: %d %s", r.Status, r.Body)
			}
			var created struct {
				User    webauth.User    `json:"user"`
				KeyPair webauth.KeyPair `json:"keypair"`
			}
			r.JSON(t, &created)
			if created.User.Email != "Ada@Example.com" || created.User.Role != "admin" || !created.User.IsActive ||
				created.KeyPair.UserEmail != "Ada@Example.com" || len(created.KeyPair.SecretKey) != 40 ||
				!strings.HasPrefix(created.KeyPair.AccessKey, "AKIA") || len(created.KeyPair.AccessKey) != 20 || !created.KeyPair.IsAdmin {
				t.Errorf("created: %s", r.Body)
			}
			// The new keypair signs API requests at once, and signs in.
			ak, sk := created.KeyPair.AccessKey, created.KeyPair.SecretKey
			if r := s.DoAs(ak, sk, "GET", "/session", nil, nil); r.Status != 200 {
				t.Errorf("new keypair signs: %d %s", r.Status, r.Body)
			}
			if me := newBrowser(t, s).login(ak, sk); me.Email != "Ada@Example.com" || me.Role != "admin" {
				t.Errorf("new keypair signs in: %+v", me)
			}
			r = s.Do("POST", "/admin/keypairs", map[string]any{"userEmail": "ada@example.com"}, nil)
			var second struct {
				KeyPair webauth.KeyPair `json:"keypair"`
			}
			r.JSON(t, &second)
			if r.Status != 201 || second.KeyPair.SecretKey == "" || second.KeyPair.AccessKey == ak {
				t.Errorf("second keypair: %d %s", r.Status, r.Body)
			}
			run(t, s, []scenario{
				{name: "duplicate e-mail, other case", method: "POST", path: "/admin/users", body: map[string]any{"email": "ADA@example.com"}, status: 409, contains: []string{"exists already"}},
				{name: "not an e-mail", method: "POST", path: "/admin/users", body: map[string]any{"email": "ada"}, status: 400, contains: []string{`\"email\"`}},
				{name: "display name form", method: "POST", path: "/admin/users", body: map[string]any{"email": "Ada <x@example.com>"}, status: 400},
				{name: "bad role", method: "POST", path: "/admin/users", body: map[string]any{"email": "b@example.com", "role": "king"}, status: 400, contains: []string{`\"role\"`}},
				{name: "keypair for nobody", method: "POST", path: "/admin/keypairs", body: map[string]any{"userEmail": "nobody@example.com"}, status: 400, contains: []string{"create the user first"}},
				{name: "keypair without e-mail", method: "POST", path: "/admin/keypairs", body: map[string]any{}, status: 400},
				{name: "users", method: "GET", path: "/admin/users", status: 200, contains: []string{`"email":"admin@localhost"`, `"email":"Ada@Example.com"`, `"isActive":true`, `"createdAt"`}},
				{name: "keypairs", method: "GET", path: "/admin/keypairs", status: 200, contains: []string{`"accessKey":"` + ak + `"`, `"userEmail":"Ada@Example.com"`, `"resourcePolicy":"default"`, `"rateLimit"`, `"lastUsed"`}},
				{name: "users at the short path", method: "GET", path: "/users", status: 200, contains: []string{"Ada@Example.com"}},
				{name: "change role", method: "PATCH", path: "/admin/users/ada@example.com", body: map[string]any{"role": "user"}, status: 200, contains: []string{`"role":"user"`}},
				{name: "unknown user", method: "PATCH", path: "/admin/users/nobody@example.com", body: map[string]any{"isActive": false}, status: 404},
				{name: "lock yourself out", method: "PATCH", path: "/admin/users/admin@localhost", body: map[string]any{"isActive": false}, status: 400, contains: []string{"your own user"}},
			})
			r = s.Do("GET", "/admin/keypairs", nil, nil)
			for _, secret := range []string{s.Creds.SecretKey, sk, second.KeyPair.SecretKey} {
				if strings.Contains(string(r.Body), secret) {
					t.Errorf("the keypair list holds a secret key: %s", r.Body)
				}
			}
			// Regular users are refused, signed or with a cookie.
			uak, usk := s.AddUser(t, "user@example.com")
			ub := newBrowser(t, s)
			ub.login(uak, usk)
			for _, p := range []string{"/admin/users", "/admin/keypairs", "/admin/agents", "/users"} {
				if r := s.DoAs(uak, usk, "GET", p, nil, nil); r.Status != 403 {
					t.Errorf("user, signed, GET %s: %d", p, r.Status)
				}
				if r := ub.do("GET", p, nil, nil); r.Status != 403 {
					t.Errorf("user, cookie, GET %s: %d", p, r.Status)
				}
			}
			if r := ub.do("POST", "/admin/users", map[string]any{"email": "x@example.com"}, nil); r.Status != 403 {
				t.Errorf("user creates a user: %d %s", r.Status, r.Body)
			}
		})
	}
}

// TestWebStreamsWithCookie: the routes the app uses beyond plain JSON (the
// execute WebSocket, the events stream, file upload and download) work
// with the session cookie alone.
func TestWebStreamsWithCookie(t *testing.T) {
	t.Parallel()
	s := servertest.New(t, servertest.Options{Agent: true})
	b := newBrowser(t, s)
	b.origin = s.URL // as a browser sends it
	b.login(s.Creds.AccessKey, s.Creds.SecretKey)
	events := openEvents(t, s, http.Header{"Cookie": {webauth.CookieName + "=" + b.cookie()}, "Origin": {s.URL}}, "/events/session?name=web-1")

	if r := b.do("POST", "/session", map[string]any{"image": "python", "name": "web-1"}, nil); r.Status != 201 {
		t.Fatalf("create with the cookie: %d %s", r.Status, r.Body)
	}
	for e := next(t, events); e.name != "session_started"; e = next(t, events) {
	}
	ws, code := b.dial("/stream/session/web-1/execute", s.URL)
	if code != 101 {
		t.Fatalf("execute WebSocket with the cookie: %d", code)
	}
	if err := ws.WriteJSON(map[string]any{"mode": "query", "code": "print(6 * 7)"}); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for {
		_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
		var f frame
		if err := ws.ReadJSON(&f); err != nil {
			t.Fatalf("read: %v", err)
		}
		for _, it := range f.Console {
			if it[0] == "stdout" {
				out.WriteString(it[1].(string))
			}
		}
		if f.Status == "finished" {
			break
		}
	}
	if out.String() != "42\n" {
		t.Errorf("stdout %q", out.String())
	}
	body, hdr := multipartBody(t, formFile{"web.txt", []byte("from the browser\n")})
	if r := b.do("POST", "/session/web-1/upload", body, hdr); r.Status != 204 && r.Status != 200 {
		t.Fatalf("upload with the cookie: %d %s", r.Status, r.Body)
	}
	if r := b.do("GET", "/session/web-1/download_single?file=web.txt", nil, nil); r.Status != 200 || string(r.Body) != "from the browser\n" {
		t.Errorf("download with the cookie: %d %q", r.Status, r.Body)
	}
	if r := b.do("DELETE", "/session/web-1", nil, nil); r.Status != 200 {
		t.Errorf("destroy with the cookie: %d %s", r.Status, r.Body)
	}
	if e := next(t, events); e.name != "session_terminated" {
		t.Errorf("after destroy: %+v", e)
	}
}
