// The canaries' way in: the lock's `canaries` field, MODEL_CANARIES, the override rule, and
// which k tiers a run covers. Hostile shapes get a clear error naming the field, never a crash.
import test from 'ava';
import fc from 'fast-check';
import { canaryTiers } from '../../app/canary.js';
import { ConfigError, loadConfig } from '../../app/config.js';
import { applyOverrides, LockError, parseLock } from '../../app/model/lock.js';

const LOCK_FILE = '/srv/app/model.lock.json';
const base = {
  uri: 'file:///models/lid.176.ftz',
  md5: '340156704bb8c8e50c4abf35a7ec2569',
  bytes: 938013,
  name: 'lid176',
};
const good = [{ text: 'bonjour tout le monde', label: 'fr', score: 0.97 }];

test('a lock with canaries keeps them; any other value is a LockError naming "canaries", never another exception', (t) => {
  t.deepEqual(parseLock({ ...base, canaries: good }, LOCK_FILE).canaries, good);
  t.is(parseLock(base, LOCK_FILE).canaries, undefined);
  const entry = fc.record(
    {
      text: fc.oneof(fc.string(), fc.constant(''), fc.constant('a\nb'), fc.integer()),
      label: fc.oneof(fc.string(), fc.constant('__label__en'), fc.constant('e n')),
      score: fc.oneof(fc.double(), fc.string()),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(fc.oneof(fc.array(entry, { maxLength: 40 }), fc.anything()), (canaries) => {
      try {
        const lock = parseLock({ ...base, canaries }, LOCK_FILE);
        if (canaries === undefined) return lock.canaries === undefined; // absent: none
        // Accepted: exactly the valid shape.
        const list = lock.canaries ?? [];
        return (
          Array.isArray(canaries) &&
          list.length === canaries.length &&
          list.every(
            (c) =>
              c.text.trim() !== '' &&
              c.label !== '' &&
              c.score >= 0 &&
              c.score <= 1.0001 &&
              !c.label.startsWith('__label__'),
          )
        );
      } catch (error) {
        return error instanceof LockError && /canaries/.test(error.message);
      }
    }),
    { numRuns: 300 },
  );
});

test("MODEL_CANARIES: valid JSON replaces the lock's; malformed JSON or shape exits with a message naming it", (t) => {
  t.deepEqual(loadConfig({ MODEL_CANARIES: JSON.stringify(good) }).model.canaries, good);
  t.deepEqual(loadConfig({ MODEL_CANARIES: '[]' }).model.canaries, []);
  t.is(loadConfig({}).model.canaries, undefined);
  t.throws(() => loadConfig({ MODEL_CANARIES: '[{"text": "x"' }), {
    instanceOf: ConfigError,
    message: /MODEL_CANARIES is not valid JSON/,
  });
  t.throws(() => loadConfig({ MODEL_CANARIES: '[{"text": "x", "label": "en", "score": 2}]' }), {
    instanceOf: ConfigError,
    message: /MODEL_CANARIES \[0\] must be .*"score": number in \[0, 1\]/,
  });
  t.throws(() => loadConfig({ CANARY_INTERVAL_MS: '5' }), {
    instanceOf: ConfigError,
    message: /CANARY_INTERVAL_MS=5 is out of range/,
  });
});

test("the lock's canaries apply only while the served object is the lock's own", (t) => {
  const lock = parseLock({ ...base, canaries: good }, LOCK_FILE);
  t.deepEqual(applyOverrides(lock, LOCK_FILE, {}).canaries, good);
  t.deepEqual(applyOverrides(lock, LOCK_FILE, { name: 'other-name' }).canaries, good);
  const other = applyOverrides(lock, LOCK_FILE, {
    uri: 'file:///models/other.bin',
    md5: '0123456789abcdef0123456789abcdef',
  });
  t.is(other.canaries, undefined, 'another model has other answers');
});

test('canaries cover k=1 and every wider tier with a ready child, never one still loading', (t) => {
  t.deepEqual(canaryTiers(undefined), [1]);
  const tier = (
    k: number,
    state: 'idle' | 'loading' | 'ready' | 'failing',
  ): { k: number; state: typeof state; children: number } => ({ k, state, children: state === 'ready' ? 1 : 0 });
  t.deepEqual(canaryTiers([tier(1, 'ready'), tier(10, 'loading'), tier(100, 'idle')]), [1]);
  t.deepEqual(canaryTiers([tier(1, 'ready'), tier(10, 'ready'), tier(100, 'failing')]), [1, 10]);
  t.deepEqual(canaryTiers([tier(1, 'failing'), tier(10, 'ready'), tier(100, 'ready')]), [1, 10, 100]);
});
