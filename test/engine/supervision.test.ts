// A child killed, stopped or crash-looping: calls settle within their deadlines with an
// answer or a typed error, Node does not crash, and the engine is back within 2 s.
import test from 'ava';
import { copyFile, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { EngineError, type Prediction } from '../../app/engine/classifier.js';
import { BINARY, Engines, inMs, MODEL, pidAlive, SENTENCES, waitFor, type Lang } from './helpers.js';

const engines = new Engines();
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
test.before(() => {
  process.on('unhandledRejection', onUnhandled);
});
test.after.always(async () => {
  process.off('unhandledRejection', onUnhandled);
  await engines.stopAll();
});

function top(preds: Prediction[] | undefined): string | undefined {
  return preds?.[0]?.label;
}

interface Outcome {
  readonly ok: boolean;
  readonly correct: boolean;
  readonly code?: string;
  /** How long after its deadline the call settled (negative = before). */
  readonly lateMs: number;
}

/** Callers looping over batches of one language until `until`, recording every outcome. */
function load(
  engine: { predict: (t: readonly string[], k: number, th: number, d: number) => Promise<Prediction[][]> },
  callers: number,
  batch: number,
  until: number,
  deadlineMs: number,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  const langs = Object.keys(SENTENCES) as Lang[];
  const caller = async (i: number): Promise<void> => {
    const lang = langs[i % langs.length] as Lang;
    const texts = Array.from({ length: batch }, () => SENTENCES[lang]);
    while (performance.now() < until) {
      const deadline = inMs(deadlineMs);
      try {
        const r = await engine.predict(texts, 1, 0, deadline);
        outcomes.push({
          ok: true,
          correct: r.length === batch && r.every((p) => top(p) === lang),
          lateMs: performance.now() - deadline,
        });
      } catch (err) {
        outcomes.push({
          ok: false,
          correct: false,
          code: (err as EngineError).code,
          lateMs: performance.now() - deadline,
        });
      }
    }
  };
  return Promise.all(Array.from({ length: callers }, (_, i) => caller(i))).then(() => outcomes);
}

function summary(outcomes: readonly Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) {
    const key = o.ok ? 'answered' : (o.code ?? 'untyped');
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

test.serial(
  'SIGKILL under load, pool of 2: calls settle in time (mostly answered), a new child classifies within 2 s',
  async (t) => {
    const engine = await engines.started({ poolSize: 2 });
    const reasons: string[] = [];
    engine.onRestart = (r) => reasons.push(r);
    const running = load(engine, 20, 40, inMs(1500), 1000);
    await sleep(300);
    const pendingBefore = engine.stats().pending;
    const [victim] = engine.childPids(1);
    if (victim === undefined) throw new Error('no child to kill');
    process.kill(victim, 'SIGKILL');
    const killedAt = performance.now();

    await waitFor(
      'a replacement child',
      () => engine.childPids(1).length === 2 && !engine.childPids(1).includes(victim),
      2000,
    );
    const [check] = await engine.predict([SENTENCES.it], 1, 0, inMs(2000 - (performance.now() - killedAt)));
    t.is(top(check), 'it');
    t.true(performance.now() - killedAt < 2000);

    const outcomes = await running;
    t.log(`pending lines at the kill: ${pendingBefore}; outcomes:`, summary(outcomes));
    t.true(pendingBefore > 0, 'calls were in flight when the child was killed');
    t.true(outcomes.length > 50);
    for (const o of outcomes) {
      t.true(o.lateMs < 300, `settled ${o.lateMs.toFixed(0)} ms after its deadline`);
      if (o.ok) t.true(o.correct, 'an answered call has its own answers');
      else
        t.true(['engine_crashed', 'deadline_exceeded', 'engine_unavailable'].includes(o.code ?? ''), `code ${o.code}`);
    }
    t.false(pidAlive(victim));
    t.true(engine.stats().restarts >= 1);
    t.true(
      reasons.some((r) => r.includes('SIGKILL')),
      reasons.join('; '),
    );
    t.deepEqual(unhandled, []);
  },
);

test.serial(
  'SIGKILL with a pool of 1: in-flight calls fail fast with engine_crashed, later calls wait for the restart',
  async (t) => {
    const engine = await engines.started({ poolSize: 1, restartBaseMs: 100 });
    const [victim] = engine.childPids(1);
    if (victim === undefined) throw new Error('no child');
    const inFlight = Array.from({ length: 10 }, () =>
      engine.predict(
        Array.from({ length: 200 }, () => SENTENCES.de),
        1,
        0,
        inMs(3000),
      ),
    );
    await sleep(5);
    process.kill(victim, 'SIGKILL');
    const killedAt = performance.now();
    const settled = await Promise.allSettled(inFlight);
    const failAfter = performance.now() - killedAt;
    for (const s of settled) {
      if (s.status === 'fulfilled')
        t.deepEqual(
          s.value.map(top),
          Array.from({ length: 200 }, () => 'de'),
        );
      else t.is((s.reason as EngineError).code, 'engine_crashed');
    }
    t.true(
      settled.some((s) => s.status === 'rejected'),
      'some calls were on the killed child',
    );
    t.true(failAfter < 1000, `in-flight calls settled ${failAfter.toFixed(0)} ms after the kill`);

    // Nothing is ready now; a call arriving during the 100 ms backoff waits for the new child.
    const [fr] = await engine.predict([SENTENCES.fr], 1, 0, inMs(2000));
    t.is(top(fr), 'fr');
    t.true(performance.now() - killedAt < 2000);
    t.is(engine.stats().restarts, 1);
    t.is(engine.stats().liveChildren, 1);
    t.deepEqual(unhandled, []);
  },
);

test.serial('a stopped (SIGSTOP) child is detected as stalled, killed and replaced', async (t) => {
  const engine = await engines.started({ poolSize: 1, stallMs: 300 });
  const [victim] = engine.childPids(1);
  if (victim === undefined) throw new Error('no child');
  process.kill(victim, 'SIGSTOP');
  const stoppedAt = performance.now();
  const call = engine.predict([SENTENCES.en], 1, 0, inMs(3000));
  await sleep(150);
  t.true(engine.stats().pending > 0);
  const err = await t.throwsAsync(call, { instanceOf: EngineError });
  const after = performance.now() - stoppedAt;
  t.is(err?.code, 'engine_crashed');
  t.true(after >= 300 && after < 1200, `failed ${after.toFixed(0)} ms after the stop`);
  await waitFor('the stopped child to be gone', () => !pidAlive(victim), 1000);
  const [en] = await engine.predict([SENTENCES.en], 1, 0, inMs(2000));
  t.is(top(en), 'en');
  t.is(engine.stats().restarts, 1);
  t.false(engine.childPids().includes(victim));
});

test.serial('an idle child that is stopped (SIGSTOP) is replaced before any caller is sent to it', async (t) => {
  const engine = await engines.started({ poolSize: 1, stallMs: 300 });
  const reasons: string[] = [];
  engine.onRestart = (r) => reasons.push(r);
  const [victim] = engine.childPids(1);
  if (victim === undefined) throw new Error('no child');
  process.kill(victim, 'SIGSTOP');
  // No call: only the idle heartbeat can find it (idle 300 ms, then 300 ms unanswered).
  // Meanwhile the heartbeat line it owes is no call's work: pending, which the liveness
  // watchdog judges, stays 0 (review: it counted, and /health failed on an idle service).
  const pendingSeen = new Set<number>();
  await waitFor(
    'the stopped idle child to be gone',
    () => {
      pendingSeen.add(engine.stats().pending);
      return !pidAlive(victim);
    },
    5000,
  );
  t.deepEqual([...pendingSeen], [0]);
  await waitFor('the replacement', () => engine.stats().restarts === 1 && engine.stats().liveChildren === 1, 5000);
  t.true(
    reasons.some((r) => r.startsWith('stalled: 1 lines')),
    reasons.join('; '),
  );
  const started = performance.now();
  const [en] = await engine.predict([SENTENCES.en], 1, 0, inMs(3000));
  t.is(top(en), 'en');
  // Answered by the replacement, not after a stall limit spent on the stopped child.
  t.true(performance.now() - started < 300, `answered in ${(performance.now() - started).toFixed(0)} ms`);
});

test.serial('heartbeats to idle children are sent between callers and leave every answer right', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'engine-heartbeat-'));
  try {
    // The binary behind a tee: the lines the children were sent, heartbeats included.
    const sent = path.join(dir, 'stdin.log');
    const wrapper = path.join(dir, 'fasttext-tee');
    await writeFile(wrapper, `#!/bin/sh\ntee -a '${sent}' | '${BINARY}' "$@"\n`, { mode: 0o755 });
    const engine = await engines.started({ binary: wrapper, poolSize: 2, stallMs: 200 });
    await waitFor('both k=1 children ready', () => engine.stats().liveChildren === 2, 10_000);
    const langs = ['en', 'fr', 'de', 'it'] as const;
    // Calls spaced past the idle limit, so heartbeats interleave with callers' lines.
    for (let round = 0; round < 8; round++) {
      const want = Array.from({ length: 1 + (round % 5) }, (_, i) => langs[(round + i) % 4] as Lang);
      const got = await engine.predict(
        want.map((l) => SENTENCES[l]),
        1,
        0,
        inMs(3000),
      );
      t.deepEqual(got.map(top), want);
      await sleep(250 + (round % 3) * 100);
    }
    const probes = (await readFile(sent, 'utf8')).split('\n').filter((l) => l === 'fasttext-edge readiness probe');
    // One load probe a child; every further probe line is a heartbeat.
    const heartbeats = probes.length - 2 - engine.stats().restarts;
    t.log(`${heartbeats} heartbeats over 8 calls; restarts ${engine.stats().restarts}`);
    t.true(heartbeats >= 4, `${heartbeats} heartbeats`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.serial("a stalled child's lines are retried on a live one: the caller gets its answer", async (t) => {
  const engine = await engines.started({ poolSize: 2, stallMs: 300 });
  const reasons: string[] = [];
  engine.onRestart = (r) => reasons.push(r);
  // start() resolves on the first ready child; on a busy machine the second may still load.
  await waitFor('both k=1 children ready', () => engine.stats().liveChildren === 2, 10_000);
  const [victim] = engine.childPids(1);
  if (victim === undefined) throw new Error('no child');
  process.kill(victim, 'SIGSTOP');
  // 64 texts split over both children: half of them land on the stopped one.
  const langs = Array.from({ length: 64 }, (_, i) => (['en', 'fr', 'de', 'it'] as const)[i % 4] as Lang);
  const results = await engine.predict(
    langs.map((l) => SENTENCES[l]),
    1,
    0,
    inMs(3000),
  );
  t.deepEqual(results.map(top), langs);
  // Half the answers were owed by the stopped child: they came only once it was dropped.
  t.false(engine.childPids(1).includes(victim), 'answered before the stalled child was dropped');
  await waitFor('the stopped child to be gone', () => !pidAlive(victim), 1000);
  await waitFor('the replacement', () => engine.stats().restarts === 1 && engine.stats().liveChildren === 2, 5000);
  t.true(
    reasons.some((r) => r.startsWith('stalled')),
    reasons.join('; '),
  );
});

test.serial('a blocked Node event loop is not mistaken for a stalled child', async (t) => {
  const engine = await engines.started({ poolSize: 1, stallMs: 200 });
  const texts = Array.from({ length: 200 }, () => `${SENTENCES.it} `.repeat(20));
  const call = engine.predict(texts, 1, 0, inMs(5000));
  await new Promise<void>((resolve) => setImmediate(resolve)); // the batch is written
  t.true(engine.stats().pending > 0);
  const until = performance.now() + 600;
  while (performance.now() < until) {
    // Busy: the child answers meanwhile, but nothing reads its pipe.
  }
  const results = await call;
  t.true(results.every((r) => top(r) === 'it'));
  t.is(engine.stats().restarts, 0);
});

test.serial(
  'a crash-looping child backs off, callers get engine_unavailable fast, and it recovers when it can',
  async (t) => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'engine-crashloop-'));
    try {
      const model = path.join(dir, 'model.ftz');
      await copyFile(MODEL, model);
      const engine = engines.create({ poolSize: 1, restartBaseMs: 50, restartMaxMs: 400 });
      await engine.start(model);
      // The model disappears: every restart now fails to load ("cannot be opened").
      await rename(model, `${model}.away`);
      const [victim] = engine.childPids(1);
      if (victim === undefined) throw new Error('no child');
      process.kill(victim, 'SIGKILL');
      await sleep(1500);
      const restarts = engine.stats().restarts;
      // Backoff 50, 100, 200, 400, 400 ms: a handful of attempts, not a hot loop.
      t.true(restarts >= 3 && restarts <= 8, `restarts in 1.5 s: ${restarts}`);
      t.is(engine.stats().liveChildren, 0);
      const t0 = performance.now();
      const err = await t.throwsAsync(engine.predict([SENTENCES.en], 1, 0, inMs(5000)), { instanceOf: EngineError });
      t.true(['engine_unavailable', 'engine_crashed'].includes(err?.code ?? ''), err?.code);
      t.true(performance.now() - t0 < 1000, `answered in ${(performance.now() - t0).toFixed(0)} ms`);

      await rename(`${model}.away`, model);
      await waitFor('a live child again', () => engine.stats().liveChildren === 1, 2000);
      const [en] = await engine.predict([SENTENCES.en], 1, 0, inMs(2000));
      t.is(top(en), 'en');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

test.serial(
  'stop() fails pending calls with engine_unavailable and ends every child, SIGKILL for one ignoring SIGTERM',
  async (t) => {
    // The real binary with SIGTERM ignored (the disposition survives exec), so stop() must escalate.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'engine-stop-'));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const wrapper = path.join(dir, 'fasttext-ignoring-sigterm');
    await writeFile(wrapper, `#!/bin/sh\ntrap '' TERM\nexec '${BINARY}' "$@"\n`, { mode: 0o755 });
    const engine = await engines.started({ binary: wrapper, poolSize: 2, stopTimeoutMs: 300 });
    await engine.predict([SENTENCES.en], 5, 0, inMs(3000)); // starts the k=10 group
    const pids = engine.childPids();
    t.is(pids.length, 3);
    // Stopped, it cannot read the end of its stdin either: only SIGKILL ends it.
    process.kill(pids[0] as number, 'SIGSTOP');
    const pending = engine.predict(
      Array.from({ length: 500 }, () => SENTENCES.fr),
      1,
      0,
      inMs(5000),
    );
    const t0 = performance.now();
    await engine.stop();
    const took = performance.now() - t0;
    const err = await t.throwsAsync(pending, { instanceOf: EngineError });
    t.is(err?.code, 'engine_unavailable');
    for (const pid of pids) t.false(pidAlive(pid), `pid ${pid} still alive`);
    t.true(took >= 300 && took < 1500, `stop took ${took.toFixed(0)} ms`);
    t.deepEqual(engine.childPids(), []);
    const after = await t.throwsAsync(engine.predict([SENTENCES.en], 1, 0, inMs(1000)), { instanceOf: EngineError });
    t.is(after?.code, 'engine_unavailable');
    await engine.stop(); // idempotent
  },
);

test.serial(
  'at a tiny stall limit, an idle child whose heartbeat answer comes late by a hiccup is not killed',
  async (t) => {
    // Review: ENGINE_STALL_MS=10 (the smallest accepted) killed healthy idle children over a
    // heartbeat answered 11-16 ms late. Hiccups of 60 ms, made here with SIGSTOP/SIGCONT.
    const engine = await engines.started({ poolSize: 1, stallMs: 10 });
    const [child] = engine.childPids(1);
    if (child === undefined) throw new Error('no child');
    for (let i = 0; i < 5; i++) {
      await sleep(30); // idle past the limit: a heartbeat goes out
      process.kill(child, 'SIGSTOP');
      await sleep(60);
      process.kill(child, 'SIGCONT');
    }
    await sleep(100);
    t.is(engine.stats().restarts, 0);
    t.deepEqual(engine.childPids(1), [child]);
    const [en] = await engine.predict([SENTENCES.en], 1, 0, inMs(2000));
    t.is(top(en), 'en');
  },
);
