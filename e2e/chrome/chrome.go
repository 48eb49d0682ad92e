// Package chrome holds what the browser tests and the web benchmark share
// about driving Debian's Chromium with chromedp: where it is, the flags it
// needs on a closed, headless machine, and key input as a keyboard sends it.
package chrome

import (
	"context"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// Path is Debian's Chromium (scripts/ensure-test-deps.sh installs it). No
// test or benchmark ever downloads a browser.
const Path = "/usr/bin/chromium"

// ModShift is the DevTools protocol's modifier bit for Shift (Ctrl is 2).
const (
	ModCtrl  = 2
	ModShift = 8
)

// NewAllocator starts Chromium headless with a fresh profile in
// userDataDir. The flags keep it off the network it cannot reach here
// (background requests, component updates, sync, QUIC) and give every page
// a 1280×800 window. cancel waits for Chromium to exit, so call it before
// the profile directory is removed.
func NewAllocator(ctx context.Context, userDataDir string) (context.Context, context.CancelFunc) {
	return chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(Path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("window-size", "1280,800"),
		chromedp.UserDataDir(userDataDir),
	)
}

// PressEnter sends the Enter key (with modifiers) as a key-down and key-up
// only, the way a keyboard does; a char event would make editors that
// handle Enter themselves insert a second line break.
func PressEnter(modifiers int64) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeRawKeyDown, input.DispatchKeyEventTypeKeyUp} {
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, input.DispatchKeyEventParams{
				Type: typ, Key: "Enter", Code: "Enter", Modifiers: modifiers,
				WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13,
			}); err != nil {
				return err
			}
		}
		return nil
	})
}

// InsertText types text into the focused element as one insertion (as a
// paste would), so that an editor's auto-indent and bracket closing leave
// multi-line code as written.
func InsertText(text string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: text})
		return err
	})
}
