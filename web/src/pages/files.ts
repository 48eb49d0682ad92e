// Virtual folders: list, create and delete folders; browse, upload (with a
// progress bar), download and delete files.
import { api, csrfHeaders, enc, problemFromParts } from "../api";
import { confirmButton, errorBox, field, formatBytes, formatTime, h, replace, setFieldError, spinner } from "../dom";
import { navigate, type PageContext } from "../router";

interface Folder {
  id: string;
  name: string;
  owner: string;
  is_owner: boolean;
  permission: string;
  created_at: string;
}

interface FileEntry {
  name: string;
  type: "file" | "dir" | "symlink";
  size: number;
  mode: string;
  modified: string;
}

const folderRE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

function join(dir: string, name: string): string {
  return dir ? `${dir}/${name}` : name;
}

function filesURL(folder: string, dir: string): string {
  return `/app/files/${enc(folder)}${dir ? `?path=${enc(dir)}` : ""}`;
}

export async function filesPage({ root, params, query, signal }: PageContext): Promise<void> {
  const current = params.folder ?? "";
  const dir = (query.get("path") ?? "").replace(/^\/+|\/+$/g, "");
  const side = h("aside", { class: "folders card", "aria-labelledby": "folders-title" });
  const mainCol = h("section", { class: "folder-view", "aria-live": "polite" });
  replace(root, h("h1", null, "Files"), h("div", { class: "split" }, side, mainCol));

  // --- folder list -----------------------------------------------------
  const newName = h("input", { id: "new-folder", name: "folder", placeholder: "results", spellcheck: "false", autocomplete: "off" });
  const fNew = field("New folder", newName);
  const createBtn = h("button", { type: "submit", id: "create-folder" }, "Create");
  const sideMsg = h("div", { "aria-live": "polite" });
  const folderList = h("ul", { class: "folder-list", id: "folder-list" });
  const createForm = h("form", { class: "stack", novalidate: true }, fNew.wrap, createBtn);
  replace(side, h("h2", { id: "folders-title" }, "Folders"), spinner(), createForm, sideMsg);

  let folders: Folder[] = [];
  const drawFolders = () => {
    replace(
      folderList,
      folders.length === 0
        ? h("li", { class: "empty" }, "No folders yet: create one below.")
        : folders.map((f) =>
            h(
              "li",
              null,
              h("a", { href: filesURL(f.name, ""), "aria-current": f.name === current ? "page" : null, "data-folder": f.name }, f.name),
              f.is_owner ? null : h("span", { class: "muted small" }, ` shared by ${f.owner} (${f.permission})`),
            ),
          ),
    );
  };
  const loadFolders = async () => {
    folders = await api<Folder[]>("GET", "/folders", undefined, { signal });
    folders.sort((a, b) => a.name.localeCompare(b.name));
    drawFolders();
  };
  try {
    await loadFolders();
    replace(side, h("h2", { id: "folders-title" }, "Folders"), folderList, createForm, sideMsg);
  } catch (e) {
    if (signal.aborted) return;
    replace(side, h("h2", { id: "folders-title" }, "Folders"), errorBox(e, "Could not list your folders"));
    return;
  }
  createForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const n = newName.value.trim();
    let m = "";
    if (!n) m = "Enter a name for the folder.";
    else if (!folderRE.test(n) || n.includes("..")) m = "Use 1 to 64 letters, digits, _, - and ., not starting with . or -.";
    else if (folders.some((f) => f.name === n)) m = `You already have a folder named ${n}.`;
    setFieldError(newName, fNew.error, m);
    if (m) return newName.focus();
    createBtn.disabled = true;
    try {
      await api("POST", "/folders", { name: n });
      newName.value = "";
      navigate(filesURL(n, ""));
    } catch (e) {
      replace(sideMsg, errorBox(e, "Could not create the folder"));
    } finally {
      createBtn.disabled = false;
    }
  });

  // --- one folder ------------------------------------------------------
  const folder = folders.find((f) => f.name === current);
  if (!current) {
    replace(mainCol, h("p", { class: "empty" }, folders.length ? "Pick a folder on the left." : "Folders keep files between sessions: a session mounts them at /home/work/NAME."));
    return;
  }
  if (!folder) {
    replace(mainCol, errorBox(problemFromParts(404, `No folder named ${current}`, "It does not exist or is not shared with you; pick one from the list.")));
    return;
  }
  const writable = folder.permission === "rw";
  const listing = h("div", { id: "file-list" }, spinner("Listing files…"));
  const msg = h("div", { "aria-live": "polite", id: "files-msg" });

  // Breadcrumbs: folder / a / b
  const crumbs: HTMLElement[] = [h("a", { href: filesURL(folder.name, "") }, folder.name)];
  let acc = "";
  for (const part of dir ? dir.split("/") : []) {
    acc = join(acc, part);
    crumbs.push(h("span", { "aria-hidden": "true" }, " / "), h("a", { href: filesURL(folder.name, acc) }, part));
  }
  (crumbs[crumbs.length - 1] as HTMLElement).setAttribute("aria-current", "page");

  const deleteFolder = folder.is_owner
    ? confirmButton("Delete folder", "Confirm: delete the folder and its files", async () => {
        try {
          await api("DELETE", `/folders/${enc(folder.name)}`);
          navigate("/app/files");
        } catch (e) {
          replace(msg, errorBox(e, "Could not delete the folder"));
        }
      })
    : null;

  // Upload with progress.
  const fileIn = h("input", { type: "file", id: "upload-input", multiple: true, disabled: !writable });
  const progress = h("progress", { id: "upload-progress", max: "100", value: "0", hidden: true });
  const progressText = h("span", { id: "upload-progress-text", class: "muted", "aria-live": "polite" });
  const uploadBtn = h("button", { type: "submit", id: "upload-submit", disabled: !writable }, "Upload");
  const uploadForm = h(
    "form",
    { class: "row upload", novalidate: true },
    h("label", { for: "upload-input" }, "Upload to ", h("code", null, `/${dir}`)),
    fileIn,
    uploadBtn,
    progress,
    progressText,
  );
  uploadForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const files = Array.from(fileIn.files ?? []);
    if (files.length === 0) {
      replace(msg, h("p", { class: "error", role: "alert" }, "Choose one or more files first."));
      fileIn.focus();
      return;
    }
    uploadBtn.disabled = fileIn.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    msg.replaceChildren();
    try {
      await upload(folder.name, dir, files, (sent, total) => {
        const pct = total ? Math.round((sent / total) * 100) : 100;
        progress.value = pct;
        progressText.textContent = `${pct}% (${formatBytes(sent)} of ${formatBytes(total)})`;
      });
      progressText.textContent = `Uploaded ${files.length} file${files.length > 1 ? "s" : ""}.`;
      fileIn.value = "";
      await loadFiles();
    } catch (e) {
      progressText.textContent = "";
      replace(msg, errorBox(e, "The upload failed"));
    } finally {
      progress.hidden = true;
      uploadBtn.disabled = fileIn.disabled = !writable;
    }
  });

  const mkdirIn = h("input", { id: "mkdir-name", placeholder: "new-directory", spellcheck: "false", autocomplete: "off", disabled: !writable });
  const mkdirBtn = h("button", { type: "submit", disabled: !writable }, "Make directory");
  const mkdirForm = h("form", { class: "row", novalidate: true }, h("label", { for: "mkdir-name" }, "Directory"), mkdirIn, mkdirBtn);
  mkdirForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const n = mkdirIn.value.trim().replace(/^\/+|\/+$/g, "");
    if (!n || n.split("/").some((p) => p === ".." || p === "." || p === "")) {
      replace(msg, h("p", { class: "error", role: "alert" }, "Enter a directory name without '..' parts."));
      return mkdirIn.focus();
    }
    try {
      await api("POST", `/folders/${enc(folder.name)}/mkdir`, { path: join(dir, n) });
      mkdirIn.value = "";
      await loadFiles();
    } catch (e) {
      replace(msg, errorBox(e, "Could not make the directory"));
    }
  });

  replace(
    mainCol,
    h("div", { class: "page-head" }, h("h2", null, h("nav", { "aria-label": "Path", class: "crumbs" }, crumbs)), deleteFolder),
    writable ? null : h("p", { class: "notice" }, "This folder is shared with you read-only."),
    uploadForm,
    mkdirForm,
    msg,
    listing,
  );

  async function loadFiles(): Promise<void> {
    let items: FileEntry[];
    try {
      const res = await api<{ items: FileEntry[] }>("GET", `/folders/${enc(folder!.name)}/files${dir ? `?path=${enc(dir)}` : ""}`, undefined, { signal });
      items = res.items ?? [];
    } catch (e) {
      if (signal.aborted) return;
      replace(listing, errorBox(e, "Could not list the files"));
      return;
    }
    items.sort((a, b) => (a.type === "dir" ? 0 : 1) - (b.type === "dir" ? 0 : 1) || a.name.localeCompare(b.name));
    if (items.length === 0) {
      replace(listing, h("p", { class: "empty" }, "This directory is empty."));
      return;
    }
    const rows = items.map((f) => {
      const p = join(dir, f.name);
      const del = writable
        ? confirmButton("Delete", "Confirm delete", async () => {
            try {
              await api("DELETE", `/folders/${enc(folder!.name)}/delete_files`, { files: [p], recursive: f.type === "dir" });
              await loadFiles();
            } catch (e) {
              replace(msg, errorBox(e, `Could not delete ${f.name}`));
            }
          })
        : null;
      return h(
        "tr",
        { "data-file": f.name },
        h(
          "th",
          { scope: "row" },
          f.type === "dir" ? h("a", { href: filesURL(folder!.name, p) }, `${f.name}/`) : h("a", { href: `/folders/${enc(folder!.name)}/download?file=${enc(p)}`, download: f.name, class: "download" }, f.name),
        ),
        h("td", null, f.type === "dir" ? "—" : formatBytes(f.size)),
        h("td", null, formatTime(f.modified)),
        h("td", { class: "actions" }, del),
      );
    });
    replace(
      listing,
      h(
        "div",
        { class: "table-wrap" },
        h("table", null, h("thead", null, h("tr", null, ["Name", "Size", "Modified", ""].map((c) => h("th", { scope: "col" }, c)))), h("tbody", null, rows)),
      ),
    );
  }
  await loadFiles();
}

// upload sends files as one multipart request (each part's filename is its
// path in the folder) through XMLHttpRequest, whose upload events give the
// progress that fetch does not.
function upload(folder: string, dir: string, files: File[], onProgress: (sent: number, total: number) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const f of files) form.append("file", f, join(dir, f.name));
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/folders/${enc(folder)}/upload`);
    xhr.setRequestHeader("Accept", "application/json");
    for (const [k, v] of Object.entries(csrfHeaders())) xhr.setRequestHeader(k, v);
    xhr.upload.onprogress = (ev) => {
      if (ev.lengthComputable) onProgress(ev.loaded, ev.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1, 1);
        resolve();
        return;
      }
      let title = `${xhr.status} ${xhr.statusText}`;
      let detail = "";
      try {
        const p = JSON.parse(xhr.responseText) as { title?: string; detail?: string; msg?: string };
        title = p.title || title;
        detail = p.detail || p.msg || "";
      } catch {
        detail = xhr.responseText.slice(0, 300);
      }
      if (xhr.status === 401) location.assign(`/login?next=${enc(location.pathname + location.search)}`);
      reject(problemFromParts(xhr.status, title, detail));
    };
    xhr.onerror = () => reject(problemFromParts(0, "The upload was cut off", "The connection dropped or the server closed it (a quota stops an upload early). Check the folder's quota and try again."));
    xhr.send(form);
  });
}
