package api_test

import (
	"strings"
	"testing"

	"baigo.dev/bai/backend/webauth"
	"baigo.dev/bai/internal/servertest"
)

// TestWebSecretsNeverLogged extends TestSecretsNeverLogged to the browser
// side: signing in (right, with a wrong secret, with the secret typed into
// the access key field, past the failure limit), cookie requests with and
// without the CSRF token or from a foreign Origin, creating a user and a
// keypair, and signing out leave no session cookie, CSRF token or secret
// key in the debug log.
func TestWebSecretsNeverLogged(t *testing.T) {
	t.Parallel()
	var logged syncBuffer
	s := servertest.New(t, servertest.Options{LogOutput: &logged})
	ak, sk := s.Creds.AccessKey, s.Creds.SecretKey
	const wrongSecret = "WrongSecretWrongSecretWrongSecretWrong40"

	b := newBrowser(t, s)
	me := b.login(ak, sk)
	cookie := b.cookie()
	if cookie == "" || me.CSRFToken == "" {
		t.Fatal("no cookie or CSRF token after sign-in")
	}
	steps := []struct {
		name   string
		do     func() int
		status int
	}{
		{"cookie GET", func() int { return b.do("GET", "/session", nil, nil).Status }, 200},
		{"me", func() int { return b.do("GET", "/auth/me", nil, nil).Status }, 200},
		{"cookie POST without CSRF", func() int {
			return b.do("POST", "/folders", map[string]any{"name": "f1"}, map[string]string{webauth.CSRFHeader: ""}).Status
		}, 403},
		{"cookie POST with a wrong CSRF token", func() int {
			return b.do("POST", "/folders", map[string]any{"name": "f1"}, map[string]string{webauth.CSRFHeader: me.CSRFToken + "x"}).Status
		}, 403},
		{"cookie POST from a foreign Origin", func() int {
			return b.do("POST", "/folders", map[string]any{"name": "f1"}, map[string]string{"Origin": "https://evil.example"}).Status
		}, 403},
		{"cookie POST", func() int { return b.do("POST", "/folders", map[string]any{"name": "f1"}, nil).Status }, 201},
		{"create a user", func() int {
			return b.do("POST", "/admin/users", map[string]any{"email": "new@example.com"}, nil).Status
		}, 201},
		{"create a keypair", func() int {
			return b.do("POST", "/admin/keypairs", map[string]any{"userEmail": "new@example.com"}, nil).Status
		}, 201},
		{"sign-in with a wrong secret", func() int {
			return newBrowser(t, s).do("POST", "/auth/login", map[string]string{"accessKey": ak, "secretKey": wrongSecret}, nil).Status
		}, 401},
		{"the secret typed as the access key", func() int {
			return newBrowser(t, s).do("POST", "/auth/login", map[string]string{"accessKey": sk, "secretKey": sk}, nil).Status
		}, 401},
		{"a forged cookie", func() int {
			return b.do("GET", "/session", nil, map[string]string{"Cookie": webauth.CookieName + "=" + wrongSecret}).Status
		}, 401},
	}
	for i := 0; i < 9; i++ {
		want := 401
		if i >= 8 { // 2 failures above, 10 allowed a minute
			want = 429
		}
		steps = append(steps, struct {
			name   string
			do     func() int
			status int
		}{"failed sign-ins", func() int {
			return newBrowser(t, s).do("POST", "/auth/login", map[string]string{"accessKey": ak, "secretKey": wrongSecret}, nil).Status
		}, want})
	}
	steps = append(steps, struct {
		name   string
		do     func() int
		status int
	}{"sign out", func() int { return b.do("POST", "/auth/logout", nil, nil).Status }, 204})
	for _, st := range steps {
		if got := st.do(); got != st.status {
			t.Errorf("%s: %d, want %d", st.name, got, st.status)
		}
	}
	s.Stop()

	out := logged.String()
	for _, want := range []string{"browser signed in", "keypair sign-in refused", "status=403 msg=\"missing or wrong CSRF token", "status=429", "browser signed out", "user created"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q; it captured:\n%s", want, out)
		}
	}
	for what, secret := range map[string]string{"the session cookie": cookie, "the CSRF token": me.CSRFToken, "the secret key": sk,
		"a wrong secret": wrongSecret} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds %s:\n%s", what, out)
		}
	}
}
