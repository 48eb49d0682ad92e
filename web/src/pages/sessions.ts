// The session list, kept live by the /events/session stream.
import { api, enc, type SessionInfo } from "../api";
import { confirmButton, errorBox, formatAge, formatBytes, h, replace, spinner, statusBadge } from "../dom";
import type { PageContext } from "../router";
import { forget } from "../notebook/store";

const ended = new Set(["TERMINATED", "CANCELLED"]);

export function slotsText(s: Record<string, string> | null | undefined): string {
  if (!s) return "—";
  const parts: string[] = [];
  if (s.cpu) parts.push(`${s.cpu} CPU`);
  if (s.mem) parts.push(formatBytes(Number(s.mem)));
  for (const [k, v] of Object.entries(s)) {
    if (k !== "cpu" && k !== "mem" && Number(v) > 0) parts.push(`${v} ${k}`);
  }
  return parts.join(", ") || "—";
}

// eventStatus maps an event name to the status it brings.
const eventStatus: Record<string, string> = {
  session_enqueued: "PENDING",
  session_scheduled: "SCHEDULED",
  session_preparing: "PREPARING",
  session_started: "RUNNING",
  session_restarted: "RUNNING",
  session_terminated: "TERMINATED",
  session_cancelled: "CANCELLED",
  session_failure: "ERROR",
};

export async function sessionsPage({ root, signal }: PageContext): Promise<void> {
  const live = h("span", { class: "live", id: "live-status", "aria-live": "polite" }, "connecting…");
  const body = h("div", { id: "sessions" }, spinner("Loading sessions…"));
  const msg = h("div", { "aria-live": "polite" });
  replace(
    root,
    h("div", { class: "page-head" }, h("h1", null, "Sessions"), live, h("a", { class: "button primary", href: "/app/sessions/new" }, "New session")),
    msg,
    body,
  );

  let items: SessionInfo[] = [];
  const rows = new Map<string, HTMLTableRowElement>();
  // A row whose session did not change is kept as it is when the list is
  // drawn again, so that a Destroy button waiting for its confirming click
  // (or holding focus) survives an event about another session.
  const drawn = new Map<string, { sig: string; tr: HTMLTableRowElement }>();
  const sig = (s: SessionInfo) => JSON.stringify([s.sessionName, s.status, s.statusInfo, s.image, s.occupiedSlots, s.resourceSlots]);
  const rowOf = (s: SessionInfo) => {
    const old = drawn.get(s.sessionId);
    if (old && old.sig === sig(s)) return old.tr;
    const tr = row(s);
    drawn.set(s.sessionId, { sig: sig(s), tr });
    return tr;
  };

  const draw = () => {
    rows.clear();
    const shown = items.filter((s) => !ended.has(s.status));
    if (shown.length === 0) {
      replace(body, h("p", { class: "empty" }, "You have no sessions. ", h("a", { href: "/app/sessions/new" }, "Start one"), "."));
      return;
    }
    if (!tbody.isConnected) {
      replace(
        body,
        h(
          "div",
          { class: "table-wrap" },
          h("table", null, h("thead", null, h("tr", null, ["Name", "Image", "Status", "Resources", "Age", "Actions"].map((c) => h("th", { scope: "col" }, c)))), tbody),
        ),
      );
    }
    // Rows already in place are not moved (moving would drop the focus).
    shown.forEach((s, i) => {
      const tr = rowOf(s);
      rows.set(s.sessionId, tr);
      if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] ?? null);
    });
    while (tbody.children.length > shown.length) tbody.lastElementChild?.remove();
    for (const id of drawn.keys()) if (!rows.has(id)) drawn.delete(id);
  };
  const tbody = h("tbody");

  const row = (s: SessionInfo): HTMLTableRowElement => {
    const destroy = confirmButton("Destroy", "Confirm destroy", async () => {
      try {
        await api("DELETE", `/session/${enc(s.sessionId)}?forced=true`);
        forget(s.sessionId); // its notebook is of no use any more
        items = items.filter((x) => x.sessionId !== s.sessionId);
        draw();
        replace(msg, h("p", { class: "notice" }, `Session ${s.sessionName} destroyed.`));
      } catch (e) {
        replace(msg, errorBox(e, `Could not destroy ${s.sessionName}`));
      }
    });
    const running = s.status === "RUNNING";
    return h(
      "tr",
      { "data-session": s.sessionName, "data-id": s.sessionId },
      h("th", { scope: "row" }, running ? h("a", { href: `/app/notebook/${enc(s.sessionName)}` }, s.sessionName) : s.sessionName),
      h("td", null, s.image),
      h("td", { class: "status" }, statusBadge(s.status), s.statusInfo ? h("span", { class: "muted small" }, " ", s.statusInfo) : null),
      h("td", null, slotsText(s.occupiedSlots && Object.keys(s.occupiedSlots).length ? s.occupiedSlots : s.resourceSlots)),
      h("td", null, formatAge(s.age)),
      h(
        "td",
        { class: "actions" },
        h("a", { class: "button", href: `/app/notebook/${enc(s.sessionName)}`, "aria-disabled": running ? null : "true" }, "Notebook"),
        h("a", { class: "button", href: `/app/terminal/${enc(s.sessionName)}`, "aria-disabled": running ? null : "true" }, "Terminal"),
        destroy,
      ),
    );
  };

  const load = async () => {
    const res = await api<{ items: SessionInfo[] }>("GET", "/session", undefined, { signal });
    items = res.items ?? [];
    draw();
  };

  try {
    await load();
  } catch (e) {
    if (signal.aborted) return;
    replace(body, errorBox(e, "Could not list your sessions"));
  }

  // Live status: each event patches its row; a session this page has not
  // seen yet (created elsewhere) reloads the list.
  const es = new EventSource("/events/session", { withCredentials: true });
  signal.addEventListener("abort", () => es.close());
  let reload = 0;
  const scheduleReload = () => {
    window.clearTimeout(reload);
    reload = window.setTimeout(() => void load().catch(() => {}), 250);
  };
  es.onopen = () => {
    live.textContent = "live";
    live.classList.add("on");
  };
  es.onerror = () => {
    live.textContent = "reconnecting…";
    live.classList.remove("on");
  };
  for (const name of Object.keys(eventStatus)) {
    es.addEventListener(name, (ev) => {
      let d: { sessionId?: string; sessionName?: string; status?: string; reason?: string };
      try {
        d = JSON.parse((ev as MessageEvent).data as string);
      } catch {
        return;
      }
      const s = items.find((x) => x.sessionId === d.sessionId);
      if (!s) {
        scheduleReload();
        return;
      }
      s.status = d.status || eventStatus[name];
      s.statusInfo = d.reason || "";
      if (name === "session_started" || name === "session_restarted") {
        // Occupied slots and age come with the full record.
        scheduleReload();
      }
      const old = rows.get(s.sessionId);
      if (!old || ended.has(s.status)) {
        draw();
        return;
      }
      const tr = rowOf(s);
      if (tr !== old) old.replaceWith(tr);
      rows.set(s.sessionId, tr);
    });
  }
  signal.addEventListener("abort", () => window.clearTimeout(reload));
}
