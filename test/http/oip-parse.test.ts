// The OIP request parser and the binary tensor codec, in process, under arbitrary input: an
// attacker's bytes and header values give a plan or a 400/422 ApiError, never another
// exception; BYTES elements round-trip; and a plan never holds more texts than the body
// could carry (no allocation driven by a declared shape).
import test from 'ava';
import fc from 'fast-check';
import { decodeBytesElements, encodeBytesElements, encodeFp32, splitBody } from '../../app/http/oip/binary.js';
import { ApiError, isApiError } from '../../app/http/errors.js';
import { readInferRequest } from '../../app/http/oip/infer-request.js';
import type { Limits } from '../../app/http/validate.js';

const limits = { maxBodyBytes: 1_048_576, maxTextChars: 100_000, maxBatch: 1000, maxK: 100 } as Limits;

function parseAll(body: Buffer, headerLength: string | undefined) {
  const { json, tail } = splitBody(body, headerLength);
  let parsed: unknown;
  try {
    parsed = JSON.parse(json.toString('utf8'));
  } catch {
    throw new ApiError(400, 'invalid_json', 'not JSON');
  }
  return readInferRequest(parsed, tail, limits);
}

function outcome(run: () => unknown): 'ok' | number {
  try {
    run();
    return 'ok';
  } catch (error) {
    if (isApiError(error)) return error.status;
    throw error;
  }
}

test('BYTES elements round-trip for any well-formed text, empty ones included', (t) => {
  fc.assert(
    fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 50 }), { maxLength: 20 }), (texts) => {
      t.deepEqual(decodeBytesElements(encodeBytesElements(texts), 'x'), texts);
    }),
  );
});

test('FP32 encoding is 4 little-endian bytes per score, rounded to single precision', (t) => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 20 }), (scores) => {
      const buf = encodeFp32(scores);
      t.is(buf.length, scores.length * 4);
      scores.forEach((s, i) => t.is(buf.readFloatLE(i * 4), Math.fround(s)));
    }),
  );
});

test('arbitrary bytes and header lengths: a plan or a 400, never a crash', (t) => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200 }),
      fc.option(fc.oneof(fc.nat({ max: 300 }).map(String), fc.string({ maxLength: 6 }))),
      (bytes, headerLength) => {
        const result = outcome(() => parseAll(Buffer.from(bytes), headerLength ?? undefined));
        t.true(result === 'ok' || result === 400, String(result));
      },
    ),
  );
});

test('a well-formed header over a mangled tail: a plan whose texts came from the tail, or a 400/422', (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 6 }),
      fc.nat({ max: 2_000_000_000 }),
      fc.integer({ min: -8, max: 8 }),
      fc.nat({ max: 40 }),
      fc.integer({ min: 0, max: 255 }),
      (texts, declaredCount, sizeSkew, flipAt, flipTo) => {
        const tail = encodeBytesElements(texts);
        if (tail.length > 0) tail[flipAt % tail.length] = flipTo;
        const header = {
          inputs: [
            {
              name: 'text',
              datatype: 'BYTES',
              shape: [declaredCount % 2 === 0 ? texts.length : declaredCount],
              parameters: { binary_data_size: Math.max(0, tail.length + sizeSkew) },
            },
          ],
        };
        const json = Buffer.from(JSON.stringify(header));
        let plan: ReturnType<typeof parseAll> | undefined;
        const result = outcome(() => {
          plan = parseAll(Buffer.concat([json, tail]), String(json.length));
        });
        t.true(result === 'ok' || result === 400 || result === 422, String(result));
        if (plan) t.true(plan.texts.length <= tail.length / 4, 'every text costs at least its 4-byte length');
      },
    ),
  );
});

test('JSON requests of any nesting and shape: a plan or a 400/422, and a plan matches the shape', (t) => {
  const element = fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.constant(null));
  const data = fc.oneof(
    fc.array(element, { maxLength: 5 }),
    fc.array(fc.array(element, { maxLength: 3 }), { maxLength: 5 }),
  );
  const shape = fc.array(fc.integer({ min: -1, max: 6 }), { maxLength: 3 });
  fc.assert(
    fc.property(
      data,
      shape,
      fc.constantFrom('text', 'texts', 'input0'),
      fc.constantFrom('BYTES', 'FP32'),
      (d, s, name, datatype) => {
        let plan: ReturnType<typeof readInferRequest> | undefined;
        const result = outcome(() => {
          plan = readInferRequest({ inputs: [{ name, datatype, shape: s, data: d }] }, Buffer.alloc(0), limits);
        });
        t.true(result === 'ok' || result === 400 || result === 422, String(result));
        if (plan) {
          t.is(name, 'text');
          t.is(plan.texts.length, s[0] ?? -1);
          t.true(s.length === 1 || (s.length === 2 && s[1] === 1));
        }
      },
    ),
  );
});
