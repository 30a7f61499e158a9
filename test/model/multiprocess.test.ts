// One cache dir, many processes (overlapping pods on a shared volume, a restart while the
// old process still runs): real node processes running the store against s3rver.
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import lockfile from 'proper-lockfile';
import { SourceFactory } from '../../app/model/source.js';
import { ModelStore } from '../../app/model/store.js';
import type { VerifiedModel } from '../../app/model/types.js';
import { S3RVER_CREDENTIALS, startS3, type S3Fixture } from '../helpers/s3.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { BUNDLED_MD5, BUNDLED_MODEL, md5Of, recordingLogger, tempDir, waitFor } from './fixtures.js';

process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
process.env.AWS_EC2_METADATA_DISABLED = 'true';

const CHILD = fileURLToPath(new URL('./store-child.ts', import.meta.url));
let s3: S3Fixture;
let proxy: TcpProxy;
let model: Buffer;

test.before(async () => {
  s3 = await startS3();
  proxy = await startTcpProxy(s3.port);
  model = await readFile(BUNDLED_MODEL);
});
test.after.always(async () => {
  await proxy?.close();
  await s3?.close();
});

interface ChildResult {
  readonly ok: boolean;
  readonly model?: VerifiedModel;
  readonly error?: string;
  readonly messages: string[];
}

/** Runs one store process to completion (it has its own deadline; this one kills it past it). */
function runStore(env: Record<string, string>): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', CHILD],
      { env: { ...process.env, ...env, STORE_CHILD_DEADLINE_MS: '40000' }, timeout: 60_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const line = stdout.trim().split('\n').at(-1) ?? '';
        try {
          resolve(JSON.parse(line) as ChildResult);
        } catch {
          reject(
            new Error(`store child failed: ${err instanceof Error ? err.message : JSON.stringify(err)}\n${stderr}`),
          );
        }
      },
    );
  });
}

test('three processes on one cache dir: all end with the verified file, one download', async (t) => {
  const key = 'mp/lid.176.ftz';
  await s3.put('shared', key, model);
  const cacheDir = path.join(await tempDir('multiprocess'), 'models');
  // The first process's download stalls after 300 kB (once): it holds the lock for the
  // 10 s of its stall timeout, then resumes. The two others start meanwhile.
  await proxy.setMode({ kind: 'stall', afterBytes: 300_000 }, { times: 1 });
  proxy.resetCounters();
  const env = {
    STALL_MS: '10000',
    CACHE_DIR: cacheDir,
    S3_ENDPOINT: proxy.url,
    MODEL_URI: `s3://shared/${key}`,
    MODEL_MD5: BUNDLED_MD5,
    MODEL_BYTES: String(model.length),
  };
  const first = runStore(env);
  await waitFor(
    'the first download to be under way',
    async () => {
      const parts = (await readdir(cacheDir).catch(() => [])).filter((f) => f.endsWith('.part'));
      return parts.length === 1 && proxy.faults === 1;
    },
    20_000,
  );
  const results = await Promise.all([first, runStore(env), runStore(env)]);
  for (const r of results) t.true(r.ok, r.error);
  const models = results.map((r) => r.model);
  t.is(new Set(models.map((m) => m?.path)).size, 1);
  // One process downloads; which one is timing: the first resumes after its stall, or, on a
  // busy machine, its attempt ends at the stall timeout, it lets the lock go, and a waiting
  // process takes the download over (fetching from the start). Either way: one download.
  const transferred = models.map((m) => m?.bytesTransferred ?? -1);
  t.deepEqual(
    [...transferred].sort((a, b) => a - b),
    [0, 0, model.length],
    'one download, reused by the two others',
  );
  const downloader = transferred.indexOf(model.length);
  const gets = s3.requests.filter((r) => r.method === 'GET' && r.url.startsWith(`/shared/${key}?`));
  t.is(gets.length, 2, 'the stalled GET and the one that completed, nothing else');
  if (downloader === 0) t.regex(gets[1]?.range ?? '', /^bytes=\d+-$/, 'the first process resumed where it stalled');
  results.forEach((r, i) => {
    if (i === 0 || i === downloader) return;
    t.true(
      r.messages.includes('another process is downloading this model; waiting for it'),
      `process ${i} waited for the download in progress`,
    );
  });
  t.is(md5Of(await readFile(path.join(cacheDir, `${BUNDLED_MD5}.bin`))), BUNDLED_MD5);
  t.deepEqual((await readdir(cacheDir)).sort(), [`${BUNDLED_MD5}.bin`], 'no .part, no lock left behind');
  await proxy.setMode({ kind: 'pass' });
});

test('a lock left by a dead process is taken over once stale; its stale .part files are removed', async (t) => {
  const cacheDir = path.join(await tempDir('multiprocess'), 'models');
  await mkdir(path.join(cacheDir, `${BUNDLED_MD5}.lock`), { recursive: true });
  const old = new Date(Date.now() - 60_000);
  await utimes(path.join(cacheDir, `${BUNDLED_MD5}.lock`), old, old);
  // A crashed process's leftovers: the old fixed name and a unique one.
  await writeFile(path.join(cacheDir, `${BUNDLED_MD5}.part`), model.subarray(0, 1000));
  await writeFile(path.join(cacheDir, `${BUNDLED_MD5}.4242.deadbeef.part`), model.subarray(0, 1000));
  const key = 'mp/stale.ftz';
  await s3.put('shared', key, model);
  const logger = recordingLogger();
  const sources = new SourceFactory(
    { region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, checksums: 'when_required' },
    { maxAttempts: 1 },
  );
  const store = new ModelStore({
    cacheDir,
    sources,
    logger,
    retryBaseMs: 20,
    retryMaxMs: 100,
    stallTimeoutMs: 2000,
    lockStaleMs: 5000,
  });
  t.teardown(async () => {
    await store.close();
    sources.close();
  });
  const started = Date.now();
  const verified = await store.ensure(
    { uri: `s3://shared/${key}`, md5: BUNDLED_MD5, bytes: model.length },
    { signal: AbortSignal.timeout(10_000) },
  );
  t.true(Date.now() - started < 5000, 'a lock stale for a minute is taken over at once');
  t.is(md5Of(await readFile(verified.path)), BUNDLED_MD5);
  t.deepEqual((await readdir(cacheDir)).sort(), [`${BUNDLED_MD5}.bin`]);
  t.truthy(logger.entries.find((e) => e.msg === 'removed stale partial downloads'));
});

test('a process waiting on a live lock takes the holder file once it appears, with no download', async (t) => {
  const cacheDir = path.join(await tempDir('multiprocess'), 'models');
  await mkdir(cacheDir, { recursive: true });
  // Another "process" (this one, through proper-lockfile directly) holds the lock...
  const release = await lockfile.lock(path.join(cacheDir, `${BUNDLED_MD5}.bin`), {
    realpath: false,
    lockfilePath: path.join(cacheDir, `${BUNDLED_MD5}.lock`),
  });
  const noDownload = {
    for: () => ({
      uri: 's3://x/y',
      head: () => Promise.resolve({ bytes: model.length, etag: '"e"' }),
      open: (): never => {
        throw new Error('must not download');
      },
    }),
  };
  const logger = recordingLogger();
  const store = new ModelStore({
    cacheDir,
    sources: noDownload,
    logger,
    retryBaseMs: 20,
    retryMaxMs: 100,
    stallTimeoutMs: 2000,
    lockPollMs: 20,
  });
  t.teardown(() => store.close());
  const pending = store.ensure(
    { uri: 's3://x/y', md5: BUNDLED_MD5, bytes: model.length },
    { signal: AbortSignal.timeout(10_000) },
  );
  await new Promise((r) => setTimeout(r, 300));
  // ...and publishes its verified file (atomically, as the store does), then lets go.
  await writeFile(path.join(cacheDir, 'holder.tmp'), model);
  await rename(path.join(cacheDir, 'holder.tmp'), path.join(cacheDir, `${BUNDLED_MD5}.bin`));
  await release();
  const verified = await pending;
  t.like(verified, { fromCache: true, md5: BUNDLED_MD5, bytesTransferred: 0 });
  t.truthy(logger.entries.find((e) => e.msg === 'another process is downloading this model; waiting for it'));
});

test('a download whose lock was taken over meanwhile publishes nothing, and starts over under a lock of its own', async (t) => {
  const key = 'mp/taken-over.ftz';
  await s3.put('shared', key, model);
  const cacheDir = path.join(await tempDir('multiprocess'), 'models');
  const logger = recordingLogger();
  const stalling = await startTcpProxy(s3.port);
  const sources = new SourceFactory(
    { region: 'us-east-1', endpoint: stalling.url, forcePathStyle: true, checksums: 'when_required' },
    { maxAttempts: 1, idleTimeoutMs: 10_000 },
  );
  const store = new ModelStore({
    cacheDir,
    sources,
    logger,
    retryBaseMs: 20,
    retryMaxMs: 100,
    stallTimeoutMs: 3000,
    lockStaleMs: 5000,
    lockPollMs: 50,
  });
  t.teardown(async () => {
    await store.close();
    sources.close();
    await stalling.close();
  });
  await stalling.setMode({ kind: 'stall', afterBytes: 300_000 }, { times: 1 });
  const progress: string[] = [];
  const pending = store.ensure(
    { uri: `s3://shared/${key}`, md5: BUNDLED_MD5, bytes: model.length },
    { signal: AbortSignal.timeout(20_000), onProgress: (p) => progress.push(p.detail ?? p.phase) },
  );
  await waitFor('the download to stall', () => stalling.faults === 1);
  // Another process takes the lock over, as it would after this one looked dead for too long.
  const lockDir = path.join(cacheDir, `${BUNDLED_MD5}.lock`);
  await rm(lockDir, { recursive: true });
  await mkdir(lockDir);
  const verified = await pending;
  t.is(md5Of(await readFile(verified.path)), BUNDLED_MD5);
  t.true(
    progress.some((p) => /lost the cache lock to another process/.test(p)),
    'the first download was not published',
  );
  t.true(
    progress.includes('waiting for another process downloading into the same cache directory'),
    'then it waited for the new holder',
  );
  t.deepEqual((await readdir(cacheDir)).sort(), [`${BUNDLED_MD5}.bin`]);
});
