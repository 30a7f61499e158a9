// Known-answer canaries on a real service process, the real fastText binary and the bundled
// lid.176 lock (which carries canaries): a wrong expectation is never ready, a child hung while
// idle is replaced without any client request, and a cache file replaced by another model is
// caught.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultFastTextBinary } from '../../app/config.js';
import { BUNDLED_MD5, ROOT, getJson, postJson, startService } from '../helpers/service.js';

function tempDir(t: import('ava').ExecutionContext): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fte-canary-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The fastText children serving k=1 (`predict-prob <model> - 1`); wider tiers may run beside them. */
function childPids(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((line) => /^\s*(\d+)\s+.*\spredict-prob\s.*\s-\s+1\s*$/.exec(line)?.[1])
      .filter((p): p is string => p !== undefined)
      .map(Number);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function poll<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Both k=1 children answering (ready needs only the first). */
async function bothChildrenReady(url: string): Promise<void> {
  await poll('two live children', 20_000, async () => {
    await getJson(`${url}/ready`); // readiness refreshes the gauge
    const metrics = await (await fetch(`${url}/metrics`)).text();
    return /fasttext_engine_live_children 2\b/.test(metrics) ? true : undefined;
  });
}

const lockCanaries = (
  JSON.parse(readFileSync(path.join(ROOT, 'model.lock.json'), 'utf8')) as {
    canaries: Array<{ text: string; label: string; score: number }>;
  }
).canaries;

test('the bundled lock carries canaries in several languages', (t) => {
  t.true(new Set(lockCanaries.map((c) => c.label)).size >= 5);
});

test('a canary that expects the wrong label: never ready, /ready says canary_failed with index, expected and got; clients get 503', async (t) => {
  const wrong = [lockCanaries[0]!, { ...lockCanaries[1]!, label: 'de' }];
  const svc = await startService({
    env: {
      MODEL_CACHE_DIR: tempDir(t),
      MODEL_CANARIES: JSON.stringify(wrong),
      MODEL_RETRY_BASE_MS: '50',
      MODEL_RETRY_MAX_MS: '300',
    },
  });
  t.teardown(() => svc.stop());
  const logged = await svc.waitForLog((l) => l.event === 'canary_failed', 15_000);
  t.like(logged, { index: 1, expected: { label: 'de' }, got: { label: 'fr' } });
  // Several more attempts (a new engine each time): never ready.
  const until = Date.now() + 1500;
  while (Date.now() < until) {
    const ready = await getJson(`${svc.url}/ready`);
    t.is(ready.status, 503);
    await new Promise((r) => setTimeout(r, 100));
  }
  await svc.waitForLog((l) => l.event === 'canary_failed' && logged !== l, 20_000); // it kept trying, and kept refusing
  const ready = (await getJson(`${svc.url}/ready`)).body as { reason: string; detail: string };
  t.is(ready.reason, 'canary_failed');
  t.regex(ready.detail, /canary 1 \(k=1\): expected de 0\.\d+, got fr 0\.\d+/);
  const res = await postJson(`${svc.url}/v1/classify`, { text: 'bonjour tout le monde' });
  t.is(res.status, 503);
});

test('a child SIGSTOPped while the service is idle is replaced within about one canary interval, with no client request', async (t) => {
  const intervalMs = 1000;
  const svc = await startService({
    env: {
      MODEL_CACHE_DIR: tempDir(t),
      ENGINE_POOL_SIZE: '2',
      CANARY_INTERVAL_MS: String(intervalMs),
      ENGINE_STALL_MS: '300',
      ENGINE_RESTART_BASE_MS: '50',
    },
  });
  const held: { pid?: number } = {};
  t.teardown(async () => {
    if (held.pid !== undefined && alive(held.pid)) process.kill(held.pid, 'SIGKILL');
    await svc.stop();
  });
  await svc.waitReady(20_000);
  await bothChildrenReady(svc.url);
  const before = childPids(svc.pid);
  t.is(before.length, 2, `children: ${before.join(',')}`);
  const stopped = before[0]!;
  held.pid = stopped;
  process.kill(stopped, 'SIGSTOP');
  const at = Date.now();
  await poll('the stopped child to be replaced', 10 * intervalMs, () => {
    const now = childPids(svc.pid);
    return Promise.resolve(!now.includes(stopped) && now.length === 2 ? now : undefined);
  }).catch((error: Error) => {
    throw new Error(
      `${error.message}; children ${childPids(svc.pid).join(',')}; logs: ${JSON.stringify(svc.logs.slice(-8))}`,
    );
  });
  const tookMs = Date.now() - at;
  t.log(`stopped child replaced after ${tookMs} ms (canary interval ${intervalMs} ms, stall ${300} ms)`);
  // Nominal: the next run (<= 1 interval) + ENGINE_STALL_MS + the restart backoff, ~1.35 s; generous
  // for a busy machine. Without canaries nothing ever sends the idle child a line: never replaced.
  t.true(tookMs < 5 * intervalMs, `replaced after ${tookMs} ms`);
  await svc.waitForLog((l) => l.event === 'engine_restart', 2000);
  t.is((await getJson(`${svc.url}/ready`)).status, 200);
  t.is((await getJson(`${svc.url}/health`)).status, 200);
  const metrics = await (await fetch(`${svc.url}/metrics`)).text();
  t.regex(metrics, /fasttext_canary_runs_total [1-9]/);
  t.false(
    /fasttext_http_requests_total\{[^}]*route="\/v1\/classify"/.test(metrics),
    'canaries are not client requests',
  );
});

test('the cache file replaced by another model while serving: the next canary run catches it and the service recovers on the verified model', async (t) => {
  const cacheDir = tempDir(t);
  const work = tempDir(t);
  // Another model: a tiny one trained here on two made-up labels.
  const train = path.join(work, 'train.txt');
  writeFileSync(
    train,
    Array.from({ length: 40 }, (_, i) =>
      i % 2 ? '__label__alpha one two three\n' : '__label__beta four five six\n',
    ).join(''),
  );
  execFileSync(
    defaultFastTextBinary(),
    [
      'supervised',
      '-input',
      train,
      '-output',
      path.join(work, 'other'),
      '-epoch',
      '5',
      '-dim',
      '8',
      '-minCount',
      '1',
      '-thread',
      '1',
    ],
    { stdio: 'ignore', timeout: 60_000 },
  );
  const svc = await startService({
    env: {
      MODEL_CACHE_DIR: cacheDir,
      ENGINE_POOL_SIZE: '2',
      CANARY_INTERVAL_MS: '60000',
      ENGINE_RESTART_BASE_MS: '50',
      MODEL_RETRY_BASE_MS: '50',
      MODEL_RETRY_MAX_MS: '300',
      CACHE_ENABLED: 'false',
    },
  });
  t.teardown(() => svc.stop());
  await svc.waitReady(20_000);
  await bothChildrenReady(svc.url);
  const cached = path.join(cacheDir, `${BUNDLED_MD5}.bin`);
  copyFileSync(path.join(work, 'other.bin'), cached);
  // A child restarts (as after any crash) and loads whatever the file now holds.
  const [victim] = childPids(svc.pid);
  process.kill(victim!, 'SIGKILL');
  const caughtAt = Date.now();
  // Caught either by the canaries (canary_failed) or, where the model store rechecks the file
  // before every spawn, earlier (model_changed). Recovery can be quicker than a /ready poll, so
  // the log says which.
  const caught = await svc.waitForLog((l) => l.event === 'canary_failed' || l.event === 'model_rejected', 10_000);
  t.log(`caught ${Date.now() - caughtAt} ms after the restart: ${String(caught.event)}`);
  if (caught.event === 'canary_failed') t.like(caught, { kind: 'wrong_answer' });
  await svc.waitReady(20_000);
  const info = (await getJson(`${svc.url}/v1/model`)).body as { md5: { expected: string; actual: string } };
  t.is(info.md5.actual, BUNDLED_MD5);
  for (const c of lockCanaries) {
    const res = await postJson(`${svc.url}/v1/classify`, { text: c.text });
    t.is((res.body as { predictions: Array<{ label: string }> }).predictions[0]?.label, c.label);
  }
});
