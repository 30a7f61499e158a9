// The kubelet's crash back-off as the harness applies it: the first restart at once, then
// 10 s, 20 s, 40 s ... up to 300 s after the container finished, forgotten after 10 minutes.
import test from 'ava';
import { nextBackoff, restartDelayMs, type Backoff } from './harness/pod.js';
import { timeScale } from './harness/scale.js';

const real = timeScale(1);

test('first restart at once, then 10, 20, 40 ... 300 s after the container finished', (t) => {
  let b: Backoff | undefined;
  let now = 1_000_000;
  const delays: number[] = [];
  for (let i = 0; i < 8; i++) {
    const finishedAt = now;
    const delay = restartDelayMs(b, finishedAt, now, real);
    delays.push(delay / 1000);
    now += delay;
    b = nextBackoff(b, finishedAt, now, real);
    now += 1_000; // the container runs 1 s, then fails again
  }
  t.deepEqual(delays, [0, 10, 20, 40, 80, 160, 300, 300]);
});

test('time already spent since the container finished counts against the back-off', (t) => {
  const b: Backoff = { seconds: 40, lastUpdate: 0 };
  t.is(restartDelayMs(b, 100_000, 130_000, real), 10_000);
  t.is(restartDelayMs(b, 100_000, 150_000, real), 0);
});

test('a container that ran more than 10 minutes since the last restart starts over at once and at 10 s', (t) => {
  const b: Backoff = { seconds: 160, lastUpdate: 0 };
  t.is(restartDelayMs(b, 600_001, 600_001, real), 0);
  t.deepEqual(nextBackoff(b, 600_001, 600_001, real), { seconds: 10, lastUpdate: 600_001 });
  t.deepEqual(nextBackoff(b, 599_000, 599_000, real), { seconds: 300, lastUpdate: 599_000 });
});

test('scaled: every back-off second shrinks by the factor', (t) => {
  const fast = timeScale(0.2);
  t.is(restartDelayMs({ seconds: 20, lastUpdate: 0 }, 1_000, 1_000, fast), 4_000);
});
