// Administration for superadmins: agents (capacity and live load), users,
// keypairs, resource policies (editable) and images. The manager has no
// event stream for agents, so the agent page polls GET agents every 5 s.
import { adminGet, adminSend, api, type ImageInfo, type ResourcePolicy } from "../api";
import { errorBox, field, formatBytes, formatTime, h, parseBytes, replace, setFieldError, spinner, statusBadge } from "../dom";
import type { PageContext } from "../router";

interface Agent {
  id: string;
  status: string;
  status_info: string;
  addr: string;
  scaling_group: string;
  schedulable: boolean;
  version: string;
  available_slots: Record<string, string> | null;
  occupied_slots: Record<string, string> | null;
  health_problems: string[] | null;
  disk_free_bytes: number;
  sessions: number;
  // Sum of the latest samples of the agent's running sessions: cpu_util in
  // percent of one core, mem in bytes, sampled = sessions with a sample.
  live_stats: { cpu_util: number; mem: number; sampled: number } | null;
  last_heartbeat: string;
}

interface User {
  id: string;
  email: string;
  username: string;
  role: string;
  isActive: boolean;
  createdAt: string;
}

interface Keypair {
  accessKey: string;
  userEmail: string;
  isActive: boolean;
  isAdmin: boolean;
  resourcePolicy: string;
  rateLimit: number;
  createdAt: string;
  lastUsed: string | null;
}

const tabs: [string, string][] = [
  ["agents", "Agents"],
  ["users", "Users"],
  ["keypairs", "Keypairs"],
  ["policies", "Resource policies"],
  ["images", "Images"],
];

const pollMs = 5000;

function table(head: string[], rows: HTMLElement[]): HTMLElement {
  return h("div", { class: "table-wrap" }, h("table", null, h("thead", null, h("tr", null, head.map((c) => h("th", { scope: "col" }, c)))), h("tbody", null, rows)));
}

function yes(b: boolean): string {
  return b ? "yes" : "no";
}

export async function adminPage({ root, params, signal }: PageContext): Promise<void> {
  const tab = params.tab;
  const body = h("div", { id: `admin-${tab}` });
  replace(
    root,
    h("h1", null, "Administration"),
    h(
      "nav",
      { class: "tabs", "aria-label": "Administration" },
      tabs.map(([k, label]) => h("a", { href: `/app/admin/${k}`, "aria-current": k === tab ? "page" : null }, label)),
    ),
    body,
  );
  replace(body, spinner());
  switch (tab) {
    case "agents":
      return agentsTab(body, signal);
    case "users":
      return usersTab(body, signal);
    case "keypairs":
      return keypairsTab(body, signal);
    case "policies":
      return policiesTab(body, signal);
    case "images":
      return imagesTab(body, signal);
    default:
      replace(body, h("p", { class: "error", role: "alert" }, `There is no administration page "${tab}". Pick one above.`));
  }
}

function capacity(label: string, used: number, avail: number, fmt: (n: number) => string): HTMLElement {
  return h(
    "div",
    { class: "cap" },
    h("span", { class: "cap-label" }, label),
    avail > 0 ? h("meter", { min: "0", max: String(avail), value: String(used), high: String(avail * 0.85), "aria-label": `${label} in use` }) : null,
    h("span", { class: "small" }, `${fmt(used)} / ${fmt(avail)}`),
  );
}

async function agentsTab(body: HTMLElement, signal: AbortSignal): Promise<void> {
  const stamp = h("p", { class: "muted small", "aria-live": "off" });
  const msg = h("div", { "aria-live": "polite" });
  const list = h("div");
  const load = async () => {
    const res = await adminGet<{ agents: Agent[] }>("/agents", signal);
    const agents = res.agents ?? [];
    if (agents.length === 0) {
      replace(list, h("p", { class: "empty" }, "No agent has registered. Start one (bai agent, or bai dev) and it appears within a heartbeat."));
      return;
    }
    const rows = agents.map((a) => {
      const av = a.available_slots ?? {};
      const oc = a.occupied_slots ?? {};
      const toggle = h("button", { type: "button" }, a.schedulable ? "Drain" : "Resume");
      toggle.addEventListener("click", async () => {
        toggle.disabled = true;
        try {
          await adminSend("POST", `/agents/${encodeURIComponent(a.id)}/schedulable`, { schedulable: !a.schedulable });
          await load();
        } catch (e) {
          replace(msg, errorBox(e, `Could not change agent ${a.id}`));
          toggle.disabled = false;
        }
      });
      const health = a.health_problems?.length ? h("ul", { class: "problems" }, a.health_problems.map((p) => h("li", null, p))) : h("span", { class: "muted" }, "healthy");
      return h(
        "tr",
        { "data-agent": a.id },
        h("th", { scope: "row" }, a.id, h("div", { class: "muted small" }, a.addr, a.version ? ` · ${a.version}` : "")),
        h("td", null, statusBadge(a.status), a.status_info ? h("div", { class: "muted small" }, a.status_info) : null, a.schedulable ? null : h("div", { class: "small" }, "draining")),
        h("td", null, a.scaling_group),
        h(
          "td",
          { class: "caps" },
          capacity("CPU", Number(oc.cpu ?? 0), Number(av.cpu ?? 0), (n) => String(Math.round(n * 100) / 100)),
          capacity("Memory", Number(oc.mem ?? 0), Number(av.mem ?? 0), formatBytes),
          Object.keys(av)
            .filter((k) => k !== "cpu" && k !== "mem")
            .map((k) => capacity(k, Number(oc[k] ?? 0), Number(av[k] ?? 0), String)),
        ),
        h("td", null, String(a.sessions)),
        h("td", { "data-live": "" }, liveStats(a)),
        h("td", null, health, a.disk_free_bytes ? h("div", { class: "muted small" }, `${formatBytes(a.disk_free_bytes)} disk free`) : null),
        h("td", null, formatTime(a.last_heartbeat)),
        h("td", { class: "actions" }, toggle),
      );
    });
    replace(list, table(["Agent", "Status", "Group", "Capacity (used / total)", "Sessions", "Live usage", "Health", "Last heartbeat", ""], rows));
    stamp.textContent = `Updated ${new Date().toLocaleTimeString()}; refreshes every ${pollMs / 1000} s (agents report through heartbeats, not events).`;
  };
  try {
    await load();
  } catch (e) {
    if (signal.aborted) return;
    replace(body, errorBox(e, "Could not list the agents"));
    return;
  }
  replace(body, stamp, msg, list);
  const timer = window.setInterval(() => {
    load().then(
      () => msg.replaceChildren(),
      (e) => {
        if (!signal.aborted) replace(msg, errorBox(e, "Refreshing the agents failed; retrying"));
      },
    );
  }, pollMs);
  signal.addEventListener("abort", () => window.clearInterval(timer));
}

async function usersTab(body: HTMLElement, signal: AbortSignal): Promise<void> {
  try {
    const res = await adminGet<{ users: User[] }>("/users", signal);
    const rows = (res.users ?? []).map((u) =>
      h("tr", { "data-user": u.email }, h("th", { scope: "row" }, u.email), h("td", null, u.username || "—"), h("td", null, u.role), h("td", null, yes(u.isActive)), h("td", null, formatTime(u.createdAt))),
    );
    replace(body, rows.length ? table(["E-mail", "Username", "Role", "Active", "Created"], rows) : h("p", { class: "empty" }, "No users."));
  } catch (e) {
    if (!signal.aborted) replace(body, errorBox(e, "Could not list the users"));
  }
}

async function keypairsTab(body: HTMLElement, signal: AbortSignal): Promise<void> {
  try {
    const res = await adminGet<{ keypairs: Keypair[] }>("/keypairs", signal);
    const rows = (res.keypairs ?? []).map((k) =>
      h(
        "tr",
        { "data-keypair": k.accessKey },
        h("th", { scope: "row" }, h("code", null, k.accessKey)),
        h("td", null, k.userEmail),
        h("td", null, yes(k.isActive)),
        h("td", null, yes(k.isAdmin)),
        h("td", null, k.resourcePolicy),
        h("td", null, k.rateLimit ? String(k.rateLimit) : "none"),
        h("td", null, formatTime(k.createdAt)),
        h("td", null, formatTime(k.lastUsed)),
      ),
    );
    replace(body, rows.length ? table(["Access key", "User", "Active", "Admin", "Policy", "Rate limit (15 min)", "Created", "Last used"], rows) : h("p", { class: "empty" }, "No keypairs."));
  } catch (e) {
    if (!signal.aborted) replace(body, errorBox(e, "Could not list the keypairs"));
  }
}

async function policiesTab(body: HTMLElement, signal: AbortSignal): Promise<void> {
  let policies: ResourcePolicy[];
  try {
    policies = (await adminGet<{ resource_policies: ResourcePolicy[] }>("/resource-policies", signal)).resource_policies ?? [];
  } catch (e) {
    if (!signal.aborted) replace(body, errorBox(e, "Could not list the resource policies"));
    return;
  }
  const draw = () => replace(body, ...policies.map(policyCard));
  const policyCard = (p: ResourcePolicy): HTMLElement => {
    const msg = h("div", { "aria-live": "polite" });
    const id = (k: string) => `pol-${p.name}-${k}`;
    const num = (k: keyof ResourcePolicy, label: string, hint: string) => {
      const input = h("input", { id: id(k), type: "number", min: "0", step: "1", value: String(p[k] ?? 0) });
      return { k, input, f: field(label, input, hint) };
    };
    const slot = (key: string, which: "total_resource_slots" | "default_session_slots", label: string, isMem: boolean) => {
      const raw = p[which]?.[key];
      const v = raw === undefined ? "" : isMem ? memText(Number(raw)) : raw;
      const input = h("input", { id: id(`${which}-${key}`), value: v, placeholder: which === "total_resource_slots" ? "no limit" : "server default", spellcheck: "false" });
      return { key, which, isMem, input, f: field(label, input) };
    };
    const slots = [
      slot("cpu", "total_resource_slots", "Total CPU cores", false),
      slot("mem", "total_resource_slots", "Total memory", true),
      slot("cpu", "default_session_slots", "Default CPU per session", false),
      slot("mem", "default_session_slots", "Default memory per session", true),
    ];
    const nums = [
      num("max_concurrent_sessions", "Max concurrent sessions", "0: no limit"),
      num("max_session_lifetime", "Max session lifetime (s)", "0: no limit"),
      num("idle_timeout", "Idle timeout (s)", "0: none"),
      num("max_exec_seconds", "Max run time (s)", "0: no limit"),
      num("max_vfolder_count", "Max folders", "0: no limit"),
    ];
    const vsize = h("input", { id: id("max_vfolder_size"), value: p.max_vfolder_size ? memText(p.max_vfolder_size) : "0", spellcheck: "false" });
    const fv = field("Max folder size", vsize, "0: no limit; 10g, 512m or bytes");
    const save = h("button", { type: "submit", class: "primary" }, "Save");
    const form = h(
      "form",
      { class: "policy-form", novalidate: true, "data-policy": p.name },
      h("div", { class: "grid" }, slots.map((s) => s.f.wrap), nums.map((n) => n.f.wrap), fv.wrap),
      h("div", { class: "row" }, save, msg),
    );
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      msg.replaceChildren();
      let ok = true;
      // Slots other than cpu and mem (GPUs) are kept as they are.
      const keep = (m: Record<string, string> | null | undefined) => Object.fromEntries(Object.entries(m ?? {}).filter(([k]) => k !== "cpu" && k !== "mem"));
      const out: Record<string, unknown> = { total_resource_slots: keep(p.total_resource_slots), default_session_slots: keep(p.default_session_slots) };
      for (const s of slots) {
        const v = s.input.value.trim();
        let m = "";
        if (v) {
          if (s.isMem && !Number.isFinite(parseBytes(v))) m = "Write 8g, 512m or a number of bytes.";
          if (!s.isMem && !(Number(v) >= 0)) m = "Write a number such as 4 or 0.5.";
        }
        setFieldError(s.input, s.f.error, m);
        ok &&= !m;
        if (v && !m) (out[s.which] as Record<string, string>)[s.key] = s.isMem ? String(parseBytes(v)) : v;
      }
      for (const n of nums) {
        const v = Number(n.input.value);
        const m = Number.isInteger(v) && v >= 0 ? "" : "Write a whole number, 0 or more.";
        setFieldError(n.input, n.f.error, m);
        ok &&= !m;
        out[n.k] = v;
      }
      const size = vsize.value.trim() === "0" ? 0 : parseBytes(vsize.value);
      setFieldError(vsize, fv.error, Number.isFinite(size) ? "" : "Write 0, 10g, 512m or a number of bytes.");
      ok &&= Number.isFinite(size);
      out.max_vfolder_size = size;
      if (!ok) return;
      save.disabled = true;
      try {
        const updated = await adminSend<ResourcePolicy>("PUT", `/resource-policies/${encodeURIComponent(p.name)}`, out);
        policies = policies.map((x) => (x.name === p.name ? updated ?? x : x));
        draw();
        const again = body.querySelector(`[data-policy="${CSS.escape(p.name)}"] [aria-live]`);
        if (again) replace(again as HTMLElement, h("span", { class: "notice" }, "Saved."));
      } catch (e) {
        replace(msg, errorBox(e, "The server did not save the policy"));
      } finally {
        save.disabled = false;
      }
    });
    return h("section", { class: "card" }, h("h2", null, `Policy ${p.name}`), form);
  };
  draw();
}

function memText(n: number): string {
  if (!n) return "0";
  if (n % 2 ** 30 === 0) return `${n / 2 ** 30}g`;
  if (n % 2 ** 20 === 0) return `${n / 2 ** 20}m`;
  return String(n);
}

async function imagesTab(body: HTMLElement, signal: AbortSignal): Promise<void> {
  try {
    const res = await api<{ items: ImageInfo[] }>("GET", "/images", undefined, { signal });
    const rows = (res.items ?? [])
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((im) =>
        h(
          "tr",
          { "data-image": im.name },
          h("th", { scope: "row" }, im.name),
          h("td", null, (im.aliases ?? []).join(", ") || "—"),
          h("td", null, im.runtimeType || "—"),
          h("td", null, Object.entries(im.minResources ?? {}).map(([k, v]) => `${k} ${k === "mem" ? formatBytes(Number(v)) : v}`).join(", ") || "—"),
          h("td", null, im.labels?.["ai.backend.service-ports"] || "—"),
        ),
      );
    replace(body, rows.length ? table(["Image", "Aliases", "Runtime", "Minimum resources", "Apps"], rows) : h("p", { class: "empty" }, "No images: build them with make images."));
  } catch (e) {
    if (!signal.aborted) replace(body, errorBox(e, "Could not list the images"));
  }
}

// liveStats shows what the agent's sessions use now (from heartbeat
// samples), as opposed to what they were given (capacity).
function liveStats(a: Agent): HTMLElement {
  const l = a.live_stats;
  if (!l || l.sampled === 0) {
    return h("span", { class: "muted" }, a.sessions > 0 ? "no sample yet" : "idle");
  }
  return h(
    "div",
    null,
    h("div", null, `CPU ${l.cpu_util.toFixed(1)}%`),
    h("div", null, `Memory ${formatBytes(l.mem)}`),
    h("div", { class: "muted small" }, `${l.sampled} session${l.sampled === 1 ? "" : "s"} sampled`),
  );
}
