// A download's digests on the worker thread equal the digests of its bytes, whatever the
// batches: owned buffers (moved to the thread) and views into a larger buffer (copied), and
// the thread ends with the digest or a close.
import { createHash, randomBytes } from 'node:crypto';
import test from 'ava';
import fc from 'fast-check';
import { downloadDigests, WORKER_MIN_BYTES } from '../../app/model/download-digests.js';

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
