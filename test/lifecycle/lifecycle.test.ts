// Lifecycle in-process over a fake model provider and a fake classifier (test/lifecycle/fakes.ts
// says why fakes): load, canaries, the classification path, restarts and changed files.
import test from 'ava';
import { performance } from 'node:perf_hooks';
import { NotReadyError } from '../../app/lifecycle.js';
import { CANARIES, harness, rightAnswers, settle, until, type FakeEngine, type Harness } from './fakes.js';

/** A lifecycle booted on the fakes and ready, with the engine that serves. */
async function booted(): Promise<{ h: Harness; engine: FakeEngine }> {
  const h = harness();
  h.provider.gate.resolve();
  h.engineGate.resolve();
  h.lifecycle.boot();
  await until('ready', () => h.lifecycle.state === 'ready');
  return { h, engine: h.engines[0]! };
}

const far = (): number => performance.now() + 5000;

async function counter(h: ReturnType<typeof harness>, name: string): Promise<number> {
  const metric = (await h.metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  return (metric?.values ?? []).reduce((n, v) => n + v.value, 0);
}

test('eager: ready once the model is verified, the engine started and every canary answered; canaries stay out of request metrics and the cache', async (t) => {
  const h = harness();
  h.lifecycle.boot();
  await settle();
  t.is(h.lifecycle.readiness().reason, 'downloading');
  h.provider.gate.resolve();
  await settle();
  t.is(h.lifecycle.readiness().reason, 'engine_starting');
  h.engineGate.resolve();
  await until('ready', () => h.lifecycle.state === 'ready');
  t.true(h.lifecycle.readiness().ready);
  const engine = h.engines[0]!;
  t.deepEqual(
    engine.predictCalls.map((c) => c.texts[0]).sort(),
    CANARIES.map((c) => c.text).sort(),
    'each canary went to the engine on its own',
  );
  t.is(await counter(h, 'fasttext_texts_classified_total'), 0, 'canary texts are not client texts');
  t.is(await counter(h, 'fasttext_canary_runs_total'), 1);
  t.true((await counter(h, 'fasttext_canary_last_success_timestamp_seconds')) > 0);
  // A client asking a canary's text is a cache miss: the canary run stored nothing.
  await h.lifecycle.classify([CANARIES[0]!.text], 1, 0, far());
  t.is(await counter(h, 'fasttext_cache_misses_total'), 1);
  await h.lifecycle.stop();
});

/** A ready lifecycle whose engine answers 'de' for texts starting with x, 'en' otherwise. */
async function readyWithLanguageAnswers(env: Record<string, string> = {}): Promise<ReturnType<typeof harness>> {
  const h = harness(env);
  h.provider.gate.resolve();
  h.engineGate.resolve();
  h.lifecycle.boot();
  await until('ready', () => h.lifecycle.state === 'ready');
  h.answer = (text) => [{ label: text.startsWith('x') ? 'de' : 'en', score: 0.7 }];
  return h;
}

test('the classification path merges cache hits and engine answers in order, and answers a fully cached request', async (t) => {
  // Every miss cached at once, so one earlier call makes hits (the doorkeeper's second-miss rule
  // has its own tests in test/unit/prediction-cache.test.ts).
  const h = await readyWithLanguageAnswers({ CACHE_DOORKEEPER: 'false' });
  const engine = h.engines[0]!;
  const before = engine.predictCalls.length;
  await h.lifecycle.classify(['a1', 'x2'], 1, 0, far());
  const merged = await h.lifecycle.classify(['x2', 'a3', 'a1', 'x4'], 1, 0, far());
  t.deepEqual(
    merged.map((p) => p[0]?.label),
    ['de', 'en', 'en', 'de'],
  );
  t.deepEqual(
    engine.predictCalls.slice(before).map((c) => c.texts),
    [
      ['a1', 'x2'],
      ['a3', 'x4'],
    ],
    'only the misses reached the engine',
  );
  const calls = engine.predictCalls.length;
  t.deepEqual((await h.lifecycle.classify(['a1'], 1, 0, far()))[0], [{ label: 'en', score: 0.7 }]);
  t.is(engine.predictCalls.length, calls, 'a fully cached request never reaches the engine');
  await h.lifecycle.stop();
});

test('a text repeated within one request is one engine line and one miss, so repeating each text in a batch does not pass the doorkeeper', async (t) => {
  const h = await readyWithLanguageAnswers();
  const engine = h.engines[0]!;
  const before = engine.predictCalls.length;
  const doubled = ['a1', 'x2', 'a1', 'x2', 'x2'];
  const first = await h.lifecycle.classify(doubled, 1, 0, far());
  t.deepEqual(
    first.map((p) => p[0]?.label),
    ['en', 'de', 'en', 'de', 'de'],
    'every position gets the answer for its own text',
  );
  t.deepEqual(
    engine.predictCalls.slice(before).map((c) => c.texts),
    [['a1', 'x2']],
    'each distinct text went to the engine once',
  );
  await h.lifecycle.classify(doubled, 1, 0, far());
  t.deepEqual(
    engine.predictCalls.slice(before + 1).map((c) => c.texts),
    [['a1', 'x2']],
    'the first request was one miss per text: the second still misses (and now caches)',
  );
  const calls = engine.predictCalls.length;
  await h.lifecycle.classify(doubled, 1, 0, far());
  t.is(engine.predictCalls.length, calls, 'the third request is served from the cache');
  await h.lifecycle.stop();
});

test('a canary answered with the wrong label: never ready, reason canary_failed naming index, expected and got; each engine is stopped', async (t) => {
  const h = harness();
  h.answer = (text) => [{ label: text === CANARIES[1]!.text ? 'de' : 'en', score: 0.9 }];
  h.provider.gate.resolve();
  h.engineGate.resolve();
  h.lifecycle.boot();
  await until('three engines tried', () => h.engines.length >= 3);
  const r = h.lifecycle.readiness();
  t.false(r.ready);
  t.is(r.reason, 'canary_failed');
  t.regex(r.detail ?? '', /canary 1 \(k=1\): expected fr 0\.8000, got de 0\.9000/);
  t.false(h.lifecycle.state === 'ready');
  await until('condemned engines stopped', () => h.engines.slice(0, -1).every((e) => e.stopped));
  const logged = h.logs.find((l) => l.event === 'canary_failed');
  t.like(logged, { index: 1, expected: { label: 'fr', score: 0.8 }, got: { label: 'de', score: 0.9 } });
  await t.throwsAsync(h.lifecycle.classify(['x'], 1, 0, far()), {
    instanceOf: NotReadyError,
    message: /canary_failed/,
  });
  await h.lifecycle.stop();
});

test('a score outside the tolerance fails the canary; one within it passes', async (t) => {
  const near = harness();
  near.answer = (text) => rightAnswers(text).map((p) => ({ ...p, score: p.score - 0.015 }));
  near.provider.gate.resolve();
  near.engineGate.resolve();
  near.lifecycle.boot();
  await until('ready', () => near.lifecycle.state === 'ready');
  const far2 = harness();
  far2.answer = (text) => rightAnswers(text).map((p) => ({ ...p, score: p.score - 0.05 }));
  far2.provider.gate.resolve();
  far2.engineGate.resolve();
  far2.lifecycle.boot();
  await until('canary_failed', () => far2.lifecycle.readiness().reason === 'canary_failed');
  t.pass();
  await Promise.all([near.lifecycle.stop(), far2.lifecycle.stop()]);
});

test('a wrong answer while serving: readiness canary_failed at once, the engine is replaced, ready again once the new one answers right', async (t) => {
  const h = harness({ CANARY_INTERVAL_MS: '100' });
  h.provider.gate.resolve();
  h.engineGate.resolve();
  h.lifecycle.boot();
  await until('ready', () => h.lifecycle.state === 'ready');
  h.answer = () => [{ label: 'xx', score: 1 }];
  await until('canary_failed', () => h.lifecycle.readiness().reason === 'canary_failed');
  t.true(h.engines[0]!.stopped, 'the engine that answered wrongly is gone');
  h.answer = rightAnswers;
  await until('ready again', () => h.lifecycle.state === 'ready');
  t.true(h.engines.length >= 2);
  t.false(h.engines.at(-1)!.stopped);
  await h.lifecycle.stop();
});

test('a child restart triggers a canary run once the pool is whole again, without waiting for the interval; restarts are counted', async (t) => {
  const h = harness({ ENGINE_POOL_SIZE: '2' });
  h.provider.gate.resolve();
  h.engineGate.resolve();
  h.lifecycle.boot();
  await until('ready', () => h.lifecycle.state === 'ready');
  const engine = h.engines[0]!;
  const before = engine.predictCalls.length;
  engine.live = 1; // the replacement is still loading: a run now would reach only the old child
  engine.hooks.onRestart('SIGKILL');
  t.is(await counter(h, 'fasttext_engine_restarts_total'), 1);
  await new Promise((r) => setTimeout(r, 1500));
  t.is(engine.predictCalls.length, before, 'no run while the replacement loads');
  engine.live = 2;
  await until('canaries re-run', () => engine.predictCalls.length >= before + CANARIES.length, 3000);
  t.is(await counter(h, 'fasttext_canary_runs_total'), 2);
  await h.lifecycle.stop();
});

test('canaries cover every tier with a ready child, and skip one still loading', async (t) => {
  const h = harness({ CANARY_INTERVAL_MS: '100' });
  h.provider.gate.resolve();
  h.engineGate.resolve();
  h.lifecycle.boot();
  await until('ready', () => h.lifecycle.state === 'ready');
  const engine = h.engines[0]!;
  engine.wideTier = 'loading';
  const before = engine.predictCalls.length;
  await until('two more runs', () => engine.predictCalls.length >= before + 2 * CANARIES.length);
  t.false(
    engine.predictCalls.some((c) => c.k === 3),
    'no canary waits on a loading tier',
  );
  engine.wideTier = 'ready';
  await until('a canary on the k=3 tier', () =>
    engine.predictCalls.some((c) => c.k === 3 && c.texts[0] === CANARIES[0]!.text),
  );
  await h.lifecycle.stop();
});

test('a canary with no answer counts as engine progress lost: liveness fails, readiness does not flap', async (t) => {
  const h = harness({ CANARY_INTERVAL_MS: '100', LIVENESS_ENGINE_STALL_MS: '300', ENGINE_CALL_TIMEOUT_MS: '100' });
  h.provider.gate.resolve();
  h.engineGate.resolve();
  h.lifecycle.boot();
  await until('ready', () => h.lifecycle.state === 'ready');
  t.true(h.lifecycle.liveness().live);
  h.answer = () => 'hang';
  await until('liveness fails', () => !h.lifecycle.liveness().live, 3000);
  t.is(h.lifecycle.liveness().reason, 'engine_stalled');
  t.true(h.lifecycle.state === 'ready', 'an unanswered canary is liveness business, not a wrong answer');
  h.answer = rightAnswers;
  await until('live again once canaries are answered', () => h.lifecycle.liveness().live, 3000);
  await h.lifecycle.stop();
});

test('beforeSpawn rechecks the verified model; a changed file makes readiness model_changed, then the model is fetched again and served', async (t) => {
  const { h, engine } = await booted();
  await engine.hooks.beforeSpawn(`/cache/${'340156704bb8c8e50c4abf35a7ec2569'}.bin`);
  t.is(h.provider.rechecks, 1);
  await t.throwsAsync(engine.hooks.beforeSpawn('/elsewhere/other.bin'), { message: /verified model is/ });
  h.provider.recheckFails = 'the model file changed (inode)';
  const ensures = h.provider.calls.length;
  h.provider.gate = new (h.provider.gate.constructor as new () => typeof h.provider.gate)();
  await t.throwsAsync(engine.hooks.beforeSpawn(`/cache/340156704bb8c8e50c4abf35a7ec2569.bin`));
  engine.hooks.onModelRejected('the model file changed (inode)');
  const r = h.lifecycle.readiness();
  t.false(r.ready);
  t.is(r.reason, 'model_changed');
  await settle();
  t.is(h.provider.calls.length, ensures + 1, 'ensure runs again');
  t.is(h.lifecycle.readiness().reason, 'model_changed', 'still named while the model is fetched again');
  h.provider.recheckFails = undefined;
  h.provider.gate.resolve();
  await until('ready again', () => h.lifecycle.state === 'ready');
  t.is(h.engines.length, 1, 'the running children loaded verified bytes: the engine stays');
  t.is(h.lifecycle.modelInfo().md5.actual, h.lifecycle.md5);
  await h.lifecycle.stop();
});

test('a changed file: the first cause stays in the readiness detail while later spawns find the file removed', async (t) => {
  const { h, engine } = await booted();
  h.provider.gate = new (h.provider.gate.constructor as new () => typeof h.provider.gate)();
  engine.hooks.onModelRejected('/cache/m.bin: replaced by a symbolic link; removed, to be fetched again');
  // The next child's check, ~200 ms later, finds the file the first check removed.
  engine.hooks.onModelRejected('/cache/m.bin is gone; to be fetched again');
  const r = h.lifecycle.readiness();
  t.is(r.reason, 'model_changed');
  t.regex(r.detail ?? '', /replaced by a symbolic link/, 'the cause, not the removal it led to');
  h.provider.gate.resolve();
  await until('ready again', () => h.lifecycle.state === 'ready');
  engine.hooks.onModelRejected('/cache/m.bin: now hashes to sha256 00 (1 bytes), verified as ff');
  t.regex(h.lifecycle.readiness().detail ?? '', /now hashes to/, 'a new fetch clears it: the next cause is named');
  await h.lifecycle.stop();
});

test('lazy: nothing loads until asked; a request waits for the load within its deadline', async (t) => {
  const h = harness({ MODEL_LOAD: 'lazy' });
  h.lifecycle.boot();
  await settle();
  t.is(h.provider.calls.length, 0);
  const pending = h.lifecycle.classify(['hello'], 1, 0, far());
  await settle();
  t.is(h.provider.calls.length, 1);
  h.provider.gate.resolve();
  h.engineGate.resolve();
  t.is((await pending)[0]?.[0]?.label, 'en');
  await h.lifecycle.stop();
});

test('lazy: a request waiting for the load fails at once when the load fails, not at its deadline', async (t) => {
  const h = harness({ MODEL_LOAD: 'lazy' });
  h.answer = () => [{ label: 'xx', score: 1 }];
  h.lifecycle.boot();
  const started = performance.now();
  const pending = h.lifecycle.classify(['hello'], 1, 0, performance.now() + 10_000);
  h.provider.gate.resolve();
  h.engineGate.resolve();
  await t.throwsAsync(pending, { instanceOf: NotReadyError, message: /canary_failed/ });
  t.true(performance.now() - started < 5000);
  await h.lifecycle.stop();
});

// Admission's cold start (docs/http.md): the canary run that makes the service ready is the one
// service time measured before any client traffic; service.ts seeds admission's hold with it.
test('the slowest call of the canary run that made the engine ready is reported once, before ready; none without canaries', async (t) => {
  const reported: Array<{ ms: number; state: string }> = [];
  const h = harness({}, CANARIES, {
    onCanaryLatency: (ms) => reported.push({ ms, state: h.lifecycle.state }),
  });
  h.lifecycle.boot();
  h.provider.gate.resolve();
  await until('engine', () => h.engines.length === 1);
  const engine = h.engines[0]!;
  const answer = engine.predict.bind(engine);
  // The fake answers at once; here each call takes about 40 ms, as a slow engine would.
  engine.predict = async (...args) => {
    await new Promise((r) => setTimeout(r, 40));
    return answer(...args);
  };
  h.engineGate.resolve();
  await until('ready', () => h.lifecycle.state === 'ready');
  t.is(reported.length, 1);
  t.true(reported[0]!.ms >= 35 && reported[0]!.ms < 2000, `reported ${reported[0]!.ms.toFixed(1)} ms`);
  t.is(reported[0]!.state, 'loading', 'reported before readiness opens the door to traffic');
  await h.lifecycle.classify(['some client text'], 1, 0, far());
  t.is(reported.length, 1, 'client traffic reports nothing');
  await h.lifecycle.stop();

  const none: number[] = [];
  const bare = harness({}, [], { onCanaryLatency: (ms) => none.push(ms) });
  bare.lifecycle.boot();
  bare.provider.gate.resolve();
  bare.engineGate.resolve();
  await until('ready', () => bare.lifecycle.state === 'ready');
  t.deepEqual(none, [], 'no canaries, no measurement: admission keeps its prior');
  await bare.lifecycle.stop();
});

test('a retry after a failure keeps the failure as the reason, and its detail says the object is being fetched again', async (t) => {
  const h = harness();
  h.lifecycle.boot();
  await until('the store asked', () => h.provider.calls.length === 1);
  const report = h.provider.calls[0]!.onProgress!;
  const lastFailure = { phase: 'md5_mismatch' as const, detail: 's3://m/k hashes to md5 00ff, expected md5 ab12' };
  report({ phase: 'md5_mismatch', detail: lastFailure.detail, nextRetryMs: 1000, lastFailure });
  t.like(h.lifecycle.readiness(), { reason: 'md5_mismatch', detail: lastFailure.detail });
  report({ phase: 'downloading', bytesDone: 12_000_000, bytesTotal: 80_000_000, attempt: 2, lastFailure });
  const r = h.lifecycle.readiness();
  t.is(r.reason, 'md5_mismatch', 'still the reason: the retry has not succeeded yet');
  t.is(r.detail, `${lastFailure.detail}; downloading again (12.0 MB of 80.0 MB)`);
  report({ phase: 'verifying', attempt: 2, lastFailure });
  t.is(h.lifecycle.readiness().detail, `${lastFailure.detail}; verifying again`);
  await h.lifecycle.stop();
});
