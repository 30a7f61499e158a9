// The metrics the alerts rely on, read from a real service's /metrics: fasttext_ready and
// fasttext_not_ready_reason say what /ready says (one reason series at a time), and
// fasttext_liveness_failures_total counts each /health 503 by its watchdog reason.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BUNDLED_MODEL, getJson, startService, type RunningService } from '../helpers/service.js';
import { sleep } from '../helpers/fixtures.js';

async function start(t: import('ava').ExecutionContext, env: Record<string, string>): Promise<RunningService> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fte-readiness-'));
  const svc = await startService({
    env: { MODEL_CACHE_DIR: dir, ENGINE_POOL_SIZE: '1', ENGINE_K_TIERS: 'none', ...env },
  });
  t.teardown(async () => {
    await svc.stop(2000);
    rmSync(dir, { recursive: true, force: true });
  });
  return svc;
}

/** name{labels} -> value for the series of `names` in a scrape. */
async function scrape(svc: RunningService, names: readonly string[]): Promise<Map<string, number>> {
  const text = await (await fetch(`${svc.managementUrl}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([a-z_:]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match && names.includes(match[1] as string))
      series.set(`${match[1] as string}${match[2] ?? ''}`, Number(match[3]));
  }
  return series;
}

const READINESS = ['fasttext_ready', 'fasttext_not_ready_reason'];

test('wrong MD5: fasttext_ready 0 and the one reason series is md5_mismatch, as /ready says, across retries', async (t) => {
  const svc = await start(t, {
    MODEL_URI: `file://${BUNDLED_MODEL}`,
    MODEL_MD5: '0123456789abcdef0123456789abcdef',
    MODEL_RETRY_BASE_MS: '50',
    MODEL_RETRY_MAX_MS: '200',
  });
  await svc.waitForLog((l) => l.event === 'model_phase' && l.phase === 'md5_mismatch', 10_000);
  for (let i = 0; i < 5; i++) {
    const ready = (await getJson(`${svc.managementUrl}/ready`)).body as { reason: string };
    const series = await scrape(svc, READINESS);
    t.deepEqual(Object.fromEntries(series), {
      fasttext_ready: 0,
      [`fasttext_not_ready_reason{reason="${ready.reason}"}`]: 1,
    });
    t.is(ready.reason, 'md5_mismatch');
    await sleep(150);
  }
});

test('ready: fasttext_ready 1 and no reason series; draining after SIGTERM: 0 with reason draining', async (t) => {
  const svc = await start(t, { SHUTDOWN_DELAY_MS: '3000' });
  await svc.waitReady(30_000);
  t.deepEqual(Object.fromEntries(await scrape(svc, READINESS)), { fasttext_ready: 1 });
  svc.proc.kill('SIGTERM');
  await svc.waitForLog((l) => l.event === 'draining', 5000);
  t.is((await getJson(`${svc.managementUrl}/ready`)).status, 503);
  t.deepEqual(Object.fromEntries(await scrape(svc, READINESS)), {
    fasttext_ready: 0,
    'fasttext_not_ready_reason{reason="draining"}': 1,
  });
});

test('each /health 503 counts once under its watchdog reason; a 200 counts nothing', async (t) => {
  // 300 ms: above the hiccups of a busy shared machine, far below the 1 s freeze.
  const svc = await start(t, { LIVENESS_MAX_EVENT_LOOP_DELAY_MS: '300' });
  await svc.waitReady(30_000);
  const name = ['fasttext_liveness_failures_total'];
  t.deepEqual(Object.fromEntries(await scrape(svc, name)), {});
  let failures = 0;
  for (let i = 0; i < 3; i++) {
    // Freeze the process; on resume its watchdog timer is late by the time it was stopped.
    process.kill(svc.pid, 'SIGSTOP');
    await sleep(1000);
    process.kill(svc.pid, 'SIGCONT');
    const res = await getJson(`${svc.managementUrl}/health`);
    t.is(res.status, 503, JSON.stringify(res.body));
    t.is((res.body as { reason: string }).reason, 'event_loop_blocked');
    failures += 1;
    await sleep(1500); // the delay decays; /health is 200 again
  }
  t.is((await getJson(`${svc.managementUrl}/health`)).status, 200);
  t.deepEqual(Object.fromEntries(await scrape(svc, name)), {
    'fasttext_liveness_failures_total{reason="event_loop_blocked"}': failures,
  });
});
