// A player for application/x-bai-drawing (media/python/README.md): each
// document is one frame of a canvas's animation, a full snapshot or a diff
// of object commands. The format has no timestamps; as the Go renderer
// does, frames are shown 100 ms apart, in order, so that a loop of
// update() calls that arrived in one output batch still plays as an
// animation instead of jumping to its end. A player more than 5 s behind
// (a long loop) skips ahead rather than lag further.

type Color = string | null;

interface Obj {
  kind: string;
  props: Record<string, unknown>;
}

export interface DrawingDoc {
  canvas: string;
  width: number;
  height: number;
  bgcolor: Color;
  full: boolean;
  commands: unknown[];
}

export interface CanvasState {
  width: number;
  height: number;
  bg: Color;
  objects: Map<number, Obj>;
}

const colorRE = /^#[0-9a-f]{6}([0-9a-f]{2})?$/i;
const maxSide = 4096;
const frameMs = 100;
const maxBacklog = 50; // frames, 5 s

function color(v: unknown): Color {
  return typeof v === "string" && colorRE.test(v) ? v : null;
}

function num(v: unknown, d = 0): number {
  return typeof v === "number" && Number.isFinite(v) ? v : d;
}

export function parseDoc(text: string): DrawingDoc | null {
  let d: unknown;
  try {
    d = JSON.parse(text);
  } catch {
    return null;
  }
  if (!d || typeof d !== "object") return null;
  const o = d as Record<string, unknown>;
  if (typeof o.canvas !== "string" || !Array.isArray(o.commands)) return null;
  return {
    canvas: o.canvas,
    width: Math.min(maxSide, Math.max(1, Math.round(num(o.width, 400)))),
    height: Math.min(maxSide, Math.max(1, Math.round(num(o.height, 300)))),
    bgcolor: color(o.bgcolor),
    full: o.full === true,
    commands: o.commands,
  };
}

export function emptyState(doc: DrawingDoc): CanvasState {
  return { width: doc.width, height: doc.height, bg: doc.bgcolor, objects: new Map() };
}

export function cloneState(s: CanvasState): CanvasState {
  const objects = new Map<number, Obj>();
  for (const [id, o] of s.objects) objects.set(id, { kind: o.kind, props: { ...o.props } });
  return { width: s.width, height: s.height, bg: s.bg, objects };
}

// apply changes state by one document's commands.
export function apply(s: CanvasState, doc: DrawingDoc): void {
  s.width = doc.width;
  s.height = doc.height;
  if (doc.full) {
    s.objects.clear();
    s.bg = doc.bgcolor;
  }
  for (const c of doc.commands) {
    if (!Array.isArray(c) || typeof c[0] !== "string") continue;
    switch (c[0]) {
      case "obj":
        if (typeof c[1] === "number" && typeof c[2] === "string" && c[3] && typeof c[3] === "object") {
          s.objects.delete(c[1]); // a re-created id goes on top, in creation order
          s.objects.set(c[1], { kind: c[2], props: { ...(c[3] as Record<string, unknown>) } });
        }
        break;
      case "upd": {
        const o = typeof c[1] === "number" ? s.objects.get(c[1]) : undefined;
        if (o && c[2] && typeof c[2] === "object") Object.assign(o.props, c[2] as Record<string, unknown>);
        break;
      }
      case "del":
        if (typeof c[1] === "number") s.objects.delete(c[1]);
        break;
      case "clear":
        s.objects.clear();
        break;
      case "bg":
        s.bg = color(c[1]);
        break;
      default:
      // unknown ops are ignored, as the format asks
    }
  }
}

// paint draws a state onto a 2D context.
export function paint(ctx: CanvasRenderingContext2D, s: CanvasState): void {
  ctx.clearRect(0, 0, s.width, s.height);
  if (s.bg) {
    ctx.fillStyle = s.bg;
    ctx.fillRect(0, 0, s.width, s.height);
  }
  for (const o of s.objects.values()) {
    const p = o.props;
    if (p.hidden === true) continue;
    const stroke = color(p.stroke);
    const fill = color(p.fill);
    const lw = num(p.lw, 1);
    const x = num(p.x);
    const y = num(p.y);
    const [ax, ay] = o.kind === "line" ? [num(p.x1), num(p.y1)] : [x, y];
    ctx.save();
    const rot = num(p.rot);
    if (rot) {
      // Clockwise on screen: with y growing downwards that is a positive
      // canvas rotation, as SVG's rotate(rot ax ay).
      ctx.translate(ax, ay);
      ctx.rotate((rot * Math.PI) / 180);
      ctx.translate(-ax, -ay);
    }
    ctx.lineWidth = lw;
    ctx.lineJoin = "round";
    ctx.lineCap = o.kind === "line" ? "round" : "butt";
    ctx.beginPath();
    let fillable = true;
    switch (o.kind) {
      case "line":
        ctx.moveTo(num(p.x1), num(p.y1));
        ctx.lineTo(num(p.x2), num(p.y2));
        fillable = false;
        break;
      case "rect":
        ctx.rect(x, y, num(p.w), num(p.h));
        break;
      case "circle":
        ctx.arc(x, y, Math.max(0, num(p.r)), 0, 2 * Math.PI);
        break;
      case "ellipse":
        ctx.ellipse(x, y, Math.max(0, num(p.rx)), Math.max(0, num(p.ry)), 0, 0, 2 * Math.PI);
        break;
      case "polygon": {
        const pts = Array.isArray(p.points) ? (p.points as unknown[]) : [];
        pts.forEach((pt, i) => {
          if (!Array.isArray(pt)) return;
          const px = x + num(pt[0]);
          const py = y + num(pt[1]);
          if (i === 0) ctx.moveTo(px, py);
          else ctx.lineTo(px, py);
        });
        if (pts.length) ctx.closePath();
        break;
      }
      case "text": {
        const size = Math.max(1, num(p.size, 12));
        const family = typeof p.font === "string" ? p.font.slice(0, 100) : "sans-serif";
        ctx.font = `${size}px ${family}`;
        const align = p.align === "center" || p.align === "right" ? p.align : "left";
        ctx.textAlign = align;
        ctx.textBaseline = "alphabetic";
        const text = typeof p.text === "string" ? p.text : String(p.text ?? "");
        if (fill) {
          ctx.fillStyle = fill;
          ctx.fillText(text, x, y);
        }
        if (stroke && lw > 0) {
          ctx.strokeStyle = stroke;
          ctx.strokeText(text, x, y);
        }
        ctx.restore();
        continue;
      }
      default:
        ctx.restore();
        continue;
    }
    if (fillable && fill) {
      ctx.fillStyle = fill;
      ctx.fill();
    }
    if (stroke && lw > 0) {
      ctx.strokeStyle = stroke;
      ctx.stroke();
    }
    ctx.restore();
  }
}

// Player shows one canvas and plays the documents pushed to it.
export class Player {
  readonly el: HTMLCanvasElement;
  readonly state: CanvasState;
  private queue: DrawingDoc[] = [];
  private timer = 0;
  private last = 0;

  constructor(start: CanvasState) {
    this.state = start;
    this.el = document.createElement("canvas");
    this.el.className = "drawing";
    this.el.setAttribute("role", "img");
    this.resize();
    this.draw();
  }

  // push queues a frame; animate=false applies it at once (restoring
  // outputs after a reload).
  push(doc: DrawingDoc, animate = true): void {
    if (!animate) {
      apply(this.state, doc);
      this.draw();
      return;
    }
    this.queue.push(doc);
    if (!this.timer) this.schedule();
  }

  private schedule(): void {
    const wait = Math.max(0, this.last + frameMs - performance.now());
    this.timer = window.setTimeout(() => requestAnimationFrame(() => this.step()), wait);
  }

  private step(): void {
    this.timer = 0;
    this.last = performance.now();
    const n = this.queue.length > maxBacklog ? this.queue.length - maxBacklog : 1;
    for (const doc of this.queue.splice(0, n)) apply(this.state, doc);
    this.draw();
    if (this.queue.length) this.schedule();
  }

  private resize(): void {
    if (this.el.width !== this.state.width) this.el.width = this.state.width;
    if (this.el.height !== this.state.height) this.el.height = this.state.height;
    this.el.setAttribute("aria-label", `Drawing, ${this.state.width}×${this.state.height} pixels, ${this.state.objects.size} shapes`);
  }

  private draw(): void {
    this.resize();
    const ctx = this.el.getContext("2d");
    if (ctx) paint(ctx, this.state);
  }

  // idle tells whether every queued frame has been shown.
  idle(): boolean {
    return this.queue.length === 0;
  }
}
