// Tests of the extension's protocol client (out/bridgeClient.js): its
// parsing and rendering helpers alone, then driving the real `bai bridge`
// (BAI_BIN: the folder holding bai; else bai on PATH) against the live
// server of BACKEND_* with real sessions. Without a server the second part
// is skipped, unless BAI_CLIENT_REQUIRE_LIVE=1 (the e2e suite) makes that a
// failure.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { BridgeClient, LineSplitter, parseEvent, runRequestFor, mediaHtml, resultsPage, bridgeEnv } = require("../out/bridgeClient.js");

const env = process.env;
const bai = env.BAI_BIN ? join(env.BAI_BIN, "bai") : "bai";
const haveServer = Boolean(env.BACKEND_ENDPOINT && env.BACKEND_ACCESS_KEY && env.BACKEND_SECRET_KEY);
if (!haveServer && env.BAI_CLIENT_REQUIRE_LIVE === "1") {
  throw new Error("BAI_CLIENT_REQUIRE_LIVE=1 but BACKEND_ENDPOINT, BACKEND_ACCESS_KEY or BACKEND_SECRET_KEY is unset");
}
const skip = haveServer ? false : "set BACKEND_* (and BAI_BIN) to run against the real bridge and server";

test("line splitting and event parsing", () => {
  const s = new LineSplitter();
  assert.deepEqual(s.push('{"type":"rea'), []);
  assert.deepEqual(s.push('dy"}\n{"type":"stdout","text":"a\\nb"}\r\n\n{"ty'), ['{"type":"ready"}', '{"type":"stdout","text":"a\\nb"}']);
  assert.deepEqual(s.push('pe":"x"}\n'), ['{"type":"x"}']);
  assert.deepEqual(parseEvent('{"type":"finished","runId":"r1","exitCode":0}'), { type: "finished", runId: "r1", exitCode: 0 });
  assert.equal(parseEvent("time=... level=INFO"), undefined);
  assert.equal(parseEvent('{"no":"type"}'), undefined);
});

test("run requests of editor documents", () => {
  assert.deepEqual(runRequestFor({ languageId: "python", fileName: "/w/src/a.py", isUntitled: false }, "print(1)"), {
    code: "print(1)",
    lang: "python",
    file: "/w/src/a.py",
    cwd: "/w/src",
  });
  assert.deepEqual(runRequestFor({ languageId: "plaintext", fileName: "Untitled-1", isUntitled: true }, "x"), { code: "x" });
  assert.equal(runRequestFor({ languageId: "c", fileName: "C:\\w\\m.c", isUntitled: false }, "x").cwd, "C:\\w");
});

test("media rendering cannot run script", () => {
  assert.match(mediaHtml("image/png", "iVBORw0KGgo="), /^<img alt="image\/png" src="data:image\/png;base64,iVBORw0KGgo=">$/);
  assert.match(mediaHtml("image/png", '"><script>alert(1)</script>'), /not base64/);
  const svg = mediaHtml("image/svg+xml", "<svg onload=alert(1)></svg>");
  assert.ok(svg.startsWith('<img alt="svg" src="data:image/svg+xml;base64,'), svg);
  assert.ok(!svg.includes("onload"), "svg text must be encoded, not inlined");
  const html = mediaHtml("text/html", `<b>x</b>"><script>alert(1)</script>`);
  assert.ok(html.startsWith("<iframe sandbox srcdoc="), html);
  assert.ok(!html.includes("<script>"), html);
  assert.match(mediaHtml("application/x-bai-drawing", "{}"), /<pre>\[application\/x-bai-drawing, 2 bytes\]<\/pre>/);
  assert.match(resultsPage(["<p>x</p>"]), /default-src 'none'/);
});

test("bridge environment", () => {
  const e = bridgeEnv({ PATH: "/bin", BACKEND_ENDPOINT: "http://a", BACKEND_SECRET_KEY: "s" }, { endpoint: "", accessKey: "AK" });
  assert.deepEqual(e, { PATH: "/bin", BACKEND_ENDPOINT: "http://a", BACKEND_ACCESS_KEY: "AK", BACKEND_SECRET_KEY: "s" });
});

/** collect runs a request and gathers everything it produced. */
async function collect(client, req, answers = []) {
  const got = { stdout: "", stderr: "", media: [], prompts: [], errors: [], started: undefined };
  const run = client.run(req, {
    onStarted: (image, session) => (got.started = { image, session }),
    onStdout: (t) => (got.stdout += t),
    onStderr: (t) => (got.stderr += t),
    onMedia: (mime, data) => got.media.push({ mime, data }),
    onError: (m) => got.errors.push(m),
    onInput: async (prompt, password) => {
      got.prompts.push({ prompt, password });
      return answers.length ? answers.shift() : undefined;
    },
  });
  got.run = run;
  got.exitCode = await run.done;
  return got;
}

/** sessionStatus asks the bai CLI for a session's status ("" when unknown). */
function sessionStatus(name) {
  try {
    const out = execFileSync(bai, ["session", "info", name], { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return /TERMINATED|TERMINATING|RUNNING|ERROR|PENDING/.exec(out)?.[0] ?? out;
  } catch {
    return "";
  }
}

describe("against the real bridge and server", { skip }, () => {
  let client;
  let tmp;
  const logs = [];
  const prefix = `vscode-${process.pid}`;
  const sessions = new Set();

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "bai-vscode-"));
    client = await BridgeClient.start({ command: bai, args: ["--session-prefix", prefix], env, onLog: (l) => logs.push(l) });
    assert.ok(client.version, "the ready event carries the bridge's version");
  });

  after(async () => {
    await client?.shutdown();
    rmSync(tmp, { recursive: true, force: true });
  });

  test("print(1+1) gives 2", async () => {
    const r = await collect(client, { lang: "python", code: "print(1+1)" });
    assert.equal(r.stdout, "2\n");
    assert.equal(r.exitCode, 0);
    assert.equal(r.started.image, "python:3.11-debian");
    assert.ok(r.started.session.startsWith(prefix), r.started.session);
    sessions.add(r.started.session);
  });

  test("one session per language keeps state", async () => {
    await collect(client, { lang: "python", code: "kept = 'still here'" });
    const r = await collect(client, { lang: "python", code: "print(kept)" });
    assert.equal(r.stdout, "still here\n");
    assert.ok(sessions.has(r.started.session), "a second python session was made");
  });

  test("input round trip with the prompt", async () => {
    const r = await collect(client, { lang: "python", code: "import getpass\nn = input('Name: ')\np = getpass.getpass('Pass: ')\nprint('hi', n, p == 'pw')" }, ["bob", "pw"]);
    assert.deepEqual(r.prompts, [
      { prompt: "Name: ", password: false },
      { prompt: "Pass: ", password: true },
    ]);
    assert.match(r.stdout, /hi bob True\n$/);
    assert.equal(r.exitCode, 0);
  });

  test("cancelling the input interrupts the run", async () => {
    const t0 = Date.now();
    const r = await collect(client, { lang: "python", code: "input('never answered: ')\nprint('not reached')" }, []);
    assert.equal(r.prompts.length, 1);
    assert.match(r.stderr, /KeyboardInterrupt/);
    assert.ok(!r.stdout.includes("not reached"));
    assert.notEqual(r.exitCode, 0);
    assert.ok(Date.now() - t0 < 20000);
  });

  test("interrupt a running program", async () => {
    let sawSleep;
    const sleeping = new Promise((res) => (sawSleep = res));
    let stderr = "";
    const run = client.run(
      { lang: "python", code: "import time\nprint('sleeping', flush=True)\ntime.sleep(60)" },
      { onStdout: (t) => t.includes("sleeping") && sawSleep(), onStderr: (t) => (stderr += t) },
    );
    await sleeping;
    assert.equal(run.status, "running");
    run.interrupt();
    const code = await run.done;
    assert.match(stderr, /KeyboardInterrupt/);
    assert.notEqual(code, 0);
    assert.equal(run.status, "finished");
  });

  test("a file by path, its language from the extension", async () => {
    writeFileSync(join(tmp, "prog.py"), "import sys\nprint('from the file')\nsys.exit(4)\n");
    const r = await collect(client, { file: "prog.py", cwd: tmp });
    assert.equal(r.stdout, "from the file\n");
    assert.equal(r.exitCode, 4);
  });

  test("another language in parallel", async () => {
    const [py, sh] = await Promise.all([
      collect(client, { lang: "python", code: "import time\ntime.sleep(1)\nprint('py')" }),
      collect(client, { lang: "shellscript", code: "echo from bash" }),
    ]);
    assert.equal(py.stdout, "py\n");
    assert.equal(sh.stdout, "from bash\n");
    assert.equal(sh.started.image, "bash:5.2-debian");
    sessions.add(sh.started.session);
  });

  test("media", async () => {
    const r = await collect(client, {
      lang: "python",
      code: "from bai_media import display_svg, display_html\ndisplay_svg('<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"4\" height=\"4\"/>')\ndisplay_html('<b>bold</b>')",
    });
    assert.deepEqual(r.media.map((m) => m.mime), ["image/svg+xml", "text/html"]);
    assert.match(r.media[0].data, /^<svg/);
    assert.equal(r.media[1].data, "<b>bold</b>");
  });

  test("errors are reported and the run still finishes", async () => {
    const r = await collect(client, { lang: "cobol", code: "DISPLAY 'X'" });
    assert.equal(r.exitCode, -1);
    assert.match(r.errors.join("\n"), /no image for language "cobol".*python/);
    const missing = await collect(client, { file: join(tmp, "nope.py") });
    assert.equal(missing.exitCode, -1);
    assert.match(missing.errors.join("\n"), /no such file/);
  });

  test("bad credentials", async () => {
    const bad = await BridgeClient.start({ command: bai, args: ["--session-prefix", prefix + "-bad"], env: { ...env, BACKEND_SECRET_KEY: "z".repeat(40) } });
    try {
      const r = await collect(bad, { lang: "python", code: "print(1)" });
      assert.equal(r.exitCode, -1);
      assert.match(r.errors.join("\n"), /401/);
    } finally {
      await bad.shutdown();
    }
    await assert.rejects(
      BridgeClient.start({ command: bai, env: { PATH: env.PATH, HOME: env.HOME } }),
      /BACKEND_ACCESS_KEY/,
    );
    await assert.rejects(BridgeClient.start({ command: join(tmp, "no-such-bai") }), /cannot start/);
  });

  test("shutdown destroys the sessions", async () => {
    assert.ok(sessions.size >= 2, `sessions seen: ${[...sessions]}`);
    for (const s of sessions) {
      assert.equal(sessionStatus(s), "RUNNING", s);
    }
    await client.shutdown();
    assert.equal(client.running, false);
    for (const s of sessions) {
      assert.ok(["TERMINATED", ""].includes(sessionStatus(s)), `${s} is ${sessionStatus(s)} after shutdown`);
    }
    assert.ok(logs.some((l) => l.includes("session destroyed")), logs.join("\n"));
  });
});
