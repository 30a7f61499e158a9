// S3 faults while a pod (prod settings) downloads its model: a slow first byte, 500s,
// connections reset mid-body, bodies truncated, bytes corrupted, each through a proxy in
// front of a real s3rver. The pod must never be ready with a bad model, liveness must never
// fail because of S3 (no restart: a restart cannot fix a bucket), the pod must be ready once
// S3 heals, and the cached file must be the verified one.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { startHttpFaultProxy } from '../helpers/http-fault-proxy.js';
import type { S3Fixture } from '../helpers/s3.js';
import { startTcpProxy, type ProxyMode } from '../helpers/tcp-proxy.js';
import { MODEL_MD5, describeTemplate, machine, renderFor, startModelBucket } from './harness/fixture.js';
import { md5OfFile } from '../helpers/fixtures.js';
import { Pod } from './harness/pod.js';
import { sampleReadiness } from './harness/ready-sampler.js';
import { ScenarioReport } from './harness/report.js';
import { timeScaleFromEnv } from './harness/scale.js';

const scale = timeScaleFromEnv();
/** How long each fault lasts before S3 heals. */
const FAULT_MS = 5_000;
/** The chart's model.retry.maxMs, shortened from prod's 30 s so a retry after healing fits the time budget. */
const RETRY_MAX_MS = 4_000;
/** After healing: at most one capped retry wait, the download, and a readiness period or two. */
const READY_AFTER_HEAL_MS = RETRY_MAX_MS + 6_000;

interface Evidence {
  /** How often the fault fired. */
  readonly fired: number;
  /** GET requests that carried a Range header (resumed downloads). */
  readonly rangeGets: number;
  readonly detail: string;
}

interface Fault {
  /** Where the service's S3 client connects. */
  readonly endpoint: string;
  heal(): Promise<void>;
  evidence(): Evidence;
  close(): Promise<void>;
}

/** What the service must have shown while the fault lasted: its /ready reasons and what reached the proxy. */
type Expectation = { readonly name: string; holds(reasons: readonly string[], evidence: Evidence): boolean };

let s3: S3Fixture;
test.before(async () => {
  s3 = await startModelBucket();
});
test.after.always(async () => {
  await s3?.close();
});

async function tcpFault(mode: ProxyMode): Promise<Fault> {
  const proxy = await startTcpProxy(s3.port);
  await proxy.setMode(mode);
  return {
    endpoint: proxy.url,
    heal: () => proxy.setMode({ kind: 'pass' }, { keepExisting: true }),
    evidence: () => {
      const rangeGets = proxy.requests.filter((r) => r.method === 'GET' && r.headers.range !== undefined).length;
      return {
        fired: proxy.faults,
        rangeGets,
        detail: `${proxy.faults} faults over ${proxy.connections} connections; GETs ${proxy.count('GET')}, with Range ${rangeGets}`,
      };
    },
    close: () => proxy.close(),
  };
}

async function runFault(
  t: ExecutionContext,
  name: string,
  injected: string,
  expectation: Expectation,
  makeFault: () => Promise<Fault>,
): Promise<void> {
  const report = new ScenarioReport(t, `S3 ${name}`, `${injected}, healed after ${FAULT_MS / 1000} s (prod)`);
  const fault = await makeFault();
  let pod: Pod | undefined;
  let error: unknown;
  try {
    const template = await renderFor('prod', fault.endpoint, ['--set', `model.retry.maxMs=${RETRY_MAX_MS}`]);
    for (const l of [
      machine(),
      ...describeTemplate(template, scale),
      `model.retry.maxMs ${RETRY_MAX_MS} (prod: 30000) so a retry after healing fits the time budget`,
    ])
      t.log(l);
    pod = await Pod.create({ name: `s3-${name.replace(/\W+/g, '-')}`, template, scale });
    pod.start();
    await pod.waitFor(() => pod?.container?.managementPort !== undefined, 15_000, 'listening');
    const container = pod.container;
    if (container === undefined) throw new Error('no container');
    const sampler = sampleReadiness(`http://127.0.0.1:${String(container.managementPort)}/ready`);

    await new Promise((r) => setTimeout(r, FAULT_MS));
    const healedAt = Date.now();
    await fault.heal();
    t.log(
      `healed; /ready reasons during the fault: ${[...new Set(sampler.samples.map((s) => s.reason ?? String(s.status)))].join(', ')}`,
    );
    await pod.waitFor(() => pod?.ready === true, READY_AFTER_HEAL_MS + 10_000, 'ready after S3 healed');
    const readyAt = pod.events.find((e) => e.type === 'Ready')?.at ?? Date.now();
    // The pod's own prober can see ready a moment before the sampler's next answer comes back:
    // give the sampler a bounded moment to see it too, rather than stopping it mid-request.
    await pod
      .waitFor(() => sampler.samples.some((x) => x.status === 200), 3_000, 'the sampler seeing /ready 200')
      .catch(() => undefined);
    await sampler.stop();

    const readyTime = container.find((l) => l.event === 'ready')[0]?.time;
    const verifiedAt = typeof readyTime === 'string' || typeof readyTime === 'number' ? readyTime : undefined;
    const firstOk = sampler.samples.find((s) => s.status === 200);
    const cached = path.join(pod.cacheDir, `${MODEL_MD5}.bin`);
    const cachedMd5 = await md5OfFile(cached);
    const partLeft = (await readdir(pod.cacheDir)).some((f) => f.endsWith('.part')); // <md5>.<pid>.<random>.part
    const info = (await (
      await fetch(`http://127.0.0.1:${String(pod.endpointPort)}/v1/model`, { signal: AbortSignal.timeout(2_000) })
    ).json()) as { md5?: { actual?: string } };
    const livenessFailed = pod.probesOf('liveness').filter((p) => !p.ok);
    const evidence = fault.evidence();
    const reasons = [
      ...new Set(sampler.samples.filter((s) => s.status !== 200).map((s) => s.reason ?? `status ${s.status}`)),
    ];

    const startedAt = pod.events[0]?.at ?? 0;
    report.check('the fault fired', evidence.fired > 0, evidence.detail);
    report.check(
      expectation.name,
      expectation.holds(reasons, evidence),
      `/ready said: ${reasons.join(', ')}; Range GETs ${evidence.rangeGets}`,
    );
    report.check(
      'never ready with a bad model',
      firstOk !== undefined &&
        verifiedAt !== undefined &&
        firstOk.answeredAt >= new Date(verifiedAt).getTime() &&
        info.md5?.actual === MODEL_MD5,
      `first /ready 200 answered at +${firstOk ? firstOk.answeredAt - startedAt : '?'} ms (S3 healed at +${healedAt - startedAt} ms), after the service logged the verified model (at +${verifiedAt === undefined ? '?' : new Date(verifiedAt).getTime() - startedAt} ms); /v1/model md5.actual ${info.md5?.actual ?? '?'}`,
    );
    report.check(
      'liveness never failed, no restart',
      livenessFailed.length === 0 && pod.restarts === 0,
      `failed liveness probes ${livenessFailed.length} of ${pod.probesOf('liveness').length}, restarts ${pod.restarts}`,
    );
    report.check(
      'ready once S3 healed',
      readyAt - healedAt <= READY_AFTER_HEAL_MS,
      readyAt < healedAt
        ? `ready at +${readyAt - startedAt} ms, before S3 healed (+${healedAt - startedAt} ms): the store got through the fault`
        : `ready ${readyAt - healedAt} ms after S3 healed (bound ${READY_AFTER_HEAL_MS} ms)`,
    );
    report.check(
      'the cached file is the verified one',
      cachedMd5 === MODEL_MD5 && !partLeft,
      `${path.basename(cached)} hashes to ${cachedMd5}; .part left: ${String(partLeft)}`,
    );
  } catch (e) {
    error = e;
    throw e;
  } finally {
    if (pod !== undefined) t.log(pod.timeline());
    await pod?.terminate();
    await fault.close();
    report.finish({ restarts: pod?.restarts ?? 0, sent: 0, failed: 0, p99Ms: 0 }, error);
  }
}

test('S3 slow first byte: not ready while waiting, no restart, ready with the verified model', (t) =>
  runFault(
    t,
    'slow first byte',
    'first byte of every S3 connection held 4 s',
    { name: 'waited, downloading', holds: (reasons) => reasons.includes('downloading') },
    () => tcpFault({ kind: 'delay', ms: 4_000 }),
  ));

test('S3 500s: not ready while S3 answers 500, no restart, ready once it heals', (t) =>
  runFault(
    t,
    '500 InternalError',
    'every S3 request answered 500 InternalError',
    { name: 'reported download_failed', holds: (reasons) => reasons.includes('download_failed') },
    async () => {
      const proxy = await startHttpFaultProxy(s3.port);
      proxy.failWith(500);
      return {
        endpoint: proxy.url,
        heal: () => Promise.resolve(proxy.heal()),
        evidence: () => ({
          fired: proxy.count('HEAD', true) + proxy.count('GET', true),
          rangeGets: 0,
          detail: `500s answered: HEAD ${proxy.count('HEAD', true)}, GET ${proxy.count('GET', true)}; passed after healing: HEAD ${proxy.count('HEAD', false)}, GET ${proxy.count('GET', false)}`,
        }),
        close: () => proxy.close(),
      };
    },
  ));

test('S3 connection reset mid-body: resumed, never ready with a partial file, no restart', (t) =>
  runFault(
    t,
    'reset mid-body',
    'every S3 connection reset after 300 kB',
    {
      name: 'resumed with Range',
      holds: (reasons, evidence) => reasons.includes('download_failed') && evidence.rangeGets > 0,
    },
    () => tcpFault({ kind: 'drop', afterBytes: 300_000 }),
  ));

test('S3 truncated body: never ready with a short file, no restart, ready once it heals', (t) =>
  runFault(
    t,
    'truncated body',
    'every S3 connection ended cleanly after 300 kB',
    {
      name: 'resumed with Range',
      holds: (reasons, evidence) => reasons.includes('download_failed') && evidence.rangeGets > 0,
    },
    () => tcpFault({ kind: 'truncate', afterBytes: 300_000 }),
  ));

test('S3 corrupted bytes: the MD5 check refuses them, no restart, ready with the good file once it heals', (t) =>
  runFault(
    t,
    'corrupted bytes',
    'byte 500,000 of every S3 connection inverted',
    { name: 'refused by the MD5 check', holds: (reasons) => reasons.includes('md5_mismatch') },
    () => tcpFault({ kind: 'corrupt', atByte: 500_000 }),
  ));
