// Integration tests against a live manager with real Docker sessions,
// reached through BACKEND_ENDPOINT / BACKEND_ACCESS_KEY / BACKEND_SECRET_KEY
// (the e2e suite passes its shared `bai dev`). Without them the tests are
// skipped, unless BAI_CLIENT_REQUIRE_LIVE=1 (set by the e2e suite) makes that a
// failure. Every session made here is destroyed before the tests end.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:net";

import { APIError, Client, ExecTimeoutError, UnreachableError, collectUploads } from "../dist/index.js";

const env = process.env;
const haveServer = Boolean(env.BACKEND_ACCESS_KEY && env.BACKEND_SECRET_KEY && env.BACKEND_ENDPOINT);
if (!haveServer && env.BAI_CLIENT_REQUIRE_LIVE === "1") {
  throw new Error("BAI_CLIENT_REQUIRE_LIVE=1 but BACKEND_ENDPOINT, BACKEND_ACCESS_KEY or BACKEND_SECRET_KEY is unset");
}
const skip = haveServer ? false : "set BACKEND_ENDPOINT, BACKEND_ACCESS_KEY and BACKEND_SECRET_KEY to run against a server";

const image = env.BAI_TEST_IMAGE || "python:3.11-debian";

function uniqueName(prefix) {
  return `${prefix}-${process.pid}-${randomBytes(3).toString("hex")}`;
}

/** run collects what a run prints. */
async function run(c, session, code, opts = {}) {
  const out = { stdout: "", stderr: "", media: [], inputs: [] };
  const handlers = {
    onConsole: (it) => {
      opts.onItem?.(it);
      if (it.type === "stdout") out.stdout += it.text;
      else if (it.type === "stderr") out.stderr += it.text;
      else if (it.type === "media") out.media.push(it);
    },
    onInput: async (req) => {
      out.inputs.push(req);
      return opts.answers?.shift() ?? "";
    },
  };
  const fn = opts.stream ? c.streamCode.bind(c) : c.runCode.bind(c);
  out.exitCode = await fn(session, code, { ...handlers, ...opts.run });
  return out;
}

function sha256(buf) {
  return createHash("sha256").update(buf).digest("hex");
}

describe("against a live server", { skip }, () => {
  let c;
  let session;
  let tmp;

  before(async () => {
    c = Client.fromEnv();
    tmp = mkdtempSync(join(tmpdir(), "bai-js-it-"));
    const created = await c.createSession({ image, name: uniqueName("js-client") });
    session = created.sessionName;
    assert.equal(created.status, "RUNNING", `session status ${created.status}`);
    assert.match(created.sessionId, /^[0-9a-f-]{36}$/);
  });

  after(async () => {
    rmSync(tmp, { recursive: true, force: true });
    if (session) {
      await c.destroySession(session, { forced: true }).catch(() => {});
    }
  });

  test("server info and images", async () => {
    const info = await c.serverInfo();
    assert.match(info.version, /^v\d+\.\d{8}$/);
    const images = await c.images();
    const py = images.find((i) => i.name === image);
    assert.ok(py, `images lack ${image}: ${images.map((i) => i.name)}`);
    assert.equal(py.runtimeType, "python");
  });

  test("session info and listing", async () => {
    const info = await c.getSession(session);
    assert.equal(info.sessionName, session);
    assert.equal(info.status, "RUNNING");
    const list = await c.listSessions();
    assert.ok(list.some((s) => s.sessionName === session));
  });

  test("print(1+1) gives 2", async () => {
    const r = await run(c, session, "print(1+1)");
    assert.equal(r.stdout, "2\n");
    assert.equal(r.exitCode, 0);
  });

  test("state, stderr and exceptions", async () => {
    await run(c, session, "kept = 41");
    const r = await run(c, session, "import sys\nprint(kept + 1)\nprint('warn', file=sys.stderr)\nraise ValueError('boom')");
    assert.equal(r.stdout, "42\n");
    assert.match(r.stderr, /warn/);
    assert.match(r.stderr, /ValueError: boom/);
  });

  test("input round trip (execute loop)", async () => {
    const r = await run(c, session, "a = input('first? ')\nb = input('second? ')\nprint(a + '+' + b)", { answers: ["one", "two"] });
    assert.equal(r.inputs.length, 2);
    assert.equal(r.inputs[0].isPassword, false);
    assert.equal(r.stdout, "first? second? one+two\n");
    const p = await run(c, session, "import getpass\nprint(getpass.getpass('pw? ') == 'sesame')", { answers: ["sesame"] });
    assert.equal(p.inputs[0]?.isPassword, true, "getpass must ask for a hidden input");
    assert.match(p.stdout, /True/);
  });

  test("execute stream with input", async () => {
    const stamps = [];
    const r = await run(c, session, "import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.4)\nprint(input('name? ') + '!')", {
      stream: true,
      answers: ["streamed"],
      onItem: () => stamps.push(Date.now()),
    });
    assert.equal(r.stdout, "0\n1\n2\nname? streamed!\n");
    assert.equal(r.exitCode, 0);
    // The polling API would hold these for 2 s; the stream sends them as
    // they come (frames may merge on a busy machine, so only the spread is checked).
    assert.ok(stamps.length >= 2, `stream gave ${stamps.length} console items, want output as it arrives`);
    assert.ok(stamps.at(-1) - stamps[0] >= 600, "items arrived together: the stream did not stream");
    const r2 = await run(c, session, "print(input('x? ') * 2)", { stream: true, answers: ["ab"] });
    assert.equal(r2.stdout, "x? abab\n");
    assert.equal(r2.inputs.length, 1);
    const r3 = await run(c, session, "import sys\nsys.exit(3)", { stream: true });
    assert.equal(r3.exitCode, 3);
  });

  test("exec timeout", async () => {
    await assert.rejects(run(c, session, "import time\ntime.sleep(30)", { run: { options: { exec_timeout: 1 } } }), (e) => e instanceof ExecTimeoutError && e.kind === "timeout");
    // The session stays usable (the timed-out run winds down first).
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        const r = await run(c, session, "print('after')");
        assert.equal(r.stdout, "after\n");
        break;
      } catch (e) {
        if (!(e instanceof APIError && e.status === 409) || Date.now() > deadline) throw e;
        await new Promise((res) => setTimeout(res, 300));
      }
    }
  });

  test("interrupt", async () => {
    let started;
    const startedP = new Promise((res) => (started = res));
    let stderr = "";
    const t0 = Date.now();
    const p = c.runCode(session, "import time\nprint('sleeping', flush=True)\ntime.sleep(60)\nprint('not reached')", {
      onConsole: (it) => {
        if (it.type === "stdout" && it.text.includes("sleeping")) started();
        if (it.type === "stderr") stderr += it.text;
      },
    });
    await startedP;
    await c.interrupt(session);
    const code = await p;
    assert.ok(Date.now() - t0 < 30_000, "the interrupted run kept going");
    assert.match(stderr, /KeyboardInterrupt/);
    assert.notEqual(code, undefined);
  });

  test("batch run with its steps", async () => {
    const steps = [];
    const r = await run(c, session, "", {
      run: { mode: "batch", options: { clean: "", build: "echo built > b.txt", exec: "cat b.txt; exit 5" }, onStep: (status, code) => steps.push([status, code]) },
    });
    assert.equal(r.stdout, "built\n");
    assert.equal(r.exitCode, 5);
    assert.deepEqual(steps.map((s) => s[0]), ["clean-finished", "build-finished"]);
  });

  test("restart loses the state and keeps the files", async () => {
    await run(c, session, "before_restart = 1\nopen('kept.txt', 'w').write('kept')");
    await c.restartSession(session);
    const r = await run(c, session, "print(open('kept.txt').read())\nprint(before_restart)");
    assert.equal(r.stdout, "kept\n");
    assert.match(r.stderr, /NameError/);
  });

  test("complete and logs", async () => {
    await run(c, session, "import os");
    const res = await c.complete(session, "os.pa", { row: 0, col: 5, line: "os.pa", post: "" });
    assert.ok(Array.isArray(res));
    assert.equal(typeof (await c.logs(session)), "string");
  });

  test("upload and download a few MiB with sha256 checks", async () => {
    const big = randomBytes(3 * 1024 * 1024 + 123);
    const local = join(tmp, "big.bin");
    writeFileSync(local, big);
    mkdirSync(join(tmp, "tree", "sub"), { recursive: true });
    writeFileSync(join(tmp, "tree", "a.txt"), "alpha\n");
    writeFileSync(join(tmp, "tree", "sub", "b.txt"), "beta\n");
    const progress = [];
    await c.upload(session, [{ name: "data/big.bin", path: local }, { name: "note.txt", data: "hello from js\n" }], {
      onProgress: (sent, total) => progress.push([sent, total]),
    });
    assert.ok(progress.length > 1, "no progress reports while streaming");
    assert.deepEqual(progress.at(-1), [big.length + 14, big.length + 14]);
    await c.upload(session, await collectUploads([join(tmp, "tree")]));

    const listing = await c.listFiles(session, "data");
    assert.deepEqual(listing.files.map((f) => [f.filename, f.size]), [["big.bin", big.length]]);
    const inKernel = await run(c, session, "import hashlib\nprint(hashlib.sha256(open('data/big.bin','rb').read()).hexdigest())");
    assert.equal(inKernel.stdout.trim(), sha256(big));

    // download_single, streamed
    const h = createHash("sha256");
    let n = 0;
    for await (const chunk of await c.downloadSingle(session, "data/big.bin")) {
      h.update(chunk);
      n++;
    }
    assert.equal(h.digest("hex"), sha256(big));
    assert.ok(n > 1, "the download came in one piece: not streamed");
    assert.equal(await c.downloadSingleToFile(session, "note.txt", join(tmp, "note.txt")), 14);
    assert.equal(readFileSync(join(tmp, "note.txt"), "utf8"), "hello from js\n");

    // download: tar archives unpacked into a directory
    const dest = join(tmp, "dl");
    const written = await c.download(session, ["data/big.bin", "tree"], dest);
    assert.equal(sha256(readFileSync(join(dest, "big.bin"))), sha256(big), `written: ${written}`);
    assert.equal(readFileSync(join(dest, "tree", "sub", "b.txt"), "utf8"), "beta\n");
    assert.equal(written.length, 3);
  });

  test("session events", async () => {
    const name = uniqueName("js-events");
    const ac = new AbortController();
    const seen = [];
    let opened;
    const open = new Promise((res) => (opened = res));
    const watching = (async () => {
      for await (const ev of c.events({ name, signal: ac.signal, onOpen: opened })) {
        seen.push(ev);
        if (ev.event === "session_terminated") return;
      }
    })();
    await Promise.race([open, watching]);
    const created = await c.createSession({ image, name });
    try {
      assert.equal(created.status, "RUNNING");
    } finally {
      await c.destroySession(name);
    }
    const timer = setTimeout(() => ac.abort(), 30_000);
    await watching;
    clearTimeout(timer);
    const names = seen.map((e) => e.event);
    assert.ok(names.includes("session_started"), `events: ${names}`);
    assert.ok(names.includes("session_terminated"), `events: ${names}`);
    for (const e of seen) {
      assert.equal(e.sessionName, name);
      assert.equal(e.sessionId, created.sessionId);
    }
    assert.equal(seen.at(-1).result, "SUCCESS");
  });

  test("errors: 404, 401, 400, unreachable", async () => {
    await assert.rejects(c.getSession("js-no-such-session-" + randomBytes(4).toString("hex")), (e) => e instanceof APIError && e.status === 404 && e.kind === "not-found" && /not/i.test(e.message));
    const bad = new Client({ endpoint: env.BACKEND_ENDPOINT, accessKey: env.BACKEND_ACCESS_KEY, secretKey: "z".repeat(40) });
    await assert.rejects(bad.listSessions(), (e) => e instanceof APIError && e.status === 401 && e.kind === "unauthenticated");
    await assert.rejects(bad.streamCode(session, "print(1)"), (e) => e instanceof APIError && e.status === 401);
    await assert.rejects(c.streamCode("js-no-such-session", "print(1)"), (e) => e instanceof APIError && e.status === 404);
    await assert.rejects(c.createSession({ image: "nosuchlang", name: uniqueName("js-bad") }), (e) => e instanceof APIError && e.status === 400 && /python/.test(e.message));
    const port = await closedPort();
    const gone = new Client({ endpoint: `http://127.0.0.1:${port}`, accessKey: "a", secretKey: "b" });
    await assert.rejects(gone.listSessions(), (e) => e instanceof UnreachableError && e.kind === "unavailable" && e.message.includes(String(port)));
  });

  test("destroy", async () => {
    const name = uniqueName("js-destroy");
    await c.createSession({ image, name });
    const res = await c.destroySession(name);
    assert.equal(typeof res.stats, "object");
    const info = await c.getSession(name).catch((e) => e);
    // The name now shows the ended session, or nothing.
    assert.ok(info instanceof APIError ? info.status === 404 : ["TERMINATED", "TERMINATING"].includes(info.status), JSON.stringify(info));
    await assert.rejects(run(c, name, "print(1)"), (e) => e instanceof APIError && [404, 409].includes(e.status));
  });
});

/** closedPort returns a port nothing listens on. */
function closedPort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}
