// Builds the app into dist/: index.html plus content-hashed bundles under
// assets/ (the manager serves those as immutable). Modes:
//
//	node build.mjs          one minified build (npm run build)
//	node build.mjs --watch  rebuild on every change (npm run watch)
//	node build.mjs --dev    watch, and serve dist/ on 127.0.0.1:5173 with
//	                        every other request proxied to a running manager
//	                        (BAI_ENDPOINT, default http://127.0.0.1:8081), so
//	                        a changed file needs a reload, not a Go rebuild
import * as esbuild from "esbuild";
import { createHash } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, "dist");
const mode = process.argv.includes("--dev") ? "dev" : process.argv.includes("--watch") ? "watch" : "build";

// writeIndex writes index.html naming the hashed entry bundles. The CSP
// forbids inline scripts, so the page has none: one module script, one
// stylesheet, and a data: icon so the browser asks for no favicon.
async function writeIndex(metafile) {
  const url = (out) => "/" + path.relative(dist, path.resolve(here, out)).split(path.sep).join("/");
  let js = "";
  let css = "";
  let preload = [];
  for (const [out, info] of Object.entries(metafile.outputs)) {
    if (info.entryPoint !== "src/main.ts" || !out.endsWith(".js")) continue;
    js = url(out);
    if (info.cssBundle) css = url(info.cssBundle);
    // The entry's static imports are fetched in parallel with it, not
    // after it has been parsed.
    preload = info.imports.filter((i) => i.kind === "import-statement" && !i.external).map((i) => url(i.path));
  }
  if (!js) throw new Error("build: no bundle for src/main.ts in the metafile");
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>bai</title>
<link rel="icon" href="data:,">
${css ? `<link rel="stylesheet" href="${css}">\n` : ""}${preload.map((p) => `<link rel="modulepreload" href="${p}">\n`).join("")}<script type="module" src="${js}"></script>
</head>
<body>
<div id="app"><noscript>The bai web app needs JavaScript. The <code>bai</code> command line works without it.</noscript></div>
</body>
</html>
`;
  await writeFile(path.join(dist, "index.html"), html);
}

const indexPlugin = {
  name: "index-html",
  setup(build) {
    build.onStart(async () => {
      await rm(dist, { recursive: true, force: true });
      await mkdir(dist, { recursive: true });
    });
    build.onEnd(async (result) => {
      if (result.errors.length || !result.metafile) return;
      await writeIndex(result.metafile);
      const outs = Object.entries(result.metafile.outputs);
      const total = outs.reduce((n, [, o]) => n + o.bytes, 0);
      if (mode !== "build") console.log(`built ${outs.length} files, ${(total / 1024).toFixed(0)} KiB, at ${new Date().toLocaleTimeString()}`);
    });
  },
};

const options = {
  absWorkingDir: here,
  entryPoints: ["src/main.ts"],
  outdir: dist,
  bundle: true,
  splitting: true,
  format: "esm",
  target: ["chrome110", "firefox115", "safari16"],
  entryNames: "assets/[name]-[hash]",
  chunkNames: "assets/chunk-[hash]",
  assetNames: "assets/[name]-[hash]",
  minify: mode === "build",
  sourcemap: mode === "build" ? false : "linked",
  metafile: true,
  legalComments: "linked",
  logLevel: "warning",
  plugins: [indexPlugin],
};

if (mode === "build") {
  const t0 = performance.now();
  const result = await esbuild.build(options);
  const rows = Object.entries(result.metafile.outputs)
    .map(([f, o]) => [path.relative(dist, path.resolve(here, f)), o.bytes])
    .sort((a, b) => b[1] - a[1]);
  const total = rows.reduce((n, r) => n + r[1], 0);
  for (const [f, n] of rows.slice(0, 8)) console.log(`  ${f.padEnd(44)} ${(n / 1024).toFixed(1).padStart(8)} KiB`);
  if (rows.length > 8) console.log(`  … ${rows.length - 8} more`);
  const digest = createHash("sha256").update(await readFile(path.join(dist, "index.html"))).digest("hex").slice(0, 12);
  console.log(`web: ${rows.length} files, ${(total / 1024).toFixed(0)} KiB in dist/ (index.html ${digest}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
} else {
  const ctx = await esbuild.context(options);
  await ctx.watch();
  console.log(`watching src/ → dist/`);
  if (mode === "dev") serveDev();
}

// serveDev serves dist/ and proxies the API (and its WebSockets) to the
// manager. The Host header is passed on unchanged, so the manager sees the
// page's own origin and its Origin and cookie checks behave as in
// production.
function serveDev() {
  const target = new URL(process.env.BAI_ENDPOINT || "http://127.0.0.1:8081");
  const port = Number(process.env.PORT || 5173);
  const types = { ".js": "text/javascript", ".css": "text/css", ".html": "text/html; charset=utf-8", ".map": "application/json", ".txt": "text/plain" };
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, "http://x");
    const wantsPage = req.method === "GET" && (req.headers.accept || "").includes("text/html") && !isAPI(url.pathname);
    if (url.pathname.startsWith("/assets/") || wantsPage) {
      const file = url.pathname.startsWith("/assets/") ? path.join(dist, path.normalize(url.pathname)) : path.join(dist, "index.html");
      if (!file.startsWith(dist)) return void res.writeHead(400).end();
      try {
        const body = await readFile(file);
        res.writeHead(200, { "Content-Type": types[path.extname(file)] || "application/octet-stream", "Cache-Control": "no-cache" });
        res.end(body);
      } catch {
        res.writeHead(404).end("not found");
      }
      return;
    }
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode, ur.headers);
      ur.pipe(res);
    });
    up.on("error", (e) => {
      res.writeHead(502, { "Content-Type": "application/problem+json" });
      res.end(JSON.stringify({ title: "The manager is not reachable", detail: `${target.origin}: ${e.message}; start it with bai dev or set BAI_ENDPOINT` }));
    });
    req.pipe(up);
  });
  // WebSockets (execute, pty): a raw byte pipe after replaying the request.
  server.on("upgrade", (req, sock, head) => {
    const up = net.connect(Number(target.port || 80), target.hostname, () => {
      let raw = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) raw += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      up.write(raw + "\r\n");
      if (head.length) up.write(head);
      up.pipe(sock);
      sock.pipe(up);
    });
    up.on("error", () => sock.destroy());
    sock.on("error", () => up.destroy());
  });
  server.listen(port, "127.0.0.1", () => console.log(`dev server on http://127.0.0.1:${port}/ → manager ${target.origin}`));
}

function isAPI(p) {
  return /^\/(session|kernel|folders|stream|events|admin|images|template|manager|auth|agent|agents|scaling-groups|resource-policies|keypairs|metrics|v\d+)(\/|$)/.test(p);
}
