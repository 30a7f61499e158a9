// Lifecycle as an operator sees it: bad config, wrong MD5, lazy loading, admission under
// pressure, an engine child killed mid-traffic, and SIGTERM during traffic.
import test from 'ava';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { BUNDLED_MODEL, MAIN, freePort, getJson, postJson, startService } from '../helpers/service.js';

function tempDir(t: import('ava').ExecutionContext): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fte-life-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function childPids(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((s) => Number(s.trim()))
      .filter((n) => n > 0);
  } catch {
    return [];
  }
}

const ENGLISH = 'This is a perfectly ordinary English sentence about the weather today.';

test('a bad setting exits 2 with a message naming it', async (t) => {
  const svc = await startService({ env: { PORT: 'eighty', MODEL_LOAD: 'sometimes' }, waitListening: false });
  const { code } = await svc.exited;
  t.is(code, 2);
  const err = svc.stderr.join('');
  t.regex(err, /PORT="eighty" is not an integer/);
  t.regex(err, /MODEL_LOAD="sometimes" must be one of eager, lazy/);
});

test('contradictory admission settings (interval shorter than the target) exit 2 with a message naming both', async (t) => {
  const svc = await startService({
    env: { ADMISSION_QUEUE_DELAY_TARGET_MS: '2000', ADMISSION_QUEUE_DELAY_INTERVAL_MS: '100' },
    waitListening: false,
  });
  t.teardown(() => svc.stop()); // a service that started anyway is stopped, not left behind
  const exited = await Promise.race([svc.exited, new Promise<undefined>((r) => setTimeout(r, 10_000, undefined))]);
  t.is(exited?.code, 2, 'exits at once, before listening');
  t.regex(
    svc.stderr.join(''),
    /ADMISSION_QUEUE_DELAY_INTERVAL_MS=100 is shorter than ADMISSION_QUEUE_DELAY_TARGET_MS=2000/,
  );
});

test('wrong MD5: never ready (md5_mismatch), classify 503 not_ready, liveness 200, nothing verified in the cache', async (t) => {
  const cacheDir = tempDir(t);
  const svc = await startService({
    env: {
      MODEL_CACHE_DIR: cacheDir,
      MODEL_URI: `file://${BUNDLED_MODEL}`,
      MODEL_MD5: '0123456789abcdef0123456789abcdef',
      MODEL_RETRY_BASE_MS: '50',
      MODEL_RETRY_MAX_MS: '200',
    },
  });
  t.teardown(() => svc.stop());
  await svc.waitForLog((l) => l.event === 'model_phase' && l.phase === 'md5_mismatch', 10_000);
  // Give it several retries: it must stay not ready.
  await new Promise((r) => setTimeout(r, 700));
  const ready = await getJson(`${svc.url}/ready`);
  t.is(ready.status, 503);
  t.is((ready.body as { reason: string }).reason, 'md5_mismatch');
  const res = await postJson(`${svc.url}/v1/classify`, { text: ENGLISH });
  t.is(res.status, 503);
  t.is((res.body as { error: { code: string } }).error.code, 'not_ready');
  t.truthy(res.headers.get('retry-after'));
  t.is((await getJson(`${svc.url}/health`)).status, 200);
  t.false(
    readdirSync(cacheDir).includes('0123456789abcdef0123456789abcdef.bin'),
    'no verified file (a .part or the download lock may exist while it retries)',
  );
});

test('lazy mode: nothing loads until asked; the first classification waits for the model', async (t) => {
  const svc = await startService({ env: { MODEL_CACHE_DIR: tempDir(t), MODEL_LOAD: 'lazy' } });
  t.teardown(() => svc.stop());
  await new Promise((r) => setTimeout(r, 300));
  const info = (await getJson(`${svc.url}/v1/model`)).body as { state: string; phase: string };
  t.is(info.state, 'loading');
  t.is(info.phase, 'pending');
  const res = await postJson(`${svc.url}/v1/classify`, { text: ENGLISH });
  t.is(res.status, 200);
  t.is((res.body as { predictions: Array<{ label: string }> }).predictions[0]?.label, 'en');
});

test('admission: past in-flight and queue limits, 503 overloaded with Retry-After at once; /health stays 200', async (t) => {
  const svc = await startService({
    env: {
      MODEL_CACHE_DIR: tempDir(t),
      ADMISSION_MAX_IN_FLIGHT: '1',
      ADMISSION_MAX_QUEUE: '1',
      CACHE_ENABLED: 'false',
      RETRY_AFTER_SECONDS: '2',
    },
  });
  t.teardown(() => svc.stop());
  await svc.waitReady(20_000);
  const texts = Array.from({ length: 1000 }, (_, i) => `${ENGLISH} number ${i} ${'words '.repeat(40)}`);
  const started = Date.now();
  const requests = Array.from({ length: 12 }, () =>
    postJson(`${svc.url}/v1/classify`, { texts }, { timeoutMs: 30_000 }),
  );
  const health = await getJson(`${svc.url}/health`);
  const results = await Promise.all(requests);
  t.is(health.status, 200);
  const shed = results.filter((r) => r.status === 503);
  const ok = results.filter((r) => r.status === 200);
  t.true(shed.length >= 1, `statuses: ${results.map((r) => r.status).join(',')}`);
  t.true(ok.length >= 2);
  t.true(results.every((r) => r.status === 200 || r.status === 503));
  for (const r of shed) {
    t.is((r.body as { error: { code: string } }).error.code, 'overloaded');
    t.is(r.headers.get('retry-after'), '2');
  }
  t.true(Date.now() - started < 30_000);
  const metrics = await (await fetch(`${svc.url}/metrics`)).text();
  t.regex(metrics, /fasttext_admission_shed_total\{reason="overloaded"\} [1-9]/);
});

test('an engine child SIGKILLed mid-traffic: every request ends within its deadline, the process survives, classifying again within 2 s', async (t) => {
  const svc = await startService({
    env: {
      MODEL_CACHE_DIR: tempDir(t),
      ENGINE_POOL_SIZE: '2',
      CACHE_ENABLED: 'false',
      REQUEST_TIMEOUT_MS: '3000',
      ENGINE_RESTART_BASE_MS: '50',
    },
  });
  t.teardown(() => svc.stop());
  await svc.waitReady(20_000);
  const children = childPids(svc.pid);
  t.true(children.length >= 2, `children: ${children.join(',')}`);

  const statuses: number[] = [];
  let stop = false;
  const worker = async (): Promise<void> => {
    while (!stop) {
      const started = Date.now();
      const res = await postJson(
        `${svc.url}/v1/classify`,
        { texts: Array.from({ length: 50 }, (_, i) => `${ENGLISH} ${i}`) },
        { timeoutMs: 10_000 },
      );
      t.true(Date.now() - started < 3000 + 1500, 'answered within the request deadline');
      if (res.status !== 200) t.is(typeof (res.body as { error: { code: string } }).error.code, 'string');
      statuses.push(res.status);
    }
  };
  const workers = Array.from({ length: 8 }, worker);
  await new Promise((r) => setTimeout(r, 300));
  for (const pid of children) process.kill(pid, 'SIGKILL');
  const killedAt = Date.now();
  // Back and classifying within 2 s.
  let recoveredAt = 0;
  while (Date.now() - killedAt < 5000) {
    const res = await postJson(`${svc.url}/v1/classify`, { text: ENGLISH }, { timeoutMs: 3000 });
    if (res.status === 200) {
      recoveredAt = Date.now();
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 300));
  stop = true;
  await Promise.all(workers);
  const tally = statuses.reduce<Record<number, number>>((acc, s) => ({ ...acc, [s]: (acc[s] ?? 0) + 1 }), {});
  t.log(
    `killed ${children.length} children under load; classifying again after ${recoveredAt - killedAt} ms; request statuses ${JSON.stringify(tally)}`,
  );
  t.true(recoveredAt > 0 && recoveredAt - killedAt < 2000, `recovered after ${recoveredAt - killedAt} ms`);
  t.is(svc.proc.exitCode, null, 'the service process survived');
  t.true(
    statuses.every((s) => s === 200 || (s >= 500 && s < 600)),
    `statuses: ${[...new Set(statuses)].join(',')}`,
  );
  t.true(statuses.filter((s) => s === 200).length > 0);
  const after = childPids(svc.pid);
  t.true(after.length >= 2 && after.every((p) => !children.includes(p)), 'both children were replaced');
  t.is((await getJson(`${svc.url}/ready`)).status, 200);
  const metrics = await (await fetch(`${svc.url}/metrics`)).text();
  t.regex(metrics, /fasttext_engine_restarts_total [2-9]/);
});

test('SIGTERM during traffic: /ready 503 first, in-flight requests complete, exit 0', async (t) => {
  const svc = await startService({
    env: { MODEL_CACHE_DIR: tempDir(t), SHUTDOWN_DELAY_MS: '1500', CACHE_ENABLED: 'false' },
  });
  await svc.waitReady(20_000);
  const texts = Array.from({ length: 1000 }, (_, i) => `${ENGLISH} ${i} ${'more words here '.repeat(20)}`);
  const inFlight = Array.from({ length: 4 }, () =>
    postJson(`${svc.url}/v1/classify`, { texts }, { timeoutMs: 20_000 }),
  );
  await new Promise((r) => setTimeout(r, 30));
  svc.proc.kill('SIGTERM');
  await svc.waitForLog((l) => l.event === 'draining', 2000);
  const ready = await getJson(`${svc.url}/ready`);
  t.is(ready.status, 503);
  t.is((ready.body as { reason: string }).reason, 'draining');
  t.is((await getJson(`${svc.url}/health`)).status, 200, 'liveness holds while draining');
  const during = await postJson(`${svc.url}/v1/classify`, { text: ENGLISH });
  t.is(during.status, 200, 'still serving during the shutdown delay');
  const results = await Promise.all(inFlight);
  t.deepEqual(
    results.map((r) => r.status),
    [200, 200, 200, 200],
  );
  const { code } = await svc.exited;
  t.is(code, 0);
  t.truthy(svc.logs.find((l) => l.event === 'stopped'));
});

test('stdout is a pipe whose reader exited: the service keeps serving and still exits 0 on SIGTERM', async (t) => {
  const port = await freePort();
  // A real OS pipe into `head`, which exits after the first line: every later log write gets EPIPE.
  const shell = spawn('bash', ['-c', `node ${JSON.stringify(MAIN)} | head -n 1 > /dev/null; sleep 30`], {
    env: {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: String(port),
      MODEL_CACHE_DIR: tempDir(t),
      SHUTDOWN_DELAY_MS: '0',
    },
    stdio: 'ignore',
  });
  t.teardown(() => {
    if (shell.pid) process.kill(shell.pid, 'SIGKILL');
  });
  const svcUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const ready = await getJson(`${svcUrl}/ready`).catch(() => undefined);
    if (ready?.status === 200) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  t.is((await postJson(`${svcUrl}/v1/classify`, { text: ENGLISH })).status, 200);
  const [nodePid] = childPids(shell.pid ?? -1).filter((pid) =>
    execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' }).includes('main.js'),
  );
  t.truthy(nodePid);
  process.kill(nodePid as number, 'SIGTERM');
  const until = Date.now() + 10_000;
  let alive = true;
  while (alive && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 100));
    try {
      process.kill(nodePid as number, 0);
    } catch {
      alive = false;
    }
  }
  t.false(alive, 'the process exited within 10 s of SIGTERM');
});

test('a client that hangs up while queued for admission does not leak its slot; a stalled body is cut at the deadline', async (t) => {
  const svc = await startService({
    env: {
      MODEL_CACHE_DIR: tempDir(t),
      ADMISSION_MAX_IN_FLIGHT: '1',
      ADMISSION_MAX_QUEUE: '10',
      REQUEST_TIMEOUT_MS: '3000',
      CACHE_ENABLED: 'false',
    },
  });
  t.teardown(() => svc.stop());
  await svc.waitReady(20_000);
  const port = Number(new URL(svc.url).port);
  const body = JSON.stringify({ text: ENGLISH });
  const head = `POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
  const connect = (): Promise<net.Socket> =>
    new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(s));
      s.once('error', reject);
    });
  // A holds the only slot, its body half sent.
  const a = await connect();
  t.teardown(() => a.destroy());
  const statusLine = (s: net.Socket): Promise<string> =>
    new Promise((resolve) => {
      s.once('data', (d: Buffer) => resolve(d.toString().split('\r\n')[0] ?? ''));
      s.once('close', () => resolve('closed without an answer'));
    });
  const aAnswer = statusLine(a);
  a.write(head + body.slice(0, 10));
  await new Promise((r) => setTimeout(r, 200));
  // B waits in the queue, then hangs up.
  const b = await connect();
  b.write(head + body);
  await new Promise((r) => setTimeout(r, 200));
  b.destroy();
  await new Promise((r) => setTimeout(r, 100));
  a.write(body.slice(10));
  t.regex(await aAnswer, /200/);
  const metrics = await (await fetch(`${svc.url}/metrics`)).text();
  t.regex(metrics, /^fasttext_admission_in_flight 0$/m, 'no slot held after both requests ended');
  t.is((await postJson(`${svc.url}/v1/classify`, { text: ENGLISH }, { timeoutMs: 5000 })).status, 200);

  // A body that never completes is answered 408 at the request deadline, and frees its slot.
  const c = await connect();
  t.teardown(() => c.destroy());
  const cAnswer = statusLine(c);
  const started = Date.now();
  c.write(head + body.slice(0, 5));
  t.regex(await cAnswer, /408/);
  t.true(Date.now() - started < 5000);
  t.is((await postJson(`${svc.url}/v1/classify`, { text: ENGLISH }, { timeoutMs: 5000 })).status, 200);
});
