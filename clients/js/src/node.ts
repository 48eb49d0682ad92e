// Node-only helpers: local files for uploads and downloads. The client
// loads this module lazily, so browsers never import node:fs.

import { createWriteStream } from "node:fs";
import * as fs from "node:fs/promises";
import * as path from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";

import type { UploadSource } from "./client.js";
import { BaiError } from "./errors.js";
import type { TarEntry } from "./streams.js";

/** fileSize returns the size of a local file. */
export async function fileSize(p: string): Promise<number> {
  return (await fs.stat(p)).size;
}

/**
 * collectUploads turns local paths into upload entries that keep their
 * relative paths, as the Go SDK's CollectUploads: a relative file path is
 * kept as given ("src/main.c"), an absolute one or one climbing out with
 * ".." keeps only its base name, and a directory adds every regular file
 * below it under the directory's name, or directly under /home/work when
 * contents is set.
 */
export async function collectUploads(paths: string[], contents = false): Promise<UploadSource[]> {
  const out: UploadSource[] = [];
  for (const p of paths) {
    const st = await fs.stat(p);
    let name = path.posix.normalize(p.split(path.sep).join("/"));
    if (path.isAbsolute(p) || name === ".." || name.startsWith("../")) {
      name = path.basename(p);
    }
    name = name.replace(/\/+$/, "");
    if (!st.isDirectory()) {
      out.push({ name, path: p, size: st.size });
      continue;
    }
    const walk = async (dir: string, rel: string): Promise<void> => {
      const entries = await fs.readdir(dir, { withFileTypes: true });
      entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      for (const e of entries) {
        const fp = path.join(dir, e.name);
        const r = rel ? rel + "/" + e.name : e.name;
        if (e.isDirectory()) {
          await walk(fp, r);
        } else if (e.isFile()) {
          const n = !contents && name !== "." ? name + "/" + r : r;
          out.push({ name: n, path: fp, size: (await fs.stat(fp)).size });
        }
      }
    };
    await walk(p, "");
  }
  return out;
}

/** writeStream writes a byte stream to a local file and resolves to its size. */
export async function writeStream(body: ReadableStream<Uint8Array>, localPath: string): Promise<number> {
  let n = 0;
  const counted = async function* () {
    for await (const c of body as unknown as AsyncIterable<Uint8Array>) {
      n += c.length;
      yield c;
    }
  };
  await pipeline(counted, createWriteStream(localPath));
  return n;
}

/**
 * safeDir makes rel (a cleaned relative path) under root, refusing to pass
 * through a symbolic link or a non-directory, so that an archive cannot
 * plant a link and then write through it.
 */
async function safeDir(root: string, rel: string): Promise<string> {
  let cur = root;
  if (rel === "" || rel === ".") {
    return cur;
  }
  for (const c of rel.split("/")) {
    cur = path.join(cur, c);
    let st;
    try {
      st = await fs.lstat(cur);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
        throw err;
      }
      await fs.mkdir(cur, { mode: 0o755 });
      continue;
    }
    if (st.isSymbolicLink()) {
      throw new BaiError(`download: ${rel} passes through the symbolic link ${path.relative(root, cur)}`, "invalid-argument");
    }
    if (!st.isDirectory()) {
      throw new BaiError(`download: ${path.relative(root, cur)} is not a directory`, "invalid-argument");
    }
  }
  return cur;
}

/** cleanName makes an archive path relative and clean; undefined for one that would leave dest. */
function cleanName(name: string): string | undefined {
  const n = path.posix.normalize(name.replace(/^\/+/, "")).replace(/\/+$/, "");
  if (n === "" || n === "." || n === ".." || n.startsWith("../")) {
    return undefined;
  }
  return n;
}

/**
 * extractTo writes the entries of download archives under dest (made when
 * missing) and resolves to the local paths of the regular files written.
 */
export async function extractTo(entries: AsyncIterable<TarEntry>, dest: string): Promise<string[]> {
  const root = path.resolve(dest);
  await fs.mkdir(root, { recursive: true });
  const written: string[] = [];
  for await (const e of entries) {
    const name = cleanName(e.name);
    if (name === undefined) {
      continue;
    }
    const dir = path.posix.dirname(name);
    const local = path.join(root, ...name.split("/"));
    switch (e.type) {
      case "dir":
        await safeDir(root, name);
        break;
      case "symlink": {
        await safeDir(root, dir);
        await fs.rm(local, { force: true });
        await fs.symlink(e.linkname, local);
        break;
      }
      case "file": {
        await safeDir(root, dir);
        // O_NOFOLLOW: never write through a link that is already there.
        const { constants } = await import("node:fs");
        try {
          const st = await fs.lstat(local);
          if (st.isSymbolicLink()) {
            await fs.rm(local);
          }
        } catch {
          // absent: created below
        }
        const fh = await fs.open(local, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, (e.mode & 0o777) | 0o600);
        try {
          const out = new Writable({
            write(chunk: Uint8Array, _enc, cb) {
              fh.write(chunk).then(() => cb(), cb);
            },
          });
          await pipeline(e.body, out);
        } finally {
          await fh.close();
        }
        await fs.utimes(local, e.mtime, e.mtime);
        written.push(local);
        break;
      }
    }
  }
  return written;
}
