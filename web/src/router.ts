// A history-API router: pages live under /app/... and /login; links to
// them are intercepted so that moving between pages keeps the app loaded.

export interface PageContext {
  root: HTMLElement;
  params: Record<string, string>;
  query: URLSearchParams;
  // signal is aborted when the reader leaves the page: pages close their
  // WebSockets, EventSources and timers on it.
  signal: AbortSignal;
}

export type Page = (ctx: PageContext) => void | Promise<void>;

export interface Route {
  pattern: string; // "/app/notebook/:name"
  page: () => Promise<Page> | Page;
  title: string;
  public?: boolean; // shown without a login
  admin?: boolean; // superadmins only
}

interface Compiled extends Route {
  re: RegExp;
  keys: string[];
}

export function compile(routes: Route[]): Compiled[] {
  return routes.map((r) => {
    const keys: string[] = [];
    const re = new RegExp(
      "^" +
        r.pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/:([a-zA-Z]+)/g, (_, k: string) => {
          keys.push(k);
          return "([^/]+)";
        }) +
        "/?$",
    );
    return { ...r, re, keys };
  });
}

export function match(routes: Compiled[], path: string): { route: Compiled; params: Record<string, string> } | null {
  for (const r of routes) {
    const m = r.re.exec(path);
    if (!m) continue;
    const params: Record<string, string> = {};
    r.keys.forEach((k, i) => {
      try {
        params[k] = decodeURIComponent(m[i + 1]);
      } catch {
        params[k] = m[i + 1];
      }
    });
    return { route: r, params };
  }
  return null;
}

let onNavigate: () => void = () => {};

export function setNavigateHandler(f: () => void): void {
  onNavigate = f;
}

// navigate moves to a path of the app (pushState, or replaceState).
export function navigate(path: string, replace = false): void {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  onNavigate();
}

// interceptLinks makes same-origin links to app pages client-side.
export function interceptLinks(): void {
  document.addEventListener("click", (ev) => {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const a = (ev.target as Element | null)?.closest?.("a[href]") as HTMLAnchorElement | null;
    if (!a || a.target || a.hasAttribute("download")) return;
    const url = new URL(a.href, location.href);
    if (url.origin !== location.origin) return;
    if (!(url.pathname.startsWith("/app") || url.pathname === "/login")) return;
    ev.preventDefault();
    navigate(url.pathname + url.search);
  });
  window.addEventListener("popstate", () => onNavigate());
}
