// Disk full heals: on a real small tmpfs (mounted here; needs root, which CI has), a stale
// .part of a crashed download no longer blocks the free-space check, and a cache dir
// filled by something else recovers on the next retry once space is back.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import test, { type ExecutionContext } from 'ava';
import { SourceFactory } from '../../app/model/source.js';
import { ModelStore } from '../../app/model/store.js';
import type { ModelLock, ModelProgress, VerifiedModel } from '../../app/model/types.js';
import { BUNDLED_MD5, BUNDLED_MODEL, recordingLogger, tempDir, waitFor } from './fixtures.js';

const run = promisify(execFile);
const lock = { uri: pathToFileURL(BUNDLED_MODEL).href, md5: BUNDLED_MD5, bytes: 938_013 };

/** A fresh tmpfs (2 MiB unless said), unmounted at teardown. Fails the test, saying why, where mounting is not allowed. */
async function smallDisk(t: ExecutionContext, size = '2m'): Promise<string> {
  const dir = path.join(await tempDir('diskfull'), 'mnt');
  await mkdir(dir);
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  } catch (err) {
    throw new Error(`cannot mount a ${size} tmpfs at ${dir} (this test needs root): ${String(err)}`, { cause: err });
  }
  t.teardown(async () => {
    await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
  });
  return dir;
}

function storeOn(t: ExecutionContext, cacheDir: string, progressIntervalMs?: number) {
  const sources = new SourceFactory({
    region: 'us-east-1',
    endpoint: undefined,
    forcePathStyle: true,
    checksums: 'when_required',
  });
  const store = new ModelStore({
    cacheDir,
    sources,
    logger: recordingLogger(),
    retryBaseMs: 50,
    retryMaxMs: 200,
    stallTimeoutMs: 2000,
    progressIntervalMs,
  });
  t.teardown(async () => {
    await store.close();
    sources.close();
  });
  return store;
}

test('a stale .part left by a crashed download is removed before the free-space check', async (t) => {
  const disk = await smallDisk(t);
  // 1.2 MB of an earlier, crashed download of this model: with it, 0.94 MB do not fit.
  await writeFile(path.join(disk, `${BUNDLED_MD5}.part`), Buffer.alloc(1_200_000, 1));
  await writeFile(path.join(disk, `${BUNDLED_MD5}.77.cafebabe.part`), Buffer.alloc(100_000, 1));
  const store = storeOn(t, disk);
  const verified = await store.ensure(lock, { signal: AbortSignal.timeout(10_000) });
  t.false(verified.fromCache);
  t.deepEqual(await readdir(disk), [`${BUNDLED_MD5}.bin`]);
});

test('a cache dir filled by something else: cache_unusable, then the next retry succeeds once space is back', async (t) => {
  const disk = await smallDisk(t);
  const filler = path.join(disk, 'someone-else.dat');
  await writeFile(filler, Buffer.alloc(1_500_000, 1));
  const store = storeOn(t, disk);
  const progress: ModelProgress[] = [];
  const pending = store.ensure(lock, { signal: AbortSignal.timeout(15_000), onProgress: (p) => progress.push(p) });
  await waitFor('two failed attempts', () => progress.filter((p) => p.phase === 'cache_unusable').length >= 2);
  const failure = progress.find((p) => p.phase === 'cache_unusable');
  t.regex(failure?.detail ?? '', /not enough space .*needs 0\.9 MB/);
  t.true((failure?.nextRetryMs ?? Infinity) <= 50, 'transient: retried at the fast pace');
  await rm(filler);
  const verified = await pending;
  t.false(verified.fromCache);
  t.deepEqual(await readdir(disk), [`${BUNDLED_MD5}.bin`]);
});

/**
 * ensure() on `disk`, filling it with `squeezeBytes` (squeeze.dat) once the first downloaded
 * bytes are in: synchronous on purpose, so it lands before the next chunk is written.
 */
function ensureSqueezed(
  store: ModelStore,
  modelLock: ModelLock,
  disk: string,
  squeezeBytes: number,
  timeoutMs: number,
): { readonly pending: Promise<VerifiedModel>; readonly progress: ModelProgress[] } {
  const progress: ModelProgress[] = [];
  let squeezed = false;
  const pending = store.ensure(modelLock, {
    signal: AbortSignal.timeout(timeoutMs),
    onProgress: (p) => {
      progress.push(p);
      if (p.phase === 'downloading' && (p.bytesDone ?? 0) > 0 && !squeezed) {
        squeezed = true;
        writeFileSync(path.join(disk, 'squeeze.dat'), Buffer.alloc(squeezeBytes, 1));
      }
    },
  });
  return { pending, progress };
}

test('ENOSPC in the middle of the download: the partial file goes, and a retry after space is back succeeds', async (t) => {
  const disk = await smallDisk(t);
  // 1.0 MB free passes the check for 0.94 MB; 0.6 MB written once the first bytes are in fills it mid-download.
  await writeFile(path.join(disk, 'room.dat'), Buffer.alloc(950_000, 1));
  const { pending, progress } = ensureSqueezed(storeOn(t, disk, 0), lock, disk, 600_000, 15_000);
  await waitFor('a write failure', () => progress.some((p) => p.phase === 'cache_unusable'));
  t.regex(progress.find((p) => p.phase === 'cache_unusable')?.detail ?? '', /ENOSPC/);
  await rm(path.join(disk, 'squeeze.dat'));
  const verified = await pending;
  t.false(verified.fromCache);
  t.deepEqual((await readdir(disk)).sort(), [`${BUNDLED_MD5}.bin`, 'room.dat'], 'no partial file left');
});

test('a write failure stops the download there: the rest of the object is not read before the retry', async (t) => {
  // 64 MiB, written in 4 MiB batches: the disk fills about 10 MiB in. Before, the failure
  // surfaced only once the whole object had been read (review: 9 MB read after the first failed write).
  const source = path.join(await tempDir('diskfull-src'), 'big.bin');
  const object = randomBytes(64 * 1024 * 1024);
  await writeFile(source, object);
  const big = {
    uri: pathToFileURL(source).href,
    md5: createHash('md5').update(object).digest('hex'),
    bytes: object.length,
  };
  const disk = await smallDisk(t, '80m');
  const { pending, progress } = ensureSqueezed(storeOn(t, disk, 0), big, disk, 70 * 1024 * 1024, 30_000);
  await waitFor('a write failure', () => progress.some((p) => p.phase === 'cache_unusable'), 20_000);
  const failedAt = progress.findIndex((p) => p.phase === 'cache_unusable');
  const readBefore = Math.max(0, ...progress.slice(0, failedAt).map((p) => p.bytesDone ?? 0));
  t.regex(progress[failedAt]?.detail ?? '', /ENOSPC/);
  t.true(readBefore < 32 * 1024 * 1024, `${readBefore} bytes read before the failure surfaced (the disk had ~10 MiB)`);
  await rm(path.join(disk, 'squeeze.dat'));
  const verified = await pending;
  t.is(verified.md5, big.md5);
  t.deepEqual((await readdir(disk)).sort(), [`${big.md5}.bin`], 'no partial file left');
});
