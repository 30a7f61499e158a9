import test from 'ava';
import { performance } from 'node:perf_hooks';
import { Admission, type Release } from '../../app/http/admission.js';
import { ApiError } from '../../app/http/errors.js';

function admission(maxInFlight: number, maxQueue: number) {
  const shed: string[] = [];
  const a = new Admission({ maxInFlight, maxQueue, retryAfterSeconds: 3 }, { onShed: (r) => shed.push(r), onChange: () => {} });
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
