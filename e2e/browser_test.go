package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"baigo.dev/bai/e2e/chrome"
	"baigo.dev/bai/e2e/compat"
)

// TestBrowser drives the web app in a real headless Chromium against the
// shared server: keypair login and logout, a session created from the page,
// the notebook (output, plots, input(), drawings, sandboxed HTML, reload,
// interrupt), the terminal, files, the admin pages, and what a non-admin
// may not see. It saves screenshots of the main pages under
// $BAI_ARTIFACTS/browser (default e2e/artifacts/browser).
func TestBrowser(t *testing.T) {
	t.Parallel()
	u := startUI(t)
	cr := st.shared.Creds
	cc := st.shared.Client()

	// A policy of our own for the admin page to edit and the non-admin to
	// live under (the shared default policy is not touched).
	policy := "e2e-ui-" + randHex(3)
	if _, err := cc.SetResourcePolicy(testCtx(t, 30*time.Second), policy, map[string]any{
		"total_resource_slots": map[string]string{"cpu": "2", "mem": "2g"}, "max_concurrent_sessions": 2,
	}); err != nil {
		t.Fatal(err)
	}

	t.Run("keypair login", func(t *testing.T) { browserLogin(t, u, cr.AccessKey, cr.SecretKey) })
	t.Run("session pages", func(t *testing.T) { browserSession(t, u, cc, cr.AccessKey, cr.SecretKey) })
	t.Run("files", func(t *testing.T) { browserFiles(t, u, cr.AccessKey, cr.SecretKey) })
	t.Run("admin pages", func(t *testing.T) { browserAdmin(t, u, cc, cr.AccessKey, cr.SecretKey, policy) })
	t.Run("non-admin", func(t *testing.T) { browserNonAdmin(t, u, cc, policy) })
	t.Run("oidc login", func(t *testing.T) { browserOIDC(t, u) })
}

func browserLogin(t *testing.T, u *ui, ak, sk string) {
	ctx := u.tab(t)

	// A page of the app without a session goes to the login page, keeping
	// where the reader wanted to go.
	do(t, ctx, 30*time.Second, "open the sessions page signed out", chromedp.Navigate(u.base+"/app/usage"))
	next := waitJS[string](t, ctx, 20*time.Second, "the login page", `location.pathname === "/login" && document.querySelector("#access-key") && new URLSearchParams(location.search).get("next")`)
	if next != "/app/usage" {
		t.Errorf("login page next = %q, want /app/usage", next)
	}
	u.shot(t, ctx, "login")

	// A wrong secret says so on the page.
	do(t, ctx, 20*time.Second, "sign in with a wrong secret",
		chromedp.SendKeys(chromedp.CSS("#access-key"), ak),
		chromedp.SendKeys(chromedp.CSS("#secret-key"), "not-the-secret"),
		chromedp.Click(chromedp.CSS("#login-submit")),
	)
	msg := waitJS[string](t, ctx, 20*time.Second, "the sign-in error", `(document.querySelector("#login-status [role=alert]") || {}).innerText`)
	if !strings.Contains(msg, "Sign-in failed") {
		t.Errorf("sign-in error reads %q", msg)
	}

	do(t, ctx, 20*time.Second, "sign in", fill("#secret-key", sk), chromedp.Click(chromedp.CSS("#login-submit")))
	waitJS[bool](t, ctx, 20*time.Second, "the usage page after sign-in", `location.pathname === "/app/usage" && !!document.querySelector("#usage-limits")`)
	if email := evalJS[string](t, ctx, `document.querySelector("#user-email").innerText`); email == "" {
		t.Error("the top bar shows no e-mail")
	}
	// The session cookie is HttpOnly: scripts never see it.
	if evalJS[bool](t, ctx, `document.cookie.includes("bai_session")`) {
		t.Error("document.cookie shows bai_session: the cookie is not HttpOnly")
	}
	// A reload keeps the session.
	do(t, ctx, 30*time.Second, "reload", chromedp.Reload())
	waitJS[bool](t, ctx, 20*time.Second, "still signed in after a reload", `!!document.querySelector("#user-email") && location.pathname === "/app/usage"`)

	// Logout ends the server-side session: the app is closed again.
	do(t, ctx, 20*time.Second, "log out", chromedp.Click(chromedp.CSS("#logout")))
	waitJS[bool](t, ctx, 20*time.Second, "the login page after logout", `location.pathname === "/login" && !!document.querySelector("#access-key")`)
	status := evalJS[int](t, ctx, `fetch("/auth/me", {credentials: "same-origin"}).then(r => r.status)`)
	if status != http.StatusUnauthorized {
		t.Errorf("GET /auth/me after logout: %d, want 401", status)
	}
}

// cellJS is an expression for the i-th notebook cell (0-based).
func cellJS(i int) string {
	return fmt.Sprintf(`document.querySelectorAll("#cells .cell")[%d]`, i)
}

// typeCell clicks into cell i's editor, types code and presses Enter with
// the modifiers (Shift: run and move on; Ctrl: run in place).
func typeCell(t *testing.T, ctx context.Context, i int, code string, modifiers int64) {
	t.Helper()
	do(t, ctx, 20*time.Second, fmt.Sprintf("type into cell %d", i),
		chromedp.Click(chromedp.CSS(fmt.Sprintf("#cells .cell:nth-child(%d) .cm-content", i+1))),
		chrome.InsertText(code),
		chrome.PressEnter(modifiers),
	)
}

// runCell types code into cell i and runs it with Shift+Enter, then waits
// until it finished and returns the text of its output.
func runCell(t *testing.T, ctx context.Context, i int, code string, limit time.Duration) string {
	t.Helper()
	typeCell(t, ctx, i, code, chrome.ModShift)
	return waitCell(t, ctx, i, limit)
}

// waitCell waits until cell i has run and returns its output text.
func waitCell(t *testing.T, ctx context.Context, i int, limit time.Duration) string {
	t.Helper()
	c := cellJS(i)
	out := waitJS[string](t, ctx, limit, fmt.Sprintf("cell %d to finish", i),
		fmt.Sprintf(`(%s && ["done", "failed"].includes(%s.dataset.state)) ? (%s.querySelector(".output").innerText || " ") : ""`, c, c, c))
	return strings.TrimSpace(out)
}

func browserSession(t *testing.T, u *ui, cc *compat.Client, ak, sk string) {
	ctx := u.tab(t)
	u.login(t, ctx, ak, sk)

	// The create page: a request no agent can hold passes the page's checks
	// (the policy sets no memory limit) and the server's refusal is shown.
	u.open(t, ctx, "/app/sessions/new")
	waitJS[bool](t, ctx, 20*time.Second, "a python image preselected", `document.querySelector("#image").value.startsWith("python")`)
	u.shot(t, ctx, "create")
	do(t, ctx, 20*time.Second, "ask for 4096 GiB",
		fill("#mem", "4096g"), chromedp.Click(chromedp.CSS("#create-submit")))
	refusal := waitJS[string](t, ctx, 60*time.Second, "the server's refusal", `(document.querySelector("#create-error [role=alert]") || {}).innerText`)
	if !strings.Contains(refusal, "Quota exceeded") {
		t.Errorf("the refusal of a 4096 GiB session reads %q, want the server's problem title", refusal)
	}

	name := uniqueName(t)
	// Whatever happens below, the session goes at the end.
	t.Cleanup(func() { destroyQuietly(t, cc, name) })
	do(t, ctx, 20*time.Second, "fill and send the create form",
		fill("#mem", "1g"),
		chromedp.SendKeys(chromedp.CSS("#session-name"), name),
		chromedp.Click(chromedp.CSS("#create-submit")),
	)
	waitJS[bool](t, ctx, 120*time.Second, "the notebook of the new session",
		`location.pathname === "/app/notebook/`+name+`" && !!document.querySelector("#cells .cell .cm-content")`)
	info, _, err := cc.Info(testCtx(t, 20*time.Second), name)
	if err != nil {
		t.Fatalf("the session the page created: %v", err)
	}
	remember(info.SessionID)
	if info.Status != "RUNNING" {
		t.Fatalf("session %s is %s, want RUNNING", name, info.Status)
	}

	t.Run("notebook", func(t *testing.T) { browserNotebook(t, u, ctx) })
	t.Run("terminal", func(t *testing.T) { browserTerminal(t, u, ctx, name) })

	u.open(t, ctx, "/app/usage")
	waitJS[bool](t, ctx, 20*time.Second, "the session on the usage page", `!!document.querySelector('tr[data-session="`+name+`"]')`)
	u.shot(t, ctx, "usage")

	// The session list follows the events stream: a session destroyed
	// elsewhere leaves the page without a reload.
	u.open(t, ctx, "/app/sessions")
	waitJS[bool](t, ctx, 20*time.Second, "the running session listed live",
		`!!document.querySelector('tr[data-session="`+name+`"] [data-status="RUNNING"]') && document.querySelector("#live-status").innerText === "live"`)
	u.shot(t, ctx, "sessions")
	if _, err := cc.Destroy(testCtx(t, 60*time.Second), name, true); err != nil {
		t.Fatal(err)
	}
	waitJS[bool](t, ctx, 30*time.Second, "the destroyed session to leave the list", `!document.querySelector('tr[data-session="`+name+`"]')`)

	// A session started elsewhere appears without a reload; its Destroy
	// button (pressed twice) ends it.
	other, _ := newSession(t, cc)
	row := `tr[data-session="` + other + `"]`
	waitJS[bool](t, ctx, 60*time.Second, "the new session listed live", `!!document.querySelector('`+row+` [data-status="RUNNING"]')`)
	do(t, ctx, 20*time.Second, "destroy it from the page",
		chromedp.Click(chromedp.CSS(row+` button.danger`)), chromedp.Click(chromedp.CSS(row+` button.danger.armed`)))
	waitJS[bool](t, ctx, 60*time.Second, "the session gone from the page", `!document.querySelector('`+row+`')`)
	if si, resp, _ := cc.Info(testCtx(t, 20*time.Second), other); resp == nil || (resp.Status != http.StatusNotFound && si != nil && si.Status != "TERMINATED") {
		t.Errorf("after Destroy on the page, the API shows %v %v", si, resp)
	}
}

func browserNotebook(t *testing.T, u *ui, ctx context.Context) {
	if out := runCell(t, ctx, 0, "print(1+1)", 60*time.Second); out != "2" {
		t.Fatalf("print(1+1) shows %q, want 2", out)
	}
	if ms := evalJS[string](t, ctx, cellJS(0)+`.dataset.firstOutputMs`); ms == "" {
		t.Error("the cell did not record the time to its first output")
	}
	// Shift+Enter on the last cell made a new one and moved there.
	waitJS[bool](t, ctx, 10*time.Second, "a second cell", `document.querySelectorAll("#cells .cell").length === 2`)

	// input() asks inline; Enter answers.
	typeCell(t, ctx, 1, "who = input('who? ')\nprint('hello', who)", chrome.ModShift)
	waitJS[bool](t, ctx, 60*time.Second, "the input field", `!!(`+cellJS(1)+` && `+cellJS(1)+`.querySelector("input.stdin"))`)
	do(t, ctx, 20*time.Second, "answer the prompt", chromedp.SendKeys(chromedp.CSS("#cells .cell:nth-child(2) input.stdin"), "bob\n"))
	if out := waitCell(t, ctx, 1, 30*time.Second); !strings.Contains(out, "who? bob") || !strings.Contains(out, "hello bob") {
		t.Errorf("the input() cell shows %q, want the prompt, the answer and hello bob", out)
	}

	// A matplotlib figure arrives as SVG and is shown through <img>.
	typeCell(t, ctx, 2, "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.title('squares')\nplt.show()", chrome.ModShift)
	waitCell(t, ctx, 2, 120*time.Second)
	waitJS[bool](t, ctx, 20*time.Second, "the plot as a decoded image",
		`(() => { const i = `+cellJS(2)+`.querySelector("img.out-svg"); return !!i && i.complete && i.naturalWidth > 100 && i.src.startsWith("data:image/svg+xml;base64,") })()`)
	if n := evalJS[int](t, ctx, cellJS(2)+`.querySelectorAll("svg").length`); n != 0 {
		t.Errorf("the SVG was put into the page's DOM (%d svg elements); it must only be an <img>", n)
	}

	// A drawing is played on a canvas.
	typeCell(t, ctx, 3, "from bai_media import Canvas\nc = Canvas(120, 80, 'white')\nr = c.rect(10, 10, 40, 30, fill='red')\nc.show()\nfor i in range(5):\n    r.move(10, 0)\n    c.update()", chrome.ModShift)
	waitCell(t, ctx, 3, 60*time.Second)
	// After the five moves the rectangle spans x 60..100: red there, white
	// where it started.
	waitJS[bool](t, ctx, 10*time.Second, "the drawing's last frame", `(() => {
		const cv = `+cellJS(3)+`.querySelector("canvas.drawing"); if (!cv) return false;
		const g = cv.getContext("2d"), at = (x, y) => Array.from(g.getImageData(x, y, 1, 1).data).join(",");
		return at(80, 25) === "255,0,0,255" && at(20, 25) === "255,255,255,255";
	})()`)

	// HTML output lives in a sandboxed frame: its script does not run and
	// it cannot reach the app.
	typeCell(t, ctx, 4, "from bai_media import display_html\ndisplay_html('<b id=\"x\">bold</b><script>parent.document.title = \"pwned\"</script>')", chrome.ModShift)
	waitCell(t, ctx, 4, 60*time.Second)
	frame := waitJS[map[string]any](t, ctx, 10*time.Second, "the HTML frame", `(() => {
		const f = `+cellJS(4)+`.querySelector("iframe.out-html"); if (!f) return null;
		return {sandbox: f.getAttribute("sandbox"), srcdoc: f.srcdoc.includes("<b id"), reachable: f.contentDocument !== null};
	})()`)
	if frame["sandbox"] != "" || frame["srcdoc"] != true || frame["reachable"] != false {
		t.Errorf("HTML output frame %v: want sandbox=\"\" (no scripts, opaque origin) holding the HTML", frame)
	}
	if title := evalJS[string](t, ctx, `document.title`); strings.Contains(title, "pwned") {
		t.Error("a script in HTML output ran against the app")
	}
	u.shot(t, ctx, "notebook")
	do(t, ctx, 20*time.Second, "a narrow window", chromedp.EmulateViewport(420, 800))
	u.shot(t, ctx, "notebook-narrow")
	do(t, ctx, 20*time.Second, "back to 1280x800", chromedp.EmulateViewport(1280, 800))

	// Cells and outputs survive a reload.
	do(t, ctx, 30*time.Second, "reload the notebook", chromedp.Reload())
	waitJS[bool](t, ctx, 30*time.Second, "the cells back after a reload", `document.querySelectorAll("#cells .cell").length === 6 && `+
		cellJS(0)+`.querySelector(".output").innerText.trim() === "2" && !!`+cellJS(2)+`.querySelector("img.out-svg") && `+
		cellJS(0)+`.querySelector(".cm-content").innerText === "print(1+1)"`)

	// Interrupt stops a running cell (Ctrl+Enter runs in place).
	// (Interrupt once it prints: a signal sent before the code starts is
	// lost, in a notebook as in a terminal.)
	typeCell(t, ctx, 5, "import time\nprint('sleeping', flush=True)\ntime.sleep(120)", chrome.ModCtrl)
	waitJS[bool](t, ctx, 30*time.Second, "the long cell running", cellJS(5)+`.dataset.state === "running" && `+cellJS(5)+`.querySelector(".output").innerText.includes("sleeping")`)
	do(t, ctx, 20*time.Second, "interrupt", chromedp.Click(chromedp.CSS("#interrupt")))
	if out := waitCell(t, ctx, 5, 30*time.Second); !strings.Contains(out, "KeyboardInterrupt") {
		t.Errorf("the interrupted cell shows %q, want a KeyboardInterrupt", out)
	}

	// Cells move, and are added and deleted, with their buttons.
	codes := `Array.from(document.querySelectorAll("#cells .cell .cm-content"), e => e.innerText).join("|")`
	before := evalJS[string](t, ctx, codes)
	do(t, ctx, 20*time.Second, "move the first cell down", chromedp.Click(chromedp.CSS(`#cells .cell:nth-child(1) button[aria-label="Move cell down"]`)))
	if got := evalJS[string](t, ctx, codes); !strings.HasPrefix(got, "who = input") || !strings.Contains(got, "|print(1+1)|") {
		t.Errorf("after moving the first cell down the cells read %q", got)
	}
	do(t, ctx, 20*time.Second, "move it back up", chromedp.Click(chromedp.CSS(`#cells .cell:nth-child(2) button[aria-label="Move cell up"]`)))
	// "+ Cell" adds below the cell last edited: the one just moved, first.
	do(t, ctx, 20*time.Second, "add a cell", chromedp.Click(chromedp.CSS("#add-cell")))
	waitJS[bool](t, ctx, 10*time.Second, "a new empty second cell", `document.querySelectorAll("#cells .cell").length === 7 && !!`+cellJS(1)+`.querySelector(".cm-placeholder")`)
	do(t, ctx, 20*time.Second, "delete it", chromedp.Click(chromedp.CSS(`#cells .cell:nth-child(2) button[aria-label="Delete cell"]`)))
	waitJS[bool](t, ctx, 10*time.Second, "six cells", `document.querySelectorAll("#cells .cell").length === 6`)
	if got := evalJS[string](t, ctx, codes); got != before {
		t.Errorf("after moving back and adding and deleting a cell the cells read %q, want %q", got, before)
	}
}

func browserTerminal(t *testing.T, u *ui, ctx context.Context, name string) {
	u.open(t, ctx, "/app/terminal/"+name)
	waitJS[bool](t, ctx, 60*time.Second, "the terminal connected", `document.querySelector("#term-state").innerText === "connected"`)
	lines := func(want string) string {
		return fmt.Sprintf(`(() => { const rows = document.querySelector("#terminal .xterm-rows"); if (!rows) return ""; const ls = Array.from(rows.children, r => r.textContent.trimEnd()); return ls.some(l => %s) ? ls.join("\n") : "" })()`, want)
	}
	do(t, ctx, 20*time.Second, "type echo hi", chromedp.Focus(chromedp.CSS("#terminal .xterm-helper-textarea")), chrome.InsertText("echo hi"), chrome.PressEnter(0))
	waitJS[string](t, ctx, 30*time.Second, "the line hi", lines(`l === "hi"`))
	u.shot(t, ctx, "terminal")

	// A smaller window resizes the pty.
	before := evalJS[string](t, ctx, `document.querySelector("#terminal").dataset.cols`)
	do(t, ctx, 20*time.Second, "shrink the window", chromedp.EmulateViewport(800, 600))
	size := waitJS[string](t, ctx, 20*time.Second, "the terminal to refit", `(() => { const d = document.querySelector("#terminal").dataset; return d.cols !== `+jsString(before)+` ? d.rows + " " + d.cols : "" })()`)
	do(t, ctx, 20*time.Second, "type stty size", chrome.InsertText("stty size"), chrome.PressEnter(0))
	waitJS[string](t, ctx, 30*time.Second, "stty size = "+size, lines(`l === `+jsString(size)))
	do(t, ctx, 20*time.Second, "back to 1280x800", chromedp.EmulateViewport(1280, 800))
}

func browserFiles(t *testing.T, u *ui, ak, sk string) {
	ctx := u.tab(t)
	u.login(t, ctx, ak, sk)
	sdk := sdkAs(t, ak, sk)
	folder := uniqueName(t)
	t.Cleanup(func() {
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := sdk.GetFolder(c, folder); err == nil {
			if err := sdk.DeleteFolder(c, folder); err != nil {
				t.Errorf("cleanup: delete folder %s: %v", folder, err)
			}
		}
	})

	u.open(t, ctx, "/app/files")
	do(t, ctx, 20*time.Second, "create a folder",
		chromedp.SendKeys(chromedp.CSS("#new-folder"), folder), chromedp.Click(chromedp.CSS("#create-folder")))
	waitJS[bool](t, ctx, 20*time.Second, "the new folder opened", `location.pathname === "/app/files/`+folder+`" && !!document.querySelector("#upload-input")`)

	// 3 MiB of random bytes plus every byte value: the download must give
	// back exactly these.
	data := make([]byte, 3<<20)
	_, _ = rand.Read(data)
	for i := range 256 {
		data[i] = byte(i)
	}
	src := filepath.Join(t.TempDir(), "payload.bin")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, 60*time.Second, "upload",
		chromedp.SetUploadFiles(chromedp.CSS("#upload-input"), []string{src}), chromedp.Click(chromedp.CSS("#upload-submit")))
	waitJS[bool](t, ctx, 60*time.Second, "the uploaded file listed", `!!document.querySelector('tr[data-file="payload.bin"]') && document.querySelector("#upload-progress-text").innerText.startsWith("Uploaded")`)
	u.shot(t, ctx, "files")

	// Download through the browser's own download machinery.
	dl := t.TempDir()
	bctx := chromedp.FromContext(ctx).BrowserContextID
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, BrowserContextID: bctx, DownloadPath: dl, EventsEnabled: new(true),
	}); err != nil {
		t.Fatalf("allow downloads: %v", err)
	}
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	do(t, ctx, 20*time.Second, "click the file's link", chromedp.Click(chromedp.CSS(`tr[data-file="payload.bin"] a.download`)))
	dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	guid := ""
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("wait for the download: %v", err)
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			guid = ev.GUID
			break
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			t.Fatalf("the download was cancelled")
		}
		if dctx.Err() != nil {
			t.Fatal("the download did not complete in 60 s")
		}
	}
	got, err := os.ReadFile(filepath.Join(dl, guid))
	if err != nil {
		t.Fatalf("read the downloaded file: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("downloaded %d bytes differ from the %d uploaded", len(got), len(data))
	}

	// Delete the file, then the folder, from the page.
	do(t, ctx, 20*time.Second, "delete the file",
		chromedp.Click(chromedp.CSS(`tr[data-file="payload.bin"] button.danger`)), chromedp.Click(chromedp.CSS(`tr[data-file="payload.bin"] button.danger.armed`)))
	waitJS[bool](t, ctx, 20*time.Second, "the file gone", `!document.querySelector('tr[data-file="payload.bin"]')`)
	do(t, ctx, 20*time.Second, "delete the folder",
		chromedp.Click(chromedp.CSS(`.folder-view .page-head button.danger`)), chromedp.Click(chromedp.CSS(`.folder-view .page-head button.danger.armed`)))
	waitJS[bool](t, ctx, 20*time.Second, "back on the folder list", `location.pathname === "/app/files" && !document.querySelector('a[data-folder="`+folder+`"]')`)
}

func browserAdmin(t *testing.T, u *ui, cc *compat.Client, ak, sk, policy string) {
	ctx := u.tab(t)
	u.login(t, ctx, ak, sk)
	if !evalJS[bool](t, ctx, `!!document.querySelector('.topbar a[href="/app/admin/agents"]')`) {
		t.Error("a superadmin's top bar has no Admin link")
	}
	for _, p := range []struct{ tab, ready string }{
		{"agents", `document.querySelectorAll("tr[data-agent] meter").length > 0`},
		{"users", `!!document.querySelector("tr[data-user]")`},
		{"keypairs", `!!document.querySelector('tr[data-keypair="` + ak + `"]')`},
		{"policies", `!!document.querySelector('form[data-policy="` + policy + `"]')`},
		{"images", `!!document.querySelector('tr[data-image="` + imageName + `"]')`},
	} {
		u.open(t, ctx, "/app/admin/"+p.tab)
		waitJS[bool](t, ctx, 20*time.Second, "the admin "+p.tab+" page", p.ready)
		u.shot(t, ctx, "admin-"+p.tab)
	}
	if txt := evalJS[string](t, ctx, `document.body.innerText`); strings.Contains(txt, "secretKey") || strings.Contains(txt, sk) {
		t.Error("the admin pages show a secret key")
	}

	// Edit our policy on the page; the API sees the change.
	u.open(t, ctx, "/app/admin/policies")
	waitJS[bool](t, ctx, 20*time.Second, "the policy form", `!!document.querySelector('form[data-policy="`+policy+`"]')`)
	form := `form[data-policy="` + policy + `"] `
	do(t, ctx, 20*time.Second, "edit the policy",
		fill(form+`[id$="-max_concurrent_sessions"]`, "3"), chromedp.Click(chromedp.CSS(form+`button[type=submit]`)))
	waitJS[bool](t, ctx, 20*time.Second, "the policy saved", `(document.querySelector('form[data-policy="`+policy+`"]') || {innerText: ""}).innerText.includes("Saved.")`)
	resp, err := cc.Do(testCtx(t, 20*time.Second), compat.Request{Method: http.MethodGet, Path: "/resource-policies"})
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("list policies: %v %v", err, resp)
	}
	var pl struct {
		Policies []struct {
			Name  string            `json:"name"`
			Max   int               `json:"max_concurrent_sessions"`
			Total map[string]string `json:"total_resource_slots"`
		} `json:"resource_policies"`
	}
	if err := resp.JSON(&pl); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range pl.Policies {
		if p.Name == policy {
			found = true
			if p.Max != 3 || p.Total["cpu"] != "2" || p.Total["mem"] != "2147483648" {
				t.Errorf("policy %s after the edit: max_concurrent_sessions %d, total %v; want 3 and the slots kept", policy, p.Max, p.Total)
			}
		}
	}
	if !found {
		t.Errorf("policy %s is not listed", policy)
	}
}

// newUIUser adds a regular user with a keypair under policy through the
// admin API; it is deactivated at cleanup (users are not deleted).
func newUIUser(t *testing.T, cc *compat.Client, policy string) (email, ak, sk string) {
	t.Helper()
	email = "ui-" + randHex(4) + "@example.com"
	body, _ := json.Marshal(map[string]string{"email": email, "username": "ui-tester", "role": "user"})
	resp, err := cc.Do(testCtx(t, 20*time.Second), compat.Request{Method: http.MethodPost, Path: "/admin/users", Body: body})
	if err != nil || resp.Status != http.StatusCreated {
		t.Fatalf("create a user: %v %v", err, resp)
	}
	var out struct {
		Keypair struct {
			AccessKey string `json:"accessKey"`
			SecretKey string `json:"secretKey"`
		} `json:"keypair"`
	}
	if err := resp.JSON(&out); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		b, _ := json.Marshal(map[string]bool{"isActive": false})
		if r, err := cc.Do(ctx, compat.Request{Method: http.MethodPatch, Path: "/admin/users/" + url.PathEscape(email), Body: b}); err != nil || r.Status != http.StatusOK {
			t.Errorf("cleanup: deactivate %s: %v %v", email, err, r)
		}
	})
	if _, err := cc.SetKeyPairPolicy(testCtx(t, 20*time.Second), out.Keypair.AccessKey, policy); err != nil {
		t.Fatal(err)
	}
	return email, out.Keypair.AccessKey, out.Keypair.SecretKey
}

func browserNonAdmin(t *testing.T, u *ui, cc *compat.Client, policy string) {
	// The superadmin has a session the other user must not see.
	theirs, _ := newSession(t, cc)
	_, ak, sk := newUIUser(t, cc, policy)

	ctx := u.tab(t)
	u.login(t, ctx, ak, sk)
	u.open(t, ctx, "/app/sessions")
	waitJS[bool](t, ctx, 20*time.Second, "the empty session list", `!!document.querySelector("#sessions .empty")`)
	if txt := evalJS[string](t, ctx, `document.body.innerText`); strings.Contains(txt, theirs) {
		t.Errorf("a regular user's session list shows the superadmin's session %s", theirs)
	}
	if evalJS[bool](t, ctx, `!!document.querySelector('a[href^="/app/admin"]')`) {
		t.Error("a regular user's top bar links to the admin pages")
	}
	// The admin pages say no; so does the API behind them.
	u.open(t, ctx, "/app/admin/agents")
	waitJS[bool](t, ctx, 10*time.Second, "the not-allowed page", `!!document.querySelector("#forbidden")`)
	if evalJS[bool](t, ctx, `!!document.querySelector("tr[data-agent]")`) {
		t.Error("a regular user sees agents")
	}
	for _, p := range []string{"/admin/agents", "/admin/users", "/admin/keypairs", "/agents"} {
		if s := evalJS[int](t, ctx, `fetch(`+jsString(p)+`, {credentials: "same-origin", headers: {Accept: "application/json"}}).then(r => r.status)`); s != http.StatusForbidden {
			t.Errorf("GET %s with a regular user's cookie: %d, want 403", p, s)
		}
	}
	if s := evalJS[int](t, ctx, `fetch("/session/`+theirs+`", {credentials: "same-origin", headers: {Accept: "application/json"}}).then(r => r.status)`); s != http.StatusNotFound {
		t.Errorf("GET another user's session with a cookie: %d, want 404", s)
	}
	// A cookie request without the CSRF header is refused.
	if s := evalJS[int](t, ctx, `fetch("/folders", {method: "POST", credentials: "same-origin", headers: {"Content-Type": "application/json"}, body: '{"name": "no-csrf"}'}).then(r => r.status)`); s != http.StatusForbidden {
		t.Errorf("POST without X-CSRF-Token: %d, want 403", s)
	}
	resp, err := compat.New(st.shared.Creds.Endpoint, ak, sk).Do(testCtx(t, 20*time.Second), compat.Request{Method: http.MethodGet, Path: "/admin/agents"})
	if err != nil || resp.Status != http.StatusForbidden {
		t.Errorf("GET /admin/agents signed by a regular user: %v %v, want 403", err, resp)
	}

	// The create page checks the policy (2 CPU, 2 GiB) before sending.
	u.open(t, ctx, "/app/sessions/new")
	do(t, ctx, 20*time.Second, "ask for 4 CPU cores",
		fill("#cpu", "4"), chromedp.Click(chromedp.CSS("#create-submit")))
	msg := waitJS[string](t, ctx, 10*time.Second, "the CPU limit message", `document.querySelector("#cpu").getAttribute("aria-invalid") === "true" && document.querySelector("#cpu-err").innerText`)
	if !strings.Contains(msg, "at most 2 CPU") {
		t.Errorf("the CPU message reads %q", msg)
	}
	u.shot(t, ctx, "create-validation")
	if evalJS[string](t, ctx, `location.pathname`) != "/app/sessions/new" {
		t.Error("the form was sent despite the error")
	}
	mine, err := compat.New(st.shared.Creds.Endpoint, ak, sk).List(testCtx(t, 20*time.Second))
	if err != nil || len(mine) != 0 {
		t.Errorf("the regular user's sessions after a refused form: %v %v, want none", mine, err)
	}
}
