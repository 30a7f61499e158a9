// The structure pre-scan against the structure JSON.parse finds, on generated JSON split into
// arbitrary chunks: it must count depth, keys, values and array lengths exactly (a body at a
// limit passes, one past it is refused), whatever the strings hold (quotes, backslashes).
import test from 'ava';
import fc from 'fast-check';
import { ApiError, isApiError } from '../../app/http/errors.js';
import { JsonShapeScanner, type JsonShapeLimits } from '../../app/http/json-shape.js';

interface Shape {
  depth: number;
  keys: number;
  values: number;
  longestArray: number;
}

/** The shape as the scanner defines it: a value per container opened and per comma. */
function shapeOf(value: unknown, level = 0, into: Shape = { depth: 0, keys: 0, values: 0, longestArray: 0 }): Shape {
  if (typeof value !== 'object' || value === null) return into;
  into.depth = Math.max(into.depth, level + 1);
  const items = Array.isArray(value) ? (value as unknown[]) : Object.values(value);
  into.values += 1 + Math.max(0, items.length - 1);
  if (Array.isArray(value)) into.longestArray = Math.max(into.longestArray, value.length);
  else into.keys += items.length;
  for (const item of items) shapeOf(item, level + 1, into);
  return into;
}

function scan(text: string, limits: JsonShapeLimits, cuts: readonly number[]): ApiError | undefined {
  const bytes = Buffer.from(text);
  const scanner = new JsonShapeScanner(limits);
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  try {
    for (const at of [...points, bytes.length]) {
      scanner.feed(bytes.subarray(from, at));
      from = at;
    }
  } catch (error) {
    if (isApiError(error)) return error;
    throw error;
  }
  return undefined;
}

const tricky = fc.oneof(
  fc.string(),
  fc.constantFrom('"', '\\', '\\"', '\\\\', '"]', '{"a":[', ',', ':'),
  fc.string({ unit: 'grapheme' }),
);
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    tricky,
    fc.integer(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 6 }),
    fc.dictionary(tricky, tie('value'), { maxKeys: 5 }),
  ),
})).value;

test('counts exactly what JSON.parse finds: at the limits passes, one past any limit is refused', (t) => {
  fc.assert(
    fc.property(json, fc.array(fc.nat(), { maxLength: 8 }), fc.boolean(), (value, cuts, spaced) => {
      const text = JSON.stringify(value, null, spaced ? 1 : undefined);
      const s = shapeOf(JSON.parse(text));
      const exact: JsonShapeLimits = {
        maxDepth: Math.max(1, s.depth),
        maxKeys: s.keys,
        maxArrayElements: Math.max(1, s.longestArray),
        maxValues: s.values,
      };
      if (scan(text, exact, cuts) !== undefined) return false;
      if (s.depth > 1 && scan(text, { ...exact, maxDepth: s.depth - 1 }, cuts)?.code !== 'body_too_complex')
        return false;
      if (s.keys > 0 && scan(text, { ...exact, maxKeys: s.keys - 1 }, cuts)?.code !== 'body_too_complex') return false;
      if (s.values > 0 && scan(text, { ...exact, maxValues: s.values - 1 }, cuts)?.code !== 'body_too_complex')
        return false;
      if (
        s.longestArray > 1 &&
        scan(text, { ...exact, maxArrayElements: s.longestArray - 1 }, cuts)?.code !== 'batch_too_large'
      )
        return false;
      return true;
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('the attack bodies are refused after a bounded prefix, and a 1 MiB batch passes in a few ms', (t) => {
  const limits: JsonShapeLimits = { maxDepth: 32, maxKeys: 1024, maxArrayElements: 1000, maxValues: 2024 };
  t.is(scan('['.repeat(500_000) + ']'.repeat(500_000), limits, [])?.code, 'body_too_complex');
  t.is(
    scan(`{${Array.from({ length: 100_000 }, (_, i) => `"k${i}":1`).join(',')}}`, limits, [])?.code,
    'body_too_complex',
  );
  t.is(scan(JSON.stringify({ texts: new Array<string>(175_000).fill('ab') }), limits, [])?.code, 'batch_too_large');
  t.is(scan(`[${new Array<string>(600).fill('[1,1,1,1]').join(',')}]`, limits, [])?.code, 'body_too_complex');
  const batch = JSON.stringify({
    texts: Array.from({ length: 1000 }, (_, i) => `${'"quoted" \\ text, [with] {json} : '.repeat(28)}${i}`),
  });
  t.true(batch.length > 1_000_000);
  const started = performance.now();
  t.is(scan(batch, limits, [65536, 131072, 500_000]), undefined);
  t.log(`1 MiB batch scanned in ${(performance.now() - started).toFixed(1)} ms`);
});
