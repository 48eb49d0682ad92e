// Usage: what the reader's sessions hold, next to the policy's limits.
import { api, currentUser, enc, type SessionInfo } from "../api";
import { errorBox, formatAge, formatBytes, h, replace, spinner, statusBadge } from "../dom";
import type { PageContext } from "../router";
import { slotsText } from "./sessions";

function meter(label: string, used: number, max: number, fmt: (n: number) => string): HTMLElement {
  const limited = Number.isFinite(max) && max > 0;
  const pct = limited ? Math.min(100, (used / max) * 100) : 0;
  return h(
    "div",
    { class: "meter-row" },
    h("span", { class: "meter-label" }, label),
    limited
      ? h("meter", { min: "0", max: String(max), value: String(used), high: String(max * 0.8), optimum: "0", "aria-label": label }, `${pct.toFixed(0)}%`)
      : h("span", { class: "muted" }, "no limit"),
    h("span", { class: "meter-text" }, limited ? `${fmt(used)} of ${fmt(max)}` : fmt(used)),
  );
}

export async function usagePage({ root, signal }: PageContext): Promise<void> {
  replace(root, h("h1", null, "Usage"), spinner());
  let sessions: SessionInfo[];
  let folderCount = NaN;
  try {
    const [s, f] = await Promise.all([
      api<{ items: SessionInfo[] }>("GET", "/session", undefined, { signal }),
      api<{ is_owner: boolean }[]>("GET", "/folders", undefined, { signal }).catch(() => null),
    ]);
    sessions = s.items ?? [];
    if (f) folderCount = f.filter((x) => x.is_owner).length;
  } catch (e) {
    if (signal.aborted) return;
    replace(root, h("h1", null, "Usage"), errorBox(e, "Could not read your sessions"));
    return;
  }
  const me = currentUser();
  const p = me?.resourcePolicy ?? null;
  const live = sessions.filter((s) => !["TERMINATED", "CANCELLED", "ERROR"].includes(s.status));
  let cpu = 0;
  let mem = 0;
  for (const s of live) {
    const slots = s.occupiedSlots && Object.keys(s.occupiedSlots).length ? s.occupiedSlots : s.resourceSlots ?? {};
    cpu += Number(slots.cpu ?? 0);
    mem += Number(slots.mem ?? 0);
  }
  const total = p?.total_resource_slots ?? {};
  const limits = h(
    "section",
    { class: "card", "aria-labelledby": "limits-title", id: "usage-limits" },
    h("h2", { id: "limits-title" }, `Your limits${p ? ` (policy ${p.name})` : ""}`),
    meter("Sessions", live.length, p?.max_concurrent_sessions || Infinity, String),
    meter("CPU cores", cpu, total.cpu ? Number(total.cpu) : Infinity, (n) => String(Math.round(n * 100) / 100)),
    meter("Memory", mem, total.mem ? Number(total.mem) : Infinity, formatBytes),
    Number.isFinite(folderCount) ? meter("Folders", folderCount, p?.max_vfolder_count || Infinity, String) : null,
    h(
      "dl",
      { class: "facts" },
      h("dt", null, "Run time limit"),
      h("dd", null, p?.max_exec_seconds ? `${p.max_exec_seconds} s per run` : "none"),
      h("dt", null, "Idle timeout"),
      h("dd", null, p?.idle_timeout ? `${p.idle_timeout} s` : "none"),
      h("dt", null, "Session lifetime"),
      h("dd", null, p?.max_session_lifetime ? `${p.max_session_lifetime} s` : "none"),
      h("dt", null, "Folder size"),
      h("dd", null, p?.max_vfolder_size ? formatBytes(p.max_vfolder_size) : "no limit"),
    ),
  );
  const rows = sessions.map((s) =>
    h(
      "tr",
      { "data-session": s.sessionName },
      h("th", { scope: "row" }, s.status === "RUNNING" ? h("a", { href: `/app/notebook/${enc(s.sessionName)}` }, s.sessionName) : s.sessionName),
      h("td", null, statusBadge(s.status)),
      h("td", null, s.image),
      h("td", null, slotsText(s.occupiedSlots && Object.keys(s.occupiedSlots).length ? s.occupiedSlots : s.resourceSlots)),
      h("td", null, formatAge(s.age)),
      h("td", null, String(s.numQueriesExecuted ?? 0)),
      h("td", null, statText(s.lastStat)),
    ),
  );
  replace(
    root,
    h("h1", null, "Usage"),
    limits,
    h(
      "section",
      { "aria-labelledby": "usage-sessions" },
      h("h2", { id: "usage-sessions" }, "Your sessions"),
      sessions.length === 0
        ? h("p", { class: "empty" }, "No sessions.")
        : h(
            "div",
            { class: "table-wrap" },
            h("table", null, h("thead", null, h("tr", null, ["Name", "Status", "Image", "Resources", "Age", "Runs", "Last stats"].map((c) => h("th", { scope: "col" }, c)))), h("tbody", null, rows)),
          ),
    ),
  );
}

// statText shows the last container stats an agent reported, if any.
function statText(st: Record<string, unknown> | null | undefined): string {
  if (!st) return "—";
  const pick = (k: string) => {
    const v = st[k] as { current?: unknown } | number | string | undefined;
    if (v && typeof v === "object" && "current" in v) return v.current;
    return v;
  };
  const parts: string[] = [];
  const cpu = pick("cpu_util") ?? pick("cpu_used");
  if (cpu !== undefined) parts.push(`CPU ${Number(cpu).toFixed(1)}${st.cpu_util !== undefined ? "%" : " ms"}`);
  const mem = pick("mem");
  if (mem !== undefined) parts.push(`mem ${formatBytes(Number(mem))}`);
  return parts.join(", ") || "—";
}
