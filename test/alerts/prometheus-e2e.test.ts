// End to end: a real Prometheus (127.0.0.1, 1 s scrape and evaluation) loads the chart's rules,
// rendered with short windows, and scrapes real service processes. Each fault is caused for
// real and the matching alert must go pending, then firing, through Prometheus' HTTP API:
//   - a wrong MODEL_MD5          -> FasttextModelNotReady{reason="md5_mismatch"}
//   - fastText children SIGKILLed -> FasttextEngineRestarts
//   - the process frozen (SIGSTOP) -> /health 503 -> FasttextLivenessFailing{reason="event_loop_blocked"}
//   - more classification traffic than admission allows -> FasttextLoadShedding,
//     FasttextQueueBacklog and FasttextLatencyP99High (SLO set to 50 ms here)
// A healthy service scraped alongside must raise nothing. Everything started here is stopped by
// pid; the load is bounded in time and targets 127.0.0.1. The tests run one after the other.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BUNDLED_MODEL, getJson, postJson, startService, type RunningService } from '../helpers/service.js';
import { promBinary, renderPrometheusRule, ruleGroups, writeRuleFile, SELECTOR_LABELS } from './prom-tools.js';
import { startPrometheus, type ActiveAlert, type PrometheusServer } from './prometheus-server.js';
import { sleep } from '../helpers/fixtures.js';

const SHORT_RULES = [
  '--set',
  'metrics.prometheusRule.rateWindow=10s',
  '--set',
  'metrics.prometheusRule.alerts.modelNotReady.windowSeconds=5',
  '--set',
  'metrics.prometheusRule.alerts.modelNotReady.for=4s',
  '--set',
  'metrics.prometheusRule.alerts.engineRestarts.window=30s',
  '--set',
  'metrics.prometheusRule.alerts.engineRestarts.maxRestarts=2',
  '--set',
  'metrics.prometheusRule.alerts.engineRestarts.for=4s',
  '--set',
  'metrics.prometheusRule.alerts.livenessFailing.window=30s',
  '--set',
  'metrics.prometheusRule.alerts.livenessFailing.minFailures=2',
  '--set',
  'metrics.prometheusRule.alerts.livenessFailing.for=4s',
  '--set',
  'metrics.prometheusRule.alerts.shedding.for=4s',
  '--set',
  'metrics.prometheusRule.alerts.queueBacklog.for=4s',
  '--set',
  'metrics.prometheusRule.alerts.queueBacklog.depth=1',
  '--set',
  'metrics.prometheusRule.alerts.latencyP99.for=4s',
  '--set-json',
  'metrics.prometheusRule.alerts.latencyP99.sloSeconds=0.05',
];
const ALERT_DEADLINE_MS = 60_000;
const POLL_MS = 200;

interface Transition {
  readonly pendingAfterMs: number;
  readonly firingAfterMs: number;
  readonly alert: ActiveAlert;
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

/**
 * Polls the alerts API until `match` is firing; it must have been seen pending first. A poll
 * that fails (a busy machine) is retried until the deadline.
 */
async function pendingThenFiring(
  prom: PrometheusServer,
  match: (a: ActiveAlert) => boolean,
  since: number,
): Promise<Transition> {
  let pendingAt: number | undefined;
  const seen: string[] = [];
  let lastError = '';
  while (Date.now() - since < ALERT_DEADLINE_MS) {
    let alert: ActiveAlert | undefined;
    try {
      alert = (await prom.alerts()).find(match);
    } catch (error) {
      lastError = String(error);
    }
    if (alert?.state === 'pending' && pendingAt === undefined) pendingAt = Date.now();
    if (alert !== undefined && seen.at(-1) !== alert.state) seen.push(alert.state);
    if (alert?.state === 'firing') {
      if (pendingAt === undefined)
        throw new Error(`went firing without being seen pending (states seen: ${seen.join(',')})`);
      // Prometheus' own record of when the alert became pending.
      const activeAt = alert.activeAt === undefined ? pendingAt : Date.parse(alert.activeAt);
      return { pendingAfterMs: activeAt - since, firingAfterMs: Date.now() - since, alert };
    }
    await sleep(POLL_MS);
  }
  throw new Error(
    `not firing within ${ALERT_DEADLINE_MS} ms (states seen: ${seen.join(',') || 'none'}; last poll error: ${lastError || 'none'})`,
  );
}

const labels = (pod: string): Record<string, string> => ({ ...SELECTOR_LABELS, pod });
const address = (svc: RunningService): string => new URL(svc.managementUrl).host;

test.serial('a real Prometheus raises each alert, pending then firing, on the fault that causes it', async (t) => {
  t.timeout(110_000);
  // Fail (never skip) when the package is missing, before starting anything.
  await promBinary('promtool');
  await promBinary('prometheus');
  const dirs: string[] = [];
  const tempDir = (): string => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fte-e2e-'));
    dirs.push(dir);
    return dir;
  };
  const started: RunningService[] = [];
  const running: { prom?: PrometheusServer } = {};
  t.teardown(async () => {
    await running.prom?.stop();
    await Promise.all(started.map((s) => s.stop(2000)));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  const rulesFile = await writeRuleFile(ruleGroups(await renderPrometheusRule(SHORT_RULES)), tempDir());
  const common = {
    ENGINE_POOL_SIZE: '1',
    ENGINE_K_TIERS: 'none',
    ENGINE_RESTART_BASE_MS: '50',
    ENGINE_RESTART_MAX_MS: '200',
  };
  const start = async (env: Record<string, string>): Promise<RunningService> => {
    const svc = await startService({ env: { ...common, MODEL_CACHE_DIR: tempDir(), ...env } });
    started.push(svc);
    return svc;
  };
  const [healthy, crashy, frozen] = await Promise.all([
    start({}),
    start({}),
    start({ LIVENESS_MAX_EVENT_LOOP_DELAY_MS: '100' }),
  ]);
  await Promise.all([healthy.waitReady(30_000), crashy.waitReady(30_000), frozen.waitReady(30_000)]);
  const badStartedAt = Date.now();
  const badMd5 = await start({ MODEL_URI: `file://${BUNDLED_MODEL}`, MODEL_MD5: '0123456789abcdef0123456789abcdef' });

  const server = await startPrometheus({
    rulesFile,
    targets: [
      { address: address(healthy), labels: labels('healthy') },
      { address: address(crashy), labels: labels('crashy') },
      { address: address(frozen), labels: labels('frozen') },
      { address: address(badMd5), labels: labels('bad-md5') },
    ],
  });
  running.prom = server;

  // Engine restarts: SIGKILL crashy's fastText children, again each time a new one is up.
  const crashStartedAt = Date.now();
  let kills = 0;
  let stopCrashing = false;
  const crashing = (async () => {
    while (!stopCrashing && Date.now() - crashStartedAt < ALERT_DEADLINE_MS) {
      for (const pid of childPids(crashy.pid)) {
        try {
          process.kill(pid, 'SIGKILL');
          kills += 1;
        } catch {
          // already gone
        }
      }
      await sleep(1000);
    }
  })();

  // Liveness: freeze the frozen service (SIGSTOP) for 600 ms, resume it and ask /health at once,
  // as the kubelet would; the watchdog sees the late timer and answers 503.
  const freezeStartedAt = Date.now();
  const healthStatuses: number[] = [];
  let stopFreezing = false;
  const freezing = (async () => {
    while (!stopFreezing && Date.now() - freezeStartedAt < ALERT_DEADLINE_MS) {
      process.kill(frozen.pid, 'SIGSTOP');
      await sleep(600);
      process.kill(frozen.pid, 'SIGCONT');
      healthStatuses.push((await getJson(`${frozen.managementUrl}/health`)).status);
      await sleep(1500);
    }
  })();

  const [notReady, restarts, liveness] = await Promise.all([
    pendingThenFiring(
      server,
      (a) => a.labels.alertname === 'FasttextModelNotReady' && a.labels.pod === 'bad-md5',
      badStartedAt,
    ),
    pendingThenFiring(
      server,
      (a) => a.labels.alertname === 'FasttextEngineRestarts' && a.labels.pod === 'crashy',
      crashStartedAt,
    ).finally(() => (stopCrashing = true)),
    pendingThenFiring(
      server,
      (a) => a.labels.alertname === 'FasttextLivenessFailing' && a.labels.pod === 'frozen',
      freezeStartedAt,
    ).finally(() => (stopFreezing = true)),
  ]);
  await Promise.all([crashing, freezing]);

  t.is(notReady.alert.labels.reason, 'md5_mismatch');
  t.is(notReady.alert.labels.severity, 'critical');
  t.regex(notReady.alert.annotations.runbook_url ?? '', /#fasttextmodelnotready$/);
  t.is(liveness.alert.labels.reason, 'event_loop_blocked');
  t.true(healthStatuses.includes(503), `/health answers: ${healthStatuses.join(',')}`);
  t.true(kills >= 3, `children killed: ${kills}`);
  // pending (by Prometheus' activeAt) at least the rule's `for` (4 s) before it was seen firing.
  for (const [name, x] of Object.entries({ notReady, restarts, liveness }))
    t.true(x.firingAfterMs - x.pendingAfterMs >= 3500, `${name}: ${JSON.stringify(x)}`);

  // The control: the healthy service raised nothing, and Prometheus saw it ready.
  const all = await server.alerts();
  t.deepEqual(
    all.filter((a) => a.labels.pod === 'healthy'),
    [],
  );
  const ready = await server.query('fasttext_ready{pod="healthy"}');
  t.is(ready[0]?.value[1], '1');
  t.log(
    `FasttextModelNotReady (wrong MD5, reason md5_mismatch): pending after ${notReady.pendingAfterMs} ms, firing after ${notReady.firingAfterMs} ms from the bad service's start`,
  );
  t.log(
    `FasttextEngineRestarts (${kills} fastText children SIGKILLed, 1/s): pending after ${restarts.pendingAfterMs} ms, firing after ${restarts.firingAfterMs} ms from the first kill`,
  );
  t.log(
    `FasttextLivenessFailing (SIGSTOP 600 ms every ~2 s, /health ${healthStatuses.join(',')}): pending after ${liveness.pendingAfterMs} ms, firing after ${liveness.firingAfterMs} ms from the first freeze`,
  );
});

test.serial(
  'overload: shedding, queue backlog and p99 latency alerts go pending then firing; a quiet service raises none',
  async (t) => {
    t.timeout(110_000);
    await promBinary('prometheus');
    const dirs: string[] = [];
    const started: RunningService[] = [];
    const running: { prom?: PrometheusServer } = {};
    t.teardown(async () => {
      await running.prom?.stop();
      await Promise.all(started.map((s) => s.stop(2000)));
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    });
    const start = async (env: Record<string, string>): Promise<RunningService> => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'fte-e2e-'));
      dirs.push(dir);
      const svc = await startService({
        env: { ENGINE_POOL_SIZE: '1', ENGINE_K_TIERS: 'none', MODEL_CACHE_DIR: dir, ...env },
      });
      started.push(svc);
      return svc;
    };
    const rulesDir = mkdtempSync(path.join(os.tmpdir(), 'fte-e2e-'));
    dirs.push(rulesDir);
    const rulesFile = await writeRuleFile(ruleGroups(await renderPrometheusRule(SHORT_RULES)), rulesDir);
    // One slot, a queue of 4, no cache, 50 ms hold on refusals: 12 clients keep it saturated.
    const [busy, quiet] = await Promise.all([
      start({ ADMISSION_MAX_IN_FLIGHT: '1', ADMISSION_MAX_QUEUE: '4', CACHE_ENABLED: 'false', SHED_HOLD_MS: '50' }),
      start({}),
    ]);
    await Promise.all([busy.waitReady(30_000), quiet.waitReady(30_000)]);
    // The quiet service is another release (its own service label), so its series are not selected.
    const server = await startPrometheus({
      rulesFile,
      targets: [
        { address: address(busy), labels: labels('busy') },
        { address: address(quiet), labels: { ...labels('quiet'), service: 'other-release' } },
      ],
    });
    running.prom = server;

    const texts = Array.from(
      { length: 200 },
      (_, i) => `request text number ${i} about the weather, the markets and the news of the day ${'word '.repeat(30)}`,
    );
    const statuses = new Map<number, number>();
    let stopLoad = false;
    const loadStartedAt = Date.now();
    const client = async (): Promise<void> => {
      while (!stopLoad && Date.now() - loadStartedAt < ALERT_DEADLINE_MS) {
        const { status } = await postJson(`${busy.url}/v1/classify`, { texts }, { timeoutMs: 15_000 }).catch(() => ({
          status: 0,
        }));
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    };
    const load = Promise.all(Array.from({ length: 12 }, client));
    const quietTraffic = (async () => {
      while (!stopLoad && Date.now() - loadStartedAt < ALERT_DEADLINE_MS) {
        await postJson(`${quiet.url}/v1/classify`, { text: 'a calm sentence' }).catch(() => undefined);
        await sleep(200);
      }
    })();
    const is =
      (name: string) =>
      (a: ActiveAlert): boolean =>
        a.labels.alertname === name && a.labels.service === 'edge-fasttext-edge-management';
    let results: Transition[];
    try {
      results = await Promise.all([
        pendingThenFiring(server, is('FasttextLoadShedding'), loadStartedAt),
        pendingThenFiring(server, is('FasttextQueueBacklog'), loadStartedAt),
        pendingThenFiring(
          server,
          (a) => is('FasttextLatencyP99High')(a) && a.labels.route === '/v1/classify',
          loadStartedAt,
        ),
      ]);
    } finally {
      stopLoad = true;
      await Promise.all([load, quietTraffic]);
    }
    const [shedding, backlog, latency] = results;
    t.true((statuses.get(503) ?? 0) > 0 && (statuses.get(200) ?? 0) > 0, JSON.stringify([...statuses]));
    t.is(backlog?.alert.labels.pod, 'busy');
    for (const x of results) t.true(x.firingAfterMs - x.pendingAfterMs >= 3500, JSON.stringify(x));
    t.deepEqual(
      (await server.alerts()).filter((a) => a.labels.service === 'other-release'),
      [],
    );
    const summary = [...statuses].map(([code, n]) => `${n} x ${code}`).join(', ');
    t.log(`load: 12 clients, 200-text batches, 1 slot + queue 4: ${summary}`);
    t.log(
      `FasttextLoadShedding: pending after ${shedding?.pendingAfterMs} ms, firing after ${shedding?.firingAfterMs} ms from the start of the load (${shedding?.alert.annotations.summary})`,
    );
    t.log(
      `FasttextQueueBacklog: pending after ${backlog?.pendingAfterMs} ms, firing after ${backlog?.firingAfterMs} ms (${backlog?.alert.annotations.description})`,
    );
    t.log(
      `FasttextLatencyP99High: pending after ${latency?.pendingAfterMs} ms, firing after ${latency?.firingAfterMs} ms (${latency?.alert.annotations.summary})`,
    );
  },
);
