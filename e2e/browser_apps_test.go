package e2e_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"baigo.dev/bai/e2e/chrome"
)

// TestBrowserApps opens a session's apps the way a person does: `bai app`
// prints a URL, Chromium opens it, and the app works in the page. The
// runner's web terminal runs `echo hi`; Jupyter's classic Notebook opens a
// notebook, starts its kernel over the forwarded WebSocket and runs a cell
// on Shift+Enter.
func TestBrowserApps(t *testing.T) {
	t.Parallel()
	u := startUI(t)
	c := st.shared.Client()
	name, _ := newSession(t, c)
	ctx := testCtx(t, 3*time.Minute)
	// Plain tabs: the apps' own pages are not ours, so their console
	// messages are not held against them.
	tab := func(t *testing.T) context.Context {
		tc, cancel := chromedp.NewContext(u.browser, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		if err := chromedp.Do(tc, chromedp.EmulateViewport(1280, 800)); err != nil {
			t.Fatalf("open a tab: %v", err)
		}
		return tc
	}

	t.Run("terminal", func(t *testing.T) {
		fw := startBaiApp(t, ctx, name, "terminal")
		bc := tab(t)
		do(t, bc, 30*time.Second, "open the terminal's URL", chromedp.Navigate(fw.secret))
		waitJS[bool](t, bc, 20*time.Second, "the shell prompt", `(document.querySelector("#t") || {textContent: ""}).textContent.includes("$ ")`)
		do(t, bc, 20*time.Second, "type echo hi",
			chromedp.Focus(chromedp.CSS("#t")), chromedp.SendKeys(chromedp.CSS("#t"), "echo hi"), chrome.PressEnter(0))
		waitJS[bool](t, bc, 20*time.Second, "hi on a line of its own", `document.querySelector("#t").textContent.split("\n").includes("hi")`)
		u.shot(t, bc, "app-terminal")
		// The page came through the secret URL's redirect: the secret is
		// not left in the address bar.
		if loc := evalJS[string](t, bc, `location.href`); strings.Contains(loc, "bai_token") {
			t.Errorf("the terminal page's address still holds the secret: %s", loc)
		}
	})

	t.Run("jupyter", func(t *testing.T) {
		fw := startBaiApp(t, ctx, name, "jupyter")
		// A notebook with one cell, made through the Notebook's contents
		// API (the XSRF cookie comes from its tree page).
		resp, err := fw.hc.Get(fw.base + "tree")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		var xsrf string
		base, _ := url.Parse(fw.base)
		for _, ck := range fw.hc.Jar.Cookies(base) {
			if ck.Name == "_xsrf" {
				xsrf = ck.Value
			}
		}
		nb := `{"type": "notebook", "content": {"cells": [{"cell_type": "code", "source": "print(6 * 7)", "metadata": {}, "outputs": [], "execution_count": null}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}}`
		req, _ := http.NewRequestWithContext(ctx, http.MethodPut, fw.base+"api/contents/bai-e2e.ipynb", strings.NewReader(nb))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-XSRFToken", xsrf)
		if resp, err := fw.hc.Do(req); err != nil {
			t.Fatal(err)
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 201 && resp.StatusCode != 200 {
				t.Fatalf("create the notebook: %d %s", resp.StatusCode, b)
			}
		}

		bc := tab(t)
		// The secret URL sets the browser's cookie and lands on the tree;
		// then the notebook page, which starts a kernel.
		do(t, bc, 30*time.Second, "open Jupyter's URL", chromedp.Navigate(fw.secret))
		waitJS[bool](t, bc, 30*time.Second, "the Notebook's file list", `!!document.querySelector("#notebook_list")`)
		do(t, bc, 30*time.Second, "open the notebook", chromedp.Navigate(fw.base+"notebooks/bai-e2e.ipynb"))
		waitJS[bool](t, bc, 60*time.Second, "the kernel connected",
			`typeof Jupyter !== "undefined" && !!Jupyter.notebook && !!Jupyter.notebook.kernel && Jupyter.notebook.kernel.is_connected()`)
		do(t, bc, 20*time.Second, "run the cell with Shift+Enter",
			chromedp.Click(chromedp.CSS(".cell .CodeMirror")), chrome.PressEnter(chrome.ModShift))
		got := waitJS[string](t, bc, 60*time.Second, "the cell's output",
			`(document.querySelector(".cell .output_area pre") || {textContent: ""}).textContent.trim()`)
		if got != "42" {
			t.Errorf("the cell printed %q, want 42", got)
		}
		u.shot(t, bc, "app-jupyter")
		if logs, err := c.Logs(ctx, name); err == nil && strings.Contains(logs, "bai-jail: refused") {
			t.Errorf("the jail refused calls of the Notebook or its kernel:\n%s", logs)
		}
	})
}
