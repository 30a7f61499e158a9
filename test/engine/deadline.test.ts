// Deadlines: an expired call rejects on time, and its late answers never reach another call.
import test from 'ava';
import { performance } from 'node:perf_hooks';
import { EngineError, type Prediction } from '../../app/engine/classifier.js';
import { Engines, inMs, SENTENCES } from './helpers.js';

const engines = new Engines();
test.after.always(() => engines.stopAll());

function top(preds: Prediction[] | undefined): string | undefined {
  return preds?.[0]?.label;
}

// ~3 MB of German: fastText needs far longer than the deadline to answer it.
const HUGE = Array.from({ length: 1000 }, (_, i) => `${i} ${SENTENCES.de} `.repeat(35).slice(0, 3000));

test('a tiny deadline on a huge batch rejects on time; the next call gets its own answer', async (t) => {
  // One child, so the late German lines and the next call share one FIFO.
  const engine = await engines.started({ poolSize: 1 });
  const deadline = inMs(20);
  const err = await t.throwsAsync(engine.predict(HUGE, 1, 0, deadline), { instanceOf: EngineError });
  t.is(err?.code, 'deadline_exceeded');
  const late = performance.now() - deadline;
  t.true(late < 1000, `rejected ${late.toFixed(0)} ms after the deadline`);
  t.true(engine.stats().pending > 0, 'the child still owes the expired lines');

  const [fr] = await engine.predict([SENTENCES.fr], 1, 0, inMs(10_000));
  t.is(top(fr), 'fr');
  const both = await engine.predict([SENTENCES.en, SENTENCES.it], 3, 0, inMs(10_000));
  t.deepEqual(both.map(top), ['en', 'it']);
  t.is(engine.stats().pending, 0);
  t.is(engine.stats().restarts, 0, 'an expired call does not cost a restart');
});

test('expired and live calls interleaved on one child: every live call is answered correctly', async (t) => {
  const engine = await engines.started({ poolSize: 1 });
  const chunk = HUGE.slice(0, 200);
  const calls: Promise<string>[] = [];
  for (let i = 0; i < 30; i++) {
    if (i % 2 === 0) {
      calls.push(
        engine.predict(chunk, 1, 0, inMs(2)).then(
          (r) => (r.every((p) => top(p) === 'de') ? 'de-ok' : 'de-WRONG'),
          (e: EngineError) => e.code,
        ),
      );
    } else {
      const lang = i % 4 === 1 ? 'fr' : 'it';
      calls.push(
        engine
          .predict([SENTENCES[lang]], 1, 0, inMs(10_000))
          .then((r) => (top(r[0]) === lang ? `${lang}-ok` : `${lang}-WRONG:${top(r[0])}`)),
      );
    }
  }
  const outcomes = await Promise.all(calls);
  for (let i = 0; i < outcomes.length; i++) {
    if (i % 2 === 0)
      t.true(outcomes[i] === 'deadline_exceeded' || outcomes[i] === 'de-ok', `call ${i}: ${outcomes[i]}`);
    else t.regex(outcomes[i] as string, /^(fr|it)-ok$/, `call ${i}`);
  }
  t.true(outcomes.includes('deadline_exceeded'));
});

test('a deadline on a split batch rejects the whole call once', async (t) => {
  const engine = await engines.started({ poolSize: 2 });
  let settled = 0;
  const err = await t.throwsAsync(
    engine.predict(HUGE, 1, 0, inMs(30)).finally(() => settled++),
    { instanceOf: EngineError },
  );
  t.is(err?.code, 'deadline_exceeded');
  t.is(settled, 1);
  const results = await engine.predict([SENTENCES.it, SENTENCES.en], 1, 0, inMs(10_000));
  t.deepEqual(results.map(top), ['it', 'en']);
});
