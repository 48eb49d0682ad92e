// The app's one door to the manager's API: same-origin fetches with the
// bai_session cookie, the CSRF header on every non-GET, problem+json errors
// turned into ApiError, and a 401 sending the reader to the login page.

export interface ResourcePolicy {
  name: string;
  total_resource_slots: Record<string, string>;
  default_session_slots: Record<string, string>;
  default_for_unspecified?: string;
  max_concurrent_sessions: number;
  max_session_lifetime: number;
  idle_timeout: number;
  max_exec_seconds: number;
  max_vfolder_count: number;
  max_vfolder_size: number;
}

export interface Me {
  email: string;
  username: string;
  role: "superadmin" | "admin" | "user";
  accessKey: string;
  csrfToken: string;
  authMethod: "keypair" | "oidc";
  resourcePolicy?: ResourcePolicy | null;
}

export interface AuthConfig {
  oidc: { enabled: boolean; name: string };
  version?: string;
}

export interface SessionInfo {
  sessionId: string;
  sessionName: string;
  ownerAccessKey: string;
  image: string;
  lang?: string;
  type?: string;
  status: string;
  statusInfo: string;
  resourceSlots: Record<string, string> | null;
  occupiedSlots: Record<string, string> | null;
  createdAt: string;
  terminatedAt?: string | null;
  age: number;
  numQueriesExecuted: number;
  lastStat?: Record<string, unknown> | null;
}

export interface ImageInfo {
  name: string;
  aliases: string[] | null;
  runtimeType: string;
  minResources: Record<string, string> | null;
  labels: Record<string, string> | null;
}

// ApiError is a refused or failed request, with the server's problem+json
// title and detail (our server says "msg"; RFC 7807 says "detail").
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
  ) {
    super(detail ? `${title}: ${detail}` : title);
  }
}

let me: Me | null = null;

export function currentUser(): Me | null {
  return me;
}

export function setCurrentUser(m: Me | null): void {
  me = m;
}

export function isSuperadmin(): boolean {
  return me?.role === "superadmin";
}

// csrfHeaders are the headers a state-changing request must carry.
export function csrfHeaders(): Record<string, string> {
  return me ? { "X-CSRF-Token": me.csrfToken } : {};
}

// onUnauthorized is set by main to send the reader to the login page.
let onUnauthorized: () => void = () => {};

export function setUnauthorizedHandler(f: () => void): void {
  onUnauthorized = f;
}

export interface RequestOptions {
  // noAuthRedirect keeps a 401 from leaving the page (the login form and
  // the first /auth/me show it themselves).
  noAuthRedirect?: boolean;
  signal?: AbortSignal;
}

// api sends one request; body is JSON unless it is FormData. It resolves
// to the parsed JSON answer (undefined for 204).
export async function api<T = unknown>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  let payload: BodyInit | undefined;
  if (body instanceof FormData) {
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  if (method !== "GET" && method !== "HEAD") Object.assign(headers, csrfHeaders());
  const res = await fetch(path, { method, headers, body: payload, credentials: "same-origin", signal: opts.signal });
  if (res.status === 401 && !opts.noAuthRedirect) {
    me = null;
    onUnauthorized();
  }
  if (!res.ok) throw await problemOf(res);
  if (res.status === 204 || res.status === 205) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

// problemOf reads an error answer; a body that is not problem+json still
// gives a useful message.
export async function problemOf(res: Response): Promise<ApiError> {
  let title = `${res.status} ${res.statusText || "error"}`;
  let detail = "";
  try {
    const text = await res.text();
    try {
      const p = JSON.parse(text) as { title?: string; detail?: string; msg?: string };
      if (p.title) title = p.title;
      detail = p.detail || p.msg || "";
    } catch {
      detail = text.slice(0, 300);
    }
  } catch {
    // the body is gone; the status says enough
  }
  return problemFromParts(res.status, title, detail);
}

export function problemFromParts(status: number, title: string, detail: string): ApiError {
  if (!detail) {
    if (status === 403) detail = "You are not allowed to do this. Ask an administrator if you need access.";
    else if (status === 404) detail = "It does not exist (any more), or it is not yours.";
    else if (status >= 500) detail = "The server had a problem; try again in a moment, and tell an administrator if it persists.";
  }
  return new ApiError(status, title, detail);
}

// adminGet and adminSend reach the superadmin API under /admin (the
// manager also answers the older unprefixed paths docs/api.md lists).
export function adminGet<T>(path: string, signal?: AbortSignal): Promise<T> {
  return api<T>("GET", "/admin" + path, undefined, { signal });
}

export function adminSend<T>(method: string, path: string, body?: unknown): Promise<T> {
  return api<T>(method, "/admin" + path, body);
}

// enc escapes one path segment.
export const enc = encodeURIComponent;

// wsURL turns a path into a ws:// or wss:// URL of this origin.
export function wsURL(path: string): string {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${path}`;
}
