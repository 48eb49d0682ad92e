'use strict';
// The editor side of the `bai bridge` protocol (docs/integrations.md, "bai
// bridge") for the Atom package: spawn the bridge, send JSON-line requests,
// parse its events, keep each run's state. It imports nothing of Atom, so
// node --test drives it against the real bridge and server; main.js is the
// thin Atom glue. The VS Code extension has the same logic in TypeScript
// (integrations/vscode/src/bridgeClient.ts): each package ships on its own.
// Plain CommonJS without newer syntax: Atom's Electron runs Node 12.

const { spawn } = require('child_process');

/** LineSplitter turns chunks of text into whole lines. */
class LineSplitter {
  constructor() {
    this.rest = '';
  }

  /** push returns the non-empty lines the chunk completed. */
  push(chunk) {
    this.rest += chunk;
    const lines = this.rest.split('\n');
    this.rest = lines.pop();
    return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l)).filter((l) => l !== '');
  }
}

/** parseEvent reads one event line; undefined when it is not an event. */
function parseEvent(line) {
  try {
    const v = JSON.parse(line);
    if (v && typeof v === 'object' && typeof v.type === 'string') {
      return v;
    }
  } catch (_) {
    // not JSON: a stray line
  }
  return undefined;
}

/**
 * Run is one run request in flight. status goes queued → running
 * (⇄ waiting-input) → finished; done resolves to the exit code (-1 when it
 * could not run).
 */
class Run {
  constructor(id, client, handlers) {
    this.id = id;
    this.client = client;
    this.handlers = handlers || {};
    this.status = 'queued';
    this.image = '';
    this.session = '';
    this.exitCode = undefined;
    this.errors = [];
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  interrupt() {
    this.client.send({ id: this.client.nextId(), op: 'interrupt', runId: this.id });
  }

  input(text) {
    this.client.send({ id: this.client.nextId(), op: 'input', runId: this.id, text });
  }

  handle(ev) {
    const h = this.handlers;
    switch (ev.type) {
      case 'started':
        this.status = 'running';
        this.image = ev.image || '';
        this.session = ev.session || '';
        if (h.onStarted) h.onStarted(this.image, this.session);
        break;
      case 'stdout':
        if (h.onStdout) h.onStdout(ev.text || '');
        break;
      case 'stderr':
        if (h.onStderr) h.onStderr(ev.text || '');
        break;
      case 'media':
        if (h.onMedia) h.onMedia(ev.mime || '', ev.data || '');
        break;
      case 'error':
        this.errors.push(ev.message || '');
        if (h.onError) h.onError(ev.message || '');
        break;
      case 'input-request':
        this.status = 'waiting-input';
        // Not awaited: other runs' output keeps flowing while the user types.
        this.ask(ev.prompt || '', ev.password === true);
        break;
      case 'finished':
        this.finish(typeof ev.exitCode === 'number' ? ev.exitCode : -1);
        break;
    }
  }

  async ask(prompt, password) {
    let answer = '';
    try {
      answer = this.handlers.onInput ? await this.handlers.onInput(prompt, password) : '';
    } catch (_) {
      answer = undefined;
    }
    if (this.status !== 'waiting-input') {
      return; // interrupted or finished meanwhile
    }
    this.status = 'running';
    try {
      // undefined: the user cancelled, so stop the program instead.
      if (answer === undefined) this.interrupt();
      else this.input(answer);
    } catch (_) {
      // the bridge is gone: its exit finishes the run
    }
  }

  finish(code) {
    if (this.status === 'finished') return;
    this.status = 'finished';
    this.exitCode = code;
    this.resolveDone(code);
  }
}

/** BridgeClient speaks the protocol with one `bai bridge` process. */
class BridgeClient {
  constructor(proc, opts) {
    this.proc = proc;
    this.opts = opts;
    this.runs = new Map();
    this.counter = 0;
    this.exited = false;
    this.version = '';
    this.requestErrors = [];
    this.exitPromise = new Promise((resolve) => {
      proc.on('close', (code, signal) => {
        this.exited = true;
        for (const run of this.runs.values()) {
          const msg = `the bridge exited (${signal || code}) before the run finished`;
          run.errors.push(msg);
          if (run.handlers.onError) run.handlers.onError(msg);
          run.finish(-1);
        }
        this.runs.clear();
        if (opts.onExit) opts.onExit(code, signal);
        resolve();
      });
    });
  }

  /**
   * start spawns `bai bridge` and resolves once it said ready; it rejects
   * with the bridge's own words when it cannot start.
   */
  static start(opts = {}) {
    const command = opts.command || 'bai';
    const proc = spawn(command, ['bridge', ...(opts.args || [])], {
      env: opts.env || process.env,
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const client = new BridgeClient(proc, opts);
    const readyTimeout = opts.readyTimeout || 15000;
    return new Promise((resolve, reject) => {
      let settled = false;
      const tail = [];
      const timer = setTimeout(() => fail(`bai bridge did not start within ${readyTimeout} ms`), readyTimeout);
      function fail(why) {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        proc.kill();
        reject(new Error(why));
      }
      proc.on('error', (err) => fail(`cannot start ${command} bridge: ${err.message} (set the bai binary's path)`));
      proc.on('close', (code) => fail(`bai bridge exited (${code}) before it was ready${tail.length ? ': ' + tail.join(' | ') : ''}`));
      const errLines = new LineSplitter();
      proc.stderr.setEncoding('utf8');
      proc.stderr.on('data', (chunk) => {
        for (const line of errLines.push(chunk)) {
          tail.push(line);
          tail.splice(0, tail.length - 5);
          if (opts.onLog) opts.onLog(line);
        }
      });
      const outLines = new LineSplitter();
      proc.stdout.setEncoding('utf8');
      proc.stdout.on('data', (chunk) => {
        for (const line of outLines.push(chunk)) {
          const ev = parseEvent(line);
          if (!ev) {
            if (opts.onLog) opts.onLog(line);
            continue;
          }
          if (!settled && ev.type === 'ready') {
            settled = true;
            clearTimeout(timer);
            client.version = ev.version || '';
            resolve(client);
            continue;
          }
          if (!settled && ev.type === 'error' && !ev.runId && !ev.id) {
            fail(`bai bridge: ${ev.message}`);
            continue;
          }
          client.dispatch(ev);
        }
      });
    });
  }

  nextId() {
    this.counter += 1;
    return `r${this.counter}`;
  }

  send(req) {
    if (this.exited || !this.proc.stdin.writable) {
      throw new Error('the bridge is not running');
    }
    this.proc.stdin.write(JSON.stringify(req) + '\n');
  }

  dispatch(ev) {
    const run = ev.runId ? this.runs.get(ev.runId) : undefined;
    if (!run) {
      if (ev.type === 'error') {
        this.requestErrors.push({ id: ev.id, message: ev.message || '' });
        if (this.opts.onLog) this.opts.onLog(`bridge refused request ${ev.id || '?'}: ${ev.message}`);
      }
      return;
    }
    try {
      run.handle(ev);
    } catch (err) {
      if (this.opts.onLog) this.opts.onLog(`run ${run.id}: handler failed: ${err.message}`);
    }
    if (ev.type === 'finished') this.runs.delete(run.id);
  }

  /** run starts a run; its events go to handlers and run.done resolves at its end. */
  run(req, handlers) {
    const id = this.nextId();
    const run = new Run(id, this, handlers);
    this.runs.set(id, run);
    try {
      this.send(Object.assign({}, req, { id, op: 'run' }));
    } catch (err) {
      this.runs.delete(id);
      run.errors.push(err.message);
      run.finish(-1);
    }
    return run;
  }

  /** active returns the runs not finished yet, oldest first. */
  active() {
    return [...this.runs.values()].filter((r) => r.status !== 'finished');
  }

  get running() {
    return !this.exited;
  }

  /**
   * shutdown asks the bridge to stop (it destroys its sessions) and waits
   * for it; past timeoutMs it gets SIGTERM (it still cleans up), past twice
   * that SIGKILL.
   */
  async shutdown(timeoutMs = 30000) {
    if (this.exited) return;
    try {
      this.send({ op: 'shutdown' });
      this.proc.stdin.end();
    } catch (_) {
      // already closing
    }
    const soft = setTimeout(() => this.proc.kill('SIGTERM'), timeoutMs);
    const hard = setTimeout(() => this.proc.kill('SIGKILL'), 2 * timeoutMs);
    await this.exitPromise;
    clearTimeout(soft);
    clearTimeout(hard);
  }
}

/**
 * langOfScope turns an Atom grammar scope (source.python, source.js,
 * source.shell) into the language the bridge knows; "" for plain text,
 * where the file's extension decides.
 */
function langOfScope(scopeName) {
  const m = /^(?:source|text\.html)\.([\w+-]+)/.exec(scopeName || '');
  if (!m || scopeName === 'text.plain' || scopeName === 'text.plain.null-grammar') return '';
  return m[1];
}

/** runRequestFor builds the run request of an editor buffer. */
function runRequestFor(doc, code) {
  const req = { code };
  const lang = langOfScope(doc.scopeName);
  if (lang) req.lang = lang;
  if (doc.path) {
    req.file = doc.path;
    const slash = Math.max(doc.path.lastIndexOf('/'), doc.path.lastIndexOf('\\'));
    if (slash > 0) req.cwd = doc.path.slice(0, slash);
  }
  return req;
}

/** bridgeEnv builds the bridge's environment from settings over the editor's own. */
function bridgeEnv(base, settings) {
  const env = Object.assign({}, base);
  if (settings.endpoint) env.BACKEND_ENDPOINT = settings.endpoint;
  if (settings.accessKey) env.BACKEND_ACCESS_KEY = settings.accessKey;
  return env;
}

module.exports = { BridgeClient, Run, LineSplitter, parseEvent, langOfScope, runRequestFor, bridgeEnv };
