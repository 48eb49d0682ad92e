package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	client "baigo.dev/bai/clients/go"
	"baigo.dev/bai/e2e/chrome"
	"baigo.dev/bai/e2e/compat"
	"baigo.dev/bai/e2e/devserver"
)

// The web app against the API alone, in one run, with Debian's Chromium
// driven through the DevTools protocol (as e2e/browser_test.go does):
//
//  1. Run → first output. One Python session; each round puts
//     print(<round>) into a notebook cell and presses Shift+Enter (a real
//     key event), and the same code runs through the execute WebSocket
//     with the Go SDK's StreamCode and through the polling API (RunCode,
//     POST /session/{name}). The sides alternate within each round (the
//     order rotates), so drift on the shared VM hits them alike. The page
//     times itself with performance.now(): from a keydown listener in the
//     capture phase (before CodeMirror sees the key) to a MutationObserver
//     seeing the output's text in the cell, so the protocol's own latency
//     is not counted; the SDK is timed from the call (the WebSocket dial
//     included, as the page opens one per run too) to the first stdout
//     item. The table gives medians with interquartile ranges, and the
//     page's extra time over the stream (target: ≤ 20 ms).
//  2. First load of the app: /login and the notebook page, each loaded in
//     a fresh browser context with the cache disabled (cold), then again
//     in a context that has loaded them once (warm); median of 5. Sizes
//     come from the protocol's Network events: transferred is the sum of
//     encodedDataLength (headers and compressed bodies, as on the wire),
//     decoded the sum of the bodies' decoded lengths. Long-lived streams
//     (the notebook's events stream) are not counted. Time to interactive
//     is the first moment, by performance.now() in the page, at which the
//     page takes typing: on /login the Sign in button is enabled and the
//     access key field has focus; on the notebook the first cell's editor
//     has focus and its Run button is enabled (the session is RUNNING). A
//     script added before the app's (Page.addScriptToEvaluateOnNewDocument)
//     checks that on every DOM mutation and focus change, without polling.

// webLoads is how many times each page is loaded in each cache state.
const webLoads = 5

// webWarmup is how many untimed rounds each side runs first (the first
// runs compile the page's code paths and warm the kernel).
const webWarmup = 3

// benchWeb runs both measurements against srv with a session of image.
func benchWeb(ctx context.Context, srv *devserver.Server, c *compat.Client, image string, rounds int, log *slog.Logger, out io.Writer) error {
	if _, err := os.Stat(chrome.Path); err != nil {
		log.Warn("web section skipped: no Chromium (scripts/ensure-test-deps.sh installs Debian's chromium)", "path", chrome.Path)
		return nil
	}
	base := strings.TrimRight(srv.Creds.Endpoint, "/")
	if ok, err := servesApp(ctx, base); err != nil {
		return err
	} else if !ok {
		log.Warn("web section skipped: bai was built without the web app (make build builds it with -tags webui)")
		return nil
	}
	sdk, err := client.New(client.Config{Endpoint: srv.Creds.Endpoint, AccessKey: srv.Creds.AccessKey, SecretKey: srv.Creds.SecretKey})
	if err != nil {
		return err
	}
	name := fmt.Sprintf("bench-web-%d", os.Getpid())
	res, err := c.Create(ctx, compat.CreateOptions{Image: image, Name: name})
	if err != nil {
		return fmt.Errorf("web bench session: %w", err)
	}
	// Destroyed here rather than by the caller's cleanup, so that the
	// sections after this one have the agent's capacity to themselves.
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
		defer cancel()
		if _, err := c.Destroy(cctx, res.ID(), true); err != nil {
			log.Warn("destroy", "session_id", res.ID(), "err", err)
		}
	}()
	if err := waitRunning(ctx, c, res); err != nil {
		return err
	}

	profile, err := os.MkdirTemp("", "bai-bench-chromium-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(profile)
	alloc, cancelAlloc := chrome.NewAllocator(ctx, profile)
	defer cancelAlloc() // waits for Chromium to exit, before the profile goes
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	if err := chromedp.Do(browser); err != nil {
		return fmt.Errorf("start %s: %w", chrome.Path, err)
	}

	if err := benchRunLatency(ctx, browser, base, sdk, srv.Creds, name, rounds, log, out); err != nil {
		return err
	}
	return benchFirstLoad(ctx, browser, base, srv.Creds, name, log, out)
}

// servesApp tells whether the server answers a browser with the app.
func servesApp(ctx context.Context, base string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/", nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "text/html")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, fmt.Errorf("GET / as a browser: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return false, err
	}
	return strings.Contains(string(b), `<div id="app">`), nil
}

// newTab opens a tab in a fresh browser context (own cookies, storage and
// HTTP cache) at 1280×800.
func newTab(browser context.Context) (context.Context, context.CancelFunc, error) {
	tab, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(tab, chromedp.EmulateViewport(1280, 800)); err != nil {
		cancel()
		return nil, nil, fmt.Errorf("open a tab: %w", err)
	}
	return tab, cancel, nil
}

// runJS evaluates an expression (awaiting a promise) within limit.
func runJS[T any](ctx context.Context, limit time.Duration, what, expr string) (T, error) {
	c, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	v, err := chromedp.Run(c, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		return v, fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
}

// untilJS waits until a JavaScript expression is truthy, checking on every
// DOM mutation (and every 50 ms, for changes that are not mutations).
func untilJS(ctx context.Context, limit time.Duration, what, expr string) error {
	c, cancel := context.WithTimeout(ctx, limit+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(c, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(limit)))
	if err != nil {
		return fmt.Errorf("wait for %s: %w (page: %s)", what, err, pageText(ctx))
	}
	return nil
}

// pageText is the page's path and visible text, for error messages.
func pageText(ctx context.Context) string {
	s, err := runJS[string](ctx, 5*time.Second, "page text", `location.pathname + " " + (document.body ? document.body.innerText : "")`)
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return clip(strings.Join(strings.Fields(s), " "), 600)
}

// jsQuote quotes s as a JavaScript string.
func jsQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// --- 1. Run → first output ----------------------------------------------

// pageRun is what the page measured of one run (milliseconds).
type pageRun struct {
	// DOM is keydown → the output's text in the cell (MutationObserver).
	DOM float64 `json:"dom"`
	// Frame is keydown → the next animation frame after that (the frame
	// that paints the output).
	Frame float64 `json:"frame"`
	// App is the app's own data-first-output-ms: from its Run handler to
	// the output added (it leaves out the key's way to the handler).
	App  float64 `json:"app"`
	Text string  `json:"text"`
	Cell string  `json:"cell"`
}

// armRun is evaluated before each key press: the next Shift+Enter starts
// the clock, and a MutationObserver on the output of the cell that has the
// focus stops it at the first text. The result is a promise the bench
// awaits after the key press.
const armRun = `(() => {
  const b = window.__baiBench || (window.__baiBench = {});
  b.result = new Promise((resolve, reject) => {
    const onKey = (ev) => {
      if (ev.key !== "Enter" || !ev.shiftKey) return;
      window.removeEventListener("keydown", onKey, true);
      const t0 = performance.now();
      const cell = document.activeElement && document.activeElement.closest("#cells .cell");
      if (!cell) { reject(new Error("Shift+Enter outside a cell")); return; }
      const out = cell.querySelector(".output");
      const mo = new MutationObserver(() => {
        const text = out.textContent;
        if (!text) return;
        const t1 = performance.now();
        mo.disconnect();
        requestAnimationFrame(() => resolve({
          dom: t1 - t0, frame: performance.now() - t0,
          app: Number(cell.dataset.firstOutputMs ?? -1), text, cell: cell.dataset.cell,
        }));
      });
      mo.observe(out, {childList: true, subtree: true, characterData: true});
    };
    window.addEventListener("keydown", onKey, true);
  });
  return true;
})()`

// signIn signs in with the keypair through the login form.
func signIn(ctx context.Context, base string, cr devserver.Credentials) error {
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(c, chromedp.Navigate(base+"/login")); err != nil {
		return fmt.Errorf("open /login: %w", err)
	}
	if err := untilJS(ctx, 20*time.Second, "the login form", `!!document.querySelector("#login-submit")`); err != nil {
		return err
	}
	if err := chromedp.Do(c,
		chromedp.SendKeys(chromedp.CSS("#access-key"), cr.AccessKey),
		chromedp.SendKeys(chromedp.CSS("#secret-key"), cr.SecretKey),
		chromedp.Click(chromedp.CSS("#login-submit")),
	); err != nil {
		return fmt.Errorf("fill the login form: %w", err)
	}
	return untilJS(ctx, 20*time.Second, "the signed-in top bar", `!!document.querySelector("#user-email")`)
}

// runInPage types code into the last cell (which has the focus after the
// previous Shift+Enter), presses Shift+Enter and returns the page's
// figures once the run is done.
func runInPage(ctx context.Context, code string) (pageRun, error) {
	last := `document.querySelector("#cells .cell:last-child .cm-content")`
	if _, err := runJS[bool](ctx, 10*time.Second, "focus the last cell", `(e => { e.focus(); return document.activeElement === e; })(`+last+`)`); err != nil {
		return pageRun{}, err
	}
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(c, chrome.InsertText(code)); err != nil {
		return pageRun{}, fmt.Errorf("type %q: %w", code, err)
	}
	if err := untilJS(ctx, 10*time.Second, "the typed code in the editor", last+`.textContent === `+jsQuote(code)); err != nil {
		return pageRun{}, err
	}
	if _, err := runJS[bool](ctx, 10*time.Second, "arm the clock", armRun); err != nil {
		return pageRun{}, err
	}
	if err := chromedp.Do(c, chrome.PressEnter(chrome.ModShift)); err != nil {
		return pageRun{}, fmt.Errorf("press Shift+Enter: %w", err)
	}
	r, err := runJS[pageRun](ctx, 60*time.Second, "the first output of "+code, `window.__baiBench.result`)
	if err != nil {
		return r, fmt.Errorf("%w (page: %s)", err, pageText(ctx))
	}
	cell := `document.querySelector('[data-cell="` + r.Cell + `"]')`
	if err := untilJS(ctx, 60*time.Second, "the cell to finish", `["done", "failed"].includes(`+cell+`.dataset.state)`); err != nil {
		return r, err
	}
	if st, err := runJS[string](ctx, 5*time.Second, "the cell's state", cell+`.dataset.state`); err != nil {
		return r, err
	} else if st != "done" {
		return r, fmt.Errorf("the cell of %s failed: %s", code, pageText(ctx))
	}
	return r, nil
}

// firstStdout runs code through run (StreamCode or RunCode) and returns
// the time from the call to its first stdout item, and that item's text.
func firstStdout(ctx context.Context, run func(context.Context, string, string, string, map[string]any, client.Handler) (int, error), session, code string) (time.Duration, string, error) {
	var took time.Duration
	var text string
	start := time.Now()
	h := client.Handlers{Console: func(it client.ConsoleItem) {
		if it.Type == "stdout" && took == 0 {
			took = time.Since(start)
			text = it.Text
		}
	}}
	c, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := run(c, session, client.ModeQuery, code, nil, h); err != nil {
		return 0, "", err
	}
	if took == 0 {
		return 0, "", fmt.Errorf("%s printed nothing", code)
	}
	return took, text, nil
}

// benchRunLatency measures Run → first output in the page and through the
// API, alternating, in rounds rounds.
func benchRunLatency(ctx context.Context, browser context.Context, base string, sdk *client.Client, cr devserver.Credentials, session string, rounds int, log *slog.Logger, out io.Writer) error {
	tab, cancel, err := newTab(browser)
	if err != nil {
		return err
	}
	defer cancel()
	if err := signIn(tab, base, cr); err != nil {
		return err
	}
	nc, ncancel := context.WithTimeout(tab, 30*time.Second)
	err = chromedp.Do(nc, chromedp.Navigate(base+"/app/notebook/"+session))
	ncancel()
	if err != nil {
		return fmt.Errorf("open the notebook: %w", err)
	}
	if err := untilJS(tab, 60*time.Second, "the notebook's editor",
		`!!document.querySelector("#cells .cell .cm-content") && !document.querySelector("#cells .cell button.run").disabled`); err != nil {
		return err
	}

	var dom, frame, app, stream, poll, diff []time.Duration
	sides := []string{"page", "stream", "poll"}
	log.Info("web bench: run → first output", "rounds", rounds, "warmup", webWarmup)
	for r := -webWarmup; r < rounds; r++ {
		want := fmt.Sprint(r + 1000) // another number each round: a stale output cannot pass
		code := "print(" + want + ")"
		var pageDOM, streamT time.Duration
		for i := range sides {
			switch sides[(i+r+webWarmup)%len(sides)] {
			case "page":
				p, err := runInPage(tab, code)
				if err != nil {
					return err
				}
				if strings.TrimSpace(p.Text) != want {
					return fmt.Errorf("the page showed %q for %s", p.Text, code)
				}
				pageDOM = msDur(p.DOM)
				if r >= 0 {
					dom, frame, app = append(dom, pageDOM), append(frame, msDur(p.Frame)), append(app, msDur(p.App))
				}
			case "stream":
				d, text, err := firstStdout(ctx, sdk.StreamCode, session, code)
				if err != nil {
					return err
				}
				if strings.TrimSpace(text) != want {
					return fmt.Errorf("StreamCode printed %q for %s", text, code)
				}
				streamT = d
				if r >= 0 {
					stream = append(stream, d)
				}
			case "poll":
				d, text, err := firstStdout(ctx, sdk.RunCode, session, code)
				if err != nil {
					return err
				}
				if strings.TrimSpace(text) != want {
					return fmt.Errorf("RunCode printed %q for %s", text, code)
				}
				if r >= 0 {
					poll = append(poll, d)
				}
			}
		}
		if r >= 0 {
			diff = append(diff, pageDOM-streamT)
		}
	}

	pd, sd := quantile(dom, 0.5), quantile(stream, 0.5)
	extra := pd - sd
	fmt.Fprintf(out, "\nweb: Run → first output (print(N) in one Python session; %d rounds alternating page, execute stream and polling API; median [interquartile range])\n\n", rounds)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "path\tRun → first output\tpage − stream\ttarget")
	fmt.Fprintln(tw, "----\t------------------\t-------------\t------")
	iqr := func(d []time.Duration) string {
		return fmt.Sprintf("%s [%s–%s]", msf(quantile(d, 0.5)), msf(quantile(d, 0.25)), msf(quantile(d, 0.75)))
	}
	target := "≤ 20 ms ok"
	if extra > 20*time.Millisecond {
		target = "≤ 20 ms MISSED"
	}
	fmt.Fprintf(tw, "page: Shift+Enter keydown → output text in the cell (in-page clock)\t%s\t%s (paired: %s)\t%s\n", iqr(dom), msf(extra), iqr(diff), target)
	fmt.Fprintf(tw, "page: … → the next animation frame\t%s\t%s\t(info)\n", iqr(frame), msf(quantile(frame, 0.5)-sd))
	fmt.Fprintf(tw, "page: the app's data-first-output-ms (Run handler → output added)\t%s\t%s\t(info)\n", iqr(app), msf(quantile(app, 0.5)-sd))
	fmt.Fprintf(tw, "API: Go SDK StreamCode (dial + send → first stdout)\t%s\t-\t(baseline)\n", iqr(stream))
	fmt.Fprintf(tw, "API: Go SDK RunCode, POST /session/{name} (→ first stdout)\t%s\t%s\t(info)\n", iqr(poll), msf(pd-quantile(poll, 0.5)))
	log.Info("web bench: run → first output", "page", pd, "stream", sd, "poll", quantile(poll, 0.5))
	return tw.Flush()
}

// msDur converts milliseconds to a Duration.
func msDur(ms float64) time.Duration { return time.Duration(ms * float64(time.Millisecond)) }

// msf formats a duration in milliseconds with one decimal.
func msf(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

// --- 2. First load --------------------------------------------------------

// ttiProbe runs in every new document before the app's scripts and
// resolves window.__baiTTI with performance.now() at the first moment the
// page takes typing (see the comment at the top of this file).
const ttiProbe = `(() => {
  if (window.top !== window) return;
  let resolve;
  window.__baiTTI = new Promise((r) => { resolve = r; });
  const ready = () => {
    const a = document.activeElement;
    if (location.pathname === "/login") {
      const b = document.getElementById("login-submit");
      return !!b && !b.disabled && !!a && a.id === "access-key";
    }
    if (location.pathname.startsWith("/app/notebook/")) {
      const run = document.querySelector("#cells .cell button.run");
      return !!run && !run.disabled && !!a && a.classList.contains("cm-content") && a.isContentEditable && !!a.closest("#cells");
    }
    return false;
  };
  let fired = false;
  const check = () => {
    if (fired || !ready()) return;
    fired = true;
    resolve(performance.now());
    mo.disconnect();
    document.removeEventListener("focusin", check, true);
  };
  const mo = new MutationObserver(check);
  mo.observe(document, {subtree: true, childList: true, attributes: true});
  document.addEventListener("focusin", check, true);
})();`

// netRequest is one request of a page load, from the Network events.
type netRequest struct {
	done    bool
	cached  bool // served from the memory or disk cache
	encoded float64
	decoded int64
}

// netRecorder sums the Network events of the loads of one tab.
type netRecorder struct {
	mu     sync.Mutex
	reqs   map[network.RequestID]*netRequest
	change chan struct{}
}

func newNetRecorder() *netRecorder {
	return &netRecorder{reqs: map[network.RequestID]*netRequest{}, change: make(chan struct{}, 1)}
}

// reset starts a new load: requests of an earlier one are ignored.
func (n *netRecorder) reset() {
	n.mu.Lock()
	n.reqs = map[network.RequestID]*netRequest{}
	n.mu.Unlock()
}

// on is the tab's event listener; it runs on the protocol's read loop, so
// it only updates counters.
func (n *netRecorder) on(ev any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		if e.Type == network.ResourceTypeEventSource || e.Type == network.ResourceTypeWebSocket {
			return // long-lived streams: no end to wait for
		}
		if _, ok := n.reqs[e.RequestID]; !ok { // a redirect keeps its id
			n.reqs[e.RequestID] = &netRequest{}
		}
	case *network.EventRequestServedFromCache:
		if r := n.reqs[e.RequestID]; r != nil {
			r.cached = true
		}
	case *network.EventResponseReceived:
		if r := n.reqs[e.RequestID]; r != nil && e.Response != nil && (e.Response.FromDiskCache || e.Response.FromPrefetchCache) {
			r.cached = true
		}
	case *network.EventDataReceived:
		if r := n.reqs[e.RequestID]; r != nil {
			r.decoded += e.DataLength
		}
	case *network.EventLoadingFinished:
		if r := n.reqs[e.RequestID]; r != nil {
			r.done, r.encoded = true, e.EncodedDataLength
		}
	case *network.EventLoadingFailed:
		if r := n.reqs[e.RequestID]; r != nil {
			r.done = true
		}
	default:
		return
	}
	select {
	case n.change <- struct{}{}:
	default:
	}
}

// settle waits until every request of the load has ended and sums them.
func (n *netRecorder) settle(ctx context.Context, limit time.Duration) (loadFigures, error) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		n.mu.Lock()
		var f loadFigures
		open := 0
		for _, r := range n.reqs {
			f.requests++
			if r.cached {
				f.cached++
			}
			f.encoded += int64(r.encoded)
			f.decoded += r.decoded
			if !r.done {
				open++
			}
		}
		n.mu.Unlock()
		if open == 0 {
			return f, nil
		}
		select {
		case <-n.change:
		case <-deadline.C:
			return f, fmt.Errorf("%d of %d requests still open after %v", open, f.requests, limit)
		case <-ctx.Done():
			return f, ctx.Err()
		}
	}
}

// loadFigures are the figures of one page load.
type loadFigures struct {
	requests, cached int
	encoded, decoded int64
	dcl, load, tti   time.Duration
}

// loadTab is a tab in a fresh browser context with the TTI probe and the
// network recorder installed.
type loadTab struct {
	ctx    context.Context
	cancel context.CancelFunc
	net    *netRecorder
}

func newLoadTab(browser context.Context) (*loadTab, error) {
	ctx, cancel, err := newTab(browser)
	if err != nil {
		return nil, err
	}
	lt := &loadTab{ctx: ctx, cancel: cancel, net: newNetRecorder()}
	if err := chromedp.Listen(ctx, lt.net.on); err != nil {
		cancel()
		return nil, err
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		cancel()
		return nil, fmt.Errorf("enable network events: %w", err)
	}
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: ttiProbe}); err != nil {
		cancel()
		return nil, fmt.Errorf("add the TTI probe: %w", err)
	}
	return lt, nil
}

// cache turns the tab's HTTP cache on or off.
func (lt *loadTab) cache(on bool) error {
	_, err := chromedp.Call(lt.ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: !on})
	return err
}

// load navigates to url and returns the load's figures.
func (lt *loadTab) load(url string) (loadFigures, error) {
	lt.net.reset()
	c, cancel := context.WithTimeout(lt.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(c, chromedp.Navigate(url)); err != nil {
		return loadFigures{}, fmt.Errorf("load %s: %w", url, err)
	}
	tti, err := runJS[float64](lt.ctx, 30*time.Second, "time to interactive of "+url, `window.__baiTTI`)
	if err != nil {
		return loadFigures{}, fmt.Errorf("%w (page: %s)", err, pageText(lt.ctx))
	}
	nav, err := runJS[[]float64](lt.ctx, 10*time.Second, "navigation timing",
		`(n => [n.domContentLoadedEventStart, n.loadEventStart])(performance.getEntriesByType("navigation")[0])`)
	if err != nil {
		return loadFigures{}, err
	}
	f, err := lt.net.settle(lt.ctx, 15*time.Second)
	if err != nil {
		return f, fmt.Errorf("load %s: %w", url, err)
	}
	f.dcl, f.load, f.tti = msDur(nav[0]), msDur(nav[1]), msDur(tti)
	return f, nil
}

// benchFirstLoad loads /login and the notebook webLoads times each, cold
// and warm, and prints the medians.
func benchFirstLoad(ctx context.Context, browser context.Context, base string, cr devserver.Credentials, session string, log *slog.Logger, out io.Writer) error {
	type key struct{ page, cache string }
	figs := map[key][]loadFigures{}
	pages := []struct{ name, url string }{{"/login", base + "/login"}, {"notebook", base + "/app/notebook/" + session}}
	login := fmt.Sprintf(`fetch("/auth/login", {method: "POST", credentials: "same-origin", headers: {"Content-Type": "application/json"}, body: JSON.stringify({accessKey: %s, secretKey: %s})}).then(r => r.status)`,
		jsQuote(cr.AccessKey), jsQuote(cr.SecretKey))
	log.Info("web bench: first load", "loads", webLoads)
	for range webLoads {
		err := func() error {
			lt, err := newLoadTab(browser)
			if err != nil {
				return err
			}
			defer lt.cancel()
			// Cold: a new browser context, and no cache between the two
			// pages either.
			if err := lt.cache(false); err != nil {
				return err
			}
			for i, p := range pages {
				f, err := lt.load(p.url)
				if err != nil {
					return err
				}
				figs[key{p.name, "cold"}] = append(figs[key{p.name, "cold"}], f)
				if i == 0 {
					if st, err := runJS[int](lt.ctx, 20*time.Second, "sign in", login); err != nil {
						return err
					} else if st != http.StatusOK {
						return fmt.Errorf("POST /auth/login from the page: %d", st)
					}
				}
			}
			// Warm: one load of each with the cache on, then the measured one.
			if err := lt.cache(true); err != nil {
				return err
			}
			for _, p := range pages {
				if _, err := lt.load(p.url); err != nil {
					return err
				}
			}
			for _, p := range pages {
				f, err := lt.load(p.url)
				if err != nil {
					return err
				}
				figs[key{p.name, "warm"}] = append(figs[key{p.name, "warm"}], f)
			}
			return nil
		}()
		if err != nil {
			return err
		}
	}

	fmt.Fprintf(out, "\nweb: first load of the app (median of %d loads; cold: a new browser context with the cache disabled; warm: the same page loaded once before; interactive: the page takes typing)\n\n", webLoads)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "page\tcache\ttransferred\tdecoded\trequests (from cache)\tDOMContentLoaded\tload\tinteractive [IQR]")
	fmt.Fprintln(tw, "----\t-----\t-----------\t-------\t---------------------\t----------------\t----\t-----------------")
	for _, cache := range []string{"cold", "warm"} {
		for _, p := range pages {
			fs := figs[key{p.name, cache}]
			pick := func(get func(loadFigures) time.Duration) []time.Duration {
				var d []time.Duration
				for _, f := range fs {
					d = append(d, get(f))
				}
				return d
			}
			n := func(get func(loadFigures) int64) int64 {
				return int64(quantile(pick(func(f loadFigures) time.Duration { return time.Duration(get(f)) }), 0.5))
			}
			tti := pick(func(f loadFigures) time.Duration { return f.tti })
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d (%d)\t%s\t%s\t%s [%s–%s]\n", p.name, cache,
				kib(n(func(f loadFigures) int64 { return f.encoded })), kib(n(func(f loadFigures) int64 { return f.decoded })),
				n(func(f loadFigures) int64 { return int64(f.requests) }), n(func(f loadFigures) int64 { return int64(f.cached) }),
				msf(quantile(pick(func(f loadFigures) time.Duration { return f.dcl }), 0.5)),
				msf(quantile(pick(func(f loadFigures) time.Duration { return f.load }), 0.5)),
				msf(quantile(tti, 0.5)), msf(quantile(tti, 0.25)), msf(quantile(tti, 0.75)))
		}
	}
	return tw.Flush()
}

// kib formats a byte count in KiB.
func kib(b int64) string { return fmt.Sprintf("%.1f KiB", float64(b)/1024) }
