// The notebook: code cells with a CodeMirror editor, run one at a time over
// the execute WebSocket; output streams in as it comes, input() asks inline,
// and cells with their outputs are kept in localStorage per session.
import { autocompletion, closeBrackets, closeBracketsKeymap } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from "@codemirror/language";
import { Compartment, EditorState, type Extension } from "@codemirror/state";
import { drawSelection, EditorView, highlightSpecialChars, keymap, placeholder } from "@codemirror/view";

import { api, ApiError, enc, type SessionInfo } from "../api";
import { describeError, errorBox, h, replace, spinner, statusBadge } from "../dom";
import { displayName, highlighting, languageOf } from "../languages";
import type { PageContext } from "../router";
import { runCode, SpareStream } from "../notebook/exec";
import { DrawingRegistry, Output, type OutItem } from "../notebook/output";
import { load, save, type CellData, type NotebookData } from "../notebook/store";

interface Cell {
  data: CellData;
  el: HTMLElement;
  view: EditorView;
  out: Output;
  countEl: HTMLElement;
  runBtn: HTMLButtonElement;
}

function newId(): string {
  return Math.random().toString(36).slice(2, 10) + Date.now().toString(36);
}

export async function notebookPage({ root, params, signal }: PageContext): Promise<void> {
  const name = params.name;
  replace(root, h("h1", null, name), spinner("Opening the session…"));
  let info: SessionInfo;
  try {
    info = await api<SessionInfo>("GET", `/session/${enc(name)}`, undefined, { signal });
  } catch (e) {
    if (signal.aborted) return;
    replace(root, h("h1", null, name), errorBox(e, "Could not open this session"), h("p", null, h("a", { href: "/app/sessions" }, "Back to your sessions")));
    return;
  }
  if (signal.aborted) return;

  const lang = languageOf(info.image);
  const langExt = new Compartment();
  const drawings = new DrawingRegistry();
  const nb: NotebookData = load(info.sessionId) ?? { version: 1, session: info.sessionName, counter: 0, cells: [] };
  const cells: Cell[] = [];
  const queue: Cell[] = [];
  let running: Cell | null = null;
  let lastFocused: Cell | null = null; // where "+ Cell" adds
  let runAbort: AbortController | null = null;
  let sessionStatus = info.status;
  const spare = new SpareStream(info.sessionName);
  // warm opens the next run's stream while the reader works on a cell.
  const warm = () => {
    if (sessionStatus === "RUNNING") spare.warm();
  };

  // --- page frame -------------------------------------------------------
  const badge = h("span", { id: "session-status" }, statusBadge(info.status));
  const banner = h("div", { id: "nb-banner", "aria-live": "polite" });
  const storeWarn = h("div", { "aria-live": "polite" });
  const interruptBtn = h("button", { type: "button", id: "interrupt", title: "Stop the running cell (KeyboardInterrupt)" }, "■ Interrupt");
  const restartBtn = h("button", { type: "button", id: "restart", title: "Restart the kernel: variables are lost, files in /home/work stay" }, "↻ Restart");
  const runAllBtn = h("button", { type: "button", id: "run-all" }, "▶▶ Run all");
  const addBtn = h("button", { type: "button", id: "add-cell" }, "+ Cell");
  const clearBtn = h("button", { type: "button", id: "clear-outputs" }, "Clear outputs");
  const list = h("div", { class: "cells", id: "cells" });
  replace(
    root,
    h(
      "div",
      { class: "page-head" },
      h("h1", null, info.sessionName),
      badge,
      h("span", { class: "muted" }, `${displayName(lang)} · ${info.image}`),
      h("a", { class: "button", href: `/app/terminal/${enc(info.sessionName)}` }, "Terminal"),
    ),
    h("div", { class: "toolbar", role: "toolbar", "aria-label": "Notebook" }, runAllBtn, interruptBtn, restartBtn, addBtn, clearBtn),
    h("p", { class: "hint" }, h("kbd", null, "Shift+Enter"), " runs a cell and moves on; ", h("kbd", null, "Ctrl+Enter"), " (", h("kbd", null, "⌘+Enter"), ") runs it in place; ", h("kbd", null, "Esc"), " then ", h("kbd", null, "Tab"), " leaves the editor."),
    banner,
    storeWarn,
    list,
  );

  let saveTimer = 0;
  const persist = (now = false) => {
    window.clearTimeout(saveTimer);
    const doSave = () => {
      nb.cells = cells.map((c) => ({ ...c.data, code: c.view.state.doc.toString() }));
      const warn = save(info.sessionId, nb);
      replace(storeWarn, warn ? h("p", { class: "notice" }, warn) : null);
    };
    if (now) doSave();
    else saveTimer = window.setTimeout(doSave, 300);
  };
  signal.addEventListener("abort", () => {
    persist(true);
    runAbort?.abort();
    spare.close();
    for (const c of cells) c.view.destroy();
  });
  window.addEventListener("beforeunload", () => persist(true), { signal });

  const setBanner = () => {
    if (sessionStatus !== "RUNNING") spare.close();
    if (sessionStatus === "RUNNING") replace(banner);
    else
      replace(
        banner,
        h("p", { class: "error", role: "alert" }, `The session is ${sessionStatus}${info.statusInfo ? ` (${info.statusInfo})` : ""}: code cannot run. `, h("a", { href: "/app/sessions/new" }, "Start a new session"), "."),
      );
    for (const c of cells) c.runBtn.disabled = sessionStatus !== "RUNNING";
    interruptBtn.disabled = restartBtn.disabled = runAllBtn.disabled = sessionStatus !== "RUNNING";
  };

  // --- cells ------------------------------------------------------------
  const langSupport: Extension = await highlighting(lang).catch(() => []);
  if (signal.aborted) return;

  const setCount = (c: Cell) => {
    const s = c.data.state;
    c.countEl.textContent = s === "running" ? "[*]" : s === "queued" ? "[…]" : c.data.count !== null ? `[${c.data.count}]` : "[ ]";
    c.el.dataset.state = s;
    c.el.setAttribute("aria-busy", s === "running" || s === "queued" ? "true" : "false");
  };

  const focusCell = (i: number) => {
    const c = cells[Math.max(0, Math.min(i, cells.length - 1))];
    if (c) {
      c.view.focus();
      c.el.scrollIntoView({ block: "nearest" });
    }
  };

  // relabel numbers the cells. Only labels that change are written:
  // CodeMirror watches its content element's attributes, and every write
  // makes that editor update and measure itself in the next frame, which
  // with many cells would cost milliseconds on every Shift+Enter.
  const relabel = () => {
    const label = (el: HTMLElement, v: string) => {
      if (el.getAttribute("aria-label") !== v) el.setAttribute("aria-label", v);
    };
    cells.forEach((c, i) => {
      label(c.el, `Cell ${i + 1}`);
      label(c.view.contentDOM, `Code of cell ${i + 1}`);
    });
  };

  const makeCell = (data: CellData, at = cells.length): Cell => {
    const countEl = h("span", { class: "count", "aria-hidden": "true" });
    const outEl = h("div", { class: "output", "aria-live": "polite" });
    const runBtn = h("button", { type: "button", class: "icon run", title: "Run (Shift+Enter)", "aria-label": "Run cell" }, "▶");
    const upBtn = h("button", { type: "button", class: "icon", title: "Move up", "aria-label": "Move cell up" }, "↑");
    const downBtn = h("button", { type: "button", class: "icon", title: "Move down", "aria-label": "Move cell down" }, "↓");
    const delBtn = h("button", { type: "button", class: "icon", title: "Delete cell", "aria-label": "Delete cell" }, "✕");
    const editorEl = h("div", { class: "editor" });
    const el = h(
      "section",
      { class: "cell", "data-cell": data.id },
      h("div", { class: "cell-side" }, countEl),
      h("div", { class: "cell-main" }, h("div", { class: "cell-tools" }, runBtn, upBtn, downBtn, delBtn), editorEl, outEl),
    );
    const cell: Cell = { data, el, view: null as unknown as EditorView, out: new Output(outEl, drawings), countEl, runBtn };
    const runKeys = keymap.of([
      {
        key: "Shift-Enter",
        preventDefault: true,
        run: () => {
          enqueue(cell);
          const i = cells.indexOf(cell);
          if (i === cells.length - 1) addCell(i + 1);
          else focusCell(i + 1);
          return true;
        },
      },
      {
        key: "Mod-Enter",
        preventDefault: true,
        run: () => {
          enqueue(cell);
          return true;
        },
      },
    ]);
    cell.view = new EditorView({
      parent: editorEl,
      state: EditorState.create({
        doc: data.code,
        extensions: [
          runKeys,
          highlightSpecialChars(),
          history(),
          drawSelection(),
          indentOnInput(),
          bracketMatching(),
          closeBrackets(),
          autocompletion({ activateOnTyping: false }),
          syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
          placeholder("Write code; Shift+Enter runs it"),
          keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, indentWithTab]),
          langExt.of(langSupport),
          EditorView.lineWrapping,
          EditorView.updateListener.of((u) => {
            if (u.docChanged) {
              persist();
              warm();
            }
            if (u.focusChanged && u.view.hasFocus) {
              lastFocused = cell;
              warm();
            }
          }),
        ],
      }),
    });
    runBtn.addEventListener("click", () => enqueue(cell));
    upBtn.addEventListener("click", () => move(cell, -1));
    downBtn.addEventListener("click", () => move(cell, 1));
    delBtn.addEventListener("click", () => removeCell(cell));
    runBtn.disabled = sessionStatus !== "RUNNING";
    cells.splice(at, 0, cell);
    const next = list.children[at] ?? null;
    list.insertBefore(el, next);
    setCount(cell);
    relabel();
    return cell;
  };

  const addCell = (at = cells.length, code = "") => {
    const c = makeCell({ id: newId(), code, outputs: [], count: null, state: "idle" }, at);
    persist();
    c.view.focus();
    return c;
  };

  const move = (c: Cell, d: number) => {
    const i = cells.indexOf(c);
    const j = i + d;
    if (j < 0 || j >= cells.length) return;
    cells.splice(i, 1);
    cells.splice(j, 0, c);
    if (d < 0) list.insertBefore(c.el, cells[j + 1].el);
    else list.insertBefore(c.el, cells[j - 1].el.nextSibling);
    relabel();
    persist();
    c.view.focus();
  };

  const removeCell = (c: Cell) => {
    if (c === running) {
      replace(banner, h("p", { class: "notice" }, "A running cell cannot be deleted: interrupt it first."));
      return;
    }
    const qi = queue.indexOf(c);
    if (qi >= 0) queue.splice(qi, 1);
    const i = cells.indexOf(c);
    cells.splice(i, 1);
    if (lastFocused === c) lastFocused = null;
    c.view.destroy();
    c.el.remove();
    if (cells.length === 0) addCell();
    relabel();
    persist();
    focusCell(i);
  };

  const addOutput = (c: Cell, items: OutItem[], live = true) => {
    for (const it of items) {
      c.data.outputs.push(it);
      c.out.add(it, live);
    }
    persist();
  };

  // askInput shows an input field in the cell's output; Enter sends.
  const askInput = (c: Cell, isPassword: boolean): Promise<string> =>
    new Promise((resolve, reject) => {
      // After the answer, focus goes back where the reader was (the next
      // cell, after Shift+Enter).
      const before = document.activeElement as HTMLElement | null;
      const id = `stdin-${c.data.id}`;
      const input = h("input", { id, class: "stdin", type: isPassword ? "password" : "text", autocomplete: "off", spellcheck: "false" });
      const form = h(
        "form",
        { class: "input-prompt" },
        h("label", { for: id }, isPassword ? "Password requested:" : "Input requested:"),
        input,
        h("button", { type: "submit" }, "Send"),
      );
      const onAbort = () => {
        form.remove();
        reject(new DOMException("input cancelled", "AbortError"));
      };
      runAbort?.signal.addEventListener("abort", onAbort, { once: true });
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        runAbort?.signal.removeEventListener("abort", onAbort);
        const v = input.value;
        form.remove();
        addOutput(c, [{ t: "input", data: isPassword ? "••••••" : v }]);
        if (before && before !== document.body && before.isConnected) before.focus();
        else c.view.focus();
        resolve(v);
      });
      c.out.el.appendChild(form);
      input.focus();
    });

  const enqueue = (c: Cell) => {
    if (sessionStatus !== "RUNNING" || c === running || queue.includes(c)) return;
    c.data.state = "queued";
    setCount(c);
    queue.push(c);
    void pump();
  };

  const pump = async () => {
    if (running) return;
    const c = queue.shift();
    if (!c) return;
    running = c;
    runAbort = new AbortController();
    c.data.state = "running";
    c.data.outputs = [];
    c.out.clear();
    c.el.removeAttribute("data-first-output-ms");
    nb.counter++;
    c.data.count = nb.counter;
    setCount(c);
    persist();
    const code = c.view.state.doc.toString();
    // Time from Run to the first output in the page (make bench reads it).
    const t0 = performance.now();
    const stream = spare.take();
    if (queue.length) warm(); // the next queued cell gets a stream ready too
    let first = true;
    try {
      const res = await runCode(
        info.sessionName,
        code,
        {
          output: (items) => {
            addOutput(c, items);
            if (first) {
              first = false;
              c.el.dataset.firstOutputMs = (performance.now() - t0).toFixed(1);
            }
          },
          input: ({ isPassword }) => askInput(c, isPassword),
        },
        runAbort.signal,
        stream,
      );
      if (res.status === "exec-timeout") addOutput(c, [{ t: "note", data: "The run hit its time limit and was stopped." }]);
      c.data.state = res.status === "finished" && (res.exitCode ?? 0) === 0 ? "done" : "failed";
    } catch (e) {
      if (!(e instanceof DOMException && e.name === "AbortError")) {
        const { title, detail } = describeError(e);
        addOutput(c, [{ t: "note", data: detail ? `${title}: ${detail}` : title }]);
        void refreshStatus();
      }
      c.data.state = "failed";
    }
    setCount(c);
    persist();
    running = null;
    runAbort = null;
    void pump();
  };

  const stopQueue = () => {
    for (const q of queue.splice(0)) {
      q.data.state = q.data.count === null ? "idle" : "done";
      setCount(q);
    }
  };

  interruptBtn.addEventListener("click", async () => {
    stopQueue();
    interruptBtn.disabled = true;
    try {
      await api("POST", `/session/${enc(info.sessionName)}/interrupt`);
    } catch (e) {
      replace(banner, errorBox(e, "Could not interrupt"));
    } finally {
      interruptBtn.disabled = sessionStatus !== "RUNNING";
    }
  });

  restartBtn.addEventListener("click", async () => {
    stopQueue();
    restartBtn.disabled = true;
    replace(banner, spinner("Restarting the kernel…"));
    try {
      runAbort?.abort();
      await api("PATCH", `/session/${enc(info.sessionName)}`);
      replace(banner, h("p", { class: "notice" }, "The kernel restarted: variables are gone, files in /home/work stay."));
    } catch (e) {
      replace(banner, errorBox(e, "Could not restart the kernel"));
    } finally {
      restartBtn.disabled = sessionStatus !== "RUNNING";
    }
  });

  runAllBtn.addEventListener("click", () => cells.forEach(enqueue));
  addBtn.addEventListener("click", () => {
    const at = lastFocused ? cells.indexOf(lastFocused) : -1;
    addCell(at >= 0 ? at + 1 : cells.length);
  });
  clearBtn.addEventListener("click", () => {
    for (const c of cells) {
      if (c === running) continue;
      c.data.outputs = [];
      c.out.clear();
    }
    persist();
  });

  // Restore: a run that was going on when the page went away still runs in
  // the kernel, but its stream is gone.
  for (const d of nb.cells) {
    const interrupted = d.state === "running" || d.state === "queued";
    const c = makeCell({ ...d, state: interrupted ? "failed" : d.state });
    for (const it of d.outputs) c.out.add(it, false);
    if (interrupted) addOutput(c, [{ t: "note", data: "The page was reloaded while this cell ran; its further output was not received." }], false);
  }
  if (cells.length === 0) addCell();
  setBanner();
  cells[0]?.view.focus();

  // The session's status, live.
  const refreshStatus = async () => {
    try {
      const s = await api<SessionInfo>("GET", `/session/${enc(info.sessionName)}`, undefined, { signal });
      info = s;
      sessionStatus = s.status;
      replace(badge, statusBadge(s.status));
      setBanner();
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) {
        sessionStatus = "TERMINATED";
        replace(badge, statusBadge(sessionStatus));
        setBanner();
      }
    }
  };
  const es = new EventSource(`/events/session?sessionId=${enc(info.sessionId)}`, { withCredentials: true });
  signal.addEventListener("abort", () => es.close());
  for (const ev of ["session_started", "session_restarted", "session_terminated", "session_cancelled", "session_failure", "session_preparing"]) {
    es.addEventListener(ev, () => void refreshStatus());
  }
}
