// Looks at a container's root filesystem from the host (the directory `buildah mount`
// returns): a metadata snapshot to prove a run wrote nothing there, ownership queries, and a
// search for a file by size and MD5.
import { lstat, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { md5OfFile } from '../helpers/fixtures.js';

export interface Entry {
  /** Path inside the image, starting with '/'. */
  readonly path: string;
  readonly type: 'file' | 'dir' | 'symlink' | 'other';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  /** Modification and change times in nanoseconds, and the link target for symlinks. */
  readonly signature: string;
}

async function* walk(root: string, rel = '/'): AsyncGenerator<Entry> {
  const full = path.join(root, rel);
  const st = await lstat(full, { bigint: true });
  const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
  const target = type === 'symlink' ? await readlink(full) : '';
  yield {
    path: rel,
    type,
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: Number(st.size),
    signature: `${type} ${st.mode} ${st.uid}:${st.gid} ${st.size} m${st.mtimeNs} c${st.ctimeNs} ${target}`,
  };
  if (type !== 'dir') return;
  for (const name of (await readdir(full)).sort()) yield* walk(root, path.posix.join(rel, name));
}

export async function entries(root: string): Promise<Entry[]> {
  const all: Entry[] = [];
  for await (const e of walk(root)) all.push(e);
  return all;
}

const under = (p: string, prefixes: readonly string[]): boolean =>
  prefixes.some((x) => p === x || p.startsWith(`${x}/`));

/** path -> signature, leaving out the subtrees named (and everything under them). */
export async function snapshot(root: string, exclude: readonly string[]): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  for await (const e of walk(root)) if (!under(e.path, exclude)) map.set(e.path, e.signature);
  return map;
}

/** What differs between two snapshots: `+ path` added, `- path` removed, `~ path` changed. */
export function differences(before: Map<string, string>, after: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [p, sig] of after) {
    const was = before.get(p);
    if (was === undefined) out.push(`+ ${p}`);
    else if (was !== sig) out.push(`~ ${p}: ${was} -> ${sig}`);
  }
  for (const p of before.keys()) if (!after.has(p)) out.push(`- ${p}`);
  return out;
}

/** Image paths of regular files with exactly this size and MD5. */
export async function filesWithDigest(root: string, bytes: number, md5: string): Promise<string[]> {
  const found: string[] = [];
  for await (const e of walk(root)) {
    if (e.type === 'file' && e.size === bytes && (await md5OfFile(path.join(root, e.path))) === md5) found.push(e.path);
  }
  return found;
}
