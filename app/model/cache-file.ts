// The files of the cache directory: <md5>.bin holds only bytes that hashed to <md5> (and
// to the lock's sha256 when it has one); <md5>.<pid>.<random>.part are downloads in
// progress, each created exclusively by one process. Nothing here follows a symlink: a
// link where a model file should be is removed, never read, so a cache entry cannot
// point at bytes outside the directory that no one verified.
import { constants, type Stats } from 'node:fs';
import { link, lstat, open, readdir, rename, rm, statfs, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { hashHandle, type FileCheck, type FileDigest } from './digests.js';
import { ModelStoreError } from './errors.js';
import type { FileIdentity } from './types.js';

const MB = 1024 * 1024;

export function identityOf(st: Stats): FileIdentity {
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
}

export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

/** True while `file` is still the regular file with this identity: not written, replaced or made a link. */
export async function unchangedFile(file: string, identity: FileIdentity): Promise<boolean> {
  const entry = await inspect(file).catch(() => undefined);
  return entry?.kind === 'file' && sameIdentity(entry.identity, identity);
}

export type CacheEntry =
  | { readonly kind: 'absent' }
  | { readonly kind: 'symlink' }
  | { readonly kind: 'file'; readonly identity: FileIdentity };

/**
 * What stands at `file`, without following a link. Anything but a regular file, a symlink
 * or nothing (a directory, a socket...) is an operator's mistake the store must not
 * delete: it is reported as `cache_unusable`.
 */
export async function inspect(file: string): Promise<CacheEntry> {
  let st: Stats;
  try {
    st = await lstat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'absent' };
    throw err;
  }
  if (st.isSymbolicLink()) return { kind: 'symlink' };
  if (!st.isFile()) {
    throw new ModelStoreError(
      'cache_unusable',
      `${file} is not a regular file (a directory or device stands where the model goes)`,
      true,
    );
  }
  return { kind: 'file', identity: identityOf(st) };
}

export interface HashedFile extends FileDigest {
  /** The identity of the file that was read, taken from the open handle. */
  readonly identity: FileIdentity;
}

/**
 * Hashes the regular file at `file`, opened with O_NOFOLLOW (a link swapped in after an
 * lstat fails to open instead of being read). Undefined when the file changed while it
 * was read: the digests would describe no version of it.
 */
export async function hashFile(
  file: string,
  algorithm: FileCheck['algorithm'],
  signal?: AbortSignal,
): Promise<HashedFile | undefined> {
  const handle: FileHandle = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const before = identityOf(await handle.stat());
    const digests = await hashHandle(handle, algorithm, signal);
    const after = identityOf(await handle.stat());
    if (!sameIdentity(before, after) || digests.bytes !== after.size) return undefined;
    return { ...digests, identity: after };
  } finally {
    await handle.close();
  }
}

/** A unique .part name for this process and attempt. */
export function partName(md5: string, unique: string): string {
  return `${md5}.${process.pid}.${unique}.part`;
}

/**
 * Removes the leftovers of downloads of this MD5 (a crashed process, an aborted attempt)
 * so they neither count against the free space nor fill the disk. Only called while
 * holding the MD5's download lock: no live process owns such a file then.
 */
export async function removeStaleParts(cacheDir: string, md5: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(cacheDir)) {
    if (name === `${md5}.part` || (name.startsWith(`${md5}.`) && name.endsWith('.part'))) {
      await rm(path.join(cacheDir, name), { force: true });
      removed.push(name);
    }
  }
  return removed;
}

/** Fails early, with numbers, when the model cannot fit (an emptyDir sizeLimit, a full disk). */
export async function checkFreeSpace(cacheDir: string, bytes: number): Promise<void> {
  const fs = await statfs(cacheDir);
  const free = fs.bavail * fs.bsize;
  if (free < bytes) {
    throw new ModelStoreError(
      'cache_unusable',
      `not enough space in ${cacheDir}: the model needs ${(bytes / MB).toFixed(1)} MB, ${(free / MB).toFixed(1)} MB free`,
      false,
    );
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Moves a finished .part file to its final name without ever replacing a file there:
 * link(2) fails with EEXIST where rename(2) would overwrite. Returns false when a file
 * was already in place (the .part is left to the caller). File systems without hard
 * links fall back to a rename after checking the name is free, safe under the lock.
 */
export async function publish(partPath: string, finalPath: string): Promise<boolean> {
  try {
    await link(partPath, finalPath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw err;
    if ((await inspect(finalPath)).kind !== 'absent') return false;
    await rename(partPath, finalPath);
    await fsyncDir(path.dirname(finalPath));
    return true;
  }
  await rm(partPath, { force: true });
  await fsyncDir(path.dirname(finalPath));
  return true;
}

/**
 * The identity of the file published at `finalPath` when it is the inode that was written and
 * hashed (`written`, from its own handle) and unwritten since (a link moves only its ctime);
 * otherwise undefined: something was renamed over the .part, or wrote to it, meanwhile.
 */
export async function publishedIdentity(
  finalPath: string,
  written: FileIdentity | undefined,
): Promise<FileIdentity | undefined> {
  const entry = await inspect(finalPath);
  if (written === undefined || entry.kind !== 'file') return undefined;
  const { dev, ino, size, mtimeMs } = entry.identity;
  return dev === written.dev && ino === written.ino && size === written.size && mtimeMs === written.mtimeMs
    ? entry.identity
    : undefined;
}
