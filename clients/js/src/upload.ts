// The multipart/form-data body of an upload. In Node the body is a stream
// that reads each file as it is sent (progress is counted as bytes go); in
// browsers it is a Blob assembled from the files' Blobs, which the browser
// also reads from disk as it sends.

import type { UploadSource } from "./client.js";
import { isNode } from "./client.js";
import { BaiError } from "./errors.js";

const encoder = new TextEncoder();

/** Progress counts the bytes of file content sent across an upload's requests. */
export interface UploadCounter {
  sent: number;
  total: number;
  onProgress?: (sent: number, total: number) => void;
}

function randomBoundary(): string {
  let s = "bai";
  for (let i = 0; i < 24; i++) {
    s += Math.floor(Math.random() * 36).toString(36);
  }
  return s;
}

/**
 * dispositionOf renders a part's Content-Disposition. Plain ASCII names are
 * quoted; others use RFC 2231's filename*=utf-8'' form, which the manager's
 * multipart reader decodes.
 */
export function dispositionOf(filename: string): string {
  if (/^[\x20-\x7e]*$/.test(filename)) {
    return `form-data; name="src"; filename="${filename.replace(/[\\"]/g, (c) => "\\" + c)}"`;
  }
  const enc = encodeURIComponent(filename).replace(/['()*!]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
  return `form-data; name="src"; filename*=utf-8''${enc}`;
}

function partHeader(boundary: string, name: string): string {
  return `--${boundary}\r\nContent-Disposition: ${dispositionOf(name)}\r\nContent-Type: application/octet-stream\r\n\r\n`;
}

function checkName(f: UploadSource): void {
  if (!f.name || f.name.includes("\0") || /[\r\n]/.test(f.name)) {
    throw new BaiError(`upload: file name ${JSON.stringify(f.name)} must be a non-empty path without newlines`, "invalid-argument");
  }
}

/** multipartBody builds the body of one upload request. */
export async function multipartBody(
  files: UploadSource[],
  counter: UploadCounter,
): Promise<{ body: BodyInit; contentType: string; streamed: boolean }> {
  const boundary = randomBoundary();
  const contentType = `multipart/form-data; boundary=${boundary}`;
  files.forEach(checkName);
  if (!isNode) {
    const parts: BlobPart[] = [];
    for (const f of files) {
      if ("path" in f) {
        throw new BaiError(`upload ${f.name}: files by path need Node; pass a Blob or File as data`, "invalid-argument");
      }
      parts.push(partHeader(boundary, f.name), f.data as BlobPart, "\r\n");
    }
    parts.push(`--${boundary}--\r\n`);
    return { body: new Blob(parts), contentType, streamed: false };
  }
  const { createReadStream } = await import("node:fs");
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (const f of files) {
      yield encoder.encode(partHeader(boundary, f.name));
      let source: AsyncIterable<Uint8Array>;
      if ("path" in f) {
        source = createReadStream(f.path, { highWaterMark: 256 << 10 });
      } else if (typeof f.data === "string" || f.data instanceof Uint8Array) {
        source = [typeof f.data === "string" ? encoder.encode(f.data) : f.data] as unknown as AsyncIterable<Uint8Array>;
      } else {
        source = f.data.stream() as unknown as AsyncIterable<Uint8Array>;
      }
      for await (const c of source) {
        counter.sent += c.length;
        counter.onProgress?.(counter.sent, counter.total);
        yield c;
      }
      yield encoder.encode("\r\n");
    }
    yield encoder.encode(`--${boundary}--\r\n`);
  }
  const it = chunks();
  // ReadableStream.from is newer than Node 18.
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await it.next();
        if (done) {
          controller.close();
        } else {
          controller.enqueue(value);
        }
      } catch (err) {
        controller.error(err);
      }
    },
    async cancel() {
      await it.return(undefined);
    },
  });
  return { body, contentType, streamed: true };
}
