// The client: one manager, one keypair. Its methods follow the Go SDK
// (clients/go), which is the reference implementation.

import { decodeConsole, newRunId, type RunHandlers } from "./console.js";
import { APIError, BaiError, ExecTimeoutError, UnreachableError, decodeProblem } from "./errors.js";
import { authorization, formatDate, hashesBody, NEWEST_VERSION, parseVersion, sha256Hex, signature } from "./sign.js";
import { ByteReader, boundaryOf, parseMultipart, parseSSE, parseTar, type TarEntry } from "./streams.js";
import type {
  AgentInfo,
  CreateSessionRequest,
  CreateSessionResult,
  ExecuteRequest,
  ExecuteResult,
  FileEntry,
  FileList,
  GroupInfo,
  GroupSettings,
  ImageInfo,
  PolicyInfo,
  PolicySettings,
  ServerInfo,
  SessionEvent,
  SessionInfo,
} from "./types.js";

/** The manager address used when none is configured: the port `bai dev` listens on. */
export const DEFAULT_ENDPOINT = "http://127.0.0.1:8081";

/** How many files the manager accepts in one upload request. */
export const MAX_UPLOAD_FILES = 20;

/**
 * WebSocketLike is the part of the standard WebSocket interface the execute
 * stream uses (the browser's WebSocket and the `ws` package both have it).
 */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open" | "message" | "close" | "error", listener: (ev: any) => void): void;
}

/**
 * WebSocketFactory opens a WebSocket whose handshake carries the given
 * headers (the signature). Browsers' WebSocket cannot send headers, so a
 * browser application that wants the execute stream supplies one (for
 * example through a proxy that signs); Node uses the `ws` package.
 */
export type WebSocketFactory = (url: string, headers: Record<string, string>) => WebSocketLike;

/** Config says where the manager is and which keypair signs the requests. */
export interface Config {
  /** The manager's base URL, e.g. http://127.0.0.1:8081 (DEFAULT_ENDPOINT when empty). */
  endpoint?: string;
  accessKey: string;
  secretKey: string;
  /** Sent in X-BackendAI-Version; NEWEST_VERSION when empty. v5 and newer. */
  apiVersion?: string;
  /** Sent in User-Agent where the platform allows; "bai-js-sdk" when empty. */
  userAgent?: string;
  /** The clock that dates requests. */
  now?: () => Date;
  /** The fetch implementation; the global one when absent. */
  fetch?: typeof fetch;
  /** Opens the execute stream's WebSocket; the `ws` package in Node when absent. */
  webSocket?: WebSocketFactory;
}

/** Environment variable names; the same ones Backend.AI's own CLI reads. */
export const ENV_ENDPOINT = "BACKEND_ENDPOINT";
export const ENV_ACCESS_KEY = "BACKEND_ACCESS_KEY";
export const ENV_SECRET_KEY = "BACKEND_SECRET_KEY";

/**
 * configFromEnv builds a Config from BACKEND_ENDPOINT (default
 * DEFAULT_ENDPOINT), BACKEND_ACCESS_KEY and BACKEND_SECRET_KEY; in Node env
 * defaults to process.env. Missing keys throw an error saying what to set.
 */
export function configFromEnv(env?: Record<string, string | undefined>): Config {
  const e = env ?? (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env ?? {};
  const cfg: Config = {
    endpoint: (e[ENV_ENDPOINT] ?? "").trim() || DEFAULT_ENDPOINT,
    accessKey: (e[ENV_ACCESS_KEY] ?? "").trim(),
    secretKey: (e[ENV_SECRET_KEY] ?? "").trim(),
  };
  if (!cfg.accessKey || !cfg.secretKey) {
    throw new BaiError(`set ${ENV_ACCESS_KEY} and ${ENV_SECRET_KEY} (printed by \`make run\`)`, "invalid-argument");
  }
  return cfg;
}

/** Per-call options of every method. */
export interface CallOptions {
  /** Aborts the call. */
  signal?: AbortSignal;
}

/** Options of runCode and streamCode. */
export interface RunOptions extends RunHandlers, CallOptions {
  /** query (the default) or batch. */
  mode?: "query" | "batch";
  /** The execute options, e.g. { exec_timeout: 10 } or a batch's { build, exec }. */
  options?: Record<string, unknown>;
}

/** UploadSource is one file to upload: from a local path (Node) or from data. */
export type UploadSource =
  | { /** The path under /home/work. */ name: string; /** A local file (Node only). */ path: string; size?: number }
  | { name: string; data: Blob | Uint8Array | string };

/** Options of upload. */
export interface UploadOptions extends CallOptions {
  /** Called as bytes are sent (Node), or once per request (browsers). */
  onProgress?: (sent: number, total: number) => void;
}

interface RequestOptions extends CallOptions {
  query?: Record<string, string | string[]>;
  json?: unknown;
  body?: BodyInit;
  contentType?: string;
  /** Prefix of error messages, e.g. "session foo". */
  context: string;
  signed?: boolean;
  /** Sends the body as a stream (Node's fetch needs to be told). */
  duplex?: boolean;
}

export const isNode = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === "string";

function encodeQuery(q: Record<string, string | string[]>): string {
  const p = new URLSearchParams();
  for (const k of Object.keys(q).sort()) {
    const v = q[k];
    for (const x of Array.isArray(v) ? v : [v]) {
      p.append(k, x);
    }
  }
  return p.toString();
}

function sessionPath(name: string, ...suffix: string[]): string {
  return ["/session/" + encodeURIComponent(name), ...suffix].join("/");
}

function isAbort(err: unknown, signal?: AbortSignal): boolean {
  return signal?.aborted === true || (err instanceof Error && err.name === "AbortError");
}

/** Client talks to one manager with one keypair. Methods may be called concurrently. */
export class Client {
  readonly endpoint: string;
  private readonly base: URL;
  private readonly cfg: Required<Pick<Config, "accessKey" | "secretKey" | "apiVersion" | "userAgent">>;
  private readonly now: () => Date;
  private readonly fetchImpl: typeof fetch;
  private readonly wsFactory?: WebSocketFactory;
  private readonly bodyHashed: boolean;

  constructor(cfg: Config) {
    const endpoint = (cfg.endpoint || DEFAULT_ENDPOINT).replace(/\/+$/, "");
    let base: URL;
    try {
      base = new URL(endpoint);
    } catch {
      throw new BaiError(`endpoint ${JSON.stringify(endpoint)} must look like http://host:port (set ${ENV_ENDPOINT})`, "invalid-argument");
    }
    if ((base.protocol !== "http:" && base.protocol !== "https:") || base.host === "") {
      throw new BaiError(`endpoint ${JSON.stringify(endpoint)} must look like http://host:port (set ${ENV_ENDPOINT})`, "invalid-argument");
    }
    if (!cfg.accessKey || !cfg.secretKey) {
      throw new BaiError("a keypair is needed: accessKey and secretKey", "invalid-argument");
    }
    const apiVersion = cfg.apiVersion || NEWEST_VERSION;
    let v;
    try {
      v = parseVersion(apiVersion);
    } catch (e) {
      throw new BaiError((e as Error).message, "invalid-argument");
    }
    if (v.major < 5) {
      // v4 and older address sessions under /kernel; this client speaks /session.
      throw new BaiError(`api version ${apiVersion}: the client speaks v5 and newer`, "invalid-argument");
    }
    this.bodyHashed = hashesBody(v);
    this.base = base;
    this.endpoint = base.origin + base.pathname.replace(/\/+$/, "");
    this.cfg = { accessKey: cfg.accessKey, secretKey: cfg.secretKey, apiVersion, userAgent: cfg.userAgent || "bai-js-sdk" };
    this.now = cfg.now ?? (() => new Date());
    const f = cfg.fetch ?? globalThis.fetch;
    if (typeof f !== "function") {
      throw new BaiError("no fetch: use Node >= 18 or pass config.fetch", "invalid-argument");
    }
    this.fetchImpl = f.bind(globalThis);
    this.wsFactory = cfg.webSocket;
  }

  /** fromEnv builds a Client from BACKEND_* variables (see configFromEnv). */
  static fromEnv(env?: Record<string, string | undefined>): Client {
    return new Client(configFromEnv(env));
  }

  /** url returns the absolute URL of path (with query) under the endpoint. */
  private url(path: string, query?: Record<string, string | string[]>): URL {
    const basePath = this.base.pathname.replace(/\/+$/, "");
    const q = query && Object.keys(query).length > 0 ? "?" + encodeQuery(query) : "";
    // Signing what the URL parser will actually send, not what we wrote.
    return new URL(this.base.origin + basePath + path + q);
  }

  /** signedHeaders returns the version, date and Authorization headers of a request. */
  async signedHeaders(method: string, url: URL, contentType: string, body?: string): Promise<Record<string, string>> {
    const date = formatDate(this.now());
    const bodyHash = this.bodyHashed ? await sha256Hex(body ?? "") : undefined;
    const sig = await signature(this.cfg.secretKey, {
      method,
      pathQuery: url.pathname + url.search,
      date,
      host: url.host,
      contentType,
      version: this.cfg.apiVersion,
      bodyHash,
    });
    return {
      "X-BackendAI-Version": this.cfg.apiVersion,
      "X-BackendAI-Date": date,
      Authorization: authorization(this.cfg.accessKey, sig),
    };
  }

  /** send performs one request and returns the answer of a status below 400. */
  private async send(method: string, path: string, o: RequestOptions): Promise<Response> {
    const url = this.url(path, o.query);
    let body: BodyInit | undefined = o.body;
    let contentType = o.contentType ?? "text/plain";
    let text: string | undefined;
    if (o.json !== undefined) {
      text = JSON.stringify(o.json);
      body = text;
      contentType = "application/json";
    }
    const headers: Record<string, string> = {
      "Content-Type": contentType,
      Accept: "application/json",
      "User-Agent": this.cfg.userAgent,
    };
    if (o.signed !== false) {
      // Only JSON bodies are ever hashed: the client speaks v5+, which never hashes.
      Object.assign(headers, await this.signedHeaders(method, url, contentType.split(";")[0].trim(), text));
    }
    const init: RequestInit & { duplex?: string } = { method, headers, body, signal: o.signal };
    if (o.duplex) {
      init.duplex = "half";
    }
    let resp: Response;
    try {
      resp = await this.fetchImpl(url, init);
    } catch (err) {
      if (isAbort(err, o.signal)) {
        throw err;
      }
      throw new UnreachableError(this.endpoint, err);
    }
    if (resp.status >= 400) {
      let data = "";
      try {
        data = await resp.text();
      } catch {
        // the body is best effort
      }
      throw decodeProblem(resp.status, data, o.context);
    }
    return resp;
  }

  /** call performs a request and decodes its JSON answer (undefined when empty). */
  private async call<T>(method: string, path: string, o: RequestOptions): Promise<T> {
    const resp = await this.send(method, path, o);
    const data = await resp.text();
    if (resp.status === 204 || data.trim() === "") {
      return undefined as T;
    }
    try {
      return JSON.parse(data) as T;
    } catch (err) {
      throw new BaiError(`${o.context}: the manager's answer is not JSON: ${(err as Error).message}`, "internal");
    }
  }

  /** serverInfo asks GET / (unsigned) for the API and manager versions. */
  serverInfo(o: CallOptions = {}): Promise<ServerInfo> {
    return this.call("GET", "/", { ...o, signed: false, context: "server info" });
  }

  /**
   * createSession creates a session, or returns the live one of the same
   * name when reuseIfExists allows it (the default).
   */
  async createSession(req: CreateSessionRequest, o: CallOptions = {}): Promise<CreateSessionResult> {
    const out = await this.call<CreateSessionResult>("POST", "/session", { ...o, json: req, context: "create session" });
    if (!out.sessionId && out.kernelId) {
      out.sessionId = out.kernelId;
    }
    return out;
  }

  /** getSession returns the information of a session by name or id. */
  getSession(nameOrId: string, o: CallOptions = {}): Promise<SessionInfo> {
    return this.call("GET", sessionPath(nameOrId), { ...o, context: `session ${nameOrId}` });
  }

  /** listSessions returns the caller's sessions that are not destroyed. */
  async listSessions(o: CallOptions = {}): Promise<SessionInfo[]> {
    const out = await this.call<{ items: SessionInfo[] }>("GET", "/session", { ...o, context: "list sessions" });
    return out.items ?? [];
  }

  /** destroySession terminates a session; forced skips the graceful shutdown. */
  destroySession(nameOrId: string, o: CallOptions & { forced?: boolean } = {}): Promise<{ stats: Record<string, unknown> }> {
    return this.call("DELETE", sessionPath(nameOrId), {
      ...o,
      query: o.forced ? { forced: "true" } : undefined,
      context: `destroy session ${nameOrId}`,
    });
  }

  /** restartSession restarts the kernel: its state is lost, its files kept. */
  async restartSession(nameOrId: string, o: CallOptions = {}): Promise<void> {
    await this.call("PATCH", sessionPath(nameOrId), { ...o, context: `restart session ${nameOrId}` });
  }

  /** execute sends one execute request (query, batch, continue, input). runCode drives the loop. */
  async execute(nameOrId: string, req: ExecuteRequest, o: CallOptions = {}): Promise<ExecuteResult> {
    const out = await this.call<{ result: ExecuteResult }>("POST", sessionPath(nameOrId), {
      ...o,
      json: req,
      context: `execute in session ${nameOrId}`,
    });
    if (!out || typeof out.result !== "object" || out.result === null) {
      throw new BaiError(`execute in session ${nameOrId}: the answer has no result`, "internal");
    }
    return out.result;
  }

  /**
   * runCode runs code and drives the execute loop to its end: it polls with
   * mode continue while the status is continued (and after a batch's clean
   * and build steps), answers waiting-input through onInput, and hands every
   * console item to onConsole as it arrives. It resolves to the program's
   * exit code; an exec-timeout rejects with ExecTimeoutError. Aborting stops
   * the loop; the caller decides whether to interrupt or destroy the session.
   */
  async runCode(nameOrId: string, code: string, o: RunOptions = {}): Promise<number> {
    let req: ExecuteRequest = { mode: o.mode ?? "query", runId: newRunId(), code };
    if (o.options) {
      req.options = o.options;
    }
    for (;;) {
      o.signal?.throwIfAborted();
      const res = await this.execute(nameOrId, req, o);
      const runId = res.runId || req.runId!;
      const step = await this.handleStep(runId, res, o);
      if (step.exitCode !== undefined) {
        return step.exitCode;
      }
      req = step.input !== undefined ? { mode: "input", runId, code: step.input } : { mode: "continue", runId, code: "" };
    }
  }

  /**
   * handleStep hands one answer's console items to the handlers and says
   * what comes next: the exit code (the run ended), the input to send, or
   * neither (continue).
   */
  private async handleStep(runId: string, res: ExecuteResult, h: RunHandlers): Promise<{ exitCode?: number; input?: string }> {
    for (const pair of res.console ?? []) {
      h.onConsole?.(decodeConsole(pair));
    }
    const code = typeof res.exitCode === "number" ? res.exitCode : 0;
    switch (res.status) {
      case "finished":
        return { exitCode: code };
      case "exec-timeout":
        throw new ExecTimeoutError(runId, code);
      case "clean-finished":
      case "build-finished":
        h.onStep?.(res.status, code);
        return {};
      case "waiting-input": {
        const options = res.options ?? {};
        const answer = h.onInput ? await h.onInput({ isPassword: options.is_password === true, options }) : "";
        return { input: answer };
      }
      case "continued":
        return {};
      case "error":
        throw new BaiError(`run ${runId}: ${res.msg || "the manager ended the run with an error"}`, "unavailable");
    }
    throw new BaiError(`run ${runId}: unknown execute status ${JSON.stringify(res.status)}`, "internal");
  }

  /**
   * streamCode runs code over the execute WebSocket stream: the same
   * handlers as runCode, but output arrives every 200 ms instead of every
   * long poll. In browsers it needs config.webSocket (see WebSocketFactory).
   */
  async streamCode(nameOrId: string, code: string, o: RunOptions = {}): Promise<number> {
    o.signal?.throwIfAborted();
    const url = this.url("/stream" + sessionPath(nameOrId, "execute"));
    // No Content-Type is sent on the handshake: the manager reads that as application/octet-stream.
    const headers = { ...(await this.signedHeaders("GET", url, "application/octet-stream")), "User-Agent": this.cfg.userAgent };
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const ws = await this.openWebSocket(url.toString(), headers, `execute stream of session ${nameOrId}`, o.signal);
    const runId = newRunId();
    return new Promise<number>((resolve, reject) => {
      let settled = false;
      // Frames are handled one at a time, in order, even when onInput is slow.
      let chain = Promise.resolve();
      const finish = (err: unknown, exitCode?: number) => {
        if (settled) {
          return;
        }
        settled = true;
        o.signal?.removeEventListener("abort", onAbort);
        if (ws.readyState <= 1) {
          ws.close(1000);
        }
        if (err) {
          reject(err);
        } else {
          resolve(exitCode!);
        }
      };
      const onAbort = () => finish(o.signal!.reason ?? new DOMException("aborted", "AbortError"));
      o.signal?.addEventListener("abort", onAbort);
      ws.addEventListener("message", (ev: { data: unknown }) => {
        chain = chain.then(async () => {
          if (settled) {
            return;
          }
          let frame: ExecuteResult;
          try {
            frame = JSON.parse(typeof ev.data === "string" ? ev.data : new TextDecoder().decode(ev.data as Uint8Array));
          } catch {
            finish(new BaiError(`execute stream of session ${nameOrId}: a frame is not JSON`, "internal"));
            return;
          }
          try {
            const step = await this.handleStep(runId, frame, o);
            if (step.exitCode !== undefined) {
              finish(undefined, step.exitCode);
            } else if (step.input !== undefined && !settled) {
              ws.send(step.input); // the answer is a raw text frame, not JSON
            }
          } catch (err) {
            finish(err);
          }
        });
      });
      ws.addEventListener("close", (ev: { code?: number; reason?: string }) => {
        chain = chain.then(() =>
          finish(new BaiError(`execute stream of session ${nameOrId} closed before the run finished (code ${ev.code}${ev.reason ? ": " + ev.reason : ""})`, "unavailable")),
        );
      });
      ws.addEventListener("error", (ev: { message?: string; error?: unknown }) => {
        chain = chain.then(() => finish(new BaiError(`execute stream of session ${nameOrId}: ${ev.message ?? "connection error"}`, "unavailable", { cause: ev.error })));
      });
      const first: Record<string, unknown> = { mode: o.mode ?? "query", code, options: o.options ?? {} };
      ws.send(JSON.stringify(first));
    });
  }

  /** openWebSocket opens a signed WebSocket and waits for the handshake to finish. */
  private async openWebSocket(url: string, headers: Record<string, string>, context: string, signal?: AbortSignal): Promise<WebSocketLike> {
    if (this.wsFactory) {
      const ws = this.wsFactory(url, headers);
      await new Promise<void>((resolve, reject) => {
        ws.addEventListener("open", () => resolve());
        ws.addEventListener("error", (ev: { message?: string }) => reject(new BaiError(`${context}: ${ev.message ?? "handshake failed"}`, "unavailable")));
      });
      return ws;
    }
    if (!isNode) {
      throw new BaiError(
        `${context}: a browser's WebSocket cannot send the signature headers; pass config.webSocket, or use runCode`,
        "invalid-argument",
      );
    }
    const { default: WebSocket } = await import("ws");
    const ws = new WebSocket(url, { headers, handshakeTimeout: 30_000 });
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        ws.terminate();
        reject(signal!.reason ?? new DOMException("aborted", "AbortError"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      ws.once("open", () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      });
      // A refused handshake: read the problem+json body for a proper APIError.
      ws.once("unexpected-response", (_req, res) => {
        signal?.removeEventListener("abort", onAbort);
        const parts: Buffer[] = [];
        res.on("data", (b: Buffer) => parts.push(b));
        res.on("end", () => {
          ws.terminate();
          reject(decodeProblem(res.statusCode ?? 0, Buffer.concat(parts).toString("utf8"), context));
        });
        res.on("error", (err) => reject(new UnreachableError(this.endpoint, err)));
      });
      ws.once("error", (err) => {
        signal?.removeEventListener("abort", onAbort);
        reject(new UnreachableError(this.endpoint, err));
      });
    });
    return ws as unknown as WebSocketLike;
  }

  /** interrupt interrupts the code running in a session. */
  async interrupt(nameOrId: string, o: CallOptions = {}): Promise<void> {
    await this.call("POST", sessionPath(nameOrId, "interrupt"), { ...o, context: `interrupt session ${nameOrId}` });
  }

  /** complete asks the session's kernel for completions of code. */
  async complete(nameOrId: string, code: string, options: Record<string, unknown> = {}, o: CallOptions = {}): Promise<unknown[]> {
    const out = await this.call<{ result: unknown[] }>("POST", sessionPath(nameOrId, "complete"), {
      ...o,
      json: { code, options },
      context: `complete in session ${nameOrId}`,
    });
    return out?.result ?? [];
  }

  /** logs returns the container logs of a session. */
  async logs(nameOrId: string, o: CallOptions = {}): Promise<string> {
    const out = await this.call<{ result: { logs: string } }>("GET", sessionPath(nameOrId, "logs"), { ...o, context: `logs of session ${nameOrId}` });
    return out?.result?.logs ?? "";
  }

  /** images lists the kernel images the manager knows. */
  async images(o: CallOptions = {}): Promise<ImageInfo[]> {
    const out = await this.call<{ items: ImageInfo[] }>("GET", "/images", { ...o, context: "list images" });
    return out.items ?? [];
  }

  /**
   * upload streams files into the session's /home/work (subdirectories are
   * made), at most MAX_UPLOAD_FILES per request. In Node, files named by
   * path are read as they are sent, never whole into memory.
   */
  async upload(nameOrId: string, files: UploadSource[], o: UploadOptions = {}): Promise<void> {
    const { multipartBody } = await import("./upload.js");
    const sizes = await Promise.all(files.map((f) => sourceSize(f)));
    const total = sizes.reduce((a, b) => a + b, 0);
    const counter = { sent: 0, total, onProgress: o.onProgress };
    for (let start = 0; start < files.length; start += MAX_UPLOAD_FILES) {
      const batch = files.slice(start, start + MAX_UPLOAD_FILES);
      const { body, contentType, streamed } = await multipartBody(batch, counter);
      await this.call("POST", sessionPath(nameOrId, "upload"), {
        ...o,
        body,
        contentType,
        duplex: streamed,
        context: `upload to session ${nameOrId}`,
      });
      if (!streamed) {
        counter.sent += sizes.slice(start, start + MAX_UPLOAD_FILES).reduce((a, b) => a + b, 0);
        o.onProgress?.(counter.sent, total);
      }
    }
  }

  /**
   * downloadSingle returns the bytes of one regular file of the session's
   * /home/work as a stream, read as it arrives.
   */
  async downloadSingle(nameOrId: string, file: string, o: CallOptions = {}): Promise<ReadableStream<Uint8Array>> {
    const resp = await this.send("GET", sessionPath(nameOrId, "download_single"), {
      ...o,
      query: { file },
      context: `download ${file} from session ${nameOrId}`,
    });
    if (!resp.body) {
      throw new BaiError(`download ${file}: the answer has no body`, "internal");
    }
    return resp.body;
  }

  /**
   * downloadEntries fetches paths of the session's /home/work (files or
   * directories) and yields the entries of the tar archives the manager
   * streams back, one per path. Read each entry's body (or leave it) before
   * asking for the next. In Node, download() writes them to a directory.
   */
  async *downloadEntries(nameOrId: string, paths: string[], o: CallOptions = {}): AsyncGenerator<TarEntry> {
    const resp = await this.send("GET", sessionPath(nameOrId, "download"), {
      ...o,
      query: { files: paths },
      context: `download from session ${nameOrId}`,
    });
    const ct = resp.headers.get("Content-Type") ?? "";
    let boundary: string;
    try {
      boundary = boundaryOf(ct);
    } catch (err) {
      await resp.body?.cancel();
      throw new BaiError(`download from session ${nameOrId}: ${(err as Error).message}`, "internal");
    }
    const r = new ByteReader(resp.body!);
    for await (const part of parseMultipart(r, boundary)) {
      yield* parseTar(new ByteReader(part.body));
    }
  }

  /**
   * download (Node) fetches paths of the session's /home/work and unpacks
   * them into dest, made when missing. Nothing is written outside dest,
   * whatever the archives hold. It resolves to the local paths written.
   */
  async download(nameOrId: string, paths: string[], dest: string, o: CallOptions = {}): Promise<string[]> {
    const { extractTo } = await import("./node.js");
    return extractTo(this.downloadEntries(nameOrId, paths, o), dest);
  }

  /** downloadSingleToFile (Node) writes one file of the session to localPath and resolves to its size. */
  async downloadSingleToFile(nameOrId: string, file: string, localPath: string, o: CallOptions = {}): Promise<number> {
    const { writeStream } = await import("./node.js");
    return writeStream(await this.downloadSingle(nameOrId, file, o), localPath);
  }

  /** listFiles lists a directory of the session's /home/work ("" for the work dir itself). */
  async listFiles(nameOrId: string, dir = "", o: CallOptions = {}): Promise<FileList> {
    const raw = await this.call<{ files: string; errors: string; abspath: string }>("GET", sessionPath(nameOrId, "files"), {
      ...o,
      query: { path: dir },
      context: `list files of session ${nameOrId}`,
    });
    let files: FileEntry[] = [];
    if (raw.files) {
      try {
        files = JSON.parse(raw.files) as FileEntry[];
      } catch (err) {
        throw new BaiError(`list files: the answer's files are not JSON: ${(err as Error).message}`, "internal");
      }
    }
    return { abspath: raw.abspath, files };
  }

  /**
   * events streams the lifecycle events of the caller's sessions (Server-Sent
   * Events over fetch), narrowed by name or sessionId; scope "*" shows every
   * tenant's (superadmins). It ends when the signal aborts or the loop
   * consuming it stops. onOpen is called once the manager has subscribed,
   * so that events of anything done after it are not missed.
   */
  async *events(
    o: CallOptions & { name?: string; sessionId?: string; scope?: string; onOpen?: () => void } = {},
  ): AsyncGenerator<SessionEvent> {
    const ac = new AbortController();
    const onAbort = () => ac.abort(o.signal?.reason);
    if (o.signal?.aborted) {
      onAbort();
    }
    o.signal?.addEventListener("abort", onAbort);
    const query: Record<string, string> = {};
    if (o.name) query.name = o.name;
    if (o.sessionId) query.sessionId = o.sessionId;
    if (o.scope) query.scope = o.scope;
    try {
      const resp = await this.send("GET", "/events/session", { query, signal: ac.signal, context: "session events" });
      // The manager subscribes before it sends the answer's headers.
      o.onOpen?.();
      for await (const m of parseSSE(resp.body!)) {
        let d: Record<string, unknown> = {};
        try {
          d = JSON.parse(m.data) as Record<string, unknown>;
        } catch {
          // keep the raw data only
        }
        const s = (v: unknown) => (typeof v === "string" ? v : "");
        yield {
          event: m.event,
          sessionId: s(d.sessionId),
          sessionName: s(d.sessionName),
          ownerAccessKey: s(d.ownerAccessKey),
          status: s(d.status),
          reason: s(d.reason),
          result: s(d.result),
          raw: m.data,
        };
      }
    } catch (err) {
      if (o.signal?.aborted) {
        return; // the caller stopped watching
      }
      throw err;
    } finally {
      o.signal?.removeEventListener("abort", onAbort);
      ac.abort(); // closes the connection when the consumer stops early
    }
  }

  // The admin API needs a superadmin keypair; others get 403.

  /** agents lists the agents with their capacity and occupancy. */
  async agents(o: CallOptions = {}): Promise<AgentInfo[]> {
    return (await this.call<{ agents: AgentInfo[] }>("GET", "/agents", { ...o, context: "list agents" })).agents ?? [];
  }

  /** setAgentSchedulable drains an agent (false) or returns it to service. */
  async setAgentSchedulable(id: string, schedulable: boolean, o: CallOptions = {}): Promise<void> {
    await this.call("POST", `/agents/${encodeURIComponent(id)}/schedulable`, { ...o, json: { schedulable }, context: `agent ${id}` });
  }

  /** scalingGroups lists the scaling groups. */
  async scalingGroups(o: CallOptions = {}): Promise<GroupInfo[]> {
    return (await this.call<{ scaling_groups: GroupInfo[] }>("GET", "/scaling-groups", { ...o, context: "list scaling groups" })).scaling_groups ?? [];
  }

  /** setScalingGroup creates or updates a scaling group. */
  setScalingGroup(name: string, settings: GroupSettings, o: CallOptions = {}): Promise<GroupInfo> {
    return this.call("PUT", `/scaling-groups/${encodeURIComponent(name)}`, { ...o, json: settings, context: `scaling group ${name}` });
  }

  /** resourcePolicies lists the keypair resource policies. */
  async resourcePolicies(o: CallOptions = {}): Promise<PolicyInfo[]> {
    return (await this.call<{ resource_policies: PolicyInfo[] }>("GET", "/resource-policies", { ...o, context: "list resource policies" }))
      .resource_policies ?? [];
  }

  /** setResourcePolicy creates or updates a resource policy. */
  setResourcePolicy(name: string, settings: PolicySettings, o: CallOptions = {}): Promise<PolicyInfo> {
    return this.call("PUT", `/resource-policies/${encodeURIComponent(name)}`, { ...o, json: settings, context: `resource policy ${name}` });
  }

  /** setKeyPairPolicy assigns a resource policy to a keypair. */
  async setKeyPairPolicy(accessKey: string, policy: string, o: CallOptions = {}): Promise<void> {
    await this.call("PUT", `/keypairs/${encodeURIComponent(accessKey)}/resource-policy`, {
      ...o,
      json: { resource_policy: policy },
      context: `keypair ${accessKey}`,
    });
  }
}

/**
 * collectUploads (Node) turns local paths into upload entries that keep
 * their relative paths, as the Go SDK's CollectUploads: a relative file path
 * is kept as given, an absolute one (or one climbing out with "..") keeps
 * its base name, and a directory adds every regular file below it under the
 * directory's name, or directly under /home/work when contents is set.
 */
export async function collectUploads(paths: string[], contents = false): Promise<UploadSource[]> {
  const m = await import("./node.js");
  return m.collectUploads(paths, contents);
}

async function sourceSize(f: UploadSource): Promise<number> {
  if ("path" in f) {
    if (f.size !== undefined) {
      return f.size;
    }
    const { fileSize } = await import("./node.js");
    return fileSize(f.path);
  }
  const d = f.data;
  if (typeof d === "string") {
    return new TextEncoder().encode(d).length;
  }
  return d instanceof Uint8Array ? d.length : d.size;
}

export { APIError };
