// Rolling update with the prod overlay as rendered: one pod at a time (maxSurge 1,
// maxUnavailable 0), each new pod ready for minReadySeconds before an old one goes, the
// preStop sleep covering the endpoint propagation. Not one client request may fail.
import test from 'ava';
import { ScenarioReport } from './harness/report.js';
import { timeScaleFromEnv } from './harness/scale.js';
import { RATE, runRollingUpdate, terminations, type RolloutOutcome } from './rolling-update.js';

const scale = timeScaleFromEnv();

test('rolling update (prod): one pod at a time, preStop before SIGTERM, zero failed client requests', async (t) => {
  const report = new ScenarioReport(
    t,
    'rolling update',
    `prod rollout of 3 pods to a new config, ${RATE} req/s through the Service`,
  );
  let outcome: RolloutOutcome | undefined;
  let error: unknown;
  try {
    outcome = await runRollingUpdate(t, scale, []);
    const { all, template, newPods, routed } = outcome;
    const minReadyMs = scale.ms(template.minReadySeconds);
    report.check(
      'zero failed client requests',
      all.sent > 0 && all.ok === all.sent,
      `${all.ok}/${all.sent} ok; failed ${all.failed} (connection errors ${all.connectionErrors}, client timeouts ${all.clientTimeouts}), 503 ${all.shed}, 504 ${all.deadline}${outcome.samples.length ? `; ${outcome.samples.join(' | ')}` : ''}; p99 ${all.p99Ms} ms`,
    );
    report.check(
      'surge and availability as the strategy says',
      outcome.maxLive <= template.replicas + outcome.maxSurge &&
        outcome.minAvailable >= template.replicas - outcome.maxUnavailable,
      `live pods at most ${outcome.maxLive} (replicas ${template.replicas} + maxSurge ${outcome.maxSurge}), available at least ${outcome.minAvailable} (replicas - maxUnavailable = ${template.replicas - outcome.maxUnavailable}); endpoints at least ${outcome.minEndpoints}`,
    );
    const actions = outcome.steps.map((s) => s.action);
    const deletes = outcome.steps.filter((s) => s.action === 'delete');
    const waitedMinReady = deletes.every((d, i) => {
      const ready = newPods[i]?.events.find((e) => e.type === 'Ready')?.at;
      return ready !== undefined && d.at - ready >= minReadyMs;
    });
    report.check(
      'one pod at a time, each new pod ready for minReadySeconds first',
      actions.join(',') === 'create,delete,create,delete,create,delete' && waitedMinReady,
      `${actions.join(', ')}; minReadySeconds ${template.minReadySeconds} s (${minReadyMs} ms here) respected: ${String(waitedMinReady)}`,
    );
    const ends = terminations(outcome.oldPods);
    report.check(
      'old pods: preStop sleep, then SIGTERM, drained, exit 0',
      ends.every((g) => g.preStopMs >= scale.ms(template.preStopSleepSeconds) && g.exit === '0'),
      ends.map((g) => `${g.pod} SIGTERM after ${g.preStopMs} ms, exit ${g.exit}`).join('; '),
    );
    report.check(
      'no container restarts',
      outcome.restarts === 0,
      `restarts ${outcome.restarts}; rollout took ${outcome.rolloutMs} ms`,
    );
    report.check(
      'traffic moved to the new pods',
      newPods.every((p) => (routed.get(p.name) ?? 0) > 0),
      newPods.map((p) => `${p.name} ${routed.get(p.name) ?? 0}`).join(', '),
    );
  } catch (e) {
    error = e;
    throw e;
  } finally {
    const all = outcome?.all;
    report.finish(
      {
        restarts: outcome?.restarts ?? 0,
        sent: all?.sent ?? 0,
        failed: all ? all.sent - all.ok : 0,
        p99Ms: all?.p99Ms ?? 0,
      },
      error,
    );
  }
});
