// The app's entry: finds out who is signed in, draws the top bar and hands
// each URL to its page. Heavy pages (the notebook with CodeMirror, the
// terminal with xterm.js) are separate chunks loaded when first opened.
import "./styles.css";

import { api, ApiError, currentUser, enc, isSuperadmin, setCurrentUser, setUnauthorizedHandler, type Me } from "./api";
import { errorBox, h, replace, spinner } from "./dom";
import { compile, interceptLinks, match, navigate, setNavigateHandler, type Route } from "./router";

const routes = compile([
  { pattern: "/login", title: "Sign in", public: true, page: async () => (await import("./pages/login")).loginPage },
  { pattern: "/app/sessions", title: "Sessions", page: async () => (await import("./pages/sessions")).sessionsPage },
  { pattern: "/app/sessions/new", title: "New session", page: async () => (await import("./pages/create")).createPage },
  { pattern: "/app/notebook/:name", title: "Notebook", page: async () => (await import("./pages/notebook")).notebookPage },
  { pattern: "/app/terminal/:name", title: "Terminal", page: async () => (await import("./pages/terminal")).terminalPage },
  { pattern: "/app/files", title: "Files", page: async () => (await import("./pages/files")).filesPage },
  { pattern: "/app/files/:folder", title: "Files", page: async () => (await import("./pages/files")).filesPage },
  { pattern: "/app/usage", title: "Usage", page: async () => (await import("./pages/usage")).usagePage },
  { pattern: "/app/admin/:tab", title: "Administration", admin: true, page: async () => (await import("./pages/admin")).adminPage },
] satisfies Route[]);

const nav: { href: string; label: string; admin?: boolean }[] = [
  { href: "/app/sessions", label: "Sessions" },
  { href: "/app/sessions/new", label: "New session" },
  { href: "/app/files", label: "Files" },
  { href: "/app/usage", label: "Usage" },
  { href: "/app/admin/agents", label: "Admin", admin: true },
];

const app = document.getElementById("app") as HTMLElement;
let leave: AbortController | null = null;

function topBar(me: Me): HTMLElement {
  const path = location.pathname;
  const links = nav
    .filter((n) => !n.admin || isSuperadmin())
    .map((n) => {
      const active = n.href === "/app/admin/agents" ? path.startsWith("/app/admin") : path === n.href;
      return h("a", { href: n.href, "aria-current": active ? "page" : null }, n.label);
    });
  const logout = h("button", { type: "button", class: "link", id: "logout" }, "Log out");
  logout.addEventListener("click", async () => {
    logout.disabled = true;
    try {
      await api("POST", "/auth/logout", undefined, { noAuthRedirect: true });
    } catch (e) {
      // A session the server already forgot is logged out all the same.
      if (!(e instanceof ApiError && e.status === 401)) {
        logout.disabled = false;
        alertBar(e);
        return;
      }
    }
    setCurrentUser(null);
    navigate("/login", true);
  });
  return h(
    "header",
    { class: "topbar" },
    h("a", { class: "skip", href: "#main" }, "Skip to content"),
    h("a", { class: "brand", href: "/app/sessions" }, "bai"),
    h("nav", { "aria-label": "Main" }, links),
    h(
      "div",
      { class: "who" },
      h("span", { class: "email", title: `${me.role} · ${me.accessKey}`, id: "user-email" }, me.email || me.username || me.accessKey),
      me.role !== "user" ? h("span", { class: "role" }, me.role) : null,
      logout,
    ),
  );
}

// alertBar shows an error at the top of the page until dismissed.
function alertBar(err: unknown): void {
  const box = errorBox(err);
  const close = h("button", { type: "button", class: "link", "aria-label": "Dismiss" }, "×");
  close.addEventListener("click", () => box.remove());
  box.prepend(close);
  box.classList.add("floating");
  document.body.appendChild(box);
}

async function render(): Promise<void> {
  leave?.abort();
  leave = new AbortController();
  const signal = leave.signal;
  const path = location.pathname;
  const me = currentUser();

  if (path === "/" || path === "/app" || path === "/app/" || path === "/index.html") {
    navigate(me ? "/app/sessions" : "/login", true);
    return;
  }
  if (path === "/app/admin" || path === "/app/admin/") {
    navigate("/app/admin/agents", true);
    return;
  }
  const m = match(routes, path);
  if (m && !m.route.public && !me) {
    navigate(`/login?next=${enc(path + location.search)}`, true);
    return;
  }

  const main = h("main", { id: "main", tabindex: "-1" });
  replace(app, me && path !== "/login" ? topBar(me) : null, main);
  if (!m) {
    document.title = "Not found · bai";
    replace(main, h("h1", null, "Page not found"), h("p", null, "There is no page at ", h("code", null, path), ". ", h("a", { href: "/app/sessions" }, "Go to your sessions"), "."));
    return;
  }
  if (m.route.admin && !isSuperadmin()) {
    document.title = "Not allowed · bai";
    replace(
      main,
      h("h1", null, "Not allowed"),
      h("p", { class: "error", role: "alert", id: "forbidden" }, "The administration pages are for superadmins. Ask one if you need something changed."),
    );
    return;
  }
  document.title = `${m.route.title} · bai`;
  main.appendChild(spinner());
  try {
    const page = await m.route.page();
    if (signal.aborted) return;
    main.replaceChildren();
    await page({ root: main, params: m.params, query: new URLSearchParams(location.search), signal });
  } catch (e) {
    if (signal.aborted) return;
    replace(main, h("h1", null, m.route.title), errorBox(e, "This page could not be shown"));
  }
  if (!signal.aborted && document.activeElement === document.body) {
    // Move focus into the new page so that screen readers announce it and
    // Tab starts from its top.
    const target = main.querySelector<HTMLElement>("[autofocus]") ?? main.querySelector<HTMLElement>("h1");
    if (target?.tagName === "H1") target.setAttribute("tabindex", "-1");
    target?.focus({ preventScroll: true });
  }
}

async function boot(): Promise<void> {
  setNavigateHandler(() => void render());
  setUnauthorizedHandler(() => {
    if (location.pathname !== "/login") navigate(`/login?next=${enc(location.pathname + location.search)}`, true);
  });
  interceptLinks();
  replace(app, h("main", { id: "main" }, spinner("Starting…")));
  try {
    setCurrentUser(await api<Me>("GET", "/auth/me", undefined, { noAuthRedirect: true }));
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) {
      replace(app, h("main", { id: "main" }, h("h1", null, "bai"), errorBox(e, "Could not ask the server who you are"), h("p", null, h("button", { type: "button", onclick: () => location.reload() }, "Try again"))));
      return;
    }
  }
  await render();
}

void boot();
