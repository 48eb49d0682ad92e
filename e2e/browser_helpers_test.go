package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"baigo.dev/bai/e2e/chrome"
)

// ui is the one headless Chromium of the browser tests; each test works in
// tabs of its own browser context (own cookies and storage), so that logins
// do not leak between tests.
type ui struct {
	browser   context.Context
	base      string // the shared server's origin
	artifacts string // where screenshots go
}

// missing skips the test, or fails it under CI, when the machine lacks a
// prerequisite.
func missing(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: a missing prerequisite is a failure)", why)
	}
	t.Skip(why)
}

// startUI checks that the shared server serves the built app and starts
// Chromium; both end with the test.
func startUI(t *testing.T) *ui {
	t.Helper()
	if _, err := os.Stat(chrome.Path); err != nil {
		missing(t, "no Chromium at "+chrome.Path+" (scripts/ensure-test-deps.sh installs Debian's chromium)")
	}
	base := strings.TrimRight(st.shared.Creds.Endpoint, "/")
	req, _ := http.NewRequestWithContext(testCtx(t, 10*time.Second), http.MethodGet, base+"/", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET / as a browser: %v", err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), `<div id="app">`) {
		missing(t, "the bai binary serves no web app (it was built without -tags webui; make build builds it with the app)")
	}

	art := os.Getenv("BAI_ARTIFACTS")
	if art == "" {
		art = "artifacts"
	}
	art = filepath.Join(art, "browser")
	if err := os.MkdirAll(art, 0o755); err != nil {
		t.Fatal(err)
	}

	profile := t.TempDir()
	alloc, cancelAlloc := chrome.NewAllocator(context.Background(), profile)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc() // waits for Chromium to exit, before the profile is removed
	})
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start %s: %v", chrome.Path, err)
	}
	return &ui{browser: browser, base: base, artifacts: art}
}

// tab opens a tab in a fresh browser context at 1280×800. Uncaught
// exceptions and Content-Security-Policy violations in it fail the test:
// the app has no inline script or style the policy would block, so any
// report is a bug.
func (u *ui) tab(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(u.browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	var mu sync.Mutex
	var bad []string
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
				mu.Lock()
				bad = append(bad, fmt.Sprintf("%s (%s:%d)", m.Text, m.URL, m.Line+1))
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, b := range bad {
			t.Errorf("browser console: %s", b)
		}
	})
	return ctx
}

// do runs actions with a time limit (the tab stays open after it).
func do(t *testing.T, ctx context.Context, limit time.Duration, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		t.Fatalf("%s: %v\npage: %s", what, err, pageText(ctx))
	}
}

// waitJS polls a JavaScript expression until it is truthy and returns its
// value. A navigation while it waits (a redirect, a form post) ends the
// page's poll, which is then started again in the new page.
func waitJS[T any](t *testing.T, ctx context.Context, limit time.Duration, what, expr string) T {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		left := time.Until(deadline)
		c, cancel := context.WithTimeout(ctx, left+5*time.Second)
		v, err := chromedp.Run(c, chromedp.Poll[T](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(left)))
		cancel()
		if err == nil {
			return v
		}
		if navigated(err) && time.Now().Before(deadline) {
			continue
		}
		t.Fatalf("wait for %s: %v\npage: %s", what, err, pageText(ctx))
	}
}

// navigated tells whether an evaluation failed because the page changed
// under it.
func navigated(err error) bool {
	s := err.Error()
	return strings.Contains(s, "Cannot find context with specified id") || strings.Contains(s, "Execution context was destroyed") ||
		strings.Contains(s, "Inspected target navigated or closed")
}

// evalJS evaluates an expression (awaiting a promise) and decodes it.
func evalJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// pageText is the visible text of the page, for failure messages.
func pageText(ctx context.Context) string {
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(c, chromedp.Evaluate[string](`location.pathname + "\n" + (document.body ? document.body.innerText : "")`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	if len(s) > 3000 {
		s = s[:3000] + "…"
	}
	return s
}

// shot saves a PNG of the viewport as an artifact.
func (u *ui) shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(c, chromedp.CaptureScreenshot())
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(u.artifacts, name+".png"), png, 0o644); err != nil {
		t.Errorf("save screenshot %s: %v", name, err)
	}
}

// open navigates to a page of the app and waits until it has drawn its
// heading.
func (u *ui) open(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	do(t, ctx, 30*time.Second, "open "+path, chromedp.Navigate(u.base+path))
	waitJS[bool](t, ctx, 20*time.Second, path+" drawn", `!!document.querySelector("main h1") && !document.querySelector("main .loading")`)
}

// login signs in with a keypair on the login page.
func (u *ui) login(t *testing.T, ctx context.Context, ak, sk string) {
	t.Helper()
	u.open(t, ctx, "/login")
	do(t, ctx, 20*time.Second, "fill the login form",
		chromedp.SendKeys(chromedp.CSS("#access-key"), ak),
		chromedp.SendKeys(chromedp.CSS("#secret-key"), sk),
		chromedp.Click(chromedp.CSS("#login-submit")),
	)
	waitJS[bool](t, ctx, 20*time.Second, "the signed-in top bar", `!!document.querySelector("#user-email")`)
	// The server-side session ends with the test (the browser context
	// alone would only forget the cookie).
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, _ = chromedp.Run(c, chromedp.Evaluate[chromedp.Void](`fetch("/auth/me", {credentials: "same-origin"})
			.then(r => r.ok ? r.json() : null)
			.then(m => m && fetch("/auth/logout", {method: "POST", credentials: "same-origin", headers: {"X-CSRF-Token": m.csrfToken}}))`, chromedp.EvalAwaitPromise))
	})
}

// jsString quotes s for a JavaScript expression.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// fill replaces the value of an input the way a person does: empty it,
// then type. (chromedp.Clear resets the value attribute only, which does
// not touch a value the page or the reader has set.)
func fill(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		empty := fmt.Sprintf(`(e => { e.value = ""; e.dispatchEvent(new Event("input", {bubbles: true})); })(document.querySelector(%s))`, jsString(sel))
		if _, err := chromedp.Evaluate[chromedp.Void](empty)(ctx, t); err != nil {
			return fmt.Errorf("empty %s: %w", sel, err)
		}
		_, err := chromedp.SendKeys(chromedp.CSS(sel), value)(ctx, t)
		return err
	})
}
