// Triton's binary tensor data extension both ways, and compressed bodies both ways, against
// the real service: a JSON header plus binary tail must answer exactly what the same request
// in JSON answers (property-based over arbitrary Unicode texts), every inconsistent tail is a
// 400, and a gzip bomb is refused at the limit without inflating it.
import test from 'ava';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { parseRawLine, rawPredict } from '../engine/helpers.js';
import { startService, type RunningService } from '../helpers/service.js';
import { bytesElements, call, checked, decode, outputValues, withTail, type InferBody } from './oip-support.js';

let svc: RunningService;
let cacheDir: string;
const MODEL = 'lid176';
const INFER = `/v2/models/${MODEL}/infer`;
const TEXTS = [
  'Das ist ein deutscher Satz über das Wetter.',
  'Ceci est une phrase en français.',
  'Это предложение на русском языке.',
];
const EXPECTED = ['de', 'fr', 'ru'];
const MAX_BODY = 1_048_576; // the service's default MAX_BODY_BYTES

test.before(async () => {
  cacheDir = mkdtempSync(path.join(os.tmpdir(), 'fte-oipbin-'));
  svc = await startService({ env: { MODEL_CACHE_DIR: cacheDir, CACHE_ENABLED: 'false' } });
  await svc.waitReady(20_000);
});

test.after.always(async () => {
  await svc?.stop();
  rmSync(cacheDir, { recursive: true, force: true });
});

const binaryInput = (texts: readonly string[], shape: number[] = [texts.length]) => {
  const tail = bytesElements(texts);
  return { input: { name: 'text', datatype: 'BYTES', shape, parameters: { binary_data_size: tail.length } }, tail };
};

const JSON_TYPE = { 'Content-Type': 'application/json' };

async function post(body: Buffer | string, headers: Record<string, string> = {}) {
  const res = await call(svc.url, 'POST', INFER, body, headers);
  return { res, ...checked('POST', INFER, res) };
}

test('binary input in, binary output out: the response is a JSON header and little-endian tensors', async (t) => {
  const { input, tail } = binaryInput(TEXTS, [3, 1]);
  const { body, headerLength } = withTail(
    { id: 'b1', inputs: [input], parameters: { binary_data_output: true, k: 2 } },
    tail,
  );
  const { res, json, tail: out } = await post(body, { 'Inference-Header-Content-Length': headerLength });
  t.is(res.status, 200, JSON.stringify(json));
  t.is(res.headers['content-type'], 'application/octet-stream');
  t.is(Number(res.headers['inference-header-content-length']) + out.length, res.raw.length);
  const header = json as InferBody;
  t.is(header.id, 'b1');
  t.deepEqual(
    header.outputs.map((o) => [o.name, o.shape, o.data === undefined]),
    [
      ['label', [3, 2], true],
      ['score', [3, 2], true],
    ],
  );
  const sizes = header.outputs.map((o) => o.parameters?.binary_data_size ?? -1);
  t.is(
    sizes.reduce((a, b) => a + b, 0),
    out.length,
  );
  t.is(sizes[1], 3 * 2 * 4, 'FP32 is 4 bytes an element');
  const values = outputValues({ json, tail: out });
  t.deepEqual(
    values.label?.filter((_, i) => i % 2 === 0),
    EXPECTED,
  );
  for (const s of values.score ?? []) t.true(typeof s === 'number' && s >= 0 && s <= 1.00001);
});

test('binary_data on one output overrides binary_data_output; JSON input with binary output works too', async (t) => {
  const { res, json, tail } = await post(
    JSON.stringify({
      inputs: [{ name: 'text', datatype: 'BYTES', shape: [3], data: TEXTS }],
      parameters: { binary_data_output: true },
      outputs: [{ name: 'label', parameters: { binary_data: false } }, { name: 'score' }],
    }),
    JSON_TYPE,
  );
  t.is(res.status, 200);
  const header = json as InferBody;
  t.deepEqual(header.outputs[0]?.data, EXPECTED);
  t.is(header.outputs[1]?.parameters?.binary_data_size, 12);
  t.is(tail.length, 12);
});

test('property: the binary request answers what the same request in JSON answers', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      // A leading BOM or zero-width space is part of an element's text: a decoder that strips
      // it (TextDecoder does by default, per decode() call) answers another text.
      fc.array(
        fc
          .tuple(
            fc.constantFrom('', '', '\ufeff', '\ufeff\ufeff', '\u200b'),
            fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }),
          )
          .map(([prefix, text]) => prefix + text),
        { minLength: 1, maxLength: 8 },
      ),
      fc.integer({ min: 1, max: 3 }),
      async (texts, k) => {
        const asJson = await post(
          JSON.stringify({
            inputs: [{ name: 'text', datatype: 'BYTES', shape: [texts.length], data: texts }],
            parameters: { k },
          }),
          JSON_TYPE,
        );
        const { input, tail } = binaryInput(texts, [texts.length, 1]);
        const { body, headerLength } = withTail({ inputs: [input], parameters: { k, binary_data_output: true } }, tail);
        const asBinary = await post(body, { 'Inference-Header-Content-Length': headerLength });
        if (asJson.res.status !== 200 || asBinary.res.status !== 200) return false;
        const a = outputValues(asJson);
        const b = outputValues(asBinary);
        // FP32 on the wire: the JSON score rounded to single precision must be the binary one.
        return (
          JSON.stringify(a.label) === JSON.stringify(b.label) &&
          (a.score ?? []).every((s, i) => Math.fround(s as number) === b.score?.[i])
        );
      },
    ),
    { numRuns: 25 },
  );
  t.pass();
});

test('a BOM at the start of a binary element is part of its text: answered as in JSON, and as the binary answers', async (t) => {
  const texts = ['\ufeffhello', '\ufeff', 'hello'];
  const { input, tail } = binaryInput(texts);
  const { body, headerLength } = withTail({ inputs: [input], parameters: { k: 2 } }, tail);
  const asBinary = await post(body, { 'Inference-Header-Content-Length': headerLength });
  const asJson = await post(
    JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [3], data: texts }], parameters: { k: 2 } }),
    JSON_TYPE,
  );
  t.is(asBinary.res.status, 200);
  t.deepEqual(outputValues(asBinary), outputValues(asJson));
  // Labels come flat, [texts x k], padded with "" where the model gave fewer than k.
  const raw = (await rawPredict(texts, 2)).map(parseRawLine);
  const labels = outputValues(asBinary).label ?? [];
  t.deepEqual(
    labels,
    raw.flatMap((row) => [0, 1].map((i) => row[i]?.label ?? '')),
  );
  t.notDeepEqual(labels.slice(0, 2), labels.slice(4, 6), 'the BOM changes the answer');
});

test('a JSON body that is not UTF-8 is a 400 invalid_json, as on v1: never decoded to U+FFFD and classified', async (t) => {
  const prefix = Buffer.from('{"inputs":[{"name":"text","datatype":"BYTES","shape":[1],"data":["se');
  const suffix = Buffer.from('or"]}]}');
  for (const bad of [Buffer.from([0xf1]), Buffer.from([0xd0, 0xbf, 0xd1]), Buffer.from([0xed, 0xa0, 0x80])]) {
    const body = Buffer.concat([prefix, bad, suffix]);
    for (const encoding of ['identity', 'gzip']) {
      const sent = encoding === 'gzip' ? zlib.gzipSync(body) : body;
      const headers = encoding === 'gzip' ? { ...JSON_TYPE, 'Content-Encoding': 'gzip' } : JSON_TYPE;
      const { res, json } = await post(sent, headers);
      t.is(res.status, 400, `${bad.toString('hex')} ${encoding}`);
      t.regex((json as { error: string }).error, /^invalid_json: .*UTF-8/);
    }
  }
});

test('an inconsistent binary body is a 400, never a crash or a hang', async (t) => {
  const { input, tail } = binaryInput(TEXTS);
  const header = { inputs: [input] };
  const json = Buffer.from(JSON.stringify(header));
  const badUtf8 = bytesElements([Buffer.from([0xc3, 0x28])]);
  const cases: Array<[string, Buffer, string]> = [
    ['header length beyond the body', Buffer.concat([json, tail]), String(json.length + tail.length + 1)],
    ['header length not a number', Buffer.concat([json, tail]), '12abc'],
    ['header length cuts the JSON', Buffer.concat([json, tail]), String(json.length - 1)],
    [
      'tail shorter than binary_data_size',
      Buffer.concat([json, tail.subarray(0, tail.length - 1)]),
      String(json.length),
    ],
    ['tail longer than binary_data_size', Buffer.concat([json, tail, Buffer.from([0])]), String(json.length)],
    [
      'an element longer than what remains',
      withTail(
        { inputs: [{ ...input, parameters: { binary_data_size: 8 } }] },
        Buffer.from([200, 0, 0, 0, 65, 66, 67, 68]),
      ).body,
      String(Buffer.byteLength(JSON.stringify({ inputs: [{ ...input, parameters: { binary_data_size: 8 } }] }))),
    ],
    [
      'a cut length prefix',
      withTail({ inputs: [{ ...input, shape: [1], parameters: { binary_data_size: 2 } }] }, Buffer.from([1, 0])).body,
      String(
        Buffer.byteLength(JSON.stringify({ inputs: [{ ...input, shape: [1], parameters: { binary_data_size: 2 } }] })),
      ),
    ],
    [
      'element count differs from shape',
      withTail({ inputs: [{ ...input, shape: [4] }] }, tail).body,
      String(Buffer.byteLength(JSON.stringify({ inputs: [{ ...input, shape: [4] }] }))),
    ],
    [
      'not UTF-8',
      withTail({ inputs: [{ ...input, shape: [1], parameters: { binary_data_size: badUtf8.length } }] }, badUtf8).body,
      String(
        Buffer.byteLength(
          JSON.stringify({ inputs: [{ ...input, shape: [1], parameters: { binary_data_size: badUtf8.length } }] }),
        ),
      ),
    ],
    [
      'data and binary_data_size both',
      withTail({ inputs: [{ ...input, data: TEXTS }] }, tail).body,
      String(Buffer.byteLength(JSON.stringify({ inputs: [{ ...input, data: TEXTS }] }))),
    ],
  ];
  for (const [what, body, headerLength] of cases) {
    const { res, json: reply } = await post(body, { 'Inference-Header-Content-Length': headerLength });
    t.is(res.status, 400, `${what}: ${JSON.stringify(reply)}`);
    t.regex((reply as { error: string }).error, /^(invalid_request|invalid_json): /, what);
  }
  const noHeader = await post(Buffer.concat([json, tail]));
  t.is(noHeader.res.status, 400, 'a binary tail without Inference-Header-Content-Length is not JSON');
});

test('gzip and deflate request bodies (zlib and raw deflate) answer what the plain body answers', async (t) => {
  const plain = JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [3], data: TEXTS }] });
  const expected = outputValues(await post(plain, JSON_TYPE));
  const { input, tail } = binaryInput(TEXTS);
  const binary = withTail({ inputs: [input] }, tail);
  const variants: Array<[string, Buffer, Record<string, string>]> = [
    ['gzip', zlib.gzipSync(plain), { ...JSON_TYPE, 'Content-Encoding': 'gzip' }],
    ['x-gzip', zlib.gzipSync(plain), { ...JSON_TYPE, 'Content-Encoding': 'x-gzip' }],
    ['deflate (zlib)', zlib.deflateSync(plain), { ...JSON_TYPE, 'Content-Encoding': 'deflate' }],
    ['deflate (raw)', zlib.deflateRawSync(plain), { ...JSON_TYPE, 'Content-Encoding': 'deflate' }],
    [
      'gzip, binary tensor data',
      zlib.gzipSync(binary.body),
      { 'Content-Encoding': 'gzip', 'Inference-Header-Content-Length': binary.headerLength },
    ],
  ];
  for (const [what, body, headers] of variants) {
    const res = await post(body, headers);
    t.is(res.res.status, 200, `${what}: ${JSON.stringify(res.json)}`);
    t.deepEqual(outputValues(res), expected, what);
  }
  const corrupt = zlib.gzipSync(plain);
  corrupt[corrupt.length - 6] = (corrupt[corrupt.length - 6] ?? 0) ^ 0xff; // the CRC
  const bad = await post(corrupt, { 'Content-Encoding': 'gzip' });
  t.is(bad.res.status, 400);
  t.regex((bad.json as { error: string }).error, /could not be decompressed/);
});

test('the body limit counts inflated bytes: exactly the limit passes, one byte more is a 413', async (t) => {
  const base = JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: ['hello world'] }] });
  const padded = (size: number) => base + ' '.repeat(size - Buffer.byteLength(base));
  const atLimit = await post(zlib.gzipSync(padded(MAX_BODY)), { ...JSON_TYPE, 'Content-Encoding': 'gzip' });
  t.is(atLimit.res.status, 200, JSON.stringify(atLimit.json));
  const over = await post(zlib.gzipSync(padded(MAX_BODY + 1)), { ...JSON_TYPE, 'Content-Encoding': 'gzip' });
  t.is(over.res.status, 413);
  t.regex((over.json as { error: string }).error, /^payload_too_large: .*once decompressed/);
});

function peakRssKiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM:'));
  return Number(line?.replace(/\D+/g, '') ?? 0);
}

test('a gzip bomb (256 MiB of zeros in 256 KiB) is refused at the limit, inflating at most a chunk past it', async (t) => {
  // Concatenated gzip members inflate to the concatenation: 16 members of 16 MiB of zeros.
  const member = zlib.gzipSync(Buffer.alloc(16 * 1024 * 1024));
  const bomb = Buffer.concat(Array.from({ length: 16 }, () => member));
  t.true(bomb.length < MAX_BODY, `the bomb itself (${bomb.length} bytes) is under the limit`);
  const before = peakRssKiB(svc.pid);
  const res = await post(bomb, { ...JSON_TYPE, 'Content-Encoding': 'gzip' });
  t.is(res.res.status, 413);
  t.regex((res.json as { error: string }).error, /once decompressed/);
  const grewMiB = (peakRssKiB(svc.pid) - before) / 1024;
  t.true(grewMiB < 64, `peak RSS grew ${grewMiB.toFixed(1)} MiB for a 256 MiB bomb`);
  const after = await call(svc.url, 'GET', '/v2/health/live');
  t.is(after.status, 200);
  t.deepEqual(checked('GET', '/v2/health/live', after).json, { live: true });
});

test("responses are compressed when Accept-Encoding asks, never otherwise; the header length is the inflated JSON's", async (t) => {
  const plain = JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [3], data: TEXTS }] });
  const cases: Array<[string | undefined, string | undefined]> = [
    [undefined, undefined],
    ['identity', undefined],
    ['gzip', 'gzip'],
    ['deflate', 'deflate'],
    ['gzip;q=0, identity', undefined],
    ['br, gzip;q=0.5', 'gzip'],
  ];
  for (const [accept, expected] of cases) {
    const res = await post(plain, accept === undefined ? JSON_TYPE : { ...JSON_TYPE, 'Accept-Encoding': accept });
    t.is(res.res.status, 200);
    t.is(res.res.headers['content-encoding'], expected, String(accept));
    t.deepEqual(outputValues(res).label, EXPECTED, String(accept));
  }
  const binary = await post(
    JSON.stringify({
      inputs: [{ name: 'text', datatype: 'BYTES', shape: [3], data: TEXTS }],
      parameters: { binary_data_output: true },
    }),
    { ...JSON_TYPE, 'Accept-Encoding': 'gzip' },
  );
  t.is(binary.res.headers['content-encoding'], 'gzip');
  const inflatedLength = zlib.gunzipSync(binary.res.raw).length;
  const decoded = decode(binary.res);
  t.is(Number(binary.res.headers['inference-header-content-length']) + decoded.tail.length, inflatedLength);
  t.deepEqual(outputValues(decoded).label, EXPECTED);
});

test('a compressed body that stops arriving is answered 408 at the request deadline, not waited for', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fte-oipbin-slow-'));
  const slow = await startService({ env: { MODEL_CACHE_DIR: dir, REQUEST_TIMEOUT_MS: '1000' } });
  try {
    await slow.waitReady(20_000);
    const gz = zlib.gzipSync(
      JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: ['hello world'] }] }),
    );
    const started = Date.now();
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(new URL(slow.url).port), '127.0.0.1', () => {
        socket.write(
          `POST ${INFER} HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: ${gz.length}\r\n\r\n`,
        );
        socket.write(gz.subarray(0, gz.length - 8)); // the gzip trailer never comes
      });
      let received = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (received += chunk));
      socket.on('close', () => resolve(received));
      socket.on('error', reject);
      setTimeout(() => socket.destroy(), 8000);
    });
    const elapsed = Date.now() - started;
    t.regex(answer, /^HTTP\/1\.1 408 /);
    t.regex(answer, /\{"error":"request_timeout: /);
    t.true(elapsed < 5000, `answered after ${elapsed} ms (deadline 1000 ms)`);
  } finally {
    await slow.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
