// The stdout line protocol parsed in place: chunk boundaries anywhere, score formats as
// C++ iostreams print them, k cut-off and threshold, and the input-line sanitizer.
import test from 'ava';
import { hasTokens, LineFramer, parseDecimal, parsePredictions, toInputLine } from '../../app/engine/framing.js';

function framed(chunks: readonly Buffer[]): string[] {
  const framer = new LineFramer();
  const lines: string[] = [];
  for (const chunk of chunks) framer.push(chunk, (buf, s, e) => lines.push(buf.toString('utf8', s, e)));
  return lines;
}

test('lines are reassembled whatever the chunk boundaries', (t) => {
  const lines = ['__label__en 0.9 __label__fr 0.05', '', '__label__de 1.00001', '__label__zh 1e-05', '', ''];
  const whole = Buffer.from(`${lines.join('\n')}\n`);
  // Every split into two chunks, and the byte-at-a-time worst case.
  for (let cut = 0; cut <= whole.length; cut++) {
    t.deepEqual(framed([whole.subarray(0, cut), whole.subarray(cut)]), lines, `cut at ${cut}`);
  }
  t.deepEqual(framed([...whole].map((b) => Buffer.from([b]))), lines);
  // An unfinished line is held back until its newline arrives.
  t.deepEqual(framed([Buffer.from('__label__en 0.5')]), []);
});

test('scores parse to the same double as parseFloat', (t) => {
  const samples = [
    '0',
    '1',
    '0.5',
    '0.878464',
    '1.00001',
    '0.124504',
    '1e-05',
    '1.00706e-05',
    '3.2e-05',
    '5e-06',
    '0.000123457',
    '9.99999e-01',
    '123456789012345',
    '1234567890123456789',
    '1E+2',
    '7e22',
    '7e-22',
    '0.1',
    '0.2',
    '0.3',
    '2.22507e-308',
  ];
  for (const s of samples) {
    const buf = Buffer.from(`x${s}y`);
    t.is(parseDecimal(buf, 1, 1 + s.length), Number.parseFloat(s), s);
  }
  // Every 6-significant-digit probability fastText can print between 1e-6 and 1.
  for (let i = 0; i < 20_000; i++) {
    const s = (Math.random() * 10 ** -Math.floor(Math.random() * 6)).toPrecision(6).replace(/\.?0+$/, '');
    const buf = Buffer.from(s);
    t.is(parseDecimal(buf, 0, buf.length), Number.parseFloat(s), s);
  }
});

test('predictions: prefix stripped, case kept, k cut-off, threshold, scores clamped', (t) => {
  const line = Buffer.from('__label__EN 1.00001 __label__Fr 0.5 de 0.25 __label__x 1e-05');
  const all = parsePredictions(line, 0, line.length, 10, 0);
  t.deepEqual(all, [
    { label: 'EN', score: 1 },
    { label: 'Fr', score: 0.5 },
    { label: 'de', score: 0.25 },
    { label: 'x', score: 0.00001 },
  ]);
  t.deepEqual(
    parsePredictions(line, 0, line.length, 2, 0).map((p) => p.label),
    ['EN', 'Fr'],
  );
  t.deepEqual(
    parsePredictions(line, 0, line.length, 10, 0.25).map((p) => p.label),
    ['EN', 'Fr', 'de'],
  );
  t.deepEqual(
    parsePredictions(line, 0, line.length, 10, 0.26).map((p) => p.label),
    ['EN', 'Fr'],
  );
  t.deepEqual(parsePredictions(Buffer.alloc(0), 0, 0, 5, 0), []);
  const utf8 = Buffer.from('__label__語 0.7');
  t.deepEqual(parsePredictions(utf8, 0, utf8.length, 1, 0), [{ label: '語', score: 0.7 }]);
});

test('input lines: \n and \r become spaces, a whole-token </s> becomes a space, everything else is kept', (t) => {
  const line = (text: string): string => toInputLine(text);
  t.is(line('plain text'), 'plain text');
  t.is(line('a\nb\r\nc\rd'), 'a b  c d');
  t.is(line('\t\0\v\f'), '\t\0\v\f');
  t.is(line(''), '');
  for (const s of ['a\nb', '\r', '\n\n\n', 'x\r\ny']) t.false(/[\r\n]/.test(line(s)));
  t.is(line('hello </s> wie geht es dir'), 'hello   wie geht es dir');
  t.is(line('</s>'), ' ');
  t.is(line('</s> </s>\t</s>\0</s>\v</s>\f</s>'), '   \t \0 \v \f ');
  t.is(line('a\n</s>\rb'), 'a   b');
  // Not whole tokens: fastText reads these as words, not as the end of a line.
  for (const s of ['</s>x', 'x</s>', '</s></s>', '<</s>>', '</ s>', '< /s>', '</S>', '</s>\u0085', '\u2028</s>'])
    t.is(line(s), s);
});

test('tokens: a line of separators, `</s>` or labels only has no word (fastText reads `__label__` tokens as labels)', (t) => {
  for (const s of [
    '',
    ' ',
    '\t\v\f\0 ',
    '\n\r',
    '</s>',
    ' </s> \n </s>',
    '__label__en',
    '__label__',
    ' __label__a\0__label__b\t</s>',
  ])
    t.false(hasTokens(toInputLine(s)), JSON.stringify(s));
  for (const s of [
    'a',
    ' \u0085',
    '\u2028',
    '\u00a0',
    '😀',
    '\u001c',
    '</s>x',
    'x__label__en',
    '__label__en word',
    '_label__en',
    '__LABEL__en',
  ])
    t.true(hasTokens(toInputLine(s)), JSON.stringify(s));
});
