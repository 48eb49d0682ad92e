// The editor side of the `bai bridge` protocol (docs/integrations.md, "bai
// bridge"): it spawns the bridge, sends requests as JSON lines, parses the
// events it prints and keeps the state of each run. It has no `vscode`
// import so that it is tested with node --test against the real bridge and
// server; extension.ts is the thin VS Code glue around it.

import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";

/** One event line of the bridge. */
export interface BridgeEvent {
  type: "ready" | "started" | "stdout" | "stderr" | "media" | "input-request" | "error" | "finished" | string;
  runId?: string;
  /** The request an error answers. */
  id?: string;
  text?: string;
  mime?: string;
  data?: string;
  prompt?: string;
  password?: boolean;
  exitCode?: number;
  message?: string;
  image?: string;
  session?: string;
  version?: string;
}

/** What to run: a language (or image, or a file's extension) and code (or a file). */
export interface RunRequest {
  lang?: string;
  image?: string;
  file?: string;
  code?: string;
  cwd?: string;
}

/** RunHandlers receive a run's events as they arrive. */
export interface RunHandlers {
  onStarted?(image: string, session: string): void;
  onStdout?(text: string): void;
  onStderr?(text: string): void;
  onMedia?(mime: string, data: string): void;
  /** The error message of a failed run (it still finishes). */
  onError?(message: string): void;
  /**
   * The program reads input: resolve to the answer (sent as is), or to
   * undefined to interrupt the run instead (the user cancelled).
   */
  onInput?(prompt: string, password: boolean): PromiseLike<string | undefined> | string | undefined;
}

/** The life of a run as the client sees it. */
export type RunStatus = "queued" | "running" | "waiting-input" | "finished";

/** Run is one run request in flight. */
export class Run {
  status: RunStatus = "queued";
  image = "";
  session = "";
  exitCode: number | undefined;
  /** Error messages the bridge gave for this run. */
  readonly errors: string[] = [];
  /** Resolves to the exit code (-1 when it could not run) once the run finished. */
  readonly done: Promise<number>;
  private resolveDone!: (code: number) => void;

  constructor(
    readonly id: string,
    private readonly client: BridgeClient,
    readonly handlers: RunHandlers,
  ) {
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** interrupt asks the bridge to interrupt the run. */
  interrupt(): void {
    this.client.send({ id: this.client.nextId(), op: "interrupt", runId: this.id });
  }

  /** input answers the run's input request. */
  input(text: string): void {
    this.client.send({ id: this.client.nextId(), op: "input", runId: this.id, text });
  }

  /** handle applies one event of this run. */
  async handle(ev: BridgeEvent): Promise<void> {
    const h = this.handlers;
    switch (ev.type) {
      case "started":
        this.status = "running";
        this.image = ev.image ?? "";
        this.session = ev.session ?? "";
        h.onStarted?.(this.image, this.session);
        break;
      case "stdout":
        h.onStdout?.(ev.text ?? "");
        break;
      case "stderr":
        h.onStderr?.(ev.text ?? "");
        break;
      case "media":
        h.onMedia?.(ev.mime ?? "", ev.data ?? "");
        break;
      case "error":
        this.errors.push(ev.message ?? "");
        h.onError?.(ev.message ?? "");
        break;
      case "input-request":
        // Not awaited: other runs' output keeps flowing while the user types.
        this.status = "waiting-input";
        void this.ask(ev.prompt ?? "", ev.password === true);
        break;
      case "finished":
        this.finish(typeof ev.exitCode === "number" ? ev.exitCode : -1);
        break;
    }
  }

  private async ask(prompt: string, password: boolean): Promise<void> {
    let answer: string | undefined = "";
    try {
      answer = this.handlers.onInput ? await this.handlers.onInput(prompt, password) : "";
    } catch {
      answer = undefined;
    }
    if (this.status !== "waiting-input") {
      return; // interrupted or finished meanwhile
    }
    this.status = "running";
    try {
      if (answer === undefined) {
        this.interrupt();
      } else {
        this.input(answer);
      }
    } catch {
      // the bridge is gone: its exit finishes the run
    }
  }

  /** finish ends the run with an exit code. */
  finish(code: number): void {
    if (this.status === "finished") {
      return;
    }
    this.status = "finished";
    this.exitCode = code;
    this.resolveDone(code);
  }
}

/** LineSplitter turns chunks of text into whole lines. */
export class LineSplitter {
  private rest = "";
  /** push returns the lines the chunk completed (without their newline). */
  push(chunk: string): string[] {
    this.rest += chunk;
    const lines = this.rest.split("\n");
    this.rest = lines.pop() ?? "";
    return lines.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l)).filter((l) => l !== "");
  }
}

/** parseEvent reads one event line; undefined when it is not an event. */
export function parseEvent(line: string): BridgeEvent | undefined {
  try {
    const v = JSON.parse(line) as unknown;
    if (v && typeof v === "object" && typeof (v as BridgeEvent).type === "string") {
      return v as BridgeEvent;
    }
  } catch {
    // not JSON: a stray line, reported through onLog
  }
  return undefined;
}

/** Options of BridgeClient.start. */
export interface BridgeOptions {
  /** The bai binary ("bai" on PATH by default). */
  command?: string;
  /** Extra arguments after "bridge". */
  args?: string[];
  /** The bridge's environment: BACKEND_* say which manager and keypair. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Lines the bridge logs on stderr, and stray stdout lines. */
  onLog?(line: string): void;
  /** Called once when the bridge process ends. */
  onExit?(code: number | null, signal: NodeJS.Signals | null): void;
  /** How long to wait for the bridge's ready event (ms). */
  readyTimeout?: number;
}

/** BridgeClient speaks the protocol with one `bai bridge` process. */
export class BridgeClient {
  readonly runs = new Map<string, Run>();
  private counter = 0;
  private exited = false;
  private exitPromise: Promise<void>;
  /** Messages of error events that answer no run (refused requests). */
  readonly requestErrors: { id?: string; message: string }[] = [];
  version = "";
  // Events are applied one at a time so that a slow input prompt keeps
  // the order of what follows.
  private chain = Promise.resolve();

  private constructor(
    private readonly proc: ChildProcessWithoutNullStreams,
    private readonly opts: BridgeOptions,
  ) {
    this.exitPromise = new Promise((resolve) => {
      proc.on("close", (code, signal) => {
        this.exited = true;
        this.chain = this.chain.then(() => {
          for (const run of this.runs.values()) {
            run.errors.push(`the bridge exited (${signal ?? code}) before the run finished`);
            run.handlers.onError?.(run.errors[run.errors.length - 1]);
            run.finish(-1);
          }
          this.runs.clear();
        });
        opts.onExit?.(code, signal);
        resolve();
      });
    });
  }

  /**
   * start spawns `bai bridge` and resolves once it said ready; it rejects
   * with the bridge's own words when it cannot start (no keys, no binary).
   */
  static start(opts: BridgeOptions = {}): Promise<BridgeClient> {
    const proc = spawn(opts.command || "bai", ["bridge", ...(opts.args ?? [])], {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ["pipe", "pipe", "pipe"],
    });
    const client = new BridgeClient(proc, opts);
    return new Promise((resolve, reject) => {
      let settled = false;
      const stderrTail: string[] = [];
      const fail = (why: string) => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          proc.kill();
          reject(new Error(why));
        }
      };
      const timer = setTimeout(() => fail(`bai bridge did not start within ${opts.readyTimeout ?? 15000} ms`), opts.readyTimeout ?? 15000);
      proc.on("error", (err) => fail(`cannot start ${opts.command || "bai"} bridge: ${err.message} (set the bai binary's path)`));
      proc.on("close", (code) =>
        fail(`bai bridge exited (${code}) before it was ready${stderrTail.length ? ": " + stderrTail.join(" | ") : ""}`),
      );
      const errLines = new LineSplitter();
      proc.stderr.setEncoding("utf8");
      proc.stderr.on("data", (chunk: string) => {
        for (const line of errLines.push(chunk)) {
          stderrTail.push(line);
          stderrTail.splice(0, stderrTail.length - 5);
          opts.onLog?.(line);
        }
      });
      const outLines = new LineSplitter();
      proc.stdout.setEncoding("utf8");
      proc.stdout.on("data", (chunk: string) => {
        for (const line of outLines.push(chunk)) {
          const ev = parseEvent(line);
          if (!ev) {
            opts.onLog?.(line);
            continue;
          }
          if (!settled) {
            if (ev.type === "ready") {
              settled = true;
              clearTimeout(timer);
              client.version = ev.version ?? "";
              resolve(client);
              continue;
            }
            if (ev.type === "error" && !ev.runId && !ev.id) {
              fail(`bai bridge: ${ev.message}`);
              continue;
            }
          }
          client.dispatch(ev);
        }
      });
    });
  }

  /** nextId returns a fresh request id. */
  nextId(): string {
    this.counter++;
    return `r${this.counter}`;
  }

  /** send writes one request line. */
  send(req: Record<string, unknown>): void {
    if (this.exited || !this.proc.stdin.writable) {
      throw new Error("the bridge is not running");
    }
    this.proc.stdin.write(JSON.stringify(req) + "\n");
  }

  private dispatch(ev: BridgeEvent): void {
    this.chain = this.chain.then(async () => {
      const run = ev.runId ? this.runs.get(ev.runId) : undefined;
      if (!run) {
        if (ev.type === "error") {
          this.requestErrors.push({ id: ev.id, message: ev.message ?? "" });
          this.opts.onLog?.(`bridge refused request ${ev.id ?? "?"}: ${ev.message}`);
        }
        return;
      }
      try {
        await run.handle(ev);
      } catch (err) {
        this.opts.onLog?.(`run ${run.id}: handler failed: ${(err as Error).message}`);
      }
      if (ev.type === "finished") {
        this.runs.delete(run.id);
      }
    });
  }

  /** run starts a run; its events go to handlers and run.done resolves at its end. */
  run(req: RunRequest, handlers: RunHandlers = {}): Run {
    const id = this.nextId();
    const run = new Run(id, this, handlers);
    this.runs.set(id, run);
    try {
      this.send({ ...req, id, op: "run" });
    } catch (err) {
      this.runs.delete(id);
      run.errors.push((err as Error).message);
      run.finish(-1);
    }
    return run;
  }

  /** active returns the runs not finished yet, oldest first. */
  active(): Run[] {
    return [...this.runs.values()].filter((r) => r.status !== "finished");
  }

  /** running reports whether the bridge process is alive. */
  get running(): boolean {
    return !this.exited;
  }

  /**
   * shutdown asks the bridge to stop (it destroys its sessions) and waits
   * for it to exit; past timeoutMs it is terminated (SIGTERM: the bridge
   * still cleans up), and killed past twice that.
   */
  async shutdown(timeoutMs = 30000): Promise<void> {
    if (this.exited) {
      return;
    }
    try {
      this.send({ op: "shutdown" });
      this.proc.stdin.end();
    } catch {
      // already closing
    }
    const timer = setTimeout(() => this.proc.kill("SIGTERM"), timeoutMs);
    const hard = setTimeout(() => this.proc.kill("SIGKILL"), 2 * timeoutMs);
    await this.exitPromise;
    clearTimeout(timer);
    clearTimeout(hard);
    await this.chain;
  }
}

/**
 * runRequestFor builds the run request of an editor document: its language
 * id as lang (the bridge knows editors' ids), its path for the extension and
 * cwd, and the code (a selection, or the document's text so that unsaved
 * edits run).
 */
export function runRequestFor(doc: { languageId: string; fileName: string; isUntitled: boolean }, code: string): RunRequest {
  const req: RunRequest = { code };
  // Plain text says nothing: let the file's extension decide.
  if (doc.languageId && doc.languageId !== "plaintext") {
    req.lang = doc.languageId;
  }
  if (!doc.isUntitled) {
    req.file = doc.fileName;
    const slash = Math.max(doc.fileName.lastIndexOf("/"), doc.fileName.lastIndexOf("\\"));
    if (slash > 0) {
      req.cwd = doc.fileName.slice(0, slash);
    }
  }
  return req;
}

/** escapeHtml escapes text for HTML content and attributes. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/**
 * mediaHtml renders one media item for the results webview: images as
 * <img> from data: URLs (SVG text is encoded, PNG/JPEG/GIF arrive base64),
 * HTML in a sandboxed iframe without scripts, anything else as text.
 */
export function mediaHtml(mime: string, data: string): string {
  switch (mime) {
    case "image/svg+xml":
      return `<img alt="svg" src="data:image/svg+xml;base64,${Buffer.from(data, "utf8").toString("base64")}">`;
    case "image/png":
    case "image/jpeg":
    case "image/gif":
      if (!/^[A-Za-z0-9+/=\s]*$/.test(data)) {
        return `<pre>${escapeHtml(`[${mime}: not base64]`)}</pre>`;
      }
      return `<img alt="${mime}" src="data:${mime};base64,${data.replace(/\s/g, "")}">`;
    case "text/html":
      return `<iframe sandbox srcdoc="${escapeHtml(data)}"></iframe>`;
  }
  return `<pre>${escapeHtml(`[${mime}, ${data.length} bytes]`)}</pre>`;
}

/**
 * resultsPage wraps rendered media in a page whose Content-Security-Policy
 * allows only data: images and inline styles: nothing a program prints can
 * run script in the editor.
 */
export function resultsPage(items: string[]): string {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-src 'self' data:;">
<style>body{font-family:sans-serif} img,iframe{max-width:100%;display:block;margin:8px 0;border:1px solid #8884} iframe{width:100%;min-height:200px;background:#fff}</style>
</head><body>${items.join("\n")}</body></html>`;
}

/** bridgeEnv builds the bridge's environment from settings, falling back to the editor's own. */
export function bridgeEnv(
  base: NodeJS.ProcessEnv,
  settings: { endpoint?: string; accessKey?: string; secretKey?: string },
): NodeJS.ProcessEnv {
  const env = { ...base };
  if (settings.endpoint) env.BACKEND_ENDPOINT = settings.endpoint;
  if (settings.accessKey) env.BACKEND_ACCESS_KEY = settings.accessKey;
  if (settings.secretKey) env.BACKEND_SECRET_KEY = settings.secretKey;
  return env;
}
