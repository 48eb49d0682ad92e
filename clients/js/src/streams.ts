// Incremental parsers for the streamed answers: Server-Sent Events,
// multipart/mixed (downloads) and tar (the archives inside a download).
// They read from a ByteReader so that nothing is held in memory beyond the
// chunk at hand, however large the download.

const encoder = new TextEncoder();

/** ByteReader reads a byte stream piecewise, keeping only unread bytes. */
export class ByteReader {
  private buf: Uint8Array = new Uint8Array(0);
  private eof = false;
  private readonly next: () => Promise<IteratorResult<Uint8Array>>;

  constructor(source: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>) {
    if (typeof (source as ReadableStream<Uint8Array>).getReader === "function") {
      const r = (source as ReadableStream<Uint8Array>).getReader();
      this.next = async () => {
        const { done, value } = await r.read();
        return done ? { done: true, value: undefined } : { done: false, value };
      };
    } else {
      const it = (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
      this.next = () => it.next();
    }
  }

  /** fill appends the next chunk of the source; false at its end. */
  private async fill(): Promise<boolean> {
    if (this.eof) {
      return false;
    }
    for (;;) {
      const { done, value } = await this.next();
      if (done) {
        this.eof = true;
        return false;
      }
      if (value.length === 0) {
        continue;
      }
      if (this.buf.length === 0) {
        this.buf = value;
        return true;
      }
      const b = new Uint8Array(this.buf.length + value.length);
      b.set(this.buf);
      b.set(value, this.buf.length);
      this.buf = b;
      return true;
    }
  }

  private take(n: number): Uint8Array {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** unread puts bytes back in front of the stream. */
  unread(b: Uint8Array): void {
    const nb = new Uint8Array(b.length + this.buf.length);
    nb.set(b);
    nb.set(this.buf, b.length);
    this.buf = nb;
  }

  /**
   * readExact returns the next n bytes, or null when the stream ends before
   * the first of them; a stream that ends in the middle is an error.
   */
  async readExact(n: number): Promise<Uint8Array | null> {
    while (this.buf.length < n) {
      if (!(await this.fill())) {
        if (this.buf.length === 0) {
          return null;
        }
        throw new Error(`stream ended after ${this.buf.length} of ${n} bytes`);
      }
    }
    return this.take(n).slice();
  }

  /** readAny returns what is buffered or the next chunk; null at the end. */
  async readAny(): Promise<Uint8Array | null> {
    if (this.buf.length === 0 && !(await this.fill())) {
      return null;
    }
    return this.take(this.buf.length);
  }

  /** readSome returns between 1 and max bytes; the stream ending is an error. */
  async readSome(max: number): Promise<Uint8Array> {
    if (this.buf.length === 0 && !(await this.fill())) {
      throw new Error(`stream ended ${max} bytes early`);
    }
    return this.take(Math.min(max, this.buf.length));
  }

  /** chunks yields the next n bytes in pieces as they arrive. */
  async *chunks(n: number): AsyncGenerator<Uint8Array> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.fill())) {
        throw new Error(`stream ended ${left} bytes early`);
      }
      const piece = this.take(Math.min(left, this.buf.length));
      left -= piece.length;
      yield piece;
    }
  }

  /**
   * until yields the bytes before the next occurrence of delim, in pieces,
   * and consumes delim. A stream that ends first is an error.
   */
  async *until(delim: Uint8Array): AsyncGenerator<Uint8Array> {
    for (;;) {
      const i = indexOf(this.buf, delim);
      if (i >= 0) {
        if (i > 0) {
          yield this.take(i);
        }
        this.take(delim.length);
        return;
      }
      // Keep a tail that could be the start of delim.
      const safe = this.buf.length - (delim.length - 1);
      if (safe > 0) {
        yield this.take(safe);
      }
      if (!(await this.fill())) {
        throw new Error("stream ended before the multipart boundary");
      }
    }
  }

  /** atEnd reports whether nothing is left to read. */
  async atEnd(): Promise<boolean> {
    return this.buf.length === 0 && !(await this.fill());
  }
}

/** indexOf finds needle in hay; -1 when absent. */
export function indexOf(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  const first = needle[0];
  const last = hay.length - needle.length;
  outer: for (let i = hay.indexOf(first, from); i !== -1 && i <= last; i = hay.indexOf(first, i + 1)) {
    for (let j = 1; j < needle.length; j++) {
      if (hay[i + j] !== needle[j]) {
        continue outer;
      }
    }
    return i;
  }
  return -1;
}

async function collect(it: AsyncIterable<Uint8Array>, limit: number, what: string): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const p of it) {
    n += p.length;
    if (n > limit) {
      throw new Error(`${what} longer than ${limit} bytes`);
    }
    parts.push(p.slice());
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---- Server-Sent Events ----

/** SSEMessage is one dispatched Server-Sent Event. */
export interface SSEMessage {
  /** The event type; "message" when the stream named none. */
  event: string;
  /** The data lines joined with "\n". */
  data: string;
  id?: string;
}

/**
 * SSEParser turns text into events as the EventSource specification reads
 * it: field lines, comments (":") ignored, a blank line dispatches.
 */
export class SSEParser {
  private pending = "";
  private event = "";
  private data: string[] = [];
  private id: string | undefined;

  /** push feeds text and returns the events it completed. */
  push(text: string): SSEMessage[] {
    const out: SSEMessage[] = [];
    this.pending += text;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.pending);
      if (!m) {
        break;
      }
      // A CR at the very end may be the first half of a CRLF still to come.
      if (m[0] === "\r" && m.index === this.pending.length - 1) {
        break;
      }
      const line = this.pending.slice(0, m.index);
      this.pending = this.pending.slice(m.index + m[0].length);
      const ev = this.line(line);
      if (ev) {
        out.push(ev);
      }
    }
    return out;
  }

  private line(line: string): SSEMessage | undefined {
    if (line === "") {
      if (this.data.length === 0) {
        this.event = "";
        return undefined;
      }
      const ev: SSEMessage = { event: this.event || "message", data: this.data.join("\n") };
      if (this.id !== undefined) {
        ev.id = this.id;
      }
      this.event = "";
      this.data = [];
      return ev;
    }
    if (line.startsWith(":")) {
      return undefined;
    }
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) {
      value = value.slice(1);
    }
    switch (field) {
      case "event":
        this.event = value;
        break;
      case "data":
        this.data.push(value);
        break;
      case "id":
        this.id = value;
        break;
    }
    return undefined;
  }
}

/** parseSSE yields the events of a byte stream. */
export async function* parseSSE(source: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>): AsyncGenerator<SSEMessage> {
  const decoder = new TextDecoder();
  const p = new SSEParser();
  const r = new ByteReader(source);
  for (;;) {
    const chunk = await r.readAny();
    if (chunk === null) {
      return; // an event not closed by a blank line is dropped, as EventSource does
    }
    yield* p.push(decoder.decode(chunk, { stream: true }));
  }
}

// ---- multipart ----

/** MultipartPart is one part of a multipart body; read body before the next part. */
export interface MultipartPart {
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: AsyncGenerator<Uint8Array>;
}

/** boundaryOf returns the boundary parameter of a multipart Content-Type. */
export function boundaryOf(contentType: string): string {
  const m = /^\s*multipart\/[\w.+-]+\s*;(.*)$/i.exec(contentType);
  if (!m) {
    throw new Error(`not a multipart answer: ${JSON.stringify(contentType)}`);
  }
  const b = /(?:^|;)\s*boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(m[1]);
  if (!b) {
    throw new Error(`multipart answer without a boundary: ${JSON.stringify(contentType)}`);
  }
  return b[1] ?? b[2];
}

/**
 * parseMultipart yields the parts of a multipart body as they arrive. Each
 * part's body must be read (or is skipped) before the next part comes.
 */
export async function* parseMultipart(r: ByteReader, boundary: string): AsyncGenerator<MultipartPart> {
  const delim = encoder.encode("\r\n--" + boundary);
  // The first delimiter has no CRLF before it: pretend it had one.
  r.unread(encoder.encode("\r\n"));
  for await (const _ of r.until(delim)) {
    // the preamble is ignored
  }
  const decoder = new TextDecoder();
  for (;;) {
    const after = await r.readExact(2);
    if (after === null) {
      throw new Error("multipart body ended after a boundary");
    }
    if (after[0] === 0x2d && after[1] === 0x2d) {
      return; // the closing delimiter
    }
    r.unread(after);
    // Transport padding may follow the boundary before its CRLF.
    for await (const _ of r.until(encoder.encode("\r\n"))) {
      // ignored
    }
    const headers: Record<string, string> = {};
    const first = await r.readExact(2);
    if (first === null) {
      throw new Error("multipart body ended in a part's headers");
    }
    if (!(first[0] === 0x0d && first[1] === 0x0a)) {
      r.unread(first);
      const raw = decoder.decode(await collect(r.until(encoder.encode("\r\n\r\n")), 64 << 10, "multipart headers"));
      for (const line of raw.split("\r\n")) {
        const c = line.indexOf(":");
        if (c > 0) {
          headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
        }
      }
    }
    let done = false;
    const body = (async function* () {
      yield* r.until(delim);
      done = true;
    })();
    yield { headers, body };
    if (!done) {
      // Skip what the consumer left unread (a fresh scan resumes where it stopped).
      for await (const _ of r.until(delim)) {
        // skipped
      }
    }
  }
}

// ---- tar ----

/** TarEntry is one entry of a tar archive; read body before the next entry. */
export interface TarEntry {
  /** The path as stored (PAX and GNU long names applied). */
  name: string;
  /** file, dir, symlink or other. */
  type: "file" | "dir" | "symlink" | "other";
  mode: number;
  size: number;
  mtime: Date;
  linkname: string;
  body: AsyncGenerator<Uint8Array>;
}

function cstring(b: Uint8Array): string {
  const z = b.indexOf(0);
  return new TextDecoder().decode(z >= 0 ? b.subarray(0, z) : b);
}

function octal(b: Uint8Array): number {
  if (b[0] & 0x80) {
    // GNU base-256 for values that do not fit in octal digits.
    let n = b[0] & 0x7f;
    for (let i = 1; i < b.length; i++) {
      n = n * 256 + b[i];
    }
    return n;
  }
  const s = cstring(b).trim();
  return s === "" ? 0 : parseInt(s, 8);
}

/** parsePax reads the records ("len key=value\n") of a PAX header. */
export function parsePax(data: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  const text = new TextDecoder().decode(data);
  let i = 0;
  while (i < text.length) {
    const sp = text.indexOf(" ", i);
    if (sp < 0) {
      break;
    }
    const len = parseInt(text.slice(i, sp), 10);
    if (!(len > 0)) {
      break;
    }
    // The length counts bytes; the records we read (path, linkpath, size,
    // mtime) are found by their "=" and newline, which works for UTF-8 too.
    const nl = text.indexOf("\n", sp);
    if (nl < 0) {
      break;
    }
    const rec = text.slice(sp + 1, nl);
    const eq = rec.indexOf("=");
    if (eq > 0) {
      out[rec.slice(0, eq)] = rec.slice(eq + 1);
    }
    i = nl + 1;
  }
  return out;
}

/** parseTar yields the entries of a tar archive as they arrive. */
export async function* parseTar(r: ByteReader): AsyncGenerator<TarEntry> {
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const h = await r.readExact(512);
    if (h === null || h.every((x) => x === 0)) {
      return; // end of archive (one zero block is enough for us)
    }
    let sum = 0;
    for (let i = 0; i < 512; i++) {
      sum += i >= 148 && i < 156 ? 0x20 : h[i];
    }
    if (sum !== octal(h.subarray(148, 156))) {
      throw new Error("tar header checksum mismatch");
    }
    const flag = String.fromCharCode(h[156] || 0x30);
    let size = octal(h.subarray(124, 136));
    const padded = Math.ceil(size / 512) * 512;
    if (flag === "x" || flag === "g" || flag === "L" || flag === "K") {
      const data = await collect(r.chunks(padded), 1 << 20, "tar extended header");
      const content = data.subarray(0, size);
      if (flag === "x") {
        pax = parsePax(content);
      } else if (flag === "L") {
        longName = cstring(content);
      } else if (flag === "K") {
        longLink = cstring(content);
      }
      continue;
    }
    let name = cstring(h.subarray(0, 100));
    const magic = cstring(h.subarray(257, 263));
    if (magic.startsWith("ustar")) {
      const prefix = cstring(h.subarray(345, 500));
      if (prefix) {
        name = prefix + "/" + name;
      }
    }
    name = pax.path ?? longName ?? name;
    const linkname = pax.linkpath ?? longLink ?? cstring(h.subarray(157, 257));
    if (pax.size !== undefined) {
      size = Number(pax.size);
    }
    const mtime = new Date(Number(pax.mtime ?? octal(h.subarray(136, 148))) * 1000);
    pax = {};
    longName = longLink = undefined;
    const type = flag === "0" || flag === "7" ? "file" : flag === "5" ? "dir" : flag === "2" ? "symlink" : "other";
    const dataLen = type === "file" || type === "other" ? size : 0;
    const state = { left: dataLen };
    const body = (async function* () {
      while (state.left > 0) {
        const piece = await r.readSome(state.left);
        state.left -= piece.length;
        yield piece;
      }
    })();
    yield { name, type, mode: octal(h.subarray(100, 108)), size: dataLen, mtime, linkname, body };
    while (state.left > 0) {
      // skip what the consumer left unread
      state.left -= (await r.readSome(state.left)).length;
    }
    const pad = Math.ceil(dataLen / 512) * 512 - dataLen;
    if (pad > 0) {
      for await (const _ of r.chunks(pad)) {
        // padding
      }
    }
  }
}
