// A download's digests on the worker thread equal the digests of its bytes, whatever the
// batches: owned buffers (moved to the thread) and views into a larger buffer (copied), and
// the thread ends with the digest or a close.
import { createHash, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import test from 'ava';
import fc from 'fast-check';
import { downloadDigests, WORKER_MIN_BYTES, type DownloadDigests } from '../../app/model/download-digests.js';
import { discard, openPart, receive } from '../../app/model/download.js';
import { recordingLogger, tempDir } from './fixtures.js';

test('batches hashed on the worker thread give the digests of their bytes, in order', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ bytes: fc.integer({ min: 0, max: 3 * 1024 * 1024 }), view: fc.boolean() }), {
        minLength: 1,
        maxLength: 12,
      }),
      fc.boolean(),
      async (batches, withSha256) => {
        const digests = downloadDigests(WORKER_MIN_BYTES, withSha256);
        const md5 = createHash('md5');
        const sha256 = createHash('sha256');
        let total = 0;
        for (const { bytes, view } of batches) {
          const data = randomBytes(bytes + (view ? 16 : 0));
          const batch = view ? data.subarray(8, 8 + bytes) : Buffer.concat([data], bytes);
          md5.update(batch);
          sha256.update(batch);
          total += bytes;
          await digests.update(batch);
        }
        const got = await digests.digest();
        const want = { md5: md5.digest('hex'), sha256: withSha256 ? sha256.digest('hex') : undefined, bytes: total };
        t.deepEqual(got, want);
        return got.md5 === want.md5 && got.bytes === total;
      },
    ),
    { numRuns: 25 },
  );
});

test('a closed worker takes no more batches', async (t) => {
  const digests = downloadDigests(WORKER_MIN_BYTES, true);
  await digests.update(Buffer.alloc(1024));
  await digests.close();
  await digests.close();
  await t.throwsAsync(digests.update(Buffer.alloc(1024)), { message: /hashing thread/ });
});

test('a hash that fails (its thread died) stops the download with a RestartError, never an unhandled rejection', async (t) => {
  // A fake digests object: a hashing thread dying is a fault no real part here causes on demand.
  const dir = await tempDir('hash-fails');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => process.off('unhandledRejection', onUnhandled));
  const MiB = 1024 * 1024;
  for (const slowSource of [false, true]) {
    let batches = 0;
    const partial = await openPart(dir, 'a'.repeat(32), { bytes: 24 * MiB }, false);
    const failing: DownloadDigests = {
      update: () =>
        ++batches >= 2 ? Promise.reject(new Error('the hashing thread exited (code 1)')) : Promise.resolve(),
      digest: () => Promise.reject(new Error('unused')),
      close: () => Promise.resolve(),
    };
    const stream = Readable.from(
      (async function* () {
        for (let i = 0; i < 24 * 4; i++) {
          if (slowSource) await new Promise((r) => setTimeout(r, 2));
          yield Buffer.alloc(256 * 1024, i);
        }
      })(),
    );
    const error = await t.throwsAsync(
      receive({
        stream,
        partial: { ...partial, digests: failing },
        transfer: { bytes: 0 },
        signal: new AbortController().signal,
        uri: 'test://hash-fails',
        logger: recordingLogger(),
        stallTimeoutMs: 5000,
        progressIntervalMs: 60_000,
        onProgress: () => undefined,
      }),
    );
    t.is(error?.name, 'RestartError', `slow source: ${slowSource}`);
    t.regex(error?.message ?? '', /hashing thread exited/);
    await discard(partial);
  }
  await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(unhandled, [], 'no unhandled rejection');
});
