// Notebooks kept in localStorage, one per session id, so that cells and
// their outputs survive a reload. When the browser's quota is spent, the
// least recently saved notebooks of other sessions go first, then this
// notebook's largest outputs.
import type { OutItem } from "./output";

export interface CellData {
  id: string;
  code: string;
  outputs: OutItem[];
  count: number | null;
  state: "idle" | "queued" | "running" | "done" | "failed";
}

export interface NotebookData {
  version: 1;
  session: string;
  counter: number;
  cells: CellData[];
}

const prefix = "bai.notebook.v1.";
const indexKey = "bai.notebooks.v1";

function readIndex(): Record<string, number> {
  try {
    return JSON.parse(localStorage.getItem(indexKey) || "{}") as Record<string, number>;
  } catch {
    return {};
  }
}

export function load(sessionId: string): NotebookData | null {
  try {
    const raw = localStorage.getItem(prefix + sessionId);
    if (!raw) return null;
    const nb = JSON.parse(raw) as NotebookData;
    return nb.version === 1 && Array.isArray(nb.cells) ? nb : null;
  } catch {
    return null;
  }
}

// save stores a notebook; it returns a warning when outputs had to be
// dropped to fit.
export function save(sessionId: string, nb: NotebookData): string {
  const put = (text: string) => {
    localStorage.setItem(prefix + sessionId, text);
    const idx = readIndex();
    idx[sessionId] = Date.now();
    localStorage.setItem(indexKey, JSON.stringify(idx));
  };
  const text = JSON.stringify(nb);
  try {
    put(text);
    return "";
  } catch {
    // over quota: make room below
  }
  const idx = readIndex();
  for (const [id] of Object.entries(idx).sort((a, b) => a[1] - b[1])) {
    if (id === sessionId) continue;
    localStorage.removeItem(prefix + id);
    delete idx[id];
    try {
      localStorage.setItem(indexKey, JSON.stringify(idx));
      put(text);
      return "";
    } catch {
      // still too big: drop the next one
    }
  }
  // Alone and still too big: keep the code, shorten the outputs.
  const slim: NotebookData = {
    ...nb,
    cells: nb.cells.map((c) => ({
      ...c,
      outputs: c.outputs.map((o) => (o.data.length > 20000 ? { t: "note", data: `[${o.mime ?? o.t} output of ${o.data.length} characters not kept across reloads]` } : o)),
    })),
  };
  try {
    put(JSON.stringify(slim));
    return "Some large outputs will not survive a reload: the browser's storage is full.";
  } catch {
    return "This notebook could not be saved in the browser's storage; its cells will be lost on reload.";
  }
}

// forget removes the notebook of a destroyed session.
export function forget(sessionId: string): void {
  localStorage.removeItem(prefix + sessionId);
  const idx = readIndex();
  delete idx[sessionId];
  localStorage.setItem(indexKey, JSON.stringify(idx));
}
