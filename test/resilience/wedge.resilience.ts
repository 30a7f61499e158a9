// Wedge: the service process is frozen (SIGSTOP), the state a tcpSocket probe would still
// call healthy. The chart's liveness probe must fail and the kubelet restart the container
// within failureThreshold x periodSeconds + timeoutSeconds; the new container must come
// back from the pod's verified model cache, without downloading again.
import test from 'ava';
import { Pod } from './harness/pod.js';
import { ScenarioReport } from './harness/report.js';
import { timeScaleFromEnv } from './harness/scale.js';
import { describeTemplate, machine, modelGets, renderFor, startModelBucket } from './harness/fixture.js';

const scale = timeScaleFromEnv();

test('wedge: a frozen service fails liveness, is restarted, and is ready again from its verified cache', async (t) => {
  const report = new ScenarioReport(t, 'wedge', 'SIGSTOP of the service process (prod)');
  const s3 = await startModelBucket();
  let pod: Pod | undefined;
  let error: unknown;
  try {
    const template = await renderFor('prod', s3.endpoint);
    for (const line of [machine(), ...describeTemplate(template, scale)]) t.log(line);
    const liveness = template.probes.liveness;
    if (liveness === undefined) throw new Error('the prod overlay renders no liveness probe');
    pod = await Pod.create({ name: 'wedge', template, scale });
    for (const line of pod.remaps) t.log(`remap ${line}`);
    pod.start();
    await pod.waitFor(() => pod?.ready === true, 30_000, 'ready');
    const getsBefore = modelGets(s3);
    const first = pod.container;
    if (first === undefined) throw new Error('no container');

    const stoppedAt = Date.now();
    first.signal('SIGSTOP');
    t.log(`SIGSTOP pid ${first.pid}`);
    const detectMs =
      scale.ms(liveness.failureThreshold * liveness.periodSeconds) + scale.timeoutMs(liveness.timeoutSeconds);
    const graceMs = scale.ms(template.terminationGracePeriodSeconds);
    await pod.waitFor(
      () => pod !== undefined && pod.runs.length >= 2 && pod.ready,
      detectMs + graceMs + 30_000,
      'restarted and ready',
    );
    const readyAt = Date.now();

    const unhealthy = pod.events.find((e) => e.type === 'Unhealthy');
    const restartedAt = pod.events.find((e) => e.type === 'Started' && e.restarts === 1)?.at;
    const second = pod.runs[1];
    // Probes are timed by timers in this process: allow a little scheduling slack.
    const slackMs = 250;
    report.check(
      'liveness failed in time',
      unhealthy !== undefined && unhealthy.at - stoppedAt <= detectMs + slackMs,
      `liveness failure seen ${unhealthy ? unhealthy.at - stoppedAt : 'never'} ms after SIGSTOP; bound failureThreshold x period + timeout = ${detectMs} ms (${unhealthy?.detail ?? ''})`,
    );
    const failures = pod.probesOf('liveness').filter((p) => p.run === 0 && !p.ok);
    report.check(
      'liveness failures were timeouts',
      failures.length > 0 && failures.every((p) => p.error === 'timeout'),
      `${failures.map((p) => p.error).join(', ')}`,
    );
    report.check(
      'restarted once, within the grace period after the failure',
      pod.restarts === 1 &&
        restartedAt !== undefined &&
        unhealthy !== undefined &&
        restartedAt - unhealthy.at <= graceMs + slackMs,
      `restarts ${pod.restarts}; new container ${restartedAt !== undefined && unhealthy ? restartedAt - unhealthy.at : '?'} ms after the failure (grace ${graceMs} ms: a frozen process cannot act on SIGTERM; killed by ${first.exit?.signal ?? '?'})`,
    );
    const hit = second?.find((l) => l.msg === 'model cache hit, verified') ?? [];
    const readyLine = second?.find((l) => l.event === 'ready')[0];
    report.check(
      'ready again from the verified cache',
      hit.length === 1 && readyLine?.fromCache === true && modelGets(s3) === getsBefore,
      `cache hit logged ${hit.length}x, ready fromCache=${String(readyLine?.fromCache)}, model GETs ${getsBefore} -> ${modelGets(s3)}; ready ${readyAt - stoppedAt} ms after SIGSTOP`,
    );
    t.log(pod.timeline());
  } catch (e) {
    error = e;
    throw e;
  } finally {
    await pod?.terminate();
    await s3.close();
    report.finish({ restarts: pod?.restarts ?? 0, sent: 0, failed: 0, p99Ms: 0 }, error);
  }
});
