import test from 'ava';
import { performance } from 'node:perf_hooks';
import { Admission, type Release } from '../../app/http/admission.js';
import { ApiError } from '../../app/http/errors.js';
import { sleep } from '../helpers/fixtures.js';

function admission(maxInFlight: number, maxQueue: number) {
  const shed: string[] = [];
  const a = new Admission(
    { maxInFlight, maxQueue, retryAfterSeconds: 3 },
    { onShed: (r) => shed.push(r), onChange: () => {} },
  );
  return { a, shed };
}

const far = (): number => performance.now() + 10_000;

test('grants up to maxInFlight at once, queues up to maxQueue, refuses the rest with 503 overloaded + Retry-After', async (t) => {
  const { a, shed } = admission(2, 1);
  const r1 = a.acquire(far());
  const r2 = a.acquire(far());
  t.is(typeof r1, 'function');
  t.is(typeof r2, 'function');
  const queued = a.acquire(far());
  t.true(queued instanceof Promise);
  const error = t.throws(() => a.acquire(far()), { instanceOf: ApiError });
  t.is(error?.status, 503);
  t.is(error?.code, 'overloaded');
  t.is(error?.retryAfterSeconds, 3);
  t.deepEqual(shed, ['overloaded']);
  t.is(a.active, 2);
  t.is(a.queued, 1);
  (r1 as Release)();
  const granted = await queued;
  t.is(a.active, 2, 'the slot passed to the waiter');
  t.is(a.queued, 0);
  (r2 as Release)();
  granted();
  t.is(a.active, 0);
});

test('a release called twice frees one slot only', (t) => {
  const { a } = admission(1, 0);
  const r = a.acquire(far()) as Release;
  r();
  r();
  t.is(a.active, 0);
  const again = a.acquire(far());
  t.is(typeof again, 'function');
  t.is(a.active, 1);
});

test('a queued request whose deadline passes gets 504 deadline_exceeded and leaves the queue', async (t) => {
  const { a, shed } = admission(1, 5);
  const r = a.acquire(far()) as Release;
  const waiting = a.acquire(performance.now() + 30) as Promise<Release>;
  const error = await t.throwsAsync(waiting, { instanceOf: ApiError });
  t.is(error?.status, 504);
  t.is(a.queued, 0);
  t.deepEqual(shed, ['queue_timeout']);
  r();
  t.is(a.active, 0);
});

function codel(target: number, interval: number, maxQueue = 100, maxQueueBytes = Infinity) {
  const shed: string[] = [];
  const a = new Admission(
    {
      maxInFlight: 1,
      maxQueue,
      retryAfterSeconds: 2,
      queueDelayTargetMs: target,
      queueDelayIntervalMs: interval,
      maxQueueBytes,
    },
    { onShed: (r) => shed.push(r), onChange: () => {} },
  );
  return { a, shed };
}

test('queue delay under the target: every waiter is served, oldest first', async (t) => {
  const { a, shed } = codel(500, 2000);
  let release = a.acquire(far()) as Release;
  const order: number[] = [];
  const waiters = Array.from({ length: 5 }, (_, i) =>
    (a.acquire(far()) as Promise<Release>).then((r) => (order.push(i), r)),
  );
  for (let i = 0; i < 5; i++) {
    await sleep(5);
    release();
    release = await waiters[i]!;
  }
  release();
  t.deepEqual(order, [0, 1, 2, 3, 4]);
  t.deepEqual(shed, []);
  t.false(a.overloaded);
});

test('a standing queue (shortest delay above the target for an interval): newest served first, waiters past the target refused 503 + Retry-After', async (t) => {
  // Wide margins against a busy machine: waits of ~100 ms are far above the 40 ms target and far below the 400 ms interval.
  const { a, shed } = codel(40, 400);
  let release = a.acquire(far()) as Release;
  // Keep a queue standing: every grant waits well over the target, for more than an interval.
  for (let round = 0; round < 30 && !a.overloaded; round++) {
    const w = a.acquire(far()) as Promise<Release>;
    await sleep(100);
    release();
    release = await w;
  }
  t.true(a.overloaded, 'the queue is judged standing');
  const outcomes: string[] = [];
  const waiters = Array.from({ length: 4 }, (_, i) =>
    (a.acquire(far()) as Promise<Release>).then(
      (r) => {
        outcomes.push(`granted ${i}`);
        return r;
      },
      (e: ApiError) => {
        outcomes.push(`${e.status} ${e.code} ${e.retryAfterSeconds} ${i}`);
        return undefined;
      },
    ),
  );
  release(); // one slot, in the same tick: adaptive LIFO gives it to the newest waiter
  await sleep(250);
  t.is(outcomes[0], 'granted 3', JSON.stringify(outcomes));
  t.deepEqual(
    outcomes.slice(1).sort(),
    ['503 overloaded 2 0', '503 overloaded 2 1', '503 overloaded 2 2'],
    'the rest waited past the target: refused',
  );
  t.true(shed.filter((s) => s === 'queue_delay').length >= 3);
  const last = (await waiters[3]) as Release;
  last();
  t.is(a.queued, 0);
});

test('the queue is bounded in body bytes as well as in requests', (t) => {
  const { a } = codel(50, 100, 100, 1000);
  const release = a.acquire(far()) as Release;
  const queued = a.acquire(far(), 800) as Promise<Release>;
  t.true(queued instanceof Promise);
  const error = t.throws(() => a.acquire(far(), 300), { instanceOf: ApiError });
  t.is(error?.status, 503);
  const small = a.acquire(far(), 200) as Promise<Release>;
  t.true(small instanceof Promise, 'a smaller body still fits');
  release();
  return Promise.all([queued.then((r) => r()), small.then((r) => r())]).then(() => t.is(a.queued, 0));
});

// Requests past the overload gate that are still reading their body are on their way to a queue
// place: the gate counts them, so it refuses cheaply (before the body) instead of letting them
// read and scan their body only to be refused at acquire().
test('the gate is full when in-flight is full and the queue plus the bodies being read reach maxQueue; acquire() counts only the queue', async (t) => {
  const { a } = admission(1, 2);
  const release = a.acquire(far()) as Release;
  t.false(a.full());
  const leave1 = a.arrive();
  t.false(a.full(), 'one body in flight, one queue place still free');
  const leave2 = a.arrive();
  t.true(a.full(), 'two bodies in flight will fill the queue: the gate refuses new requests');
  leave1();
  leave1(); // leaving twice counts once
  t.false(a.full());
  leave2();
  // The arrivals themselves are not refused by acquire(): it counts the queue alone.
  const l3 = a.arrive();
  const l4 = a.arrive();
  t.true(a.full());
  const q1 = a.acquire(far());
  l3();
  const q2 = a.acquire(far());
  l4();
  t.true(q1 instanceof Promise && q2 instanceof Promise, 'both arrivals got queue places');
  t.true(a.full(), 'now the queue itself is full');
  release();
  const r1 = await q1;
  r1();
  const r2 = await q2;
  r2();
  t.false(a.full());
});
