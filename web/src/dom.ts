// Small DOM helpers: the app builds its pages with h() instead of a UI
// framework, which keeps the first load small and needs no build-time JSX.

export type Child = Node | string | number | null | undefined | false | Child[];
export type Attrs = Record<string, unknown>;

// h creates an element. Attributes starting with "on" and holding a
// function become event listeners; "class" and "for" are the HTML
// attribute names; value/checked/disabled/selected and other booleans are
// set as properties so that they stay live; the rest become attributes.
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on") && typeof v === "function") {
        el.addEventListener(k.slice(2).toLowerCase(), v as EventListener);
      } else if (k === "value" || k === "checked" || k === "selected" || k === "indeterminate") {
        (el as unknown as Record<string, unknown>)[k] = v;
      } else if (v === true) {
        el.setAttribute(k, "");
      } else {
        el.setAttribute(k, String(v));
      }
    }
  }
  append(el, children);
  return el;
}

// append adds children (nested arrays flattened, falsy ones skipped).
export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// replace swaps an element's children for new ones.
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

// spinner is a loading indicator with a text for screen readers and eyes.
export function spinner(text = "Loading…"): HTMLElement {
  return h("p", { class: "loading", role: "status" }, h("span", { class: "spin", "aria-hidden": "true" }), text);
}

// errorBox shows an error that says what went wrong and what to do.
export function errorBox(err: unknown, what?: string): HTMLElement {
  const { title, detail } = describeError(err);
  return h(
    "div",
    { class: "error", role: "alert" },
    h("strong", null, what ? `${what}: ${title}` : title),
    detail ? h("p", null, detail) : null,
  );
}

// describeError turns anything thrown into a title and a detail line.
export function describeError(err: unknown): { title: string; detail: string } {
  if (err && typeof err === "object" && "title" in err) {
    const e = err as { title: string; detail?: string };
    return { title: e.title, detail: e.detail ?? "" };
  }
  if (err instanceof TypeError) {
    // fetch rejects with a TypeError when the network is down.
    return { title: "The server could not be reached", detail: "Check your connection and that the manager is running, then try again." };
  }
  if (err instanceof Error) return { title: err.message, detail: "" };
  return { title: String(err), detail: "" };
}

// formatBytes renders a byte count with a binary unit.
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

// parseBytes reads a size as the API does: bytes, or a number with a
// binary suffix (k, m, g, t, p; optional b, i or ib). NaN when malformed.
export function parseBytes(s: string): number {
  let t = s.trim().toLowerCase();
  if (!t) return NaN;
  for (const suf of ["ib", "b", "i"]) {
    if (t.endsWith(suf)) {
      t = t.slice(0, -suf.length);
      break;
    }
  }
  const mult: Record<string, number> = { k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };
  let m = 1;
  const last = t.slice(-1);
  if (last in mult) {
    m = mult[last];
    t = t.slice(0, -1);
  }
  if (!/^\d+(\.\d+)?$/.test(t)) return NaN;
  return Math.floor(parseFloat(t) * m);
}

// formatTime renders an ISO time in the reader's locale, or a dash.
export function formatTime(iso?: string | null): string {
  if (!iso || iso.startsWith("0001-")) return "—";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

// formatAge renders seconds as a short duration ("3m 20s").
export function formatAge(sec: number): string {
  sec = Math.max(0, Math.floor(sec));
  const d = Math.floor(sec / 86400);
  const hh = Math.floor((sec % 86400) / 3600);
  const mm = Math.floor((sec % 3600) / 60);
  const ss = sec % 60;
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${mm}m`;
  if (mm) return `${mm}m ${ss}s`;
  return `${ss}s`;
}

// statusBadge shows a session or agent status with a colour class.
export function statusBadge(status: string): HTMLElement {
  const cls = status.toLowerCase().replace(/[^a-z_-]/g, "");
  return h("span", { class: `badge st-${cls}`, "data-status": status }, status);
}

// confirmButton is a button that asks for a second click before acting
// (no blocking window.confirm dialog, so it works with the keyboard and in
// tests alike).
export function confirmButton(label: string, confirmLabel: string, act: () => Promise<void> | void, cls = "danger"): HTMLButtonElement {
  let armed = false;
  let timer = 0;
  const btn = h("button", { type: "button", class: cls }, label);
  btn.addEventListener("click", async () => {
    if (!armed) {
      armed = true;
      btn.textContent = confirmLabel;
      btn.classList.add("armed");
      timer = window.setTimeout(() => {
        armed = false;
        btn.textContent = label;
        btn.classList.remove("armed");
      }, 5000);
      return;
    }
    window.clearTimeout(timer);
    btn.disabled = true;
    try {
      await act();
    } finally {
      btn.disabled = false;
      armed = false;
      btn.textContent = label;
      btn.classList.remove("armed");
    }
  });
  return btn;
}

// field wraps an input in a label with an optional hint and error slot.
export function field(label: string, input: HTMLElement, hint?: string): { wrap: HTMLElement; error: HTMLElement } {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  const error = h("p", { class: "field-error", id: `${id}-err`, "aria-live": "polite" });
  const hintEl = hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null;
  input.setAttribute("aria-describedby", [hint ? `${id}-hint` : "", `${id}-err`].filter(Boolean).join(" "));
  const wrap = h("div", { class: "field" }, h("label", { for: id }, label), input, hintEl, error);
  return { wrap, error };
}

// setFieldError shows (or clears) a validation message next to an input.
export function setFieldError(input: HTMLElement, error: HTMLElement, msg: string): void {
  error.textContent = msg;
  if (msg) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}
