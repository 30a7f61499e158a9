// The file hash reads ahead (the next read in flight while a chunk is hashed): every size,
// chunk boundaries included, hashes to what one createHash over the bytes gives, and a stop
// between reads leaves no read in flight on the handle the caller then closes.
import { createHash, randomBytes } from 'node:crypto';
import { open, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import fc from 'fast-check';
import { HASH_READ_BYTES, hashHandle } from '../../app/model/digests.js';
import { tempDir } from './fixtures.js';

test('every size hashes to the digest of its bytes, by MD5 and by SHA-256', async (t) => {
  const dir = await tempDir('hash-handle');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'model.bin');
  const edges = [
    0,
    1,
    HASH_READ_BYTES - 1,
    HASH_READ_BYTES,
    HASH_READ_BYTES + 1,
    2 * HASH_READ_BYTES,
    3 * HASH_READ_BYTES + 7,
  ];
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(fc.constantFrom(...edges), fc.integer({ min: 0, max: 4 * HASH_READ_BYTES })),
      fc.constantFrom('md5' as const, 'sha256' as const),
      async (size, algorithm) => {
        const bytes = randomBytes(size);
        await writeFile(file, bytes);
        const handle = await open(file, 'r');
        try {
          const got = await hashHandle(handle, algorithm);
          t.is(got.bytes, size);
          t.is(got.digest, createHash(algorithm).update(bytes).digest('hex'));
          return got.bytes === size;
        } finally {
          await handle.close();
        }
      },
    ),
    { numRuns: 40 },
  );
});

test('a stop between reads rejects, with no read left in flight on the handle', async (t) => {
  const dir = await tempDir('hash-handle-stop');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'model.bin');
  await writeFile(file, randomBytes(64 * HASH_READ_BYTES)); // ~40 ms of hashing: the stop comes first
  for (const afterMs of [0, 1, 3]) {
    const handle = await open(file, 'r');
    const stop = new AbortController();
    const hashing = hashHandle(handle, 'sha256', stop.signal);
    setTimeout(() => stop.abort(), afterMs);
    await t.throwsAsync(hashing, { name: 'AbortError' });
    // Closing right away succeeds: no read holds the descriptor.
    await t.notThrowsAsync(handle.close());
  }
});
