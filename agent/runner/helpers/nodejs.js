// The bai-runner's Node.js REPL helper: reads "X <length>\n<code>" commands
// on fd 3, runs each with vm.runInThisContext (so globals persist), awaits a
// returned promise, prints the value of the last expression, and reports
// "F <exit code>\n" on fd 4. A SIGINT interrupts synchronous code
// (breakOnSigint) and leaves the process alive.
'use strict';
const fs = require('fs');
const vm = require('vm');
const util = require('util');

process.on('SIGINT', () => {});

// process.stdout/process.stderr writes (console.* included) become tagged
// records on fd 4, "O <len>\n<bytes>" / "E <len>\n<bytes>", so the runner
// sees them in the order they were written.
function sendRecord(tag, body) {
  const buf = Buffer.concat([Buffer.from(`${tag} ${body.length}\n`), body]);
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(4, buf, off, buf.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN' && e.code !== 'EINTR') throw e;
    }
  }
}
function taggedWrite(tag) {
  return function write(chunk, encoding, cb) {
    if (typeof encoding === 'function') {
      cb = encoding;
      encoding = undefined;
    }
    let body;
    if (Buffer.isBuffer(chunk)) body = chunk;
    else if (chunk instanceof Uint8Array) body = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    else body = Buffer.from(String(chunk), typeof encoding === 'string' ? encoding : 'utf8');
    if (body.length > 0) sendRecord(tag, body);
    if (typeof cb === 'function') process.nextTick(cb);
    return true;
  };
}
process.stdout.write = taggedWrite('O');
process.stderr.write = taggedWrite('E');
// What a CommonJS module sees, resolving modules from the work directory.
globalThis.require = require('module').createRequire(process.cwd() + '/');
globalThis.module = { exports: {} };
globalThis.exports = globalThis.module.exports;
globalThis.__filename = process.cwd() + '/<cell>';
globalThis.__dirname = process.cwd();

let pending = Buffer.alloc(0);
function fill() {
  const b = Buffer.alloc(65536);
  for (;;) {
    let n;
    try {
      n = fs.readSync(3, b, 0, b.length, null);
    } catch (e) {
      if (e.code === 'EAGAIN' || e.code === 'EINTR') continue;
      throw e;
    }
    if (n === 0) process.exit(0);
    pending = Buffer.concat([pending, b.subarray(0, n)]);
    return;
  }
}
function readCommand() {
  let i;
  while ((i = pending.indexOf(10)) < 0) fill();
  const [kind, len] = pending.subarray(0, i).toString().split(' ');
  pending = pending.subarray(i + 1);
  const n = parseInt(len, 10) || 0;
  while (pending.length < n) fill();
  const code = pending.subarray(0, n).toString('utf8');
  pending = pending.subarray(n);
  return [kind, code];
}

(async () => {
  let cell = 0;
  for (;;) {
    const [kind, code] = readCommand();
    if (kind !== 'X') continue;
    cell++;
    let status = 0;
    try {
      let v = vm.runInThisContext(code, { filename: `<cell ${cell}>`, breakOnSigint: true });
      if (v && typeof v.then === 'function') v = await v;
      if (v !== undefined) process.stdout.write(util.inspect(v, { colors: false }) + '\n');
    } catch (e) {
      // A SIGINT during a blocking read shows as EINTR from that read.
      const interrupted = e && (e.code === 'ERR_SCRIPT_EXECUTION_INTERRUPTED' || e.code === 'EINTR' ||
        e.message === 'Script execution interrupted.');
      process.stderr.write((interrupted ? 'Interrupted' : (e && e.stack) || String(e)) + '\n');
      status = interrupted ? 130 : 1;
      if (interrupted) {
        // The SIGINT may still be pending in node's watchdog, which would
        // interrupt the next cell at once: let it fire on a short busy wait.
        for (let i = 0; i < 2; i++) {
          await new Promise((r) => setTimeout(r, 10));
          try {
            vm.runInThisContext('{ const t = Date.now() + 40; while (Date.now() < t) {} }', { breakOnSigint: true });
          } catch (_) {
            // the pending interrupt, consumed
          }
        }
      }
    }
    // Let already queued callbacks (resolved promises, immediates) run.
    await new Promise((r) => setImmediate(r));
    fs.writeSync(4, `F ${status}\n`);
  }
})();
