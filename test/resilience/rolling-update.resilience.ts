// Rolling update with the prod overlay: three pods behind a Service (endpoints + a round-robin
// proxy), steady client traffic, and a new revision rolled out the way the Deployment's
// maxSurge / maxUnavailable / minReadySeconds and the preStop sleep dictate. Not one client
// request may fail.
import test from 'ava';
import { resolveRollingUpdate } from './harness/chart-pod.js';
import { Deployment } from './harness/deployment.js';
import { Endpoints, startProxy, type Proxy } from './harness/endpoints.js';
import { ENDPOINT_PROPAGATION_SECONDS, describeTemplate, machine, renderFor, startModelBucket } from './harness/fixture.js';
import { startLoad, summarize, type LoadRun } from './harness/load.js';
import { ScenarioReport } from './harness/report.js';
import { timeScaleFromEnv } from './harness/scale.js';

const scale = timeScaleFromEnv();
const RATE = 60;
const BATCH = 5;

test('rolling update (prod): one pod at a time, preStop before SIGTERM, zero failed client requests', async (t) => {
  const report = new ScenarioReport(t, 'rolling update', `prod rollout of 3 pods to a new config, ${RATE} req/s through the Service`);
  const s3 = await startModelBucket();
  const endpoints = new Endpoints(scale.ms(ENDPOINT_PROPAGATION_SECONDS));
  let proxy: Proxy | undefined;
  let load: LoadRun | undefined;
  const deployment = new Deployment({ name: 'edge', scale, endpoints });
  let error: unknown;
  let totals = { restarts: 0, sent: 0, failed: 0, p99Ms: 0 };
  try {
    const v1 = await renderFor('prod', s3.endpoint);
    // Revision 2: a changed service setting, which changes the pod template's checksum/config annotation.
    const v2 = await renderFor('prod', s3.endpoint, ['--set', 'cache.ttlSeconds=300']);
    for (const l of [machine(), ...describeTemplate(v1, scale), `endpoint changes reach the proxy ${ENDPOINT_PROPAGATION_SECONDS} s (${scale.ms(ENDPOINT_PROPAGATION_SECONDS)} ms here) after the kubelet reports them`]) t.log(l);
    if (v2.env.CACHE_TTL_SECONDS === v1.env.CACHE_TTL_SECONDS) throw new Error('revision 2 renders the same environment');
    const { maxSurge, maxUnavailable } = resolveRollingUpdate(v1.strategy.rollingUpdate, v1.replicas);

    await deployment.rollout(v1, 60_000);
    proxy = await startProxy(endpoints);
    await new Promise((r) => setTimeout(r, scale.ms(ENDPOINT_PROPAGATION_SECONDS) + 200));
    t.log(`revision 1 available: ${deployment.pods.map((p) => p.name).join(', ')}; endpoints ${endpoints.size}`);

    load = startLoad({
      url: `${proxy.url}/v1/classify`,
      batch: BATCH,
      clientTimeoutMs: Number(v1.env.REQUEST_TIMEOUT_MS ?? 10_000) + 5_000,
      maxSockets: 256,
      phases: [{ name: 'steady', mode: 'open', rate: RATE, durationMs: 120_000 }],
    });
    await load.started;
    await new Promise((r) => setTimeout(r, 1_000));

    // Watch the rollout: live pods (not terminating), available pods, endpoints.
    const minReadyMs = scale.ms(v1.minReadySeconds);
    let maxLive = 0;
    let minAvailable = Infinity;
    let minEndpoints = Infinity;
    const watch = setInterval(() => {
      const live = deployment.pods.filter((p) => !p.terminating);
      maxLive = Math.max(maxLive, live.length);
      minAvailable = Math.min(minAvailable, live.filter((p) => p.availableFor(minReadyMs)).length);
      minEndpoints = Math.min(minEndpoints, endpoints.size);
    }, 20);
    const rolloutStarted = Date.now();
    try {
      await deployment.rollout(v2, 90_000);
      await deployment.settled();
    } finally {
      clearInterval(watch);
    }
    const rolloutMs = Date.now() - rolloutStarted;
    await new Promise((r) => setTimeout(r, 1_000));
    load.stop();
    const run = await load.report;
    const all = summarize(run);
    const oldPods = deployment.pods.filter((p) => deployment.revisionOfPod(p) === 1);
    const newPods = deployment.pods.filter((p) => deployment.revisionOfPod(p) === 2);
    const restarts = deployment.pods.reduce((n, p) => n + p.restarts, 0);
    totals = { restarts, sent: all.sent, failed: all.failed + all.shed + all.deadline, p99Ms: all.p99Ms };
    t.log(`steps: ${deployment.steps.filter((s) => s.at >= rolloutStarted).map((s) => `+${((s.at - rolloutStarted) / 1000).toFixed(1)}s ${s.action} ${s.pod}`).join(', ')}`);
    t.log(`routed: ${[...proxy.routed].map(([pod, n]) => `${pod} ${n}`).join(', ')}; proxy failures ${JSON.stringify(Object.fromEntries(proxy.failures))}`);

    report.check(
      'zero failed client requests',
      all.sent > 0 && all.ok === all.sent,
      `${all.ok}/${all.sent} ok; failed ${all.failed} (connection errors ${all.connectionErrors}, client timeouts ${all.clientTimeouts}), 503 ${all.shed}, 504 ${all.deadline}${run.samples.length ? `; ${run.samples.join(' | ')}` : ''}; p99 ${all.p99Ms} ms`,
    );
    report.check(
      'surge and availability as the strategy says',
      maxLive <= v1.replicas + maxSurge && minAvailable >= v1.replicas - maxUnavailable,
      `live pods at most ${maxLive} (replicas ${v1.replicas} + maxSurge ${maxSurge}), available at least ${minAvailable} (replicas - maxUnavailable = ${v1.replicas - maxUnavailable}); endpoints at least ${minEndpoints}`,
    );
    const stepsAfter = deployment.steps.filter((s) => s.at >= rolloutStarted);
    const deletes = stepsAfter.filter((s) => s.action === 'delete');
    const oneByOne = stepsAfter.map((s) => s.action).join(',') === 'create,delete,create,delete,create,delete';
    const waitedMinReady = deletes.every((d, i) => {
      const ready = newPods[i]?.events.find((e) => e.type === 'Ready')?.at;
      return ready !== undefined && d.at - ready >= minReadyMs;
    });
    report.check('one pod at a time, each new pod ready for minReadySeconds first', oneByOne && waitedMinReady, `${stepsAfter.map((s) => s.action).join(', ')}; minReadySeconds ${v1.minReadySeconds} s (${minReadyMs} ms here) respected: ${String(waitedMinReady)}`);
    const preStopMs = scale.ms(v1.preStopSleepSeconds);
    const graceful = oldPods.map((p) => {
      const killing = p.events.find((e) => e.type === 'Killing')?.at;
      const term = p.events.find((e) => e.type === 'SIGTERM')?.at;
      const exit = p.runs.at(-1)?.exit;
      return { pod: p.name, preStopMs: killing !== undefined && term !== undefined ? term - killing : -1, exit: exit?.signal ?? String(exit?.code) };
    });
    report.check(
      'old pods: preStop sleep, then SIGTERM, drained, exit 0',
      graceful.every((g) => g.preStopMs >= preStopMs && g.exit === '0'),
      graceful.map((g) => `${g.pod} SIGTERM after ${g.preStopMs} ms, exit ${g.exit}`).join('; '),
    );
    report.check('no container restarts', restarts === 0, `restarts ${restarts}; rollout took ${rolloutMs} ms`);
    report.check('traffic moved to the new pods', newPods.every((p) => (proxy?.routed.get(p.name) ?? 0) > 0), newPods.map((p) => `${p.name} ${proxy?.routed.get(p.name) ?? 0}`).join(', '));
  } catch (e) {
    error = e;
    throw e;
  } finally {
    load?.kill();
    await deployment.delete();
    endpoints.close();
    await proxy?.close();
    await s3.close();
    report.finish(totals, error);
  }
});
