// File globs as upstream resolves `-f` and `-v` (Go filepathx.Glob): `*`, `?` and `[...]`
// stay inside one path segment, `**` spans any number of directories, and matches come back
// in lexical order per directory like Go's filepath.Glob.
// Hand-written because Node 20 has no fs.glob and these exact semantics are a few lines.
import { readdir } from 'node:fs/promises';
import path from 'node:path';

const MAGIC = /[*?[]/;

function segmentRegExp(segment: string): RegExp {
  let source = '';
  for (let i = 0; i < segment.length; i += 1) {
    const ch = segment[i] ?? '';
    if (ch === '*') source += '[^/]*';
    else if (ch === '?') source += '[^/]';
    else if (ch === '[') {
      const close = segment.indexOf(']', i + 1);
      if (close < 0) {
        source += '\\[';
        continue;
      }
      let body = segment.slice(i + 1, close);
      if (body.startsWith('^')) body = `\\^${body.slice(1)}`;
      if (body.startsWith('!')) body = `^${body.slice(1)}`;
      source += `[${body.replaceAll('\\', '\\\\')}]`;
      i = close;
    } else source += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

async function entries(dir: string): Promise<{ name: string; isDir: boolean }[]> {
  try {
    const list = await readdir(dir, { withFileTypes: true });
    return list
      .map((entry) => ({ name: entry.name, isDir: entry.isDirectory() }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch {
    return [];
  }
}

async function expand(base: string, segments: readonly string[], out: string[]): Promise<void> {
  const [head, ...rest] = segments;
  if (head === undefined) {
    out.push(base);
    return;
  }
  if (head === '**') {
    await expand(base, rest, out);
    for (const entry of await entries(base)) {
      if (entry.isDir) await expand(path.join(base, entry.name), segments, out);
    }
    return;
  }
  if (!MAGIC.test(head)) {
    const next = path.join(base, head);
    if (rest.length === 0) {
      const parent = await entries(base);
      if (parent.some((entry) => entry.name === head)) out.push(next);
      return;
    }
    await expand(next, rest, out);
    return;
  }
  const matcher = segmentRegExp(head);
  for (const entry of await entries(base)) {
    if (!matcher.test(entry.name)) continue;
    if (rest.length > 0 && !entry.isDir) continue;
    await expand(path.join(base, entry.name), rest, out);
  }
}

/** Paths matching `pattern` (relative patterns resolve against `cwd`), without duplicates. */
export async function glob(pattern: string, cwd: string): Promise<string[]> {
  const absolute = path.isAbsolute(pattern);
  const root = absolute ? path.parse(pattern).root : cwd;
  const body = absolute ? pattern.slice(root.length) : pattern;
  const segments = body.split(/[\\/]+/).filter((segment) => segment !== '' && segment !== '.');
  const out: string[] = [];
  await expand(root, segments, out);
  return [...new Set(out)];
}
