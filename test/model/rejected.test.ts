// The mismatch memory on its own, over a clock the test controls (pure logic: the store
// tests check it against s3rver).
import test from 'ava';
import fc from 'fast-check';
import { ModelStoreError } from '../../app/model/errors.js';
import { RejectedVersions } from '../../app/model/rejected.js';

const info = { bytes: 10, etag: '"v1"' };
const bad = (md5: string): ModelStoreError =>
  new ModelStoreError('md5_mismatch', 'x hashes to md5 ...', true, { md5, bytes: 10 });

test('refused only after two identical results, for a cool-off that doubles, until the version changes', (t) => {
  let now = 0;
  const memory = new RejectedVersions(60_000, () => now);
  memory.record('k', info, bad('a'));
  t.notThrows(() => memory.refuse('k', 's3://b/k', info), 'one mismatch may be transit damage');
  memory.record('k', info, bad('a'));
  t.throws(() => memory.refuse('k', 's3://b/k', info), { message: /not downloaded again for 60 s unless it changes/ });
  now = 59_999;
  t.throws(() => memory.refuse('k', 's3://b/k', info));
  now = 60_000;
  t.notThrows(() => memory.refuse('k', 's3://b/k', info), 'fetched again after the cool-off');
  memory.record('k', info, bad('a'));
  now += 119_999;
  t.throws(() => memory.refuse('k', 's3://b/k', info), undefined, 'then twice as long');
  t.notThrows(() => memory.refuse('k', 's3://b/k', { ...info, etag: '"v2"' }), 'a new version is fetched at once');
  t.notThrows(() => memory.refuse('k', 's3://b/k', info), 'and the old verdict is forgotten');
});

test('different wrong results, or no ETag, are never refused', (t) => {
  const memory = new RejectedVersions(60_000, () => 0);
  memory.record('k', info, bad('a'));
  memory.record('k', info, bad('b'));
  t.notThrows(() => memory.refuse('k', 's3://b/k', info));
  memory.record('n', { bytes: 10 }, bad('a'));
  memory.record('n', { bytes: 10 }, bad('a'));
  t.notThrows(() => memory.refuse('n', 's3://b/k', { bytes: 10 }));
});

test('property: with a 30 s cap, no 60 s window holds more than 2 fetches of an unchanged bad object', (t) => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 15_000, max: 30_000 }), { minLength: 5, maxLength: 60 }), (delays) => {
      let now = 0;
      const memory = new RejectedVersions(60_000, () => now);
      const fetches: number[] = [];
      for (const delay of delays) {
        try {
          memory.refuse('k', 's3://b/k', info);
          fetches.push(now);
          memory.record('k', info, bad('a'));
        } catch {
          // refused: HEAD only
        }
        now += delay;
      }
      return fetches.every((at, i) => (fetches[i + 2] ?? Infinity) - at >= 60_000);
    }),
  );
  t.pass();
});
