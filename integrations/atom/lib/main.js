'use strict';
// The Atom glue: commands, the results pane and input prompts. Everything
// about the protocol is in bridge-client.js.

const { CompositeDisposable } = require('atom');
const { BridgeClient, bridgeEnv, runRequestFor } = require('./bridge-client');
const { ResultsView, URI, askInput } = require('./results-view');

let subscriptions;
let bridge;
let starting;
let view;

async function getBridge() {
  if (bridge && bridge.running) return bridge;
  if (!starting) {
    const cfg = atom.config.get('bai-live-code-runner');
    starting = BridgeClient.start({
      command: cfg.path || 'bai',
      env: bridgeEnv(process.env, cfg),
      onLog: (line) => console.log('[bai bridge]', line),
    })
      .then((b) => {
        bridge = b;
        return b;
      })
      .finally(() => {
        starting = undefined;
      });
  }
  return starting;
}

async function stopBridge() {
  const b = bridge || (starting && (await starting.catch(() => undefined)));
  bridge = undefined;
  if (b) await b.shutdown();
}

async function resultsView() {
  await atom.workspace.open(URI, { searchAllPanes: true, activatePane: false });
  return view;
}

async function runEditor(selectionOnly) {
  const editor = atom.workspace.getActiveTextEditor();
  if (!editor) return;
  const selected = editor.getSelectedText();
  const code = selectionOnly && selected ? selected : editor.getText();
  if (code.trim() === '') {
    atom.notifications.addWarning('Backend.AI: there is no code to run.');
    return;
  }
  let b;
  try {
    b = await getBridge();
  } catch (err) {
    atom.notifications.addError('Backend.AI: cannot start bai bridge', { detail: err.message, dismissable: true });
    return;
  }
  const out = (await resultsView()).startRun(`${editor.getTitle()}${selectionOnly ? ' (selection)' : ''}`);
  const doc = { scopeName: editor.getGrammar().scopeName, path: editor.getPath() };
  const run = b.run(runRequestFor(doc, code), {
    onStarted: (image) => out.note(`[${image}]`),
    onStdout: (t) => out.text(t, false),
    onStderr: (t) => out.text(t, true),
    onMedia: (mime, data) => out.media(mime, data),
    onError: (m) => out.note(`✖ ${m}`),
    onInput: (prompt, password) => askInput(prompt, password),
  });
  out.note(`■ exit code ${await run.done}`);
}

module.exports = {
  activate() {
    subscriptions = new CompositeDisposable();
    subscriptions.add(
      atom.workspace.addOpener((uri) => {
        if (uri !== URI) return undefined;
        if (!view) view = new ResultsView();
        return view;
      }),
      atom.commands.add('atom-text-editor', {
        'bai:run-file': () => runEditor(false),
        'bai:run-selection': () => runEditor(true),
      }),
      atom.commands.add('atom-workspace', {
        'bai:interrupt': () => {
          const runs = bridge ? bridge.active() : [];
          if (runs.length) runs[runs.length - 1].interrupt();
        },
      }),
      // New settings take effect with a new bridge.
      atom.config.onDidChange('bai-live-code-runner', () => {
        stopBridge();
      }),
    );
  },

  async deactivate() {
    if (subscriptions) subscriptions.dispose();
    if (view) view.destroy();
    view = undefined;
    await stopBridge();
  },
};
