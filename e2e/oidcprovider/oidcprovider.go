// Package oidcprovider runs a real OpenID Connect provider inside a test,
// so sign-in through OIDC is tested against the protocol as a provider
// speaks it (discovery, authorization code with PKCE, RS256-signed ID
// tokens checked against the provider's published keys, userinfo) rather
// than against a stub. The protocol is github.com/zitadel/oidc's op
// package with the in-memory storage of its example server; this package
// adds the users a test wants (with a "groups" claim for role mapping), a
// plain login form, and hooks to tamper with the ID tokens it hands out.
//
// Use from a test:
//
//	listen, _ := devserver.FreeAddr() // bai's address, known before the provider starts
//	p := oidcprovider.Start(t, "bai-web", "client-secret", "http://"+listen+"/auth/oidc/callback",
//		oidcprovider.User{Username: "ada", Password: "pw", Email: "ada@example.com", EmailVerified: true, Groups: []string{"staff"}})
//	args, _ := p.ManagerArgs(t.TempDir()) // --oidc-issuer, --oidc-client-id, --oidc-client-secret-file, --oidc-role-claim groups
//	// start `bai dev --listen <listen>` with args and, say, --oidc-admin-values staff
//
// A browser (or an HTTP client with a cookie jar) that follows
// /auth/oidc/login lands on p's login form at LoginPath: a form with the
// fields "username" and "password" (ids #username, #password, submit
// button #login); posting it continues the flow back to bai.
package oidcprovider

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// LoginPath is where the provider shows its login form.
const LoginPath = "/login/username"

// GroupsClaim is the claim that carries a user's Groups (in the ID token
// and from userinfo): point bai's --oidc-role-claim at it.
const GroupsClaim = "groups"

// User is a person who can sign in at the provider.
type User struct {
	Username, Password string
	Email              string
	EmailVerified      bool
	FirstName          string
	LastName           string
	// Groups become the "groups" claim, a list of strings.
	Groups []string
}

// Provider is a running OpenID provider.
type Provider struct {
	// Issuer is the provider's URL (http://127.0.0.1:PORT), what bai's
	// --oidc-issuer takes.
	Issuer string
	// Users can sign in; Start without users makes one, with a random
	// password.
	Users []User
	// ClientID and ClientSecret are the client registered for bai.
	ClientID, ClientSecret string

	srv *http.Server

	mu     sync.Mutex
	tamper func(idToken string) (string, error)
}

// Start runs a provider on a free loopback port until the test ends. The
// client (clientID, clientSecret) is a confidential web client that may
// redirect to redirectURL only. Without users, one is made: the first of
// Users, with a random password.
func Start(t testing.TB, clientID, clientSecret, redirectURL string, users ...User) *Provider {
	t.Helper()
	p, err := StartContext(context.Background(), clientID, clientSecret, redirectURL, users...)
	if err != nil {
		t.Fatalf("start the OpenID provider: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// StartContext is Start for callers without a testing.TB (benchmarks, a
// manual run); Close stops the provider.
func StartContext(ctx context.Context, clientID, clientSecret, redirectURL string, users ...User) (*Provider, error) {
	if len(users) == 0 {
		users = []User{{Username: "ada", Password: randomHex(12), Email: "ada@example.com", EmailVerified: true, FirstName: "Ada", LastName: "Lovelace"}}
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	issuer := "http://" + ln.Addr().String()
	us := userStore{byID: map[string]*storage.User{}, groups: map[string][]string{}}
	for i, u := range users {
		id := fmt.Sprintf("user-%d", i+1)
		us.byID[id] = &storage.User{ID: id, Username: u.Username, Password: u.Password, FirstName: u.FirstName, LastName: u.LastName,
			Email: u.Email, EmailVerified: u.EmailVerified, PreferredLanguage: language.English}
		us.groups[id] = u.Groups
	}
	st := &store{Storage: storage.NewStorageWithClients(us, map[string]*storage.Client{
		clientID: storage.WebClient(clientID, clientSecret, redirectURL),
	}), users: us}
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, err
	}
	prov, err := op.NewProvider(&op.Config{CryptoKey: key, CryptoKeyId: "key1", DefaultLogoutRedirectURI: "/",
		CodeMethodS256: true, AuthMethodPost: true, SupportedUILocales: []language.Tag{language.English}},
		st, op.StaticIssuer(issuer), op.WithAllowInsecure(), op.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		ln.Close()
		return nil, err
	}
	p := &Provider{Issuer: issuer, Users: users, ClientID: clientID, ClientSecret: clientSecret}
	mux := http.NewServeMux()
	lf := &loginForm{st: st, done: op.AuthCallbackURL(prov)}
	mux.HandleFunc("GET "+LoginPath, lf.show)
	mux.Handle("POST "+LoginPath, op.NewIssuerInterceptor(prov.IssuerFromRequest).HandlerFunc(lf.check))
	mux.Handle("/", p.tokenHook(prov))
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// ManagerArgs writes the client secret into a file in dir (owner-only, as
// bai wants it) and returns the flags that point `bai dev` or `bai
// manager` at this provider, the groups claim as the role claim included;
// add --oidc-superadmin-values and --oidc-admin-values as the test needs.
func (p *Provider) ManagerArgs(dir string) ([]string, error) {
	f := filepath.Join(dir, "oidc-client-secret")
	if err := os.WriteFile(f, []byte(p.ClientSecret+"\n"), 0o600); err != nil {
		return nil, err
	}
	return []string{"--oidc-issuer", p.Issuer, "--oidc-client-id", p.ClientID, "--oidc-client-secret-file", f,
		"--oidc-role-claim", GroupsClaim}, nil
}

// Close stops the provider.
func (p *Provider) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = p.srv.Shutdown(ctx)
}

// TamperIDTokens makes the token endpoint pass every ID token it issues
// through f before sending it (nil: stop), to test that a relying party
// refuses what the provider did not sign.
func (p *Provider) TamperIDTokens(f func(idToken string) (string, error)) {
	p.mu.Lock()
	p.tamper = f
	p.mu.Unlock()
}

// tokenHook rewrites the id_token of token responses while TamperIDTokens
// is set.
func (p *Provider) tokenHook(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		tamper := p.tamper
		p.mu.Unlock()
		if tamper == nil || r.URL.Path != "/oauth/token" {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		var resp map[string]any
		if rec.Code == http.StatusOK && json.Unmarshal(body, &resp) == nil {
			if raw, ok := resp["id_token"].(string); ok {
				changed, err := tamper(raw)
				if err != nil {
					http.Error(w, "tamper: "+err.Error(), http.StatusInternalServerError)
					return
				}
				resp["id_token"] = changed
				body, _ = json.Marshal(resp)
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}

// SignWithForeignKey re-signs an ID token's unchanged header and claims
// with a freshly made RSA key under the same key id: a token that looks
// like the provider's but is not signed by it.
func SignWithForeignKey(idToken string) (string, error) {
	parts := strings.Split(idToken, ".")
	if len(parts) != 3 {
		return "", errors.New("not a compact JWS")
	}
	hdr, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return "", err
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(hdr, &h); err != nil {
		return "", err
	}
	claims, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", h.Kid))
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(claims)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// ReplaceClaim returns an ID token with one claim changed and the
// signature left as it was (so it no longer matches).
func ReplaceClaim(idToken, claim string, value any) (string, error) {
	parts := strings.Split(idToken, ".")
	if len(parts) != 3 {
		return "", errors.New("not a compact JWS")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		return "", err
	}
	claims[claim] = value
	raw, err = json.Marshal(claims)
	if err != nil {
		return "", err
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, "."), nil
}

// userStore is the example storage's user lookup over the test's users.
type userStore struct {
	byID   map[string]*storage.User
	groups map[string][]string
}

func (u userStore) GetUserByID(id string) *storage.User { return u.byID[id] }

func (u userStore) GetUserByUsername(name string) *storage.User {
	for _, x := range u.byID {
		if x.Username == name {
			return x
		}
	}
	return nil
}

// ExampleClientID names the example's service account (JWT profile
// grants); no test here uses it.
func (u userStore) ExampleClientID() string { return "service" }

// store is the example's in-memory storage plus the groups claim.
type store struct {
	*storage.Storage
	users userStore
}

// SetUserinfoFromRequest fills the ID token's claims.
func (s *store) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, token op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, token, scopes); err != nil {
		return err
	}
	s.addClaims(ui, token.GetSubject())
	return nil
}

// SetUserinfoFromToken fills the userinfo endpoint's answer.
func (s *store) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	s.addClaims(ui, ui.Subject)
	return nil
}

// addClaims adds the groups claim, and email_verified when it is false:
// the library leaves a false email_verified out (omitempty), which a
// relying party cannot tell from a provider that does not say.
func (s *store) addClaims(ui *oidc.UserInfo, subject string) {
	if g := s.users.groups[subject]; len(g) > 0 {
		ui.AppendClaims(GroupsClaim, g)
	}
	if u := s.users.byID[subject]; u != nil && ui.Email != "" && !u.EmailVerified {
		ui.AppendClaims("email_verified", false)
	}
}

// loginForm is the provider's sign-in page.
type loginForm struct {
	st   *store
	done func(context.Context, string) string
}

var formPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test OpenID provider: sign in</title></head>
<body><h1>Sign in to the test OpenID provider</h1>
<form method="POST" action="` + LoginPath + `">
<input type="hidden" name="id" value="{{.ID}}">
<label>Username <input id="username" name="username" autocomplete="username"></label>
<label>Password <input id="password" name="password" type="password" autocomplete="current-password"></label>
{{if .Error}}<p id="error" role="alert">{{.Error}}</p>{{end}}
<button id="login" type="submit">Sign in</button>
</form></body></html>
`))

func (l *loginForm) render(w http.ResponseWriter, id, msg string) {
	var b bytes.Buffer
	if err := formPage.Execute(&b, map[string]string{"ID": id, "Error": msg}); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(b.Bytes())
}

func (l *loginForm) show(w http.ResponseWriter, r *http.Request) {
	l.render(w, r.URL.Query().Get("authRequestID"), "")
}

func (l *loginForm) check(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := r.FormValue("id")
	if err := l.st.CheckUsernamePassword(r.FormValue("username"), r.FormValue("password"), id); err != nil {
		l.render(w, id, "Wrong username or password.")
		return
	}
	http.Redirect(w, r, l.done(r.Context(), id), http.StatusFound)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
