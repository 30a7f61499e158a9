// A bad configuration reproduced: a startup probe pointed at /ready (customStartupProbe) with a
// window shorter than the model download, on a slow S3. The kubelet kills the container
// before the download ends, every restart starts the download over, and back-off stretches
// the loop: the restart loop Kubernetes shows (CrashLoopBackOff) and never a ready pod.
// Then the same slow S3 with the chart's own prod probes (startup and liveness on /health,
// the download visible in /ready only): no restart, ready when the download ends. And the
// chart's README must say how to size the window.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { startHttpFaultProxy } from '../helpers/http-fault-proxy.js';
import type { S3Fixture } from '../helpers/s3.js';
import { ROOT } from '../helpers/service.js';
import { describeTemplate, machine, modelGets, renderFor, startModelBucket } from './harness/fixture.js';
import { Pod } from './harness/pod.js';
import { sampleReadiness } from './harness/ready-sampler.js';
import { ScenarioReport } from './harness/report.js';
import { timeScaleFromEnv } from './harness/scale.js';

const scale = timeScaleFromEnv();
/** A slow link to S3: the 938 kB model takes about 6 s (about 30 s at cluster scale 0.2). */
const BYTES_PER_SECOND = 150_000;
const MODEL_BYTES = 938_013;
/** The bad startup probe: /ready, 5 x 2 s = a 10 s window. */
const BAD_STARTUP = {
  httpGet: { path: '/ready', port: 'management' },
  periodSeconds: 2,
  timeoutSeconds: 1,
  failureThreshold: 5,
};
const OBSERVE_MS = 20_000;

let s3: S3Fixture;
test.before(async () => {
  s3 = await startModelBucket();
});
test.after.always(async () => {
  await s3?.close();
});

test('bad config: a startup window shorter than the download shows the restart loop Kubernetes would show', async (t) => {
  const downloadMs = Math.round((MODEL_BYTES / BYTES_PER_SECOND) * 1000);
  const windowSeconds = BAD_STARTUP.failureThreshold * BAD_STARTUP.periodSeconds;
  const report = new ScenarioReport(
    t,
    'bad config: startup window < download',
    `customStartupProbe /ready ${windowSeconds} s window, S3 at ${BYTES_PER_SECOND / 1000} kB/s (prod)`,
  );
  const slow = await startHttpFaultProxy(s3.port);
  slow.throttle(BYTES_PER_SECOND);
  let pod: Pod | undefined;
  let error: unknown;
  try {
    const template = await renderFor('prod', slow.url, [
      '--set-json',
      `customStartupProbe=${JSON.stringify(BAD_STARTUP)}`,
    ]);
    for (const l of [machine(), ...describeTemplate(template, scale)]) t.log(l);
    t.log(
      `startup window ${windowSeconds} s (${scale.ms(windowSeconds)} ms here); the download takes about ${downloadMs} ms here (${Math.round(downloadMs / 1000 / scale.factor)} s at cluster scale)`,
    );
    const gets = modelGets(s3);
    pod = await Pod.create({ name: 'bad-startup', template, scale });
    pod.start();
    await new Promise((r) => setTimeout(r, OBSERVE_MS));

    const backoffs = pod.events.filter((e) => e.type === 'BackOff').map((e) => e.detail ?? '');
    const unhealthy = pod.events.filter((e) => e.type === 'Unhealthy');
    const starts = pod.events.filter((e) => e.type === 'Started');
    const downloadsStarted = pod.runs.reduce((n, c) => n + c.find((l) => l.msg === 'model download started').length, 0);
    const verified = pod.runs.reduce((n, c) => n + c.find((l) => l.event === 'ready').length, 0);
    t.log(pod.timeline());

    report.check(
      'restart loop',
      pod.restarts >= 3 && unhealthy.every((e) => e.detail?.startsWith('startup probe failed') === true),
      `${pod.restarts} restarts in ${OBSERVE_MS} ms, each after the startup probe failed (${unhealthy.length}x)`,
    );
    report.check("back-off grows as the kubelet's does", backoffs.length >= 2, backoffs.join('; '));
    report.check(
      'never ready',
      !pod.events.some((e) => e.type === 'Ready') && verified === 0,
      `Ready events ${pod.events.filter((e) => e.type === 'Ready').length}, models verified ${verified}`,
    );
    report.check(
      'every restart downloads again from zero',
      downloadsStarted >= starts.length - 1 && modelGets(s3) - gets >= 2,
      `${downloadsStarted} downloads started in ${starts.length} containers; model GETs at s3rver ${modelGets(s3) - gets} (none finished)`,
    );
  } catch (e) {
    error = e;
    throw e;
  } finally {
    await pod?.terminate();
    await slow.close();
    report.finish({ restarts: pod?.restarts ?? 0, sent: 0, failed: 0, p99Ms: 0 }, error);
  }
});

test("the chart's own probes ride out the same slow download: no restart, ready when it ends", async (t) => {
  const report = new ScenarioReport(
    t,
    'slow S3, chart probes',
    `S3 at ${BYTES_PER_SECOND / 1000} kB/s, prod probes as rendered`,
  );
  const slow = await startHttpFaultProxy(s3.port);
  slow.throttle(BYTES_PER_SECOND);
  let pod: Pod | undefined;
  let error: unknown;
  try {
    const template = await renderFor('prod', slow.url);
    for (const l of [machine(), ...describeTemplate(template, scale)]) t.log(l);
    pod = await Pod.create({ name: 'slow-s3', template, scale });
    pod.start();
    await pod.waitFor(() => pod?.container?.managementPort !== undefined, 15_000, 'listening');
    const sampler = sampleReadiness(`http://127.0.0.1:${String(pod.container?.managementPort)}/ready`);
    await pod.waitFor(() => pod?.ready === true, OBSERVE_MS, 'ready');
    await sampler.stop();
    const startedAt = pod.events[0]?.at ?? 0;
    const readyAt = pod.events.find((e) => e.type === 'Ready')?.at ?? 0;
    const reasons = [
      ...new Set(sampler.samples.filter((s) => s.status !== 200).map((s) => s.reason ?? String(s.status))),
    ];
    t.log(pod.timeline());
    report.check(
      'no restart',
      pod.restarts === 0 && pod.probesOf('liveness').every((p) => p.ok),
      `restarts ${pod.restarts}; liveness ${pod.probesOf('liveness').length} probes, all ok: ${String(pod.probesOf('liveness').every((p) => p.ok))}`,
    );
    report.check(
      'the download showed in /ready only',
      reasons.includes('downloading'),
      `/ready said ${reasons.join(', ')} until ready at +${readyAt - startedAt} ms`,
    );
  } catch (e) {
    error = e;
    throw e;
  } finally {
    await pod?.terminate();
    await slow.close();
    report.finish({ restarts: pod?.restarts ?? 0, sent: 0, failed: 0, p99Ms: 0 }, error);
  }
});

test('the chart documents how to size the startup window', async (t) => {
  const report = new ScenarioReport(t, 'startup window documented', 'chart/README.md against the rendered prod probe');
  let error: unknown;
  try {
    const readme = await readFile(path.join(ROOT, 'chart', 'README.md'), 'utf8');
    const template = await renderFor('prod', 'http://127.0.0.1:1');
    const startup = template.probes.startup;
    if (startup === undefined) throw new Error('the prod overlay renders no startup probe');
    const formula = `${startup.failureThreshold} x ${startup.periodSeconds} s`;
    report.check(
      'README sizes the startup window',
      /Sizing the startup window/.test(readme) && /failureThreshold x periodSeconds/.test(readme),
      'a "Sizing the startup window" paragraph and the failureThreshold x periodSeconds rule',
    );
    report.check(
      'the sizing matches the rendered prod probe',
      readme.includes(formula),
      `README states ${formula} = ${startup.failureThreshold * startup.periodSeconds} s, as helm renders it`,
    );
  } catch (e) {
    error = e;
    throw e;
  } finally {
    report.finish({ restarts: 0, sent: 0, failed: 0, p99Ms: 0 }, error);
  }
});
