// Unit tests: signing (the vectors of common/sign, computed with Python's
// hmac from API.md's rules), parsing of console items, Server-Sent Events,
// multipart and tar streams, errors and configuration. No server needed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import {
  Client,
  APIError,
  ByteReader,
  SSEParser,
  boundaryOf,
  configFromEnv,
  dateKey,
  decodeConsole,
  decodeProblem,
  formatDate,
  hashesBody,
  parseMultipart,
  parsePax,
  parseSSE,
  parseTar,
  parseVersion,
  sha256Hex,
  signature,
  stringToSign,
} from "../dist/index.js";
import { dispositionOf } from "../dist/upload.js";

const secret = "abcdefghijklmnopqrstuvwxyz0123456789ABCD";
const date = "2026-11-27T06:48:23.126693+00:00";

test("signature vectors of common/sign", async () => {
  const cases = [
    {
      name: "v6 empty body hash",
      req: { method: "POST", pathQuery: "/session/abc?x=1", date, host: "127.0.0.1:8081", contentType: "application/json", version: "v6.20220315" },
      want: "3988c475c3d676cb6e10a1601498f1d430db00b90a0e09cba870eff10c4678b9",
    },
    {
      name: "v3 real body hash",
      req: {
        method: "POST",
        pathQuery: "/kernel/create",
        date,
        host: "127.0.0.1:8081",
        contentType: "application/json",
        version: "v3.20170615",
        bodyHash: await sha256Hex('{"lang":"python"}'),
      },
      want: "63134a03d6eec7ec7a31b01f0c49758f923212c0c627343eff972a961dda3635",
    },
    {
      // The key uses the calendar day the client wrote (28th in +09:00), not the UTC day.
      name: "offset date",
      req: { method: "GET", pathQuery: "/session", date: "2026-11-28T05:00:00+09:00", host: "127.0.0.1:8081", contentType: "text/plain", version: "v6.20220315" },
      want: "ef9b11dc91f392799b74c53a8250080f018e347f0c8c4d2453075de4e8da025d",
    },
  ];
  for (const c of cases) {
    assert.equal(await signature(secret, c.req), c.want, c.name);
  }
});

test("string to sign", () => {
  const s = stringToSign({ method: "get", pathQuery: "/session?a=1", date, host: "h:1", contentType: "Text/Plain", version: "v6.20220315" });
  assert.equal(
    s,
    ["GET", "/session?a=1", date, "host:h:1", "content-type:text/plain", "x-backendai-version:v6.20220315", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"].join("\n"),
  );
});

test("dates and versions", () => {
  assert.equal(formatDate(new Date(Date.UTC(2026, 10, 27, 6, 48, 23, 126))), "2026-11-27T06:48:23.126000+00:00");
  assert.equal(dateKey("2026-11-28T05:00:00+09:00"), "20261128");
  assert.equal(dateKey("Fri, 27 Nov 2026 23:48:23 GMT"), "20261127");
  assert.throws(() => dateKey("yesterday"));
  for (const [v, want] of Object.entries({ "v3.20170615": true, "v4.20181126": true, "v4.20181215": false, "v5.20191215": false, "v6.20220315": false })) {
    assert.equal(hashesBody(parseVersion(v)), want, v);
  }
  for (const bad of ["", "6", "v", "vx.1", "v6.2022"]) {
    assert.throws(() => parseVersion(bad), undefined, bad);
  }
});

test("client configuration", () => {
  assert.throws(() => configFromEnv({ BACKEND_ACCESS_KEY: "AK" }), /BACKEND_SECRET_KEY/);
  const cfg = configFromEnv({ BACKEND_ACCESS_KEY: " AK ", BACKEND_SECRET_KEY: "SK" });
  assert.deepEqual(cfg, { endpoint: "http://127.0.0.1:8081", accessKey: "AK", secretKey: "SK" });
  assert.throws(() => new Client({ endpoint: "ftp://x", accessKey: "a", secretKey: "b" }), /http:\/\/host:port/);
  assert.throws(() => new Client({ endpoint: "http://x", accessKey: "a", secretKey: "b", apiVersion: "v4.20190615" }), /v5 and newer/);
  assert.throws(() => new Client({ endpoint: "http://x", accessKey: "", secretKey: "b" }), /keypair/);
  assert.equal(new Client({ endpoint: "http://x:1/", accessKey: "a", secretKey: "b" }).endpoint, "http://x:1");
});

test("signed requests as sent", async () => {
  // A fetch that records the request shows what goes on the wire.
  const seen = [];
  const fetch = async (url, init) => {
    seen.push({ url: String(url), init });
    return new Response(JSON.stringify({ items: [] }), { status: 200, headers: { "Content-Type": "application/json" } });
  };
  const now = () => new Date(Date.UTC(2026, 10, 27, 6, 48, 23, 126));
  const c = new Client({ endpoint: "http://127.0.0.1:8081", accessKey: "AKIATEST", secretKey: secret, now, fetch });
  await c.listSessions();
  await c.downloadSingle("s 1", "a b/c&d.txt").catch(() => {});
  const [list, dl] = seen;
  assert.equal(list.url, "http://127.0.0.1:8081/session");
  assert.equal(list.init.headers["X-BackendAI-Date"], "2026-11-27T06:48:23.126000+00:00");
  const want = await signature(secret, { method: "GET", pathQuery: "/session", date: "2026-11-27T06:48:23.126000+00:00", host: "127.0.0.1:8081", contentType: "text/plain", version: "v6.20220315" });
  assert.equal(list.init.headers.Authorization, `BackendAI signMethod=HMAC-SHA256, credential=AKIATEST:${want}`);
  const u = new URL(dl.url);
  assert.equal(u.pathname, "/session/s%201/download_single");
  assert.equal(u.searchParams.get("file"), "a b/c&d.txt");
  const wantDl = await signature(secret, { method: "GET", pathQuery: u.pathname + u.search, date: "2026-11-27T06:48:23.126000+00:00", host: "127.0.0.1:8081", contentType: "text/plain", version: "v6.20220315" });
  assert.ok(dl.init.headers.Authorization.endsWith(":" + wantDl));
});

test("error answers", async () => {
  const e = decodeProblem(404, JSON.stringify({ type: "https://api.backend.ai/probs/not-found", title: "Not found.", msg: "no session x" }), "session x");
  assert.ok(e instanceof APIError);
  assert.equal(e.kind, "not-found");
  assert.equal(e.message, "session x: Not found (HTTP 404): no session x");
  const plain = decodeProblem(502, "<html>bad gateway</html>");
  assert.equal(plain.kind, "unavailable");
  assert.match(plain.message, /HTTP 502.*bad gateway/);
  assert.equal(decodeProblem(412, "{}").kind, "quota-exceeded");
  assert.equal(decodeProblem(401, "{}").kind, "unauthenticated");
});

test("console items", () => {
  assert.deepEqual(decodeConsole(["stdout", "hi\n"]), { type: "stdout", text: "hi\n", raw: "hi\n" });
  const m = decodeConsole(["media", ["image/svg+xml", "<svg/>"]]);
  assert.equal(m.mime, "image/svg+xml");
  assert.equal(m.text, "<svg/>");
  const m2 = decodeConsole(["media", { type: "image/png", data: "iVBOR" }]);
  assert.equal(m2.mime, "image/png");
  assert.equal(m2.text, "iVBOR");
  assert.equal(decodeConsole(["log", ["INFO", "t", "logger", "message"]]).text, "message");
  assert.equal(decodeConsole("garbage").type, "");
});

test("server-sent events split anywhere", async () => {
  const text = ': bai session events\n\nevent: session_started\ndata: {"a":1}\n\nevent: x\r\ndata: l1\r\ndata: l2\r\nid: 7\r\n\r\ndata: no type\n\n: keep-alive\n\nevent: unfinished\ndata: dropped';
  const want = [
    { event: "session_started", data: '{"a":1}' },
    { event: "x", data: "l1\nl2", id: "7" },
    { event: "message", data: "no type", id: "7" },
  ];
  for (let size = 1; size <= text.length; size += 7) {
    const p = new SSEParser();
    const got = [];
    for (let i = 0; i < text.length; i += size) {
      got.push(...p.push(text.slice(i, i + size)));
    }
    assert.deepEqual(got, want, `chunks of ${size}`);
  }
  const bytes = new TextEncoder().encode(text);
  const got = [];
  for await (const ev of parseSSE(chunked(bytes, 5))) {
    got.push(ev);
  }
  assert.deepEqual(got, want);
});

async function* chunked(bytes, size) {
  for (let i = 0; i < bytes.length; i += size) {
    yield bytes.slice(i, i + size);
  }
}

async function readAll(it) {
  const parts = [];
  for await (const p of it) parts.push(Buffer.from(p));
  return Buffer.concat(parts);
}

test("multipart split anywhere", async () => {
  const bodies = [Buffer.from("first\r\n--notquite"), Buffer.alloc(3000, 7), Buffer.alloc(0)];
  const b = "BOUNDARY42";
  let raw = "preamble\r\n";
  const enc = [Buffer.from(raw)];
  bodies.forEach((body, i) => {
    enc.push(Buffer.from(`--${b}\r\nContent-Type: application/x-tar\r\nX-Index: ${i}\r\n\r\n`), body, Buffer.from("\r\n"));
  });
  enc.push(Buffer.from(`--${b}--\r\n`));
  const all = Buffer.concat(enc);
  assert.equal(boundaryOf(`multipart/mixed; boundary="${b}"`), b);
  assert.equal(boundaryOf(`multipart/mixed; charset=x; boundary=${b}`), b);
  assert.throws(() => boundaryOf("application/json"));
  for (const size of [1, 2, 9, 64, 5000]) {
    const got = [];
    for await (const part of parseMultipart(new ByteReader(chunked(all, size)), b)) {
      // Leave the second part unread: the parser must skip it.
      got.push({ idx: part.headers["x-index"], body: part.headers["x-index"] === "1" ? null : await readAll(part.body) });
    }
    assert.equal(got.length, 3, `chunks of ${size}`);
    assert.deepEqual(got[0].body, bodies[0]);
    assert.deepEqual(got[2].body, bodies[2]);
  }
  // A body cut short is an error, not a silent success.
  await assert.rejects(async () => {
    for await (const part of parseMultipart(new ByteReader(chunked(all.subarray(0, 200), 50)), b)) {
      await readAll(part.body);
    }
  });
});

test("tar archives written by tar(1)", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "bai-js-tar-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const long = "d".repeat(120) + "/" + "f".repeat(110) + ".txt";
  mkdirSync(join(dir, "src", "d".repeat(120)), { recursive: true });
  writeFileSync(join(dir, "src", long), "long name\n");
  writeFileSync(join(dir, "src", "big.bin"), Buffer.alloc(70000, 3));
  writeFileSync(join(dir, "src", "empty"), "");
  for (const format of ["pax", "gnu"]) {
    const archive = join(dir, `a-${format}.tar`);
    execFileSync("tar", ["--format", format, "-cf", archive, "-C", join(dir, "src"), "."]);
    const data = readFileSync(archive);
    const files = {};
    for await (const e of parseTar(new ByteReader(chunked(data, 1000)))) {
      if (e.type === "file") {
        files[e.name.replace(/^\.\//, "")] = (await readAll(e.body)).length;
      }
    }
    assert.deepEqual(files, { [long]: 10, "big.bin": 70000, empty: 0 }, format);
  }
  assert.deepEqual(parsePax(new TextEncoder().encode("30 path=some/long/name/here\n20 linkpath=target\n")), { path: "some/long/name/here", linkpath: "target" });
});

test("upload part headers", () => {
  assert.equal(dispositionOf('a"b\\c.txt'), 'form-data; name="src"; filename="a\\"b\\\\c.txt"');
  assert.equal(dispositionOf("dir/héllo.txt"), "form-data; name=\"src\"; filename*=utf-8''dir%2Fh%C3%A9llo.txt");
});
