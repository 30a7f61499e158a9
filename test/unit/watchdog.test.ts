import test from 'ava';
import { performance } from 'node:perf_hooks';
import type { EngineStats } from '../../app/engine/classifier.js';
import { Watchdog } from '../../app/watchdog.js';

const idleEngine = (): EngineStats => ({ liveChildren: 2, pending: 0, restarts: 0, lastProgressAt: 0 });

test('a blocked event loop fails liveness; it recovers once the loop runs on time', async (t) => {
  // Bounds generous against a busy machine: a 1 s block against a 400 ms limit; waits poll.
  const w = new Watchdog(
    { maxEventLoopDelayMs: 400, engineStallMs: 10_000, sampleMs: 20 },
    { engineStats: idleEngine },
  );
  w.start();
  t.teardown(() => w.stop());
  const liveWithin = async (ms: number): Promise<boolean> => {
    const deadline = performance.now() + ms;
    while (!w.report().live && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return w.report().live;
  };
  t.true(await liveWithin(3000));
  const until = performance.now() + 1000;
  while (performance.now() < until) {
    // block the loop, as a wedged handler would
  }
  const blocked = w.report();
  t.false(blocked.live);
  t.is(blocked.reason, 'event_loop_blocked');
  t.true(blocked.eventLoopDelayMs >= 900);
  t.true(await liveWithin(5000), 'the delay decays once samples arrive on time');
});

test('pending engine work with no answer for too long fails liveness; idle engine does not', (t) => {
  let stats: EngineStats = { liveChildren: 1, pending: 3, restarts: 0, lastProgressAt: performance.now() - 5000 };
  const w = new Watchdog({ maxEventLoopDelayMs: 1000, engineStallMs: 1000 }, { engineStats: () => stats });
  const stalled = w.report();
  t.false(stalled.live);
  t.is(stalled.reason, 'engine_stalled');
  stats = { ...stats, pending: 0 };
  t.true(w.report().live, 'no pending work: an idle engine is not stalled');
  stats = { ...stats, pending: 3, lastProgressAt: performance.now() };
  t.true(w.report().live);
});

test('no engine yet (model still loading): liveness holds', (t) => {
  const w = new Watchdog({ maxEventLoopDelayMs: 1000, engineStallMs: 10 }, { engineStats: () => undefined });
  t.true(w.report().live);
});

test('slots held with no request finishing for longer than a request can live fails liveness (a leak turns into a restart, not a zombie)', (t) => {
  const w = new Watchdog(
    { maxEventLoopDelayMs: 1000, engineStallMs: 1000, requestStallMs: 2000 },
    { engineStats: idleEngine, requestProgress: () => progress },
  );
  let progress = { active: 3, lastReleaseAt: performance.now() - 5000 };
  const stuck = w.report();
  t.false(stuck.live);
  t.is(stuck.reason, 'requests_stalled');
  progress = { active: 3, lastReleaseAt: performance.now() - 500 };
  t.true(w.report().live, 'requests finishing recently: live');
  progress = { active: 0, lastReleaseAt: performance.now() - 60_000 };
  t.true(w.report().live, 'idle for long with nothing held: live');
});

test('a canary left unanswered counts as engine progress lost, though nothing is pending any more', (t) => {
  let since: number | undefined = performance.now() - 5000;
  const w = new Watchdog(
    { maxEventLoopDelayMs: 1000, engineStallMs: 1000 },
    { engineStats: idleEngine, canaryUnansweredSince: () => since },
  );
  const lost = w.report();
  t.false(lost.live);
  t.is(lost.reason, 'engine_stalled');
  t.true(lost.engineIdleMs >= 5000);
  since = performance.now() - 200;
  t.true(w.report().live, 'unanswered for less than the stall allowance: live');
  since = undefined;
  t.true(w.report().live, 'answered again: live');
});
