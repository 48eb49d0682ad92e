// Decoding of execute answers' console items and the callbacks a run drives.

/** ConsoleItem is one decoded [type, data] entry of an execute answer. */
export interface ConsoleItem {
  /** stdout, stderr, media, html, log or completion. */
  type: string;
  /**
   * The text of stdout, stderr and html items, the data of media items and
   * the message of log items.
   */
  text: string;
  /** The media type of media items. */
  mime?: string;
  /** The item's data as decoded from JSON. */
  raw: unknown;
}

/** InputRequest describes a waiting-input answer: the program reads stdin. */
export interface InputRequest {
  /** Asks the caller to hide what the user types. */
  isPassword: boolean;
  /** The raw options of the answer. */
  options: Record<string, unknown>;
}

/** RunHandlers receive what a run produces, in order. */
export interface RunHandlers {
  /** Called for each console item as soon as it arrives. */
  onConsole?: (item: ConsoleItem) => void;
  /**
   * Called when the program waits for input; the answer is sent as is (no
   * newline is added). Without it the program gets an empty line.
   */
  onInput?: (req: InputRequest) => string | Promise<string>;
  /** Called when the clean and build steps of a batch run end. */
  onStep?: (status: string, exitCode: number) => void;
}

function stringify(v: unknown): string {
  return typeof v === "string" ? v : JSON.stringify(v) ?? "";
}

/** decodeConsole turns one [type, data] pair into a ConsoleItem. */
export function decodeConsole(pair: unknown): ConsoleItem {
  const [type, data] = Array.isArray(pair) ? pair : [undefined, undefined];
  const item: ConsoleItem = { type: typeof type === "string" ? type : "", text: "", raw: data };
  if (typeof data === "string") {
    item.text = data;
  } else if (Array.isArray(data)) {
    if (item.type === "media" && data.length >= 2) {
      item.mime = typeof data[0] === "string" ? data[0] : undefined;
      item.text = stringify(data[1]);
    } else if (item.type === "log" && data.length >= 4) {
      item.text = stringify(data[3]);
    }
  } else if (data !== null && typeof data === "object" && item.type === "media") {
    const d = data as Record<string, unknown>;
    item.mime = typeof d.type === "string" ? d.type : undefined;
    item.text = stringify(d.data);
  }
  return item;
}

/** newRunId returns a fresh random run id (16 hex digits). */
export function newRunId(): string {
  const b = new Uint8Array(8);
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (c?.getRandomValues) {
    c.getRandomValues(b);
  } else {
    // Node 18 without the crypto global: a run id needs to be unique, not secret.
    for (let i = 0; i < b.length; i++) b[i] = Math.floor(Math.random() * 256);
  }
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
