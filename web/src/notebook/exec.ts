// One run of code over the execute WebSocket
// (GET /stream/session/{name}/execute, docs/api.md): the first client
// message is the code, then every server frame brings output and a status;
// waiting-input is answered with the next text frame.
import { api, ApiError, enc, wsURL, type SessionInfo } from "../api";
import { decodeConsole, type OutItem } from "./output";

export interface RunHooks {
  output(items: OutItem[]): void;
  // input asks the reader for a line; it resolves to the answer.
  input(opts: { isPassword: boolean }): Promise<string>;
}

export interface RunResult {
  status: string; // finished or exec-timeout
  exitCode: number | null;
}

function executeURL(session: string): string {
  return wsURL(`/stream/session/${enc(session)}/execute`);
}

// SpareStream keeps one execute stream open ahead of the next run. The
// stream carries one run per connection, and the browser starts a new
// WebSocket's handshake only once the page's main thread is free: after
// Shift+Enter that is after the next cell has been made and the frame
// drawn, 10 ms or more on a slow machine, before the code can even be sent.
// A stream opened while the reader types lets Run send the code inside the
// key's own handler, so the server runs it while the page is busy drawing.
// A spare lives idleMs after the last warm() and is then closed: an open
// stream keeps the session from idling out on the server.
export class SpareStream {
  private ws: WebSocket | null = null;
  private timer = 0;

  constructor(
    private readonly session: string,
    private readonly idleMs = 30_000,
  ) {}

  // warm opens a stream unless one is open or opening, and keeps it for
  // idleMs more.
  warm(): void {
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(() => this.close(), this.idleMs);
    if (this.ws && (this.ws.readyState === WebSocket.CONNECTING || this.ws.readyState === WebSocket.OPEN)) return;
    const ws = new WebSocket(executeURL(this.session));
    ws.onclose = () => {
      if (this.ws === ws) this.ws = null;
    };
    this.ws = ws;
  }

  // take hands the spare over to a run (null when there is none); the run
  // owns it from then on.
  take(): WebSocket | null {
    const ws = this.ws;
    this.ws = null;
    if (!ws) return null;
    ws.onclose = null;
    if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) return ws;
    ws.close();
    return null;
  }

  close(): void {
    window.clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.close(1000);
    }
  }
}

// runCode runs code over spare when it is given (an execute stream of
// the session that no run has used: open, or still opening), else over a
// new stream.
export function runCode(session: string, code: string, hooks: RunHooks, signal: AbortSignal, spare: WebSocket | null = null): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    let done = false;
    let opened = false;
    const ws = spare ?? new WebSocket(executeURL(session));
    const finish = (f: () => void) => {
      if (done) return;
      done = true;
      signal.removeEventListener("abort", onAbort);
      f();
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000);
    };
    const onAbort = () => finish(() => reject(new DOMException("the run's stream was closed", "AbortError")));
    signal.addEventListener("abort", onAbort);

    const start = () => {
      opened = true;
      ws.send(JSON.stringify({ mode: "query", code, options: {} }));
    };
    if (ws.readyState === WebSocket.OPEN) start();
    else ws.onopen = start;
    ws.onmessage = async (ev) => {
      if (typeof ev.data !== "string") return;
      let f: { status?: string; console?: unknown[]; exitCode?: number | null; options?: Record<string, unknown>; msg?: string };
      try {
        f = JSON.parse(ev.data);
      } catch {
        return;
      }
      const items: OutItem[] = [];
      for (const raw of f.console ?? []) {
        const it = decodeConsole(raw);
        if (it) items.push(it);
      }
      if (items.length) hooks.output(items);
      switch (f.status) {
        case "finished":
        case "exec-timeout":
          finish(() => resolve({ status: f.status as string, exitCode: f.exitCode ?? null }));
          return;
        case "waiting-input": {
          let answer = "";
          try {
            answer = await hooks.input({ isPassword: f.options?.is_password === true });
          } catch (e) {
            finish(() => reject(e));
            return;
          }
          if (!done) ws.send(answer);
          return;
        }
        case "error":
          finish(() => reject(new ApiError(503, "The run could not go on", f.msg || "The session stopped answering; check its status on the session list.")));
          return;
        default:
        // continued, clean-finished, build-finished: more comes
      }
    };
    ws.onclose = (ev) => {
      if (done) return;
      if (!opened) {
        // A refused handshake gives the browser no status: ask the API why.
        void explain(session).then((err) => finish(() => reject(err)));
        return;
      }
      finish(() => reject(new ApiError(503, "The connection to the run closed early", `Code ${ev.code}${ev.reason ? `: ${ev.reason}` : ""}. The program may still be running in the session; check your connection and run the cell again.`)));
    };
  });
}

// explain finds out why the execute stream was refused.
async function explain(session: string): Promise<ApiError> {
  try {
    const s = await api<SessionInfo>("GET", `/session/${enc(session)}`);
    if (s.status !== "RUNNING") {
      return new ApiError(409, `The session is ${s.status}`, s.statusInfo ? `${s.statusInfo}. Start a new session to run code.` : "Only a RUNNING session runs code; start a new one from the session list.");
    }
    return new ApiError(503, "The server refused the execute stream", "Reload the page; if it goes on, the manager's log says why.");
  } catch (e) {
    if (e instanceof ApiError) return e;
    return new ApiError(0, "The server could not be reached", "Check your connection and try again.");
  }
}
