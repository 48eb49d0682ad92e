package e2e_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"baigo.dev/bai/e2e/devserver"
	"baigo.dev/bai/e2e/oidcprovider"
)

// browserOIDC signs in through a real OpenID provider (e2e/oidcprovider)
// the way a person does: the login page's "Sign in with" button, the
// provider's own form, back to the page the reader asked for. It needs a
// bai of its own, started with the provider's settings.
func browserOIDC(t *testing.T, u *ui) {
	listen, err := devserver.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + listen
	user := oidcprovider.User{Username: "grace", Password: "pw-grace-" + randHex(4), Email: "grace@example.com", EmailVerified: true,
		FirstName: "Grace", LastName: "Hopper", Groups: []string{"staff"}}
	p := oidcprovider.Start(t, "bai-web", "ui-test-secret-"+randHex(8), base+"/auth/oidc/callback", user)
	args, err := p.ManagerArgs(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	startOwnServer(t, listen, "", append(args, "--oidc-name", "Test IdP", "--oidc-admin-values", "staff")...)

	ctx := u.tab(t)
	do(t, ctx, 30*time.Second, "open the login page", chromedp.Navigate(base+"/login?next=/app/usage"))
	label := waitJS[string](t, ctx, 20*time.Second, "the OpenID button", `(document.querySelector("#oidc-login") || {}).innerText`)
	if label != "Sign in with Test IdP" {
		t.Errorf("the OpenID button reads %q", label)
	}
	u.shot(t, ctx, "login-oidc")

	do(t, ctx, 30*time.Second, "go to the provider", chromedp.Click(chromedp.CSS("#oidc-login")))
	waitJS[bool](t, ctx, 20*time.Second, "the provider's login form", `location.origin === `+jsString(p.Issuer)+` && !!document.querySelector("#username")`)
	do(t, ctx, 30*time.Second, "sign in at the provider",
		chromedp.SendKeys(chromedp.CSS("#username"), user.Username),
		chromedp.SendKeys(chromedp.CSS("#password"), user.Password),
		chromedp.Click(chromedp.CSS("#login")))
	waitJS[bool](t, ctx, 30*time.Second, "back at bai, signed in", `location.origin === `+jsString(base)+` && location.pathname === "/app/usage" && !!document.querySelector("#user-email")`)
	if email := evalJS[string](t, ctx, `document.querySelector("#user-email").innerText`); email != user.Email {
		t.Errorf("signed in as %q, want %s", email, user.Email)
	}
	me := evalJS[map[string]any](t, ctx, `fetch("/auth/me", {credentials: "same-origin"}).then(r => r.json())`)
	if me["authMethod"] != "oidc" || me["role"] != "admin" {
		t.Errorf("/auth/me after OpenID sign-in: authMethod %v role %v, want oidc and admin (groups claim staff)", me["authMethod"], me["role"])
	}
	do(t, ctx, 20*time.Second, "log out", chromedp.Click(chromedp.CSS("#logout")))
	waitJS[bool](t, ctx, 20*time.Second, "the login page after logout", `location.pathname === "/login"`)
	if s := evalJS[int](t, ctx, `fetch("/auth/me", {credentials: "same-origin"}).then(r => r.status)`); s != http.StatusUnauthorized {
		t.Errorf("/auth/me after logout: %d, want 401", s)
	}

	// A callback that is not the answer to our request comes back to the
	// login page with a message a person understands.
	do(t, ctx, 30*time.Second, "a forged callback", chromedp.Navigate(base+"/auth/oidc/callback?code=forged&state=forged"))
	msg := waitJS[string](t, ctx, 20*time.Second, "the sign-in error", `location.pathname === "/login" && (document.querySelector("#login-status [role=alert]") || {}).innerText`)
	if len(msg) < 20 {
		t.Errorf("the failed sign-in shows %q", msg)
	}
}
