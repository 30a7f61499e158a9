// Downloads written in batches (app/model/download.ts: one batch on disk while the next
// arrives) against a real s3rver behind the fault proxy: objects of random size across many
// batches, connections dropped or stalled at random offsets, resumed with Range. Whatever the
// cut, the file ends byte for byte the object, and a resume starts exactly where the written
// bytes end (nothing fetched twice, nothing skipped).
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import { WORKER_MIN_BYTES } from '../../app/model/download-digests.js';
import { SourceFactory } from '../../app/model/source.js';
import { ModelStore } from '../../app/model/store.js';
import { S3RVER_CREDENTIALS, startS3, type S3Fixture } from '../helpers/s3.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { recordingLogger, tempDir } from './fixtures.js';

process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
process.env.AWS_EC2_METADATA_DISABLED = 'true';

const BUCKET = 'models';
const MiB = 1024 * 1024;
let s3: S3Fixture;

test.before(async () => {
  s3 = await startS3();
});
test.after.always(async () => {
  await s3?.close();
});

let keys = 0;

/** An object in s3rver, reached through a fault proxy, and a store with its own cache dir. */
async function objectBehindProxy(object: Buffer, stallTimeoutMs: number) {
  const key = `batches/${++keys}.bin`;
  await s3.put(BUCKET, key, object);
  const proxy = await startTcpProxy(s3.port);
  const sources = new SourceFactory(
    { region: 'us-east-1', endpoint: proxy.url, forcePathStyle: true, checksums: 'when_required' },
    { maxAttempts: 1, connectTimeoutMs: 1000, idleTimeoutMs: 2000 },
  );
  const dir = await tempDir('batches');
  const cacheDir = path.join(dir, 'models');
  const logger = recordingLogger();
  const store = new ModelStore({ cacheDir, sources, logger, retryBaseMs: 5, retryMaxMs: 20, stallTimeoutMs });
  const close = async (): Promise<void> => {
    await store.close();
    sources.close();
    await proxy.close();
  };
  return { uri: `s3://${BUCKET}/${key}`, proxy, dir, cacheDir, logger, store, close };
}

/** One object of `size` bytes, its connection cut or stalled at `at` of it, `times` times. */
async function cutAndResume(
  t: ExecutionContext,
  size: number,
  kind: 'drop' | 'stall',
  at: number,
  times: number,
  withSha256: boolean,
): Promise<void> {
  const object = randomBytes(size);
  const md5 = createHash('md5').update(object).digest('hex');
  const sha256 = withSha256 ? createHash('sha256').update(object).digest('hex') : undefined;
  const { uri, proxy, cacheDir, store, close } = await objectBehindProxy(object, 200);
  try {
    // Offsets count a connection's response bytes, headers included: the cut lands in the body.
    await proxy.setMode({ kind, afterBytes: 400 + Math.floor(at * size) }, { times });
    const verified = await store.ensure({ uri, md5, sha256, bytes: size, name: 'batches' });
    t.is(verified.sha256, sha256);
    const onDisk = await readFile(verified.path);
    t.true(onDisk.equals(object), `${size} bytes, ${kind} at ${at.toFixed(2)} x${times}`);
    t.is(verified.bytesTransferred, size, 'every byte fetched exactly once');
    t.deepEqual(await readdir(cacheDir), [`${md5}.bin`], 'no partial file left');
  } finally {
    await close();
  }
}

test('objects over many 4 MiB batches, cut or stalled at random offsets: the cached file is the object, and every byte was fetched once', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 18 * MiB }),
      fc.constantFrom('drop' as const, 'stall' as const),
      fc.double({ min: 0.01, max: 0.99, noNaN: true }),
      fc.integer({ min: 1, max: 3 }),
      async (size, kind, at, times) => cutAndResume(t, size, kind, at, times, false),
    ),
    { numRuns: 12 },
  );
});

test(`objects hashed on the worker thread (from ${WORKER_MIN_BYTES / MiB} MiB), MD5 and SHA-256, cut or stalled: the same`, async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: WORKER_MIN_BYTES, max: WORKER_MIN_BYTES + 12 * MiB }),
      fc.constantFrom('drop' as const, 'stall' as const),
      fc.double({ min: 0.01, max: 0.99, noNaN: true }),
      fc.integer({ min: 1, max: 2 }),
      async (size, kind, at, times) => cutAndResume(t, size, kind, at, times, true),
    ),
    { numRuns: 4 },
  );
});

test('a same-size file renamed over the .part while the download runs is never published: the download starts over', async (t) => {
  const size = 12 * MiB;
  const object = randomBytes(size);
  const forged = Buffer.from(object);
  forged.fill(0x41, size - 4096); // same size, other bytes
  const md5 = createHash('md5').update(object).digest('hex');
  const sha256 = createHash('sha256').update(object).digest('hex');
  const { uri, proxy, dir, cacheDir, logger, store, close } = await objectBehindProxy(object, 500);
  try {
    // The first connection stalls half-way: the .part stands there, half written, for 500 ms.
    await proxy.setMode({ kind: 'stall', afterBytes: 400 + size / 2 }, { times: 1 });
    const ensured = store.ensure({ uri, md5, sha256, bytes: size, name: 'swap' });
    let part: string | undefined;
    const deadline = Date.now() + 10_000;
    while (part === undefined && Date.now() < deadline) {
      part = (await readdir(cacheDir).catch(() => [] as string[])).find((n) => n.endsWith('.part'));
      if (part === undefined) await new Promise((r) => setTimeout(r, 2));
    }
    if (part === undefined) throw new Error('no .part appeared');
    const forgedPath = path.join(dir, 'forged.bin');
    await writeFile(forgedPath, forged);
    await rename(forgedPath, path.join(cacheDir, part));
    const verified = await ensured;
    t.true((await readFile(verified.path)).equals(object), 'the published file is the object');
    t.false(verified.fromCache);
    t.true(verified.bytesTransferred > size, 'the download started over');
    t.true(
      JSON.stringify(logger.entries).includes('is not the file that was written and hashed'),
      'the swap is named in the log',
    );
    t.deepEqual(await readdir(cacheDir), [`${md5}.bin`], 'nothing else left');
  } finally {
    await close();
  }
});
