// Engine crash under load: the fastText children die (SIGKILL) again and again while clients
// send traffic. fasttext.js's own server crashes on EPIPE or hangs forever here; this one must
// answer every request (2xx, or a JSON 503/504), never need a restart of its container, and
// report ready again within 2 s of each kill.
import test from 'ava';
import { describeTemplate, machine, renderFor, startModelBucket } from './harness/fixture.js';
import { startLoad, summarize } from './harness/load.js';
import { Pod } from './harness/pod.js';
import { sampleReadiness } from './harness/ready-sampler.js';
import { ScenarioReport } from './harness/report.js';
import { timeScaleFromEnv } from './harness/scale.js';

const scale = timeScaleFromEnv();
const KILLS = 4;
const KILL_EVERY_MS = 3_000;
const FIRST_KILL_MS = 2_000;
const RATE = 100;
const BATCH = 10;
const READY_WITHIN_MS = 2_000;

test('engine crash under load: every request answered, no container restart, ready again within 2 s of each kill', async (t) => {
  const report = new ScenarioReport(
    t,
    'engine crash under load',
    `SIGKILL of every fastText child x${KILLS}, ${RATE} req/s (prod)`,
  );
  const s3 = await startModelBucket();
  let pod: Pod | undefined;
  let error: unknown;
  let totals = { restarts: 0, sent: 0, failed: 0, p99Ms: 0 };
  try {
    const template = await renderFor('prod', s3.endpoint);
    for (const l of [machine(), ...describeTemplate(template, scale)]) t.log(l);
    pod = await Pod.create({ name: 'crash', template, scale });
    pod.start();
    await pod.waitFor(() => pod?.ready === true, 30_000, 'ready');
    const container = pod.container;
    const port = pod.endpointPort;
    if (container === undefined || port === undefined || container.managementPort === undefined)
      throw new Error('no container');

    const durationMs = FIRST_KILL_MS + KILLS * KILL_EVERY_MS;
    const sampler = sampleReadiness(`http://127.0.0.1:${container.managementPort}/ready`);
    const load = startLoad({
      url: `http://127.0.0.1:${port}/v1/classify`,
      batch: BATCH,
      clientTimeoutMs: Number(template.env.REQUEST_TIMEOUT_MS ?? 10_000) + 5_000,
      maxSockets: 1024,
      phases: [{ name: 'steady', mode: 'open', rate: RATE, durationMs }],
    });
    await load.started;
    const kills: { at: number; pids: number[] }[] = [];
    for (let i = 0; i < KILLS; i++) {
      await new Promise((r) => setTimeout(r, i === 0 ? FIRST_KILL_MS : KILL_EVERY_MS));
      // The service's own children (descendants of the process this test started), by pid.
      const pids = await container.childPids();
      const at = Date.now();
      for (const pid of pids) process.kill(pid, 'SIGKILL');
      kills.push({ at, pids });
      t.log(`kill ${i + 1}: SIGKILL fastText pids ${pids.join(', ')}`);
    }
    const run = await load.report;
    await new Promise((r) => setTimeout(r, READY_WITHIN_MS));
    await sampler.stop();

    // Recovery after each kill: from the kill to the first 200 that follows the last non-200 before the next kill.
    const recoveries = kills.map((k, i) => {
      const end = kills[i + 1]?.at ?? Infinity;
      const window = sampler.samples.filter((s) => s.at >= k.at && s.at < end);
      const lastBad = window.reduce((m, s) => (s.status !== 200 ? Math.max(m, s.at) : m), -Infinity);
      if (lastBad === -Infinity) return 0;
      const back =
        window.find((s) => s.at > lastBad && s.status === 200) ??
        sampler.samples.find((s) => s.at > lastBad && s.status === 200);
      return back === undefined ? Infinity : back.at - k.at;
    });
    const all = summarize(run);
    const engineRestarts = container.find((l) => l.event === 'engine_restart').length;
    const livenessFailed = pod.probesOf('liveness').filter((p) => !p.ok);
    totals = { restarts: pod.restarts, sent: all.sent, failed: all.failed, p99Ms: all.p99Ms };
    t.log(
      `requests: sent ${all.sent}, ok ${all.ok}, 503 ${all.shed}, 504 ${all.deadline}, failed ${all.failed}; codes ${JSON.stringify(run.errorCodes)}; p50 ${all.p50Ms} ms, p99 ${all.p99Ms} ms, max ${all.maxMs} ms`,
    );

    report.check(
      'every kill hit live children',
      kills.every((k) => k.pids.length > 0) && engineRestarts >= kills.reduce((n, k) => n + k.pids.length, 0),
      `children killed per round ${kills.map((k) => k.pids.length).join(', ')}; engine restarts logged ${engineRestarts}`,
    );
    report.check(
      'no hung request',
      all.failed === 0,
      `failed ${all.failed} of ${all.sent}: client timeouts ${all.clientTimeouts}, connection errors ${all.connectionErrors}${run.samples.length ? `; ${run.samples.join(' | ')}` : ''}; answered 503 ${all.shed} (JSON, Retry-After), 504 ${all.deadline}`,
    );
    report.check(
      'no container restart',
      pod.restarts === 0 && livenessFailed.length === 0,
      `restarts ${pod.restarts}, failed liveness probes ${livenessFailed.length}`,
    );
    report.check(
      `ready again within ${READY_WITHIN_MS} ms of each kill`,
      recoveries.every((r) => r <= READY_WITHIN_MS),
      `/ready back after ${recoveries.map((r) => `${r} ms`).join(', ')} (sampled every 50 ms); kubelet readiness ${pod.events.some((e) => e.type === 'NotReady') ? 'did drop' : 'never dropped'}`,
    );
  } catch (e) {
    error = e;
    throw e;
  } finally {
    if (pod !== undefined) t.log(pod.timeline());
    await pod?.terminate();
    await s3.close();
    report.finish(totals, error);
  }
});
