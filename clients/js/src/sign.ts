// Request signing of the Backend.AI API (docs/api.md, "Signing"), on
// WebCrypto so that the same code runs in browsers and in Node.

/** The newest API version the manager speaks; what the client sends by default. */
export const NEWEST_VERSION = "v6.20220315";

/** The hex SHA-256 of an empty body, signed from v4.20181215 on. */
export const EMPTY_BODY_HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** The parts of a request that are signed. */
export interface SignedRequest {
  method: string;
  /** The raw path with its query string, exactly as sent. */
  pathQuery: string;
  /** The raw X-BackendAI-Date header value. */
  date: string;
  /** The Host header: the endpoint's host[:port]. */
  host: string;
  /** The media type of the body, without parameters. */
  contentType: string;
  /** The X-BackendAI-Version header value. */
  version: string;
  /** Hex SHA-256 of the body; the empty-body hash when absent. */
  bodyHash?: string;
}

const encoder = new TextEncoder();

// Node 18 has WebCrypto as node:crypto's webcrypto but not yet as a global.
let subtlePromise: Promise<SubtleCrypto> | undefined;
function subtle(): Promise<SubtleCrypto> {
  if (!subtlePromise) {
    subtlePromise = (async () => {
      const g = globalThis as { crypto?: Crypto };
      if (g.crypto?.subtle) {
        return g.crypto.subtle;
      }
      const nodeCrypto = await import("node:crypto");
      return nodeCrypto.webcrypto.subtle as unknown as SubtleCrypto;
    })();
  }
  return subtlePromise;
}

function hex(buf: ArrayBuffer): string {
  let s = "";
  for (const b of new Uint8Array(buf)) {
    s += b.toString(16).padStart(2, "0");
  }
  return s;
}

function bytes(data: string | Uint8Array): Uint8Array {
  return typeof data === "string" ? encoder.encode(data) : data;
}

async function hmac(key: Uint8Array, msg: string): Promise<Uint8Array> {
  const s = await subtle();
  const k = await s.importKey("raw", key as BufferSource, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await s.sign("HMAC", k, encoder.encode(msg)));
}

/** sha256Hex returns the hex SHA-256 of data. */
export async function sha256Hex(data: string | Uint8Array): Promise<string> {
  const s = await subtle();
  return hex(await s.digest("SHA-256", bytes(data) as BufferSource));
}

/** stringToSign builds the newline-joined string that is signed. */
export function stringToSign(r: SignedRequest): string {
  return [
    r.method.toUpperCase(),
    r.pathQuery,
    r.date,
    "host:" + r.host,
    "content-type:" + r.contentType.toLowerCase(),
    "x-backendai-version:" + r.version,
    r.bodyHash || EMPTY_BODY_HASH,
  ].join("\n");
}

/**
 * dateKey returns the YYYYMMDD the signing key is derived from: the calendar
 * day written in the date header itself (in the header's own zone), as the
 * manager reads it.
 */
export function dateKey(date: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(date.trim());
  if (m) {
    return m[1] + m[2] + m[3];
  }
  // An RFC 1123 date (Date header) is always in GMT.
  const d = new Date(date);
  if (Number.isNaN(d.getTime())) {
    throw new TypeError(`date ${JSON.stringify(date)} is neither ISO-8601 nor an HTTP date`);
  }
  return d.toISOString().slice(0, 10).replaceAll("-", "");
}

/**
 * signature computes the hex signature of r with secretKey: the key is
 * HMAC(HMAC(secret, YYYYMMDD), host), the signature HMAC(key, stringToSign).
 */
export async function signature(secretKey: string, r: SignedRequest): Promise<string> {
  const k1 = await hmac(encoder.encode(secretKey), dateKey(r.date));
  const k2 = await hmac(k1, r.host);
  return hex((await hmac(k2, stringToSign(r))).buffer as ArrayBuffer);
}

/** authorization renders the Authorization header value. */
export function authorization(accessKey: string, sig: string): string {
  return `BackendAI signMethod=HMAC-SHA256, credential=${accessKey}:${sig}`;
}

/**
 * formatDate renders a date the way Python's datetime.isoformat() does for
 * an aware UTC time (microseconds and +00:00), the form Backend.AI's own
 * clients send.
 */
export function formatDate(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000+00:00");
}

/** ApiVersion is a parsed API version such as v6.20220315. */
export interface ApiVersion {
  major: number;
  /** YYYYMMDD, 0 when absent. */
  date: number;
}

/** parseVersion parses "v6.20220315" (the date part is optional). */
export function parseVersion(s: string): ApiVersion {
  const m = /^v(\d+)(?:\.(\d{8}))?$/.exec(s.trim());
  if (!m || Number(m[1]) < 1) {
    throw new TypeError(`api version ${JSON.stringify(s)} must look like v6.20220315`);
  }
  return { major: Number(m[1]), date: m[2] ? Number(m[2]) : 0 };
}

/** hashesBody reports whether requests of version v sign the real body's hash. */
export function hashesBody(v: ApiVersion): boolean {
  if (v.major !== 4) {
    return v.major < 4;
  }
  return v.date < 20181215;
}
