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

export function runCode(session: string, code: string, hooks: RunHooks, signal: AbortSignal): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    let done = false;
    let opened = false;
    const ws = new WebSocket(wsURL(`/stream/session/${enc(session)}/execute`));
    const finish = (f: () => void) => {
      if (done) return;
      done = true;
      signal.removeEventListener("abort", onAbort);
      f();
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000);
    };
    const onAbort = () => finish(() => reject(new DOMException("the run's stream was closed", "AbortError")));
    signal.addEventListener("abort", onAbort);

    ws.onopen = () => {
      opened = true;
      ws.send(JSON.stringify({ mode: "query", code, options: {} }));
    };
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
