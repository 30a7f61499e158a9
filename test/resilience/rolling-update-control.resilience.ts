// Control for the rolling update: the same rollout with lifecycle.preStopSleepSeconds=0 (a
// value the chart accepts). SIGTERM then arrives while the endpoint removal is still on its
// way to the proxy, the old pod stops accepting, and the requests still routed to it fail.
// This proves the zero-failure check can fail, and shows what the preStop sleep is for.
import test from 'ava';
import { ScenarioReport } from './harness/report.js';
import { timeScaleFromEnv } from './harness/scale.js';
import { runRollingUpdate, terminations, type RolloutOutcome } from './rolling-update.js';

const scale = timeScaleFromEnv();

test('rolling update without the preStop sleep: the harness sees requests fail', async (t) => {
  const report = new ScenarioReport(
    t,
    'rolling update, preStop 0 (control)',
    'same rollout with lifecycle.preStopSleepSeconds=0',
  );
  let outcome: RolloutOutcome | undefined;
  let error: unknown;
  try {
    outcome = await runRollingUpdate(t, scale, ['--set', 'lifecycle.preStopSleepSeconds=0']);
    const { all, template, proxyFailures } = outcome;
    const ends = terminations(outcome.oldPods);
    report.check(
      'no preStop hook rendered',
      template.preStopSleepSeconds === 0,
      `preStop sleep ${template.preStopSleepSeconds} s; SIGTERM ${ends.map((g) => `${g.pod} after ${g.preStopMs} ms`).join(', ')}`,
    );
    report.check(
      'client requests failed during the rollout',
      all.failed > 0,
      `${all.failed} of ${all.sent} failed (${outcome.samples.slice(0, 3).join(' | ')}); the proxy's own failures ${JSON.stringify(Object.fromEntries(proxyFailures))}`,
    );
    report.note(
      'expected: with no preStop sleep the old pod closes its listener before the endpoint change reaches the proxy',
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
