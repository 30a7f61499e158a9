// Framing by construction (docs/engine.md, "Framing"): no text, however hostile, makes a
// child print more or fewer than one answer line, so no answer ever lands on another
// caller's text. Real engine, real binary, lid.176.ftz.
import test from 'ava';
import fc from 'fast-check';
import { performance } from 'node:perf_hooks';
import type { Prediction } from '../../app/engine/classifier.js';
import { toInputLine } from '../../app/engine/framing.js';
import { Engines, inMs, parseRawLine, rawPredict, SENTENCES, type Lang } from './helpers.js';

const engines = new Engines();
test.after.always(() => engines.stopAll());

const LANGS = Object.keys(SENTENCES) as Lang[];

function top(preds: Prediction[] | undefined): string | undefined {
  return preds?.[0]?.label;
}

/** Pieces an attacker would put in a text to confuse fastText's line reader. */
const PIECES = [
  '</s>',
  ' </s> ',
  '\t</s>\t',
  '\0</s>\0',
  '\v</s>\v',
  '\f</s>\f',
  '\r</s>\r',
  '\n</s>\n',
  '</s></s>',
  '</s> </s>',
  '<',
  '/',
  's>',
  '</',
  '/s>',
  '</s',
  '< /s>',
  '</S>',
  '__label__',
  '__label__en ',
  '__label__de',
  '\0',
  '\r',
  '\n',
  '\r\n',
  '\v',
  '\f',
  '\t',
  ' ',
  '\u0085',
  '\u2028',
  '\u2029',
  '\u00a0',
  '\u001c',
  '\ud800',
  '😀',
  'hello',
  'wie geht es dir',
  'bonjour',
  'ciao',
  'x',
] as const;
const LONG_TOKENS = [
  'x'.repeat(10_000),
  'ab'.repeat(5_000),
  '</s>'.repeat(2_500),
  `${'y'.repeat(10_000)}</s>`,
] as const;

const hostileText: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .array(
        fc.oneof(
          { weight: 12, arbitrary: fc.constantFrom(...PIECES) },
          { weight: 2, arbitrary: fc.string({ maxLength: 6 }) },
          { weight: 1, arbitrary: fc.constantFrom(...LONG_TOKENS) },
        ),
        { maxLength: 10 },
      )
      .map((parts) => parts.join('')),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      '\n',
      '\r\n',
      '\t \v\f\0',
      '</s>',
      ' </s>\n</s> ',
      '__label__fr',
      '__label__ __label__en\t</s>',
    ),
  },
);

/** True when fastText's reader finds no word in the text: only `</s>` and label tokens (test-side oracle). */
function noTokens(text: string): boolean {
  return text.split(/[ \n\r\t\v\f\0]/).every((w) => w === '' || w === '</s>' || w.startsWith('__label__'));
}

test.serial(
  "reproduction: a client sending </s> texts does not shift other clients' answers, and no child restarts",
  async (t) => {
    const engine = await engines.started({ poolSize: 2, warmTiers: true });
    const hostile = [
      'hello </s> wie geht es dir',
      '</s>',
      'a </s> b </s> c </s>',
      'bonjour\n</s>\ntout le monde',
      '</s> </s> </s>',
    ];
    let wrong = 0;
    let failed = 0;
    let answered = 0;
    const attacker = async (): Promise<void> => {
      for (let round = 0; round < 40; round++) {
        await Promise.all(hostile.map((h) => engine.predict([h], 1, 0, inMs(5000)).catch(() => undefined)));
      }
    };
    const client = async (lang: Lang): Promise<void> => {
      for (let round = 0; round < 40; round++) {
        try {
          const [preds] = await engine.predict([SENTENCES[lang]], 1, 0, inMs(5000));
          answered++;
          if (top(preds) !== lang) wrong++;
        } catch {
          failed++;
        }
      }
    };
    await Promise.all([attacker(), ...LANGS.map(client), ...LANGS.map(client)]);
    t.log(`answered ${answered}, wrong ${wrong}, failed ${failed}, restarts ${engine.stats().restarts}`);
    t.is(failed, 0, 'known sentences failed');
    t.is(wrong, 0, 'known sentences answered with another language');
    t.is(answered, 2 * 40 * LANGS.length);
    t.is(engine.stats().restarts, 0);
  },
);

test.serial(
  "differential: every text's answer is the raw binary's answer for its prepared line alone (k=1 and k=5)",
  async (t) => {
    const engine = await engines.started({ poolSize: 2, warmTiers: true });
    const until = performance.now() + 20_000;
    let runs = 0;
    let texts = 0;
    let empty = 0;
    for (const k of [1, 5]) {
      await fc.assert(
        fc.asyncProperty(fc.array(hostileText, { minLength: 1, maxLength: 48 }), async (batch) => {
          if (performance.now() > until) return; // bounded: the suite stays fast on a busy machine
          runs++;
          const lines = batch.map((text) => toInputLine(text));
          const [got, raw, prior] = await Promise.all([
            engine.predict(batch, k, 0, inMs(10_000)),
            rawPredict(lines, k),
            rawPredict([''], k),
          ]);
          // The binary read each prepared line as exactly one line.
          t.is(raw.length, lines.length, 'the binary printed one answer per prepared line');
          t.is(got.length, batch.length);
          batch.forEach((text, i) => {
            texts++;
            if (noTokens(text)) {
              empty++;
              t.deepEqual(got[i], [], `no tokens in ${JSON.stringify(text.slice(0, 80))}: no label`);
              // What the binary would have said: the model's prior for an empty line.
              t.is(raw[i], prior[0]);
            } else {
              t.deepEqual(got[i], parseRawLine(raw[i] ?? ''), `text ${JSON.stringify(text.slice(0, 80))}`);
            }
          });
        }),
        { numRuns: 25 },
      );
    }
    t.log(`${runs} batches, ${texts} texts (${empty} without tokens)`);
    t.true(texts > 50);
    t.is(engine.stats().restarts, 0);
  },
);

test.serial(
  'done-when: 6 concurrent clients, 25 rounds of batches mixing hostile texts and known sentences: 0 wrong answers, 0 restarts',
  async (t) => {
    const engine = await engines.started({ poolSize: 2, warmTiers: true });
    const hostile = fc.sample(hostileText, { numRuns: 600, seed: 20261130 });
    let wrong = 0;
    let failed = 0;
    let checked = 0;
    const client = async (c: number): Promise<void> => {
      for (let round = 0; round < 25; round++) {
        const batch: string[] = [];
        const expected: (Lang | undefined)[] = [];
        for (let i = 0; i < 8 + ((c + round) % 40); i++) {
          if (i % 2 === 0) {
            const lang = LANGS[(c + round + i) % LANGS.length] as Lang;
            batch.push(SENTENCES[lang]);
            expected.push(lang);
          } else {
            batch.push(hostile[(c * 97 + round * 31 + i) % hostile.length] as string);
            expected.push(undefined);
          }
        }
        let got: Prediction[][];
        try {
          got = await engine.predict(batch, round % 3 === 0 ? 3 : 1, 0, inMs(10_000));
        } catch {
          failed++;
          continue;
        }
        expected.forEach((lang, i) => {
          if (lang === undefined) return;
          checked++;
          if (top(got[i]) !== lang) wrong++;
        });
      }
    };
    await Promise.all(Array.from({ length: 6 }, (_, c) => client(c)));
    t.log(
      `${checked} known sentences checked, ${wrong} wrong, ${failed} calls failed, ${engine.stats().restarts} restarts`,
    );
    t.is(failed, 0);
    t.is(wrong, 0);
    t.true(checked > 6 * 25 * 4);
    t.is(engine.stats().restarts, 0);
  },
);
