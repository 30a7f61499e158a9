// The chart's admission guard and the service's start-up check judge every combination of
// request timeout, queue delay target and interval alike: what the chart renders, the service
// accepts, and what the service would refuse, the chart refuses to render. Review: the chart
// always passed an interval of 1000, so a timeout of 800 or a target of 6000 set alone failed
// to render while the service, left to derive the interval, starts on both; later, it always
// passed a target of 500, so a timeout of 500 or less set alone failed the same way.
import test from 'ava';
import fc from 'fast-check';
import { ConfigError, loadConfig } from '../../app/config.js';
import { CHART, findOne, parseManifests, RELEASE, runHelm } from './chart-helm.js';

interface Combination {
  readonly timeoutMs: number;
  /** null: left to the service to derive (the chart's default). */
  readonly targetMs: number | null;
  /** 0: left to the service to derive. */
  readonly intervalMs: number;
}

const combination = fc.record({
  timeoutMs: fc.oneof(fc.integer({ min: 10, max: 3000 }), fc.integer({ min: 3000, max: 120_000 })),
  targetMs: fc.oneof(
    fc.constant(null),
    fc.constant(0),
    fc.integer({ min: 1, max: 2000 }),
    fc.integer({ min: 2000, max: 60_000 }),
  ),
  intervalMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3000 }), fc.integer({ min: 3000, max: 600_000 })),
});

/** The chart's verdict: the ConfigMap's environment when it renders, or its refusal. */
async function render(c: Combination): Promise<Record<string, string> | string> {
  const set = [
    `admission.requestTimeoutMs=${c.timeoutMs}`,
    ...(c.targetMs === null ? [] : [`admission.queueDelayTargetMs=${c.targetMs}`]),
    `admission.queueDelayIntervalMs=${c.intervalMs}`,
    // A drain long enough for any request timeout here, so only admission can refuse.
    'shutdown.drainTimeoutSeconds=125',
    'terminationGracePeriodSeconds=200',
  ];
  const run = await runHelm(4, ['template', RELEASE, CHART, ...set.flatMap((s) => ['--set', s])]);
  if (run.code !== 0) return run.stderr;
  return (findOne(parseManifests(run.stdout), 'ConfigMap') as { data: Record<string, string> }).data;
}

test('the chart renders exactly the admission settings the service accepts', async (t) => {
  const seen = { rendered: 0, refused: 0 };
  await fc.assert(
    fc.asyncProperty(combination, async (c) => {
      const chart = await render(c);
      if (typeof chart === 'string') {
        seen.refused += 1;
        t.regex(chart, /admission\.(queueDelay|requestTimeout)/, JSON.stringify(c));
        const env: Record<string, string> = { REQUEST_TIMEOUT_MS: String(c.timeoutMs) };
        if (c.targetMs !== null) env.ADMISSION_QUEUE_DELAY_TARGET_MS = String(c.targetMs);
        if (c.intervalMs > 0) env.ADMISSION_QUEUE_DELAY_INTERVAL_MS = String(c.intervalMs);
        t.throws(() => loadConfig(env), { instanceOf: ConfigError }, `the chart refused ${JSON.stringify(c)}`);
        return;
      }
      seen.rendered += 1;
      t.is(chart.ADMISSION_QUEUE_DELAY_INTERVAL_MS, c.intervalMs > 0 ? String(c.intervalMs) : undefined);
      t.is(chart.ADMISSION_QUEUE_DELAY_TARGET_MS, c.targetMs === null ? undefined : String(c.targetMs));
      t.notThrows(() => loadConfig(chart), `the chart rendered ${JSON.stringify(c)}`);
    }),
    { numRuns: 40 },
  );
  t.log(`rendered ${seen.rendered}, refused ${seen.refused}`);
  t.true(seen.rendered > 0 && seen.refused > 0, 'both verdicts were tried');
});
