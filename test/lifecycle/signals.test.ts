// SIGQUIT and SIGHUP on a real service process under traffic: never a silent death with
// requests in flight. SIGQUIT drains like SIGTERM; SIGHUP is logged and ignored (README,
// "Signals", says why).
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { synthesizeModel } from '../engine/helpers.js';
import { getJson, postJson, startService } from '../helpers/service.js';

const ENGLISH = 'This is a perfectly ordinary English sentence about the weather today.';
const texts = Array.from({ length: 1000 }, (_, i) => `${ENGLISH} ${i} ${'more words here '.repeat(20)}`);

function tempDir(t: import('ava').ExecutionContext): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fte-signal-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('SIGQUIT during traffic drains like SIGTERM: a log line, /ready 503, in-flight requests complete, exit 0', async (t) => {
  const svc = await startService({
    env: { MODEL_CACHE_DIR: tempDir(t), SHUTDOWN_DELAY_MS: '1000', CACHE_ENABLED: 'false' },
  });
  t.teardown(() => svc.stop());
  await svc.waitReady(20_000);
  const inFlight = Array.from({ length: 4 }, () =>
    postJson(`${svc.url}/v1/classify`, { texts }, { timeoutMs: 20_000 }),
  );
  await new Promise((r) => setTimeout(r, 30));
  svc.proc.kill('SIGQUIT');
  const line = await svc.waitForLog((l) => l.event === 'shutdown', 2000);
  t.is(line.signal, 'SIGQUIT');
  t.is((await getJson(`${svc.url}/ready`)).status, 503);
  t.deepEqual(
    (await Promise.all(inFlight)).map((r) => r.status),
    [200, 200, 200, 200],
  );
  const { code, signal } = await svc.exited;
  t.is(signal, null, 'not killed by the signal');
  t.is(code, 0);
});

test('SIGHUP during traffic is logged and ignored: in-flight requests complete and the service stays ready', async (t) => {
  const svc = await startService({ env: { MODEL_CACHE_DIR: tempDir(t), CACHE_ENABLED: 'false' } });
  t.teardown(() => svc.stop());
  await svc.waitReady(20_000);
  const inFlight = Array.from({ length: 4 }, () =>
    postJson(`${svc.url}/v1/classify`, { texts }, { timeoutMs: 20_000 }),
  );
  await new Promise((r) => setTimeout(r, 30));
  svc.proc.kill('SIGHUP');
  const line = await svc.waitForLog((l) => l.event === 'signal_ignored', 2000);
  t.is(line.signal, 'SIGHUP');
  t.deepEqual(
    (await Promise.all(inFlight)).map((r) => r.status),
    [200, 200, 200, 200],
  );
  t.is((await getJson(`${svc.url}/ready`)).status, 200);
  t.is(svc.proc.exitCode, null, 'still running');
  const { code } = await svc.stop();
  t.is(code, 0);
});

test('signals during the first download: SIGHUP is ignored, SIGTERM drains and exits 0, leaving no partial file', async (t) => {
  const dir = tempDir(t);
  const model = await synthesizeModel(dir, 160_000, 64); // ~42 MB: its copy into the cache takes a moment
  const md5 = createHash('md5').update(readFileSync(model)).digest('hex');
  const cacheDir = path.join(dir, 'cache');
  const env = { MODEL_URI: `file://${model}`, MODEL_MD5: md5, MODEL_CACHE_DIR: cacheDir, SHUTDOWN_DELAY_MS: '0' };

  const hup = await startService({ env, waitListening: false });
  t.teardown(() => hup.stop());
  await hup.waitForLog((l) => l.msg === 'model download started', 20_000);
  hup.proc.kill('SIGHUP');
  await hup.waitForLog((l) => l.event === 'signal_ignored', 5_000);
  await hup.waitForLog((l) => l.event === 'ready', 60_000);
  t.is((await hup.stop()).code, 0);

  rmSync(cacheDir, { recursive: true, force: true });
  const term = await startService({ env, waitListening: false });
  t.teardown(() => term.stop());
  await term.waitForLog((l) => l.msg === 'model download started', 20_000);
  term.proc.kill('SIGTERM');
  const { code, signal } = await term.exited;
  t.is(signal, null, 'not killed by the signal');
  t.is(code, 0);
  t.truthy(term.logs.find((l) => l.event === 'stopped'));
  t.deepEqual(
    readdirSync(cacheDir).filter((n) => n.endsWith('.part')),
    [],
    'no partial download left',
  );
});
