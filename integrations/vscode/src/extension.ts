// The VS Code glue: commands, settings, the output channel, input boxes and
// the media panel. Everything about the protocol is in bridgeClient.ts.

import * as vscode from "vscode";

import { BridgeClient, bridgeEnv, mediaHtml, resultsPage, runRequestFor, type Run } from "./bridgeClient";

const secretKeyName = "bai.secretKey";

let bridge: BridgeClient | undefined;
let starting: Promise<BridgeClient> | undefined;
let output: vscode.OutputChannel;
let log: vscode.OutputChannel;
let panel: vscode.WebviewPanel | undefined;
const mediaItems: string[] = [];
let secrets: vscode.SecretStorage;

export function activate(context: vscode.ExtensionContext): void {
  output = vscode.window.createOutputChannel("Backend.AI");
  log = vscode.window.createOutputChannel("Backend.AI bridge");
  secrets = context.secrets;
  context.subscriptions.push(
    output,
    log,
    vscode.commands.registerCommand("bai.runFile", () => runEditor(false)),
    vscode.commands.registerCommand("bai.runSelection", () => runEditor(true)),
    vscode.commands.registerCommand("bai.interrupt", interrupt),
    vscode.commands.registerCommand("bai.setSecretKey", setSecretKey),
    // New settings take effect with a new bridge (its sessions go with the old one).
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration("bai")) {
        void stopBridge();
      }
    }),
  );
}

export async function deactivate(): Promise<void> {
  await stopBridge();
}

async function stopBridge(): Promise<void> {
  const b = bridge ?? (await starting?.catch(() => undefined));
  bridge = undefined;
  starting = undefined;
  await b?.shutdown();
}

async function getBridge(): Promise<BridgeClient> {
  if (bridge?.running) {
    return bridge;
  }
  if (!starting) {
    starting = (async () => {
      const cfg = vscode.workspace.getConfiguration("bai");
      const env = bridgeEnv(process.env, {
        endpoint: cfg.get<string>("endpoint"),
        accessKey: cfg.get<string>("accessKey"),
        secretKey: await secrets.get(secretKeyName),
      });
      const b = await BridgeClient.start({
        command: cfg.get<string>("path") || "bai",
        env,
        onLog: (line) => log.appendLine(line),
        onExit: (code, signal) => log.appendLine(`bai bridge exited (${signal ?? code})`),
      });
      bridge = b;
      return b;
    })().finally(() => {
      starting = undefined;
    });
  }
  return starting;
}

async function runEditor(selectionOnly: boolean): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showWarningMessage("Backend.AI: open a file to run first.");
    return;
  }
  const doc = editor.document;
  const code = selectionOnly && !editor.selection.isEmpty ? doc.getText(editor.selection) : doc.getText();
  if (code.trim() === "") {
    void vscode.window.showWarningMessage("Backend.AI: there is no code to run.");
    return;
  }
  let b: BridgeClient;
  try {
    b = await getBridge();
  } catch (err) {
    void vscode.window.showErrorMessage(`Backend.AI: ${(err as Error).message}`);
    return;
  }
  output.show(true);
  const label = doc.isUntitled ? "untitled" : vscode.workspace.asRelativePath(doc.fileName);
  output.appendLine(`▶ ${label}${selectionOnly ? " (selection)" : ""}`);
  const run: Run = b.run(runRequestFor(doc, code), {
    onStarted: (image) => output.appendLine(`  [${image}]`),
    onStdout: (text) => output.append(text),
    onStderr: (text) => output.append(text),
    onMedia: (mime, data) => showMedia(mime, data),
    onError: (message) => output.appendLine(`\n✖ ${message}`),
    onInput: (prompt, password) =>
      vscode.window.showInputBox({
        title: `Input for ${label}`,
        prompt: prompt || "The program reads input",
        password,
        ignoreFocusOut: true,
      }),
  });
  const code_ = await run.done;
  output.appendLine(`\n■ exit code ${code_}`);
}

function interrupt(): void {
  const runs = bridge?.active() ?? [];
  if (runs.length === 0) {
    void vscode.window.showInformationMessage("Backend.AI: nothing is running.");
    return;
  }
  // The newest run is the one the user is looking at.
  runs[runs.length - 1].interrupt();
}

async function setSecretKey(): Promise<void> {
  const value = await vscode.window.showInputBox({
    title: "Backend.AI secret key",
    prompt: "Kept in VS Code's secret storage; empty removes it (BACKEND_SECRET_KEY is used then)",
    password: true,
    ignoreFocusOut: true,
  });
  if (value === undefined) {
    return;
  }
  if (value === "") {
    await secrets.delete(secretKeyName);
  } else {
    await secrets.store(secretKeyName, value);
  }
  await stopBridge();
}

function showMedia(mime: string, data: string): void {
  mediaItems.push(mediaHtml(mime, data));
  // Keep the panel light: the newest 50 items.
  mediaItems.splice(0, Math.max(0, mediaItems.length - 50));
  if (!panel) {
    panel = vscode.window.createWebviewPanel("baiMedia", "Backend.AI output", { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {
      enableScripts: false,
    });
    panel.onDidDispose(() => {
      panel = undefined;
      mediaItems.length = 0;
    });
  }
  panel.webview.html = resultsPage(mediaItems);
}
