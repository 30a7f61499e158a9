// The one retry formula: capped, monotone, jittered within its bounds, permanent failures at the cap.
import test from 'ava';
import fc from 'fast-check';
import { exponentialMs, retryDelayMs } from '../../app/backoff.js';

const policy = fc
  .tuple(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 0, max: 1_000_000 }))
  .map(([baseMs, extra]) => ({ baseMs, maxMs: baseMs + extra }));

test('exponentialMs doubles from base and never passes the cap, whatever the exponent', (t) => {
  t.is(exponentialMs({ baseMs: 100, maxMs: 1000 }, 0), 100);
  t.is(exponentialMs({ baseMs: 100, maxMs: 1000 }, 3), 800);
  t.is(exponentialMs({ baseMs: 100, maxMs: 1000 }, 4), 1000);
  t.is(exponentialMs({ baseMs: 100, maxMs: 1000 }, 1e9), 1000);
  fc.assert(
    fc.property(policy, fc.integer({ min: -5, max: 5000 }), (p, e) => {
      const d = exponentialMs(p, e);
      return Number.isFinite(d) && d >= p.baseMs && d <= p.maxMs && exponentialMs(p, e + 1) >= d;
    }),
  );
});

test('retryDelayMs: transient failures jitter in [0, ceiling], permanent ones in [max/2, max]', (t) => {
  fc.assert(
    fc.property(
      policy,
      fc.integer({ min: 1, max: 100 }),
      fc.double({ min: 0, max: 0.999999, noNaN: true }),
      (p, n, r) => {
        const transient = retryDelayMs(p, n, false, () => r);
        const permanent = retryDelayMs(p, n, true, () => r);
        return (
          transient >= 0 &&
          transient <= exponentialMs(p, n - 1) &&
          permanent >= Math.floor(p.maxMs / 2) &&
          permanent <= p.maxMs
        );
      },
    ),
  );
  // The first permanent retry already waits about the cap: no fast hammering of a 404.
  t.true(retryDelayMs({ baseMs: 10, maxMs: 30_000 }, 1, true, () => 0) >= 15_000);
  t.is(
    retryDelayMs({ baseMs: 10, maxMs: 30_000 }, 1, false, () => 0.999),
    10,
  );
});
