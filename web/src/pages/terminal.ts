// A shell in the session: xterm.js on the pty WebSocket
// (GET /stream/session/{name}/pty). Keyboard bytes go as binary frames, the
// window's size as {"type":"resize"} text frames whenever it changes.
import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";

import { api, ApiError, enc, wsURL, type SessionInfo } from "../api";
import { errorBox, h, replace, spinner } from "../dom";
import type { PageContext } from "../router";

export async function terminalPage({ root, params, signal }: PageContext): Promise<void> {
  const name = params.name;
  const state = h("span", { class: "live", id: "term-state", "aria-live": "polite" }, "connecting…");
  const reconnect = h("button", { type: "button", id: "term-reconnect", hidden: true }, "Reconnect");
  const msg = h("div", { "aria-live": "polite" });
  const box = h("div", { class: "terminal", id: "terminal" });
  replace(
    root,
    h(
      "div",
      { class: "page-head" },
      h("h1", null, `Terminal · ${name}`),
      state,
      reconnect,
      h("a", { class: "button", href: `/app/notebook/${enc(name)}` }, "Notebook"),
    ),
    msg,
    box,
  );

  const term = new Terminal({
    cursorBlink: true,
    convertEol: false,
    fontFamily: 'ui-monospace, "DejaVu Sans Mono", "Liberation Mono", Menlo, monospace',
    fontSize: 14,
    scrollback: 5000,
    screenReaderMode: false,
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(box);
  const enc8 = new TextEncoder();
  let ws: WebSocket | null = null;

  const sendSize = () => {
    // The size is on the element too, for tests and for the curious.
    box.dataset.cols = String(term.cols);
    box.dataset.rows = String(term.rows);
    if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "resize", cols: term.cols, rows: term.rows }));
  };
  const refit = () => {
    try {
      fit.fit();
    } catch {
      // not laid out yet (hidden); the next resize fits
    }
  };
  term.onResize(sendSize);
  term.onData((d) => {
    if (ws?.readyState === WebSocket.OPEN) ws.send(enc8.encode(d));
  });
  term.onBinary((d) => {
    if (ws?.readyState !== WebSocket.OPEN) return;
    const b = new Uint8Array(d.length);
    for (let i = 0; i < d.length; i++) b[i] = d.charCodeAt(i) & 0xff;
    ws.send(b);
  });
  const ro = new ResizeObserver(() => refit());
  ro.observe(box);
  window.addEventListener("resize", refit, { signal });

  const connect = () => {
    reconnect.hidden = true;
    state.textContent = "connecting…";
    state.classList.remove("on");
    msg.replaceChildren();
    let opened = false;
    const sock = new WebSocket(wsURL(`/stream/session/${enc(name)}/pty`));
    sock.binaryType = "arraybuffer";
    ws = sock;
    sock.onopen = () => {
      opened = true;
      state.textContent = "connected";
      state.classList.add("on");
      refit();
      sendSize();
      term.focus();
    };
    sock.onmessage = (ev) => {
      if (ev.data instanceof ArrayBuffer) term.write(new Uint8Array(ev.data));
      else if (typeof ev.data === "string") term.write(ev.data);
    };
    sock.onclose = async (ev) => {
      if (signal.aborted || ws !== sock) return;
      state.classList.remove("on");
      reconnect.hidden = false;
      if (opened) {
        state.textContent = "closed";
        term.write(`\r\n\x1b[2m[the shell ended${ev.code !== 1000 && ev.code !== 1005 ? ` (${ev.code}${ev.reason ? `: ${ev.reason}` : ""})` : ""}; Reconnect starts a new one]\x1b[0m\r\n`);
        return;
      }
      state.textContent = "not connected";
      replace(msg, spinner("Finding out why…"));
      replace(msg, errorBox(await why(name), "The terminal could not connect"));
    };
  };
  reconnect.addEventListener("click", () => connect());
  signal.addEventListener("abort", () => {
    ro.disconnect();
    const s = ws;
    ws = null;
    s?.close(1000);
    term.dispose();
  });
  refit();
  connect();
}

// why explains a refused pty handshake (the browser sees no status).
async function why(name: string): Promise<ApiError> {
  try {
    const s = await api<SessionInfo>("GET", `/session/${enc(name)}`);
    if (s.status !== "RUNNING") return new ApiError(409, `The session is ${s.status}`, "A terminal needs a RUNNING session; start a new one from the session list.");
    return new ApiError(400, "The session has no terminal", "Its image may not include the terminal app, or the server refused the connection; the notebook still works.");
  } catch (e) {
    if (e instanceof ApiError) return e;
    return new ApiError(0, "The server could not be reached", "Check your connection, then press Reconnect.");
  }
}
