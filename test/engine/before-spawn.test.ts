// The integrity hook: beforeSpawn is awaited before every process that loads the model, and
// a rejection means no process, a backed-off retry, and callers told engine_unavailable at
// once instead of waiting. Real engine, real binary; the hook is the test's own check.
import test from 'ava';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { EngineError } from '../../app/engine/classifier.js';
import { Engines, inMs, MODEL, pidAlive, SENTENCES, waitFor } from './helpers.js';

const engines = new Engines();
test.after.always(() => engines.stopAll());

class Gate {
  calls = 0;
  rejections = 0;
  open = true;
  readonly reasons: string[] = [];
  readonly hook = async (modelPath: string): Promise<void> => {
    this.calls++;
    await sleep(1);
    if (modelPath !== MODEL) throw new Error(`unexpected path ${modelPath}`);
    if (!this.open) {
      this.rejections++;
      throw new Error('model_changed: the file is not the verified one');
    }
  };
  readonly onRejected = (reason: string): void => {
    this.reasons.push(reason);
  };
}

test.serial('every spawn is checked: start, new tier, restart after a kill, stall replacement', async (t) => {
  const gate = new Gate();
  const engine = await engines.started({
    poolSize: 2,
    widePoolSize: 1,
    stallMs: 300,
    beforeSpawn: gate.hook,
    onModelRejected: gate.onRejected,
  });
  t.is(gate.calls, 3, 'two k=1 children and the label read');
  await engine.predict([SENTENCES.en], 5, 0, inMs(5000)); // starts the k=10 tier
  t.is(gate.calls, 4);
  await waitFor('both k=1 children ready', () => engine.stats().liveChildren === 2, 5000);
  const [first, second] = engine.childPids(1);
  process.kill(first as number, 'SIGKILL');
  await waitFor('a restart', () => engine.stats().restarts === 1 && engine.stats().liveChildren === 2, 5000);
  t.is(gate.calls, 5);
  process.kill(second as number, 'SIGSTOP');
  const answer = await engine.predict([SENTENCES.de], 1, 0, inMs(5000));
  t.is(answer[0]?.[0]?.label, 'de');
  await engine.predict(
    Array.from({ length: 64 }, () => SENTENCES.it),
    1,
    0,
    inMs(5000),
  );
  await waitFor(
    'the stall replacement',
    () => engine.stats().restarts === 2 && engine.stats().liveChildren === 2,
    5000,
  );
  t.is(gate.calls, 6);
  t.deepEqual(gate.reasons, []);
});

test.serial(
  'a hook that starts rejecting mid-run: no child spawned, backoff, fast engine_unavailable, recovery when it accepts again',
  async (t) => {
    const gate = new Gate();
    const engine = await engines.started({
      poolSize: 2,
      widePoolSize: 1,
      restartBaseMs: 50,
      restartMaxMs: 400,
      beforeSpawn: gate.hook,
      onModelRejected: gate.onRejected,
    });
    await waitFor('both k=1 children ready', () => engine.stats().liveChildren === 2, 5000);
    gate.open = false;
    const victims = engine.childPids(1);
    for (const pid of victims) process.kill(pid, 'SIGKILL');
    await waitFor(
      'the children to be gone',
      () => victims.every((p) => !pidAlive(p)) && engine.childPids(1).length === 0,
      3000,
    );

    // Calls do not wait for a child that will not come.
    const t0 = performance.now();
    const err = await t.throwsAsync(engine.predict([SENTENCES.en], 1, 0, inMs(5000)), { instanceOf: EngineError });
    t.true(['engine_unavailable', 'engine_crashed'].includes(err?.code ?? ''), err?.code);
    t.true(performance.now() - t0 < 1000, `failed after ${(performance.now() - t0).toFixed(0)} ms`);
    // A tier never started is refused too, and spawns nothing.
    const wide = await t.throwsAsync(engine.predict([SENTENCES.en], 50, 0, inMs(5000)), { instanceOf: EngineError });
    t.is(wide?.code, 'engine_unavailable');
    t.true(performance.now() - t0 < 1500);

    // Backoff, not a tight loop: 50, 100, 200, 400, 400 ms per slot.
    await sleep(1500);
    t.deepEqual(engine.childPids(), [], 'no process spawned on a rejected model');
    t.true(gate.rejections >= 4 && gate.rejections <= 20, `rejections in ~1.5 s: ${gate.rejections}`);
    t.is(gate.reasons.length, gate.rejections);
    t.true(
      gate.reasons.every((r) => r.includes('model_changed')),
      gate.reasons[0],
    );
    t.is(engine.stats().liveChildren, 0);

    gate.open = true;
    await waitFor('k=1 children again', () => engine.stats().liveChildren >= 1, 3000);
    const [fr] = await engine.predict([SENTENCES.fr], 1, 0, inMs(5000));
    t.is(fr?.[0]?.label, 'fr');
  },
);

test.serial(
  'a hook that rejects at start: start() fails with engine_unavailable and the reason, nothing left running',
  async (t) => {
    const gate = new Gate();
    gate.open = false;
    const engine = engines.create({ poolSize: 2, beforeSpawn: gate.hook, onModelRejected: gate.onRejected });
    const err = await t.throwsAsync(engine.start(MODEL), { instanceOf: EngineError });
    t.is(err?.code, 'engine_unavailable');
    t.regex(err?.message ?? '', /model_changed/);
    t.deepEqual(engine.childPids(), []);
    // And start() may be tried again once the file is good.
    gate.open = true;
    await engine.start(MODEL);
    const [it] = await engine.predict([SENTENCES.it], 1, 0, inMs(5000));
    t.is(it?.[0]?.label, 'it');
  },
);

test.serial('a hook that never settles counts as a rejection at the load deadline', async (t) => {
  const engine = engines.create({
    poolSize: 1,
    loadTimeoutMs: 300,
    beforeSpawn: () => new Promise<void>(() => undefined),
  });
  const t0 = performance.now();
  const err = await t.throwsAsync(engine.start(MODEL), { instanceOf: EngineError });
  t.is(err?.code, 'engine_unavailable');
  t.regex(err?.message ?? '', /did not finish within 300 ms/);
  t.true(performance.now() - t0 < 3000);
  t.deepEqual(engine.childPids(), []);
});

test.serial(
  'afterLoad: each loaded child waits for it before taking a line, and is given what its own beforeSpawn resolved with',
  async (t) => {
    let tickets = 0;
    const seen: unknown[] = [];
    const hold: Array<() => void> = [];
    let holding = false;
    const engine = await engines.started({
      poolSize: 1,
      widePoolSize: 1,
      beforeSpawn: () => Promise.resolve(`ticket-${++tickets}`),
      afterLoad: async (_path, checked) => {
        seen.push(checked);
        if (holding) await new Promise<void>((resolve) => hold.push(resolve));
      },
    });
    // The label read and the k=1 child each pass beforeSpawn, and each is checked after its read.
    t.is(tickets, 2);
    t.deepEqual([...seen].sort(), ['ticket-1', 'ticket-2']);
    holding = true;
    const asked = performance.now();
    const answer = engine.predict([SENTENCES.fr], 5, 0, inMs(10_000)); // starts the k=10 tier
    await waitFor('the k=10 child loaded and held', () => hold.length === 1, 5000);
    t.deepEqual(seen.slice(2), ['ticket-3'], 'the k=10 child gets the ticket of its own check');
    let answered = false;
    void answer.then(() => (answered = true));
    await sleep(200);
    t.false(answered, 'no line is sent to a child whose load is not yet accepted');
    t.is(engine.stats().tiers?.find((tier) => tier.k === 10)?.state, 'loading');
    hold[0]?.();
    t.is((await answer)[0]?.[0]?.label, 'fr');
    t.true(performance.now() - asked >= 200);
  },
);

test.serial(
  'afterLoad rejecting: the child is killed unused; at start that is a failed start, while running a restart',
  async (t) => {
    let accept = false;
    const refused: number[] = [];
    const afterLoad = (): Promise<void> =>
      accept ? Promise.resolve() : Promise.reject(new Error('the model file changed while fastText loaded it'));
    const failing = engines.create({ poolSize: 1, beforeSpawn: () => Promise.resolve('checked'), afterLoad });
    const err = await t.throwsAsync(failing.start(MODEL));
    t.regex(err?.message ?? '', /changed while fastText loaded it/);
    t.deepEqual(failing.childPids(), []);

    accept = true;
    const engine = await engines.started({
      poolSize: 1,
      widePoolSize: 1,
      restartBaseMs: 50,
      beforeSpawn: () => Promise.resolve('checked'),
      afterLoad: () => {
        if (accept) return Promise.resolve();
        refused.push(performance.now());
        return Promise.reject(new Error('the model file changed while fastText loaded it'));
      },
    });
    accept = false;
    const pending = engine.predict([SENTENCES.de], 5, 0, inMs(1500)); // the k=10 tier: refused after its load
    await waitFor('a refused load', () => refused.length >= 1, 5000);
    const pids = engine.childPids(10);
    t.deepEqual(pids, [], 'the refused child is not in the tier');
    accept = true;
    // Its restart (after backoff) loads again and, accepted now, answers the call still waiting.
    t.is((await pending)[0]?.[0]?.label, 'de');
  },
);

test.serial('afterLoad also guards the label list read from the file: refused there, the start fails', async (t) => {
  let tickets = 0;
  // The label read's check is the first one start() makes.
  const engine = engines.create({
    poolSize: 1,
    beforeSpawn: () => Promise.resolve(++tickets),
    afterLoad: (_path, checked) =>
      checked === 1
        ? Promise.reject(new Error('the model file changed while its labels were read'))
        : Promise.resolve(),
  });
  const err = await t.throwsAsync(engine.start(MODEL));
  t.regex(err?.message ?? '', /changed while its labels were read/);
  t.deepEqual(engine.childPids(), [], 'the child that loaded is stopped with the failed start');
});
