'use strict';
// Tests of the Atom package's protocol client (lib/bridge-client.js): its
// helpers alone, then driving the real `bai bridge` (BAI_BIN: the folder
// holding bai; else bai on PATH) against the live server of BACKEND_* with
// real sessions. Without a server the second part is skipped, unless
// BAI_CLIENT_REQUIRE_LIVE=1 (the e2e suite) makes that a failure.
const { after, before, describe, test } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const { BridgeClient, LineSplitter, parseEvent, langOfScope, runRequestFor, bridgeEnv } = require('../lib/bridge-client');

const env = process.env;
const bai = env.BAI_BIN ? join(env.BAI_BIN, 'bai') : 'bai';
const haveServer = Boolean(env.BACKEND_ENDPOINT && env.BACKEND_ACCESS_KEY && env.BACKEND_SECRET_KEY);
if (!haveServer && env.BAI_CLIENT_REQUIRE_LIVE === '1') {
  throw new Error('BAI_CLIENT_REQUIRE_LIVE=1 but BACKEND_ENDPOINT, BACKEND_ACCESS_KEY or BACKEND_SECRET_KEY is unset');
}
const skip = haveServer ? false : 'set BACKEND_* (and BAI_BIN) to run against the real bridge and server';

test('grammar scopes and run requests', () => {
  const cases = {
    'source.python': 'python',
    'source.js': 'js',
    'source.shell': 'shell',
    'source.cpp': 'cpp',
    'text.html.php': 'php',
    'text.plain': '',
    'text.plain.null-grammar': '',
    '': '',
  };
  for (const [scope, want] of Object.entries(cases)) {
    assert.equal(langOfScope(scope), want, scope);
  }
  assert.deepEqual(runRequestFor({ scopeName: 'source.python', path: '/w/a.py' }, 'print(1)'), { code: 'print(1)', lang: 'python', file: '/w/a.py', cwd: '/w' });
  assert.deepEqual(runRequestFor({ scopeName: 'text.plain.null-grammar', path: undefined }, 'x'), { code: 'x' });
  const s = new LineSplitter();
  assert.deepEqual(s.push('{"type":"a"}\n{"ty'), ['{"type":"a"}']);
  assert.deepEqual(s.push('pe":"b"}\r\n'), ['{"type":"b"}']);
  assert.equal(parseEvent('not json'), undefined);
  assert.deepEqual(bridgeEnv({ A: '1' }, { endpoint: 'http://e', accessKey: '' }), { A: '1', BACKEND_ENDPOINT: 'http://e' });
});

async function collect(client, req, answers) {
  const got = { stdout: '', stderr: '', media: [], prompts: [], errors: [] };
  const run = client.run(req, {
    onStarted: (image, session) => {
      got.image = image;
      got.session = session;
    },
    onStdout: (t) => (got.stdout += t),
    onStderr: (t) => (got.stderr += t),
    onMedia: (mime, data) => got.media.push({ mime, data }),
    onError: (m) => got.errors.push(m),
    onInput: (prompt, password) => {
      got.prompts.push({ prompt, password });
      return Promise.resolve(answers && answers.length ? answers.shift() : undefined);
    },
  });
  got.exitCode = await run.done;
  return got;
}

describe('against the real bridge and server', { skip }, () => {
  let client;
  let tmp;
  const sessions = new Set();
  const prefix = `atom-${process.pid}`;

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'bai-atom-'));
    client = await BridgeClient.start({ command: bai, args: ['--session-prefix', prefix], env });
  });

  after(async () => {
    if (client) await client.shutdown();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('a python buffer runs and keeps its state', async () => {
    const doc = { scopeName: 'source.python', path: join(tmp, 'a.py') };
    const r1 = await collect(client, runRequestFor(doc, 'x = 20\nprint(x + 1)'));
    assert.equal(r1.stdout, '21\n');
    assert.equal(r1.exitCode, 0);
    assert.equal(r1.image, 'python:3.11-debian');
    sessions.add(r1.session);
    const r2 = await collect(client, runRequestFor(doc, 'print(x * 2)'));
    assert.equal(r2.stdout, '40\n');
    assert.equal(r2.session, r1.session);
  });

  test('input, and cancelling it interrupts', async () => {
    const r = await collect(client, { lang: 'python', code: "print(input('Who? ') + '!')" }, ['atom']);
    assert.deepEqual(r.prompts, [{ prompt: 'Who? ', password: false }]);
    assert.equal(r.stdout, 'Who? atom!\n');
    const c = await collect(client, { lang: 'python', code: "input('never: ')" }, []);
    assert.match(c.stderr, /KeyboardInterrupt/);
    assert.notEqual(c.exitCode, 0);
  });

  test('an unsaved javascript buffer, by its grammar', async () => {
    const js = await collect(client, runRequestFor({ scopeName: 'source.js', path: undefined }, "console.log('from node', 6 * 7)"));
    assert.equal(js.stdout, 'from node 42\n');
    assert.equal(js.image, 'nodejs:18-debian');
    sessions.add(js.session);
  });

  test('interrupt', async () => {
    let seen;
    const sleeping = new Promise((res) => (seen = res));
    let stderr = '';
    const run = client.run({ lang: 'python', code: "import time\nprint('zz', flush=True)\ntime.sleep(60)" }, {
      onStdout: (t) => t.includes('zz') && seen(),
      onStderr: (t) => (stderr += t),
    });
    await sleeping;
    assert.deepEqual(client.active().map((r) => r.id), [run.id]);
    run.interrupt();
    assert.notEqual(await run.done, 0);
    assert.match(stderr, /KeyboardInterrupt/);
    assert.deepEqual(client.active(), []);
  });

  test('a file that cannot be read', async () => {
    const r = await collect(client, { file: 'missing.rb', cwd: tmp });
    assert.equal(r.exitCode, -1);
    assert.match(r.errors.join('\n'), /missing\.rb/);
  });

  test('shutdown destroys the sessions', async () => {
    assert.equal(sessions.size, 2);
    await client.shutdown();
    assert.equal(client.running, false);
    for (const s of sessions) {
      let status = '';
      try {
        status = execFileSync(bai, ['session', 'info', s], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (_) {
        // unknown: gone
      }
      assert.ok(!/RUNNING/.test(status), `${s} still running after shutdown: ${status}`);
    }
  });
});
