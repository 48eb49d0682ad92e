// Errors of the client. Every failure of a request is one of these classes,
// so callers can branch on `err.kind` (the same categories as the Go SDK's
// errdefs sentinels) without parsing messages.

/** ErrorKind names the category of a failure. */
export type ErrorKind =
  | "not-found"
  | "unauthenticated"
  | "permission-denied"
  | "invalid-argument"
  | "conflict"
  | "quota-exceeded"
  | "rate-limited"
  | "too-large"
  | "unavailable"
  | "timeout"
  | "internal"
  | "unknown";

/** kindOfStatus maps an HTTP status to its ErrorKind. */
export function kindOfStatus(status: number): ErrorKind {
  switch (status) {
    case 400:
    case 422:
      return "invalid-argument";
    case 401:
      return "unauthenticated";
    case 403:
      return "permission-denied";
    case 404:
      return "not-found";
    case 409:
      return "conflict";
    case 412:
      return "quota-exceeded";
    case 413:
      return "too-large";
    case 429:
      return "rate-limited";
  }
  return status >= 500 ? "unavailable" : "unknown";
}

/** BaiError is the base class of the client's errors. */
export class BaiError extends Error {
  readonly kind: ErrorKind;
  constructor(message: string, kind: ErrorKind, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "BaiError";
    this.kind = kind;
  }
}

/** APIError is an error answer of the manager, decoded from its problem+json body. */
export class APIError extends BaiError {
  /** The HTTP status code. */
  readonly status: number;
  /** The problem type URI, e.g. https://api.backend.ai/probs/not-found. */
  readonly type: string;
  /** The short summary. */
  readonly title: string;
  /** The details; may be empty. */
  readonly msg: string;
  /** What the client was doing, e.g. "session foo". */
  readonly context: string;

  constructor(status: number, problem: { type?: string; title?: string; msg?: string }, context = "") {
    const title = (problem.title || "error").replace(/\.+$/, "");
    let text = `${title} (HTTP ${status})`;
    if (problem.msg && problem.msg !== problem.title) {
      text += ": " + problem.msg;
    }
    super(context ? `${context}: ${text}` : text, kindOfStatus(status));
    this.name = "APIError";
    this.status = status;
    this.type = problem.type ?? "";
    this.title = problem.title ?? "";
    this.msg = problem.msg ?? "";
    this.context = context;
  }
}

/** UnreachableError says the manager could not be contacted at all. */
export class UnreachableError extends BaiError {
  readonly endpoint: string;
  constructor(endpoint: string, cause: unknown) {
    super(`cannot reach the manager at ${endpoint}: is it running? (set BACKEND_ENDPOINT)`, "unavailable", { cause });
    this.name = "UnreachableError";
    this.endpoint = endpoint;
  }
}

/** ExecTimeoutError reports that the agent stopped a run for exceeding its time limit. */
export class ExecTimeoutError extends BaiError {
  readonly runId: string;
  readonly exitCode: number;
  constructor(runId: string, exitCode: number) {
    super(`run ${runId}: execution timed out`, "timeout");
    this.name = "ExecTimeoutError";
    this.runId = runId;
    this.exitCode = exitCode;
  }
}

/**
 * decodeProblem turns an error answer's body into an APIError, tolerating
 * bodies that are not problem+json (a proxy's HTML page, plain text).
 */
export function decodeProblem(status: number, body: string, context = ""): APIError {
  try {
    const p = JSON.parse(body) as Record<string, unknown>;
    if (p && typeof p === "object") {
      const str = (v: unknown) => (typeof v === "string" ? v : undefined);
      return new APIError(status, { type: str(p.type), title: str(p.title), msg: str(p.msg) ?? str(p.detail) }, context);
    }
  } catch {
    // not JSON: fall through
  }
  const text = body.trim();
  return new APIError(status, { title: httpStatusText(status), msg: text.length > 0 && text.length < 500 ? text : undefined }, context);
}

function httpStatusText(status: number): string {
  const texts: Record<number, string> = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
  };
  return texts[status] ?? "error";
}
