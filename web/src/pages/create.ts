// Create a session: pick an image, a name and resources within the
// keypair's resource policy; mistakes are shown before anything is sent,
// and the server's refusal (a policy limit, no capacity) after.
import { api, currentUser, enc, type ImageInfo, type SessionInfo } from "../api";
import { errorBox, field, formatBytes, h, parseBytes, replace, setFieldError, spinner } from "../dom";
import { navigate, type PageContext } from "../router";
import { languageOf } from "../languages";

const nameRE = /^\w[\w.-]*\w$/;

export function imageLabel(im: ImageInfo): string {
  const alias = (im.aliases ?? []).filter((a) => a !== im.name);
  return alias.length ? `${im.name} (${alias.join(", ")})` : im.name;
}

export async function createPage({ root, query, signal }: PageContext): Promise<void> {
  replace(root, h("h1", null, "New session"), spinner("Loading images and your limits…"));
  let images: ImageInfo[];
  let sessions: SessionInfo[];
  try {
    [images, sessions] = await Promise.all([
      api<{ items: ImageInfo[] }>("GET", "/images", undefined, { signal }).then((r) => r.items ?? []),
      api<{ items: SessionInfo[] }>("GET", "/session", undefined, { signal }).then((r) => r.items ?? []),
    ]);
  } catch (e) {
    if (signal.aborted) return;
    replace(root, h("h1", null, "New session"), errorBox(e, "Could not load the images"));
    return;
  }
  if (signal.aborted) return;
  images.sort((a, b) => a.name.localeCompare(b.name));
  if (images.length === 0) {
    replace(root, h("h1", null, "New session"), h("p", { class: "error", role: "alert" }, "No kernel images are available. An administrator builds them with `make images`; agents report them within a heartbeat."));
    return;
  }
  const policy = currentUser()?.resourcePolicy ?? null;
  const live = sessions.filter((s) => !["TERMINATED", "CANCELLED", "ERROR"].includes(s.status));
  const used = { cpu: 0, mem: 0 };
  for (const s of live) {
    const slots = s.occupiedSlots && Object.keys(s.occupiedSlots).length ? s.occupiedSlots : s.resourceSlots ?? {};
    used.cpu += Number(slots.cpu ?? 0);
    used.mem += Number(slots.mem ?? 0);
  }
  const total = {
    cpu: policy?.total_resource_slots?.cpu ? Number(policy.total_resource_slots.cpu) : Infinity,
    mem: policy?.total_resource_slots?.mem ? Number(policy.total_resource_slots.mem) : Infinity,
  };
  const defaults = policy?.default_session_slots ?? {};

  const wanted = query.get("image") || "";
  const imageSel = h(
    "select",
    { id: "image", name: "image" },
    images.map((im) => h("option", { value: im.name, selected: im.name === wanted || (im.aliases ?? []).includes(wanted) || (!wanted && languageOf(im.name) === "python") }, imageLabel(im))),
  );
  const nameIn = h("input", { id: "session-name", name: "name", placeholder: "generated when empty", spellcheck: "false", autocomplete: "off" });
  const cpuIn = h("input", { id: "cpu", name: "cpu", type: "number", min: "0.1", step: "0.1", inputmode: "decimal" });
  const memIn = h("input", { id: "mem", name: "mem", spellcheck: "false", autocomplete: "off" });
  const openSel = h("select", { id: "open-with" }, h("option", { value: "notebook" }, "Notebook"), h("option", { value: "terminal" }, "Terminal"), h("option", { value: "list" }, "Session list"));

  const limitText = (what: string, max: number, usedNow: number, fmt: (n: number) => string) =>
    Number.isFinite(max) ? `Your policy allows ${fmt(max)} ${what} in all; your sessions use ${fmt(usedNow)}.` : `Your policy sets no ${what} limit.`;
  const fImage = field("Image", imageSel);
  const fName = field("Name", nameIn, "4 to 64 letters, digits, _, . or -, starting and ending with a letter or digit.");
  const fCpu = field("CPU cores", cpuIn, limitText("CPU cores", total.cpu, used.cpu, (n) => String(n)));
  const fMem = field("Memory", memIn, `${limitText("memory", total.mem, used.mem, formatBytes)} Write 512m, 2g or a number of bytes.`);
  const fOpen = field("Then open", openSel);

  const minOf = (im: ImageInfo | undefined) => ({
    cpu: Number(im?.minResources?.cpu ?? 0),
    mem: Number(im?.minResources?.mem ?? 0),
  });
  const selected = () => images.find((im) => im.name === imageSel.value);
  const setDefaults = () => {
    const min = minOf(selected());
    const cpu = Math.max(Number(defaults.cpu ?? 1) || 1, min.cpu);
    const mem = Math.max(Number(defaults.mem ?? 0) || 512 * 2 ** 20, min.mem);
    cpuIn.value = String(cpu);
    memIn.value = mem % 2 ** 30 === 0 ? `${mem / 2 ** 30}g` : mem % 2 ** 20 === 0 ? `${mem / 2 ** 20}m` : String(mem);
  };
  setDefaults();
  imageSel.addEventListener("change", () => {
    setDefaults();
    validate();
  });

  const formErr = h("div", { id: "create-error", "aria-live": "assertive" });
  const submit = h("button", { type: "submit", class: "primary", id: "create-submit" }, "Start session");
  const progress = h("div", { "aria-live": "polite" });

  // validate checks everything the server would refuse that the page can
  // know, and says how to fix it. It returns whether the form may be sent.
  const validate = (): boolean => {
    let ok = true;
    const n = nameIn.value.trim();
    let msg = "";
    if (n && (n.length < 4 || n.length > 64)) msg = `The name has ${n.length} characters; use 4 to 64.`;
    else if (n && !nameRE.test(n)) msg = "Use only letters, digits, _, . and -, and start and end with a letter or digit.";
    else if (n && live.some((s) => s.sessionName === n)) msg = `You already have a session named ${n}; pick another name or open that one from the session list.`;
    setFieldError(nameIn, fName.error, msg);
    ok &&= !msg;

    const min = minOf(selected());
    const cpu = Number(cpuIn.value);
    msg = "";
    if (!cpuIn.value || !Number.isFinite(cpu) || cpu <= 0) msg = "Enter a number of CPU cores above 0, such as 1 or 0.5.";
    else if (cpu < min.cpu) msg = `This image needs at least ${min.cpu} CPU cores.`;
    else if (cpu > total.cpu) msg = `Your resource policy allows at most ${total.cpu} CPU cores.`;
    else if (used.cpu + cpu > total.cpu) msg = `Your sessions already use ${used.cpu} of ${total.cpu} CPU cores; ask for at most ${Math.max(0, total.cpu - used.cpu)} or destroy a session.`;
    setFieldError(cpuIn, fCpu.error, msg);
    ok &&= !msg;

    const mem = parseBytes(memIn.value);
    msg = "";
    if (!Number.isFinite(mem) || mem <= 0) msg = "Write the memory as 512m, 2g or a number of bytes.";
    else if (mem < min.mem) msg = `This image needs at least ${formatBytes(min.mem)}.`;
    else if (mem > total.mem) msg = `Your resource policy allows at most ${formatBytes(total.mem)}.`;
    else if (used.mem + mem > total.mem) msg = `Your sessions already use ${formatBytes(used.mem)} of ${formatBytes(total.mem)}; ask for at most ${formatBytes(Math.max(0, total.mem - used.mem))} or destroy a session.`;
    setFieldError(memIn, fMem.error, msg);
    ok &&= !msg;

    const maxSessions = policy?.max_concurrent_sessions ?? 0;
    if (maxSessions > 0 && live.length >= maxSessions) {
      replace(formErr, h("p", { class: "error field-limit", role: "alert" }, `You have ${live.length} sessions, the most your policy allows (${maxSessions}). Destroy one on the session list first.`));
      ok = false;
    } else if (formErr.querySelector(".field-limit")) {
      formErr.replaceChildren();
    }
    return ok;
  };
  for (const el of [nameIn, cpuIn, memIn]) el.addEventListener("input", () => validate());

  const form = h("form", { class: "stack card", novalidate: true, id: "create-form" }, fImage.wrap, fName.wrap, h("div", { class: "row" }, fCpu.wrap, fMem.wrap), fOpen.wrap, formErr, h("div", { class: "row" }, submit, progress));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    formErr.replaceChildren();
    if (!validate()) {
      (form.querySelector("[aria-invalid=true]") as HTMLElement | null)?.focus();
      return;
    }
    submit.disabled = true;
    replace(progress, spinner("Starting the session… the first start of an image can take a minute."));
    const body: Record<string, unknown> = {
      image: imageSel.value,
      config: { resources: { cpu: Number(cpuIn.value), mem: String(parseBytes(memIn.value)) } },
      maxWaitSeconds: 120,
    };
    if (nameIn.value.trim()) body.name = nameIn.value.trim();
    try {
      const res = await api<{ sessionName: string; status: string; statusInfo?: string; created: boolean }>("POST", "/session", body);
      if (res.status !== "RUNNING") {
        navigate("/app/sessions");
        return;
      }
      const where = openSel.value;
      navigate(where === "list" ? "/app/sessions" : `/app/${where}/${enc(res.sessionName)}`);
    } catch (e) {
      if (signal.aborted) return;
      progress.replaceChildren();
      submit.disabled = false;
      replace(formErr, errorBox(e, "The server did not start the session"));
      formErr.querySelector<HTMLElement>("[role=alert]")?.focus();
    }
  });
  replace(root, h("h1", null, "New session"), form);
  validate();
  imageSel.focus();
}
