// Engine hang under load: the fastText children are frozen (SIGSTOP) while clients send
// traffic; they neither answer nor exit, the state in which fasttext.js's own server hangs
// every request forever. The engine's stall check (ENGINE_STALL_MS) must replace them: every
// request answered, no container restart (liveness watches a longer engine stall), and the
// pod ready again soon after the stall limit.
import test from 'ava';
import { describeTemplate, machine, renderFor, startModelBucket } from './harness/fixture.js';
import { startLoad, summarize, type LoadRun } from './harness/load.js';
import { Pod } from './harness/pod.js';
import { sampleReadiness } from './harness/ready-sampler.js';
import { ScenarioReport } from './harness/report.js';
import { timeScaleFromEnv } from './harness/scale.js';

const scale = timeScaleFromEnv();
const RATE = 100;
const BATCH = 10;
const FREEZE_AT_MS = 2_000;
const OBSERVE_MS = 12_000;
/** Replacing a frozen child: the stall limit, the restart back-off and loading the model. */
const REPLACE_SLACK_MS = 2_000;

test('engine hang under load: frozen children are replaced, every request answered, no container restart', async (t) => {
  const report = new ScenarioReport(
    t,
    'engine hang under load',
    `SIGSTOP of every fastText child, ${RATE} req/s (prod)`,
  );
  const s3 = await startModelBucket();
  let pod: Pod | undefined;
  let load: LoadRun | undefined;
  let error: unknown;
  let totals = { restarts: 0, sent: 0, failed: 0, p99Ms: 0 };
  try {
    const template = await renderFor('prod', s3.endpoint);
    for (const l of [machine(), ...describeTemplate(template, scale)]) t.log(l);
    const stallMs = Number(template.env.ENGINE_STALL_MS);
    const livenessStallMs = Number(template.env.LIVENESS_ENGINE_STALL_MS);
    t.log(
      `ENGINE_STALL_MS ${stallMs}: a child owing answers this long is killed and replaced; LIVENESS_ENGINE_STALL_MS ${livenessStallMs}: /health fails only past this`,
    );
    pod = await Pod.create({ name: 'hang', template, scale });
    pod.start();
    await pod.waitFor(() => pod?.ready === true, 30_000, 'ready');
    const container = pod.container;
    const port = pod.endpointPort;
    if (container === undefined || port === undefined || container.managementPort === undefined)
      throw new Error('no container');

    const sampler = sampleReadiness(`http://127.0.0.1:${container.managementPort}/ready`);
    load = startLoad({
      url: `http://127.0.0.1:${port}/v1/classify`,
      batch: BATCH,
      clientTimeoutMs: Number(template.env.REQUEST_TIMEOUT_MS ?? 10_000) + 5_000,
      maxSockets: 1024,
      phases: [{ name: 'steady', mode: 'open', rate: RATE, durationMs: OBSERVE_MS }],
    });
    await load.started;
    await new Promise((r) => setTimeout(r, FREEZE_AT_MS));
    // The service's own children (descendants of the process this test started), by pid.
    const frozen = await container.childPids();
    const frozenAt = Date.now();
    for (const pid of frozen) process.kill(pid, 'SIGSTOP');
    t.log(`SIGSTOP fastText pids ${frozen.join(', ')}`);
    const run = await load.report;
    await sampler.stop();

    const restarts = container.find((l) => l.event === 'engine_restart');
    const stalled = restarts.filter((l) => typeof l.reason === 'string' && l.reason.startsWith('stalled'));
    const after = await container.childPids();
    const firstBad = sampler.samples.find((s) => s.at >= frozenAt && s.status !== 200);
    const lastBad = [...sampler.samples].reverse().find((s) => s.status !== 200);
    const backAt =
      lastBad === undefined ? undefined : sampler.samples.find((s) => s.at > lastBad.at && s.status === 200)?.at;
    const all = summarize(run);
    const hangWindow = summarize(run, { from: frozenAt - 1_000, to: frozenAt + stallMs + REPLACE_SLACK_MS });
    const livenessFailed = pod.probesOf('liveness').filter((p) => !p.ok);
    totals = { restarts: pod.restarts, sent: all.sent, failed: all.failed, p99Ms: all.p99Ms };
    t.log(
      `requests: sent ${all.sent}, ok ${all.ok}, 503 ${all.shed}, 504 ${all.deadline}, failed ${all.failed}; codes ${JSON.stringify(run.errorCodes)}; p50 ${all.p50Ms} ms, p99 ${all.p99Ms} ms, max ${all.maxMs} ms`,
    );
    t.log(
      `around the hang: sent ${hangWindow.sent}, ok ${hangWindow.ok}, 503 ${hangWindow.shed}, 504 ${hangWindow.deadline}, max ${hangWindow.maxMs} ms`,
    );

    report.check(
      'frozen children replaced by the stall check',
      stalled.length >= frozen.length && frozen.every((pid) => !after.includes(pid)),
      `${stalled.length} stall restarts logged (${JSON.stringify(stalled[0]?.reason ?? '')}); children ${frozen.join(', ')} -> ${after.join(', ')}`,
    );
    report.check(
      'no hung request',
      all.failed === 0,
      `failed ${all.failed} of ${all.sent}: client timeouts ${all.clientTimeouts}, connection errors ${all.connectionErrors}; slowest answer ${all.maxMs} ms (request deadline ${template.env.REQUEST_TIMEOUT_MS} ms)`,
    );
    report.check(
      'no container restart',
      pod.restarts === 0 && livenessFailed.length === 0,
      `restarts ${pod.restarts}, failed liveness probes ${livenessFailed.length}`,
    );
    report.check(
      'ready again soon after the stall limit',
      backAt === undefined || backAt - frozenAt <= stallMs + REPLACE_SLACK_MS,
      firstBad === undefined
        ? '/ready never dropped'
        : `/ready ${firstBad.reason ?? firstBad.status} from +${firstBad.at - frozenAt} ms, back at +${backAt === undefined ? '?' : backAt - frozenAt} ms after SIGSTOP (bound ${stallMs} + ${REPLACE_SLACK_MS} ms)`,
    );
  } catch (e) {
    error = e;
    throw e;
  } finally {
    load?.kill();
    if (pod !== undefined) t.log(pod.timeline());
    await pod?.terminate();
    await s3.close();
    report.finish(totals, error);
  }
});
