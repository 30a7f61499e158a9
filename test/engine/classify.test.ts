// The engine on the real binary and lid.176.ftz: what a caller gets back.
import test from 'ava';
import { EngineError, type Prediction } from '../../app/engine/classifier.js';
import type { FastTextPool } from '../../app/engine/process-pool.js';
import { Engines, inMs, SENTENCES, type Lang } from './helpers.js';

const engines = new Engines();
let engine: FastTextPool;

test.before(async () => {
  engine = await engines.started({ poolSize: 2, warmTiers: true });
});
test.after.always(() => engines.stopAll());

const LANGS = Object.keys(SENTENCES) as Lang[];

function top(preds: Prediction[] | undefined): string | undefined {
  return preds?.[0]?.label;
}

test('English, French, German and Italian sentences get their language', async (t) => {
  const results = await engine.predict(
    LANGS.map((l) => SENTENCES[l]),
    1,
    0,
    inMs(2000),
  );
  t.is(results.length, LANGS.length);
  LANGS.forEach((lang, i) => {
    const preds = results[i] as Prediction[];
    t.is(preds.length, 1);
    t.is(top(preds), lang);
    t.true((preds[0] as Prediction).score > 0.5, `${lang} score ${preds[0]?.score}`);
  });
});

test('labels: the 176 languages, without prefix, case kept', (t) => {
  const labels = engine.labels();
  t.is(labels.length, 176);
  t.is(new Set(labels).size, 176);
  for (const l of ['en', 'fr', 'de', 'it', 'zh', 'ja']) t.true(labels.includes(l), l);
  t.false(labels.some((l) => l.startsWith('__label__') || l.includes(' ')));
  t.deepEqual(engine.kTiers(), [1, 10, 100]);
});

test('shapes: label strings from the label set, numeric scores in [0, 1], best first', async (t) => {
  const [preds] = await engine.predict([SENTENCES.fr], 100, 0, inMs(2000));
  t.true(Array.isArray(preds));
  const list = preds as Prediction[];
  t.true(list.length > 10 && list.length <= 100, `got ${list.length}`);
  const known = new Set(engine.labels());
  for (const p of list) {
    t.deepEqual(Object.keys(p).sort(), ['label', 'score']);
    t.is(typeof p.label, 'string');
    t.true(known.has(p.label), p.label);
    t.is(typeof p.score, 'number');
    t.true(p.score >= 0 && p.score <= 1, String(p.score));
  }
  for (let i = 1; i < list.length; i++) t.true((list[i - 1] as Prediction).score >= (list[i] as Prediction).score);
});

test('k: each k gets the top k, the same whichever process group serves it', async (t) => {
  const text = [SENTENCES.it];
  const [wide] = await engine.predict(text, 100, 0, inMs(2000));
  // fastText prunes labels under ~1e-5, so a line can hold fewer than k.
  const available = wide?.length ?? 0;
  t.true(available > 11, `k=100 gave ${available}`);
  for (const k of [1, 2, 5, 10, 11, 50]) {
    const [preds] = await engine.predict(text, k, 0, inMs(2000));
    t.is(preds?.length, Math.min(k, available), `k=${k}`);
    t.deepEqual(
      preds?.map((p) => p.label),
      wide?.slice(0, k).map((p) => p.label),
      `k=${k}`,
    );
  }
  // k above the widest tier (callers validate k <= maxK) is cut to it, not an error.
  const [capped] = await engine.predict(text, 500, 0, inMs(2000));
  t.is(capped?.length, wide?.length);
});

test('threshold keeps exactly the predictions scoring at least it', async (t) => {
  const [five] = await engine.predict([SENTENCES.de], 5, 0, inMs(2000));
  const scores = (five as Prediction[]).map((p) => p.score);
  t.is(scores.length, 5);
  const between = ((scores[1] as number) + (scores[2] as number)) / 2;
  const [two] = await engine.predict([SENTENCES.de], 5, between, inMs(2000));
  t.deepEqual(two, five?.slice(0, 2));
  const [exact] = await engine.predict([SENTENCES.de], 5, scores[2] as number, inMs(2000));
  t.deepEqual(exact, five?.slice(0, 3));
  const [none] = await engine.predict([SENTENCES.de], 1, 1.5, inMs(2000));
  t.deepEqual(none, []);
  // The k=1 group filters too.
  const [one] = await engine.predict([SENTENCES.de], 1, (scores[0] as number) + 0.001, inMs(2000));
  t.deepEqual(one, []);
});

test('framing: every nasty input gives one result and the sentence after it is still right', async (t) => {
  let controls = '';
  for (let c = 0; c < 32; c++) controls += String.fromCharCode(c);
  const nasty = [
    '',
    ' ',
    '\n',
    '\r',
    '\r\n',
    '\n\n\n',
    'one\ntwo\nthree',
    'carriage\rreturn',
    '\t\t\t',
    '\0',
    '\0\v\f\t',
    controls,
    `${controls}${SENTENCES.en}${controls}`,
    'x'.repeat(100_000),
    `${SENTENCES.de} `.repeat(1100).slice(0, 100_000),
    '\n'.repeat(1000),
    '😀🎉 emoji only 🇫🇷',
    '\uD800',
    '\uDC00 lone low surrogate \uD83D',
    '\uFEFFbyte order mark',
    'line\u2028separator\u2029paragraph\u0085next',
    'مرحبا بالعالم، هذا نص عربي',
    '这是一个中文句子，用来测试。',
    'e\u0301\u0301\u0301 combining',
    '__label__en',
    '__label__fr __label__de',
    '\x7f\x80\x9f',
  ];
  const batch: string[] = [];
  for (const text of nasty) batch.push(text, SENTENCES.fr);
  batch.push(SENTENCES.en);
  const results = await engine.predict(batch, 1, 0, inMs(5000));
  t.is(results.length, batch.length);
  for (let i = 0; i < nasty.length; i++) {
    t.true(Array.isArray(results[2 * i]), `result for nasty #${i}`);
    t.is(top(results[2 * i + 1]), 'fr', `the sentence after nasty #${i} (${JSON.stringify(nasty[i]?.slice(0, 20))})`);
  }
  t.is(top(results[batch.length - 1]), 'en');

  // A text with newlines is classified as the same words on one line, not as its last line.
  const [multi, joined] = await engine.predict(
    [`${SENTENCES.en}\n${SENTENCES.fr}`, `${SENTENCES.en} ${SENTENCES.fr}`],
    3,
    0,
    inMs(2000),
  );
  t.deepEqual(multi, joined);
});

test('a batch split across children comes back in order', async (t) => {
  const langs: Lang[] = [];
  for (let i = 0; i < 500; i++) langs.push(LANGS[(i * 7 + (i >> 3)) % LANGS.length] as Lang);
  const results = await engine.predict(
    langs.map((l) => SENTENCES[l]),
    1,
    0,
    inMs(5000),
  );
  t.deepEqual(results.map(top), langs);
});

test('concurrent calls each get their own answers', async (t) => {
  const calls = Array.from({ length: 200 }, (_, i) => {
    const lang = LANGS[i % LANGS.length] as Lang;
    const n = 1 + (i % 40);
    return engine
      .predict(
        Array.from({ length: n }, () => SENTENCES[lang]),
        i % 3 === 0 ? 3 : 1,
        0,
        inMs(5000),
      )
      .then((r) => ({ lang, n, labels: r.map(top) }));
  });
  for (const { lang, n, labels } of await Promise.all(calls)) {
    t.deepEqual(
      labels,
      Array.from({ length: n }, () => lang),
    );
  }
});

test('an empty batch is answered without a process', async (t) => {
  t.deepEqual(await engine.predict([], 1, 0, inMs(1000)), []);
});

test('a deadline already past rejects with deadline_exceeded', async (t) => {
  const err = await t.throwsAsync(engine.predict([SENTENCES.en], 1, 0, inMs(-1)), { instanceOf: EngineError });
  t.is(err?.code, 'deadline_exceeded');
});
