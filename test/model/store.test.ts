// The model store against a real s3rver, with a fault-injecting proxy in front of it
// where a test needs the network to misbehave.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { SourceFactory } from '../../app/model/source.js';
import { ModelStore, type StoreOptions } from '../../app/model/store.js';
import type { ModelLock, ModelProgress } from '../../app/model/types.js';
import { S3RVER_CREDENTIALS, startS3, type S3Fixture } from '../helpers/s3.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { BUNDLED_MD5, BUNDLED_MODEL, md5Of, recordingLogger, tempDir, waitFor } from './fixtures.js';

// The store's S3 client uses the SDK's default credential chain: env keys here.
process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;

const BUCKET = 'models';
let s3: S3Fixture;
let model: Buffer;

test.before(async () => {
  s3 = await startS3();
  model = await readFile(BUNDLED_MODEL);
});
test.after.always(async () => {
  await s3?.close();
});

interface Harness {
  readonly store: ModelStore;
  readonly proxy: TcpProxy;
  readonly cacheDir: string;
  readonly logger: ReturnType<typeof recordingLogger>;
  readonly progress: ModelProgress[];
  readonly lock: ModelLock;
  readonly key: string;
  readonly onProgress: (p: ModelProgress) => void;
  phases(): string[];
}

let keys = 0;

/** A fresh object in S3, a proxy in front of S3, an empty cache dir, and a store using them. */
async function harness(
  t: ExecutionContext,
  opts: { md5?: string; bytes?: number; store?: Partial<StoreOptions> } = {},
): Promise<Harness> {
  const key = `m${++keys}/lid.176.ftz`;
  await s3.put(BUCKET, key, model);
  const proxy = await startTcpProxy(s3.port);
  const sources = new SourceFactory(
    { region: 'us-east-1', endpoint: proxy.url, forcePathStyle: true, checksums: 'when_required' },
    { maxAttempts: 1, connectTimeoutMs: 1000, idleTimeoutMs: 2000 },
  );
  const cacheDir = path.join(await tempDir('cache'), 'models');
  const logger = recordingLogger();
  const store = new ModelStore({
    cacheDir,
    sources,
    logger,
    retryBaseMs: 20,
    retryMaxMs: 100,
    stallTimeoutMs: 2000,
    ...opts.store,
  });
  // A store retries forever: stop it even when the test failed half-way.
  t.teardown(async () => {
    await store.close();
    sources.close();
    await proxy.close();
  });
  const progress: ModelProgress[] = [];
  return {
    store,
    proxy,
    cacheDir,
    logger,
    progress,
    key,
    lock: {
      uri: `s3://${BUCKET}/${key}`,
      md5: opts.md5 ?? BUNDLED_MD5,
      bytes: opts.bytes ?? model.length,
      name: 'lid',
    },
    onProgress: (p) => progress.push(p),
    phases: () => progress.map((p) => p.phase),
  };
}

async function cacheFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

test('right MD5: the model lands in the cache, verified, byte for byte, with progress reported', async (t) => {
  const h = await harness(t, { store: { progressIntervalMs: 0 } });
  const verified = await h.store.ensure(h.lock, { onProgress: h.onProgress });
  t.like(verified, { md5: BUNDLED_MD5, bytes: model.length, fromCache: false, bytesTransferred: model.length });
  t.is(verified.path, path.join(h.cacheDir, `${BUNDLED_MD5}.bin`));
  t.true((await readFile(verified.path)).equals(model));
  t.deepEqual(await cacheFiles(h.cacheDir), [`${BUNDLED_MD5}.bin`], 'no temp file left');
  const phases = h.phases();
  t.is(phases[0], 'downloading');
  t.deepEqual(phases.slice(-2), ['verifying', 'verified']);
  const logged = h.logger.entries.filter((e) => e.msg === 'model download progress');
  t.true(logged.length > 0, 'progress logged');
  for (const e of logged) {
    t.true(typeof e.fields.percent === 'number' && e.fields.percent > 0 && e.fields.percent <= 100);
    t.true(typeof e.fields.mbPerS === 'number');
  }
  t.is(s3.count('GET', BUCKET, h.key), 1);
});

test('wrong MD5: md5_mismatch, retried, and nothing left in the cache', async (t) => {
  const wrong = 'ffffffffffffffffffffffffffffffff';
  // Cap 300 ms: retries every 150-300 ms; an object seen bad twice is refused for 600 ms. The
  // third mismatch (the first HEAD-only one) comes 150-300 ms after the second, inside that
  // window even on a busy machine; a fourth could come after it, when a third GET is right.
  const h = await harness(t, { md5: wrong, store: { retryMaxMs: 300 } });
  const abort = new AbortController();
  const pending = h.store.ensure(h.lock, { signal: abort.signal, onProgress: h.onProgress });
  await waitFor('three mismatches', () => h.phases().filter((p) => p === 'md5_mismatch').length >= 3);
  const gets = s3.count('GET', BUCKET, h.key);
  abort.abort();
  await t.throwsAsync(pending, { name: 'AbortError' });
  const mismatch = h.progress.find((p) => p.phase === 'md5_mismatch');
  t.regex(mismatch?.detail ?? '', new RegExp(`hashes to md5 ${BUNDLED_MD5}, expected md5 ${wrong}; not loaded`));
  // What was fetched is reported, for /v1/model: the actual MD5 and size of the rejected bytes.
  t.like(mismatch?.lastFailure?.fetched, { md5: BUNDLED_MD5, bytes: model.length });
  t.like(h.store.lastFetched(h.lock), { md5: BUNDLED_MD5, bytes: model.length });
  t.true((mismatch?.nextRetryMs ?? 0) >= 50, 'a mismatch is retried at the slow (capped) pace');
  // The retry's 'downloading' still says why the model is not ready.
  const retrying = h.progress.filter((p) => p.phase === 'downloading').at(-1);
  t.is(retrying?.lastFailure?.phase, 'md5_mismatch');
  // No egress loop: the unchanged object is fetched twice (once more in case the first
  // copy was damaged in transit), then only HEADs until its ETag changes.
  t.is(gets, 2);
  t.true(s3.count('HEAD', BUCKET, h.key) >= 3);
  t.regex(
    h.progress.filter((p) => p.phase === 'md5_mismatch').at(-1)?.detail ?? '',
    /unchanged since, ETag .*not downloaded again/,
  );
  t.deepEqual(await cacheFiles(h.cacheDir), [], 'neither a verified file nor a temp file');
});

test('S3 unreachable at first, reachable later: the download succeeds after retries', async (t) => {
  const h = await harness(t);
  await h.proxy.setMode({ kind: 'refuse' });
  const pending = h.store.ensure(h.lock, { onProgress: h.onProgress });
  await waitFor('three failed attempts', () => h.phases().filter((p) => p === 'endpoint_unreachable').length >= 3);
  const failure = h.progress.find((p) => p.phase === 'endpoint_unreachable');
  t.regex(failure?.detail ?? '', /unreachable \(ECONNREFUSED\)/);
  t.false(failure?.detail?.includes(S3RVER_CREDENTIALS.secretAccessKey + '/') ?? true);
  await h.proxy.setMode({ kind: 'pass' });
  const verified = await pending;
  t.false(verified.fromCache);
  t.true((await readFile(verified.path)).equals(model));
  const attempts = h.progress.filter((p) => p.phase === 'endpoint_unreachable').map((p) => p.attempt);
  t.deepEqual(attempts.slice(0, 3), [1, 2, 3], 'attempts counted');
});

test('a connection dropped mid-download resumes with a Range request; nothing is read twice', async (t) => {
  const h = await harness(t);
  await h.proxy.setMode({ kind: 'drop', afterBytes: Math.floor(model.length / 2) }, { times: 1 });
  const verified = await h.store.ensure(h.lock, { onProgress: h.onProgress });
  t.is(h.proxy.faults, 1, 'the connection was dropped once');
  t.true((await readFile(verified.path)).equals(model));
  t.is(md5Of(await readFile(verified.path)), BUNDLED_MD5);
  const gets = s3.requests.filter((r) => r.method === 'GET' && r.url.startsWith(`/${BUCKET}/${h.key}?`));
  t.is(gets.length, 2);
  t.is(gets[0]?.range, undefined);
  const from = Number(/^bytes=(\d+)-$/.exec(gets[1]?.range ?? '')?.[1]);
  t.true(from > 0 && from <= model.length / 2, `resumed from byte ${from}`);
  t.is(verified.bytesTransferred, model.length, 'one pass: every byte fetched exactly once');
  t.truthy(h.logger.entries.find((e) => e.msg === 'model download resuming' && e.fields.from === from));
});

test('a stalled download (no byte for stallTimeoutMs) is abandoned and resumed', async (t) => {
  const h = await harness(t, { store: { stallTimeoutMs: 300 } });
  await h.proxy.setMode({ kind: 'stall', afterBytes: 300_000 }, { times: 1 });
  const started = Date.now();
  const verified = await h.store.ensure(h.lock, { onProgress: h.onProgress });
  t.true(Date.now() - started < 5000);
  t.true((await readFile(verified.path)).equals(model));
  t.regex(h.progress.find((p) => p.phase === 'download_failed')?.detail ?? '', /no byte received for 300 ms/);
  const ranges = s3.requests.filter((r) => r.url.startsWith(`/${BUCKET}/${h.key}?`) && r.range !== undefined);
  t.is(ranges.length, 1);
});

test('bytes corrupted in transit: md5_mismatch, then a clean retry succeeds', async (t) => {
  const h = await harness(t);
  await h.proxy.setMode({ kind: 'corrupt', atByte: 100_000 }, { times: 1 });
  const verified = await h.store.ensure(h.lock, { onProgress: h.onProgress });
  t.is(h.proxy.faults, 1);
  t.true(h.phases().includes('md5_mismatch'));
  t.true((await readFile(verified.path)).equals(model));
  t.deepEqual(await cacheFiles(h.cacheDir), [`${BUNDLED_MD5}.bin`]);
});

test('bytes damaged differently on each fetch are transit damage, not a bad object: never refused', async (t) => {
  // Retries 0.5-1 s apart: time enough to change the fault between them.
  const h = await harness(t, { store: { retryMaxMs: 1000 } });
  await h.proxy.setMode({ kind: 'corrupt', atByte: 100_000 }, { times: 1 });
  const pending = h.store.ensure(h.lock, { onProgress: h.onProgress });
  await waitFor('a first mismatch', () => h.phases().includes('md5_mismatch'));
  await h.proxy.setMode({ kind: 'corrupt', atByte: 200_000 }, { times: 1 });
  await waitFor('a second mismatch', () => h.phases().filter((p) => p === 'md5_mismatch').length >= 2);
  await h.proxy.setMode({ kind: 'pass' });
  const verified = await pending;
  t.true((await readFile(verified.path)).equals(model));
  t.is(s3.count('GET', BUCKET, h.key), 3, 'the third fetch was allowed, and was clean');
});

test('an object of another size than the lock says: size_mismatch, no GET', async (t) => {
  const h = await harness(t, { bytes: model.length + 1 });
  const abort = new AbortController();
  const pending = h.store.ensure(h.lock, { signal: abort.signal, onProgress: h.onProgress });
  await waitFor('a size mismatch', () => h.phases().includes('size_mismatch'));
  abort.abort();
  await t.throwsAsync(pending);
  t.regex(
    h.progress.find((p) => p.phase === 'size_mismatch')?.detail ?? '',
    /is 938013 bytes, the lock expects 938014/,
  );
  t.is(s3.count('GET', BUCKET, h.key), 0);
  t.deepEqual(await cacheFiles(h.cacheDir), []);
});

test('a verified cached file is reused without any connection to S3', async (t) => {
  const h = await harness(t);
  await h.store.ensure(h.lock);
  const toS3 = (): number => s3.count('HEAD', BUCKET, h.key) + s3.count('GET', BUCKET, h.key);
  const requestsBefore = toS3();
  h.proxy.resetCounters();
  // A new store, as after a restart, on the same cache dir.
  const noSource = {
    for: (): never => {
      throw new Error('a cache hit must not open a source');
    },
  };
  const again = new ModelStore({
    cacheDir: h.cacheDir,
    sources: noSource,
    logger: h.logger,
    retryBaseMs: 20,
    retryMaxMs: 100,
    stallTimeoutMs: 2000,
  });
  const progress: ModelProgress[] = [];
  const verified = await again.ensure(h.lock, { onProgress: (p) => progress.push(p) });
  t.like(verified, { fromCache: true, md5: BUNDLED_MD5, bytes: model.length, bytesTransferred: 0 });
  t.deepEqual(
    progress.map((p) => p.phase),
    ['verifying', 'verified'],
  );
  t.is(h.proxy.connections, 0, 'no connection to S3 at all');
  t.is(toS3(), requestsBefore, 'no HEAD, no GET');
  // And through the real source factory too: still nothing on the wire.
  const third = await h.store.ensure(h.lock);
  t.true(third.fromCache);
  t.is(h.proxy.connections, 0);
  t.is(toS3(), requestsBefore);
});

test('a corrupted cache file (right size, wrong bytes) is detected and downloaded again', async (t) => {
  const h = await harness(t);
  const corrupted = Buffer.from(model);
  corrupted[12345] = (corrupted[12345] ?? 0) ^ 0x01;
  await h.store.ensure({ ...h.lock, uri: pathToFileURL(BUNDLED_MODEL).href }); // creates the cache dir
  await writeFile(h.store.cachePath(BUNDLED_MD5), corrupted);
  const verified = await h.store.ensure(h.lock, { onProgress: h.onProgress });
  t.false(verified.fromCache);
  t.true((await readFile(verified.path)).equals(model));
  t.is(s3.count('GET', BUCKET, h.key), 1);
  t.truthy(h.logger.entries.find((e) => e.level === 'warn' && e.msg === 'cached model failed its check; removing it'));
  // A cached file of the wrong size is not even hashed.
  await writeFile(h.store.cachePath(BUNDLED_MD5), model.subarray(0, 1000));
  t.false((await h.store.ensure(h.lock)).fromCache);
  t.is(s3.count('GET', BUCKET, h.key), 2);
});

test('single flight: concurrent ensure() calls share one download; one waiter giving up does not stop it', async (t) => {
  const h = await harness(t);
  await h.proxy.setMode({ kind: 'delay', ms: 300 });
  const quitter = new AbortController();
  const a = h.store.ensure(h.lock, { onProgress: h.onProgress });
  const b = h.store.ensure(h.lock, { signal: quitter.signal });
  const c = h.store.ensure(h.lock);
  quitter.abort();
  await t.throwsAsync(b, { name: 'AbortError' });
  const [ra, rc] = await Promise.all([a, c]);
  t.deepEqual(ra, rc);
  t.false(ra.fromCache);
  t.is(s3.count('GET', BUCKET, h.key), 1);
  t.is(s3.count('HEAD', BUCKET, h.key), 1);
});

test('the last waiter giving up stops the download and removes its temp file', async (t) => {
  const h = await harness(t);
  await h.proxy.setMode({ kind: 'stall', afterBytes: 200_000 });
  const abort = new AbortController();
  const pending = h.store.ensure(h.lock, { signal: abort.signal, onProgress: h.onProgress });
  await waitFor('the download to start', () => h.proxy.count('GET') === 1);
  await waitFor('bytes in the temp file', async () =>
    (await cacheFiles(h.cacheDir)).some((f) => f.startsWith(`${BUNDLED_MD5}.`) && f.endsWith('.part')),
  );
  abort.abort();
  await t.throwsAsync(pending, { name: 'AbortError' });
  // The shared download settles after the waiter left: its temp file goes then.
  await waitFor('the temp file to go', async () => (await cacheFiles(h.cacheDir)).length === 0);
  // A fresh ensure after the abort starts a new flight (after the old one cleaned up) and succeeds.
  await h.proxy.setMode({ kind: 'pass' });
  const verified = await h.store.ensure(h.lock);
  t.true((await readFile(verified.path)).equals(model));
  t.deepEqual(await cacheFiles(h.cacheDir), [`${BUNDLED_MD5}.bin`]);
});

test('a file:// model is copied into the cache and verified like any other', async (t) => {
  const h = await harness(t);
  const verified = await h.store.ensure(
    { uri: pathToFileURL(BUNDLED_MODEL).href, md5: BUNDLED_MD5, bytes: model.length },
    { onProgress: h.onProgress },
  );
  t.like(verified, { fromCache: false, bytes: model.length });
  t.true((await readFile(verified.path)).equals(model));
  t.is(h.proxy.connections, 0);
});
