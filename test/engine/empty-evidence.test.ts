// Texts in which fastText reads no token get [] (no label without evidence); texts with a
// token, even one the model knows nothing of, get the model's own answer.
import test from 'ava';
import type { Prediction } from '../../app/engine/classifier.js';
import { Engines, inMs, parseRawLine, rawPredict, SENTENCES } from './helpers.js';

const engines = new Engines();
test.after.always(() => engines.stopAll());

const NO_TOKENS = [
  '',
  ' ',
  '   ',
  '\t',
  '\n',
  '\r\n',
  '\v\f\0',
  ' \t\n\r\v\f\0 ',
  '</s>',
  ' </s> ',
  '</s>\n</s>\t</s>',
];

test.serial('texts without tokens get an empty list, in place, beside answered texts', async (t) => {
  const engine = await engines.started({ poolSize: 2 });
  // The binary's answer for such a text is the empty-line prior: a label with no evidence.
  const [prior] = await rawPredict([''], 1);
  t.deepEqual(
    parseRawLine(prior ?? '').map((p) => p.label),
    ['en'],
  );

  const texts = NO_TOKENS.flatMap((empty) => [empty, SENTENCES.fr]);
  for (const k of [1, 3, 100]) {
    const got = await engine.predict(texts, k, 0, inMs(5000));
    t.is(got.length, texts.length);
    texts.forEach((text, i) => {
      if (text === SENTENCES.fr) t.is(got[i]?.[0]?.label, 'fr', `k=${k} #${i}`);
      else t.deepEqual(got[i], [], `k=${k} ${JSON.stringify(text)}`);
    });
  }
  // A call with nothing to send is answered without a child.
  const before = engine.stats().lastProgressAt;
  t.deepEqual(
    await engine.predict(NO_TOKENS, 1, 0, inMs(5000)),
    NO_TOKENS.map((): Prediction[] => []),
  );
  t.is(engine.stats().lastProgressAt, before);
  t.is(engine.stats().restarts, 0);
});

test.serial(
  "emoji-only and unknown-word texts are tokens to fastText: the model's own answer, as the binary gives it",
  async (t) => {
    const engine = await engines.started({ poolSize: 1 });
    const texts = ['😀', '😀 😀😀', '\u2028', '\u0085', 'qqqqzzzz'];
    const got = await engine.predict(texts, 3, 0, inMs(5000));
    const raw = await rawPredict(texts, 3);
    texts.forEach((text, i) => t.deepEqual(got[i], parseRawLine(raw[i] ?? ''), JSON.stringify(text)));
    // With lid.176, the emoji has no n-gram left after pruning: the binary's answer is its prior.
    const [prior] = await rawPredict([''], 3);
    t.is(raw[0], prior);
  },
);
