// Rendering of execute output: text streams, images, HTML in a sandboxed
// frame and drawings on a canvas. Nothing the kernel sends is ever put into
// this page's DOM as markup: text is text, images are <img> (an SVG in an
// <img> runs no script), HTML lives in an <iframe sandbox> without
// allow-scripts and allow-same-origin.
import { cloneState, emptyState, parseDoc, Player, type CanvasState } from "../drawing";
import { h } from "../dom";

// OutItem is one stored output item of a cell.
export interface OutItem {
  t: "stdout" | "stderr" | "media" | "html" | "log" | "input" | "note";
  data: string;
  mime?: string;
}

// decodeConsole turns one [kind, data] console entry of the execute API
// into an OutItem (null for kinds the notebook does not show).
export function decodeConsole(raw: unknown): OutItem | null {
  if (!Array.isArray(raw) || typeof raw[0] !== "string") return null;
  const kind = raw[0];
  const d = raw[1];
  const text = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v ?? ""));
  switch (kind) {
    case "stdout":
    case "stderr":
      return { t: kind, data: text(d) };
    case "html":
      return { t: "html", data: text(d) };
    case "media":
      if (Array.isArray(d)) return { t: "media", mime: String(d[0] ?? ""), data: text(d[1]) };
      if (d && typeof d === "object") {
        const o = d as Record<string, unknown>;
        return { t: "media", mime: String(o.type ?? ""), data: text(o.data) };
      }
      return null;
    case "log":
      return { t: "log", data: Array.isArray(d) ? text(d[3] ?? d[d.length - 1]) : text(d) };
    default:
      return null;
  }
}

// Escape sequences (colours of tracebacks and progress bars) would show as
// garbage in a <pre>; they are dropped.
const ansiRE = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][A-Za-z0-9]/g;

export function stripAnsi(s: string): string {
  return s.replace(ansiRE, "");
}

const b64RE = /^[A-Za-z0-9+/=\s]*$/;

function utf8Base64(s: string): string {
  const bytes = new TextEncoder().encode(s);
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

// Drawings: the canvas ids a notebook has seen, so that a later cell's
// update() of a canvas shown by an earlier cell starts from its state.
export class DrawingRegistry {
  private states = new Map<string, CanvasState>();

  player(id: string, doc: ReturnType<typeof parseDoc> & object): Player {
    const prev = this.states.get(id);
    const p = new Player(prev && !doc.full ? cloneState(prev) : emptyState(doc));
    this.states.set(id, p.state);
    return p;
  }
}

// Output renders the items of one cell into its output element.
export class Output {
  private lastStream: { t: string; pre: HTMLElement } | null = null;
  private players = new Map<string, Player>();

  constructor(
    readonly el: HTMLElement,
    private drawings: DrawingRegistry,
  ) {}

  clear(): void {
    this.el.replaceChildren();
    this.lastStream = null;
    this.players.clear();
  }

  // add shows one item; live=false (a reload) skips animation.
  add(it: OutItem, live = true): void {
    switch (it.t) {
      case "stdout":
      case "stderr":
      case "log": {
        const text = stripAnsi(it.data);
        if (this.lastStream && this.lastStream.t === it.t) {
          this.lastStream.pre.append(text);
        } else {
          const pre = h("pre", { class: `out-${it.t}` }, text);
          this.el.appendChild(pre);
          this.lastStream = { t: it.t, pre };
        }
        return;
      }
      case "input": {
        // The answer the reader typed, echoed where the program read it.
        const pre = this.lastStream?.t === "stdout" ? this.lastStream.pre : null;
        const span = h("span", { class: "out-input" }, it.data + "\n");
        if (pre) pre.appendChild(span);
        else {
          const p = h("pre", { class: "out-stdout" }, span);
          this.el.appendChild(p);
          this.lastStream = { t: "stdout", pre: p };
        }
        return;
      }
      case "note":
        this.el.appendChild(h("p", { class: "out-note" }, it.data));
        this.lastStream = null;
        return;
      case "html":
        this.el.appendChild(htmlFrame(it.data));
        this.lastStream = null;
        return;
      case "media":
        this.media(it, live);
        return;
    }
  }

  private media(it: OutItem, live: boolean): void {
    const mime = (it.mime ?? "").toLowerCase();
    this.lastStream = null;
    if (mime === "image/png" || mime === "image/jpeg" || mime === "image/gif") {
      if (!b64RE.test(it.data)) return this.placeholder(mime, it.data.length, "not valid base64");
      this.el.appendChild(h("img", { class: "out-image", src: `data:${mime};base64,${it.data.replace(/\s/g, "")}`, alt: `Image output (${mime})` }));
      return;
    }
    if (mime === "image/svg+xml") {
      // Shown through <img>: an SVG there runs no script and loads nothing.
      this.el.appendChild(h("img", { class: "out-image out-svg", src: `data:image/svg+xml;base64,${utf8Base64(it.data)}`, alt: "Image output (SVG)" }));
      return;
    }
    if (mime === "text/html") {
      this.el.appendChild(htmlFrame(it.data));
      return;
    }
    if (mime === "application/x-bai-drawing") {
      const doc = parseDoc(it.data);
      if (!doc) return this.placeholder(mime, it.data.length, "not a drawing document");
      let p = this.players.get(doc.canvas);
      if (!p) {
        p = this.drawings.player(doc.canvas, doc);
        this.players.set(doc.canvas, p);
        this.el.appendChild(h("div", { class: "out-drawing" }, p.el));
      }
      p.push(doc, live);
      return;
    }
    if (mime === "text/plain") {
      this.el.appendChild(h("pre", { class: "out-stdout" }, it.data));
      return;
    }
    this.placeholder(mime, it.data.length);
  }

  private placeholder(mime: string, size: number, why = ""): void {
    this.el.appendChild(h("p", { class: "out-note" }, `[${mime || "media"} output, ${size} bytes${why ? `: ${why}` : ", not shown here"}]`));
  }
}

// htmlFrame shows HTML output isolated from the app: the sandbox has no
// allow-scripts and no allow-same-origin, so the document runs nothing and
// reads nothing of this origin. Its height is the reader's to change.
function htmlFrame(html: string): HTMLElement {
  const frame = h("iframe", { class: "out-html", sandbox: "", title: "HTML output", referrerpolicy: "no-referrer" });
  frame.srcdoc = html;
  // A rough height from the markup (rows of a table, lines of text) saves
  // most readers from resizing; the frame is resizable either way.
  const rows = (html.match(/<tr[\s>]/gi)?.length ?? 0) + (html.match(/<br|<p[\s>]|<li[\s>]|<h\d/gi)?.length ?? 0);
  const height = Math.min(600, Math.max(60, rows * 26 + 40));
  frame.style.height = `${height}px`;
  return h("div", { class: "out-html-wrap" }, frame);
}
