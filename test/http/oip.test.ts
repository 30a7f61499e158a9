// The Open Inference Protocol as clients other than ours call it: no Content-Type, versioned
// routes, requested outputs, [N, 1] text batches, the spec's health bodies, and
// `{"error": string}` for every error under /v2. The real service on the bundled model, real
// HTTP; every response is also checked against docs/openapi.yaml.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BUNDLED_MD5, freePort, startService, type RunningService } from '../helpers/service.js';
import { call, checked, outputValues, type InferBody } from './oip-support.js';

let svc: RunningService;
let cacheDir: string;
const MODEL = 'lid176';
const TEXTS = [
  'Das ist ein deutscher Satz über das Wetter.',
  'Ceci est une phrase en français.',
  'This is an English sentence about the weather.',
];
const EXPECTED = ['de', 'fr', 'en'];

test.before(async () => {
  cacheDir = mkdtempSync(path.join(os.tmpdir(), 'fte-oip-'));
  svc = await startService({ env: { MODEL_CACHE_DIR: cacheDir, MANAGEMENT_PORT: String(await freePort()) } });
  await svc.waitReady(20_000);
});

test.after.always(async () => {
  await svc?.stop();
  rmSync(cacheDir, { recursive: true, force: true });
});

// JSON's media type unless a test says otherwise, so each finding fails for its own reason.
async function req(
  method: string,
  p: string,
  body?: unknown,
  headers: Record<string, string> = { 'Content-Type': 'application/json' },
) {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  const res = await call(svc.url, method, p, payload, headers);
  return { res, ...checked(method, p, res) };
}

const infer = (inputs: unknown[], extra: Record<string, unknown> = {}) => ({ inputs, ...extra });
const textInput = (data: unknown, shape: number[] = [TEXTS.length]) => ({
  name: 'text',
  datatype: 'BYTES',
  shape,
  data,
});

function errorOf(json: unknown): string {
  const body = json as { error?: unknown };
  if (typeof body.error !== 'string') throw new Error(`not an OIP error body: ${JSON.stringify(json)}`);
  return body.error;
}

test('an infer body is read as JSON whatever its Content-Type, or without one (tritonclient, curl -d)', async (t) => {
  const body = infer([textInput(TEXTS)]);
  for (const contentType of [
    undefined,
    'application/x-www-form-urlencoded',
    'text/plain',
    'application/octet-stream',
    'application/json',
  ]) {
    const { res, json } = await req(
      'POST',
      `/v2/models/${MODEL}/infer`,
      body,
      contentType === undefined ? {} : { 'Content-Type': contentType },
    );
    t.is(res.status, 200, `Content-Type ${String(contentType)}: ${JSON.stringify(json)}`);
    t.deepEqual((json as InferBody).outputs.find((o) => o.name === 'label')?.data, EXPECTED);
  }
});

test('versioned and unversioned routes agree; versions lists what model_version answers', async (t) => {
  const meta = await req('GET', `/v2/models/${MODEL}`);
  t.is(meta.res.status, 200);
  const { versions } = meta.json as { versions: string[] };
  t.deepEqual(versions, [BUNDLED_MD5]);
  const version = versions[0] as string;
  const vmeta = await req('GET', `/v2/models/${MODEL}/versions/${version}`);
  t.is(vmeta.res.status, 200);
  t.deepEqual(vmeta.json, meta.json);
  for (const p of [`/v2/models/${MODEL}/ready`, `/v2/models/${MODEL}/versions/${version}/ready`]) {
    const ready = await req('GET', p);
    t.is(ready.res.status, 200);
    t.deepEqual(ready.json, { name: MODEL, ready: true });
  }
  for (const p of [`/v2/models/${MODEL}/infer`, `/v2/models/${MODEL}/versions/${version}/infer`]) {
    const res = await req('POST', p, infer([textInput(TEXTS)], { id: 'v-1' }));
    t.is(res.res.status, 200);
    t.is((res.json as InferBody).model_version, version);
    t.is((res.json as InferBody).id, 'v-1');
  }
  for (const [method, p] of [
    ['GET', `/v2/models/${MODEL}/versions/1`],
    ['GET', `/v2/models/${MODEL}/versions/1/ready`],
    ['POST', `/v2/models/${MODEL}/versions/1/infer`],
  ] as const) {
    const res = await req(method, p, method === 'POST' ? infer([textInput(TEXTS)]) : undefined);
    t.is(res.res.status, 404, p);
    t.regex(errorOf(res.json), /^model_version_not_found: /);
  }
  const unknownModel = await req('GET', `/v2/models/nope/versions/${version}`);
  t.is(unknownModel.res.status, 404);
  t.regex(errorOf(unknownModel.json), /^model_not_found: /);
  const server = await req('GET', '/v2/');
  t.is(server.res.status, 200);
  t.deepEqual((server.json as { extensions: string[] }).extensions, ['binary_tensor_data']);
});

test('requested outputs are answered, in the order asked; unknown outputs and inputs are 400', async (t) => {
  const p = `/v2/models/${MODEL}/infer`;
  const scoreOnly = await req('POST', p, infer([textInput(TEXTS)], { outputs: [{ name: 'score' }] }));
  t.is(scoreOnly.res.status, 200);
  t.deepEqual(
    (scoreOnly.json as InferBody).outputs.map((o) => o.name),
    ['score'],
  );
  const reversed = await req(
    'POST',
    p,
    infer([textInput(TEXTS)], { outputs: [{ name: 'score' }, { name: 'label' }], parameters: { k: 2 } }),
  );
  t.deepEqual(
    (reversed.json as InferBody).outputs.map((o) => [o.name, o.shape]),
    [
      ['score', [3, 2]],
      ['label', [3, 2]],
    ],
  );
  t.deepEqual(
    outputValues(reversed).label?.filter((_, i) => i % 2 === 0),
    EXPECTED,
  );
  const cases: Array<[string, unknown, RegExp]> = [
    [
      'unknown output',
      infer([textInput(TEXTS)], { outputs: [{ name: 'probability' }] }),
      /unknown output "probability"/,
    ],
    [
      'duplicate output',
      infer([textInput(TEXTS)], { outputs: [{ name: 'label' }, { name: 'label' }] }),
      /requested twice/,
    ],
    ['unknown input name', infer([{ ...textInput(TEXTS), name: 'texts' }]), /unknown input "texts"/],
    ['wrong datatype', infer([{ ...textInput([1, 2, 3]), datatype: 'FP32' }]), /datatype BYTES/],
    ['two inputs', infer([textInput(TEXTS), textInput(TEXTS)]), /exactly one/],
    [
      'classification extension',
      infer([textInput(TEXTS)], { outputs: [{ name: 'label', parameters: { classification: 2 } }] }),
      /classification/,
    ],
    ['shared memory', infer([{ ...textInput(TEXTS), parameters: { shared_memory_region: 'r' } }]), /shared-memory/],
    [
      'non-boolean binary_data_output',
      infer([textInput(TEXTS)], { parameters: { binary_data_output: 'yes' } }),
      /binary_data_output/,
    ],
  ];
  for (const [what, body, message] of cases) {
    const res = await req('POST', p, body);
    t.is(res.res.status, 400, what);
    t.regex(errorOf(res.json), /^invalid_request: /, what);
    t.regex(errorOf(res.json), message, what);
  }
});

test('BYTES inputs of shape [N] and [N, 1], data flat or nested, give the same answer', async (t) => {
  const p = `/v2/models/${MODEL}/infer`;
  const shapes: Array<[string, unknown, number[]]> = [
    ['[N] flat', TEXTS, [3]],
    ['[N,1] flat', TEXTS, [3, 1]],
    ['[N,1] nested', TEXTS.map((x) => [x]), [3, 1]],
  ];
  for (const [what, data, shape] of shapes) {
    const res = await req('POST', p, infer([textInput(data, shape)]));
    t.is(res.res.status, 200, `${what}: ${JSON.stringify(res.json)}`);
    t.deepEqual(outputValues(res).label, EXPECTED, what);
    t.deepEqual((res.json as InferBody).outputs[0]?.shape, [3, 1], what);
  }
  const bad: Array<[string, unknown, number[]]> = [
    ['count differs from shape', TEXTS, [2]],
    ['nested rows too wide', TEXTS.map((x) => [x, x]), [3, 1]],
    ['nested where the shape is flat', TEXTS.map((x) => [x]), [3]],
    ['[1, N]', TEXTS, [1, 3]],
    ['rank 3', TEXTS, [3, 1, 1]],
    ['negative dimension', TEXTS, [-3]],
    ['ragged nesting', [[TEXTS[0]], TEXTS[1], [TEXTS[2]]], [3, 1]],
    ['a number among the texts', [TEXTS[0], 7, TEXTS[2]], [3]],
  ];
  for (const [what, data, shape] of bad) {
    const res = await req('POST', p, infer([textInput(data, shape)]));
    t.is(res.res.status, 400, `${what}: ${JSON.stringify(res.json)}`);
  }
});

test("health bodies are the spec's, on the traffic and the management port", async (t) => {
  for (const base of [svc.url, svc.managementUrl]) {
    const live = await call(base, 'GET', '/v2/health/live');
    t.is(live.status, 200);
    t.deepEqual(checked('GET', '/v2/health/live', live).json, { live: true });
    const ready = await call(base, 'GET', '/v2/health/ready');
    t.is(ready.status, 200);
    t.deepEqual(checked('GET', '/v2/health/ready', ready).json, { ready: true });
  }
});

test('every error under /v2 is {"error": string} with its status', async (t) => {
  const cases: Array<[string, string, string | undefined, Record<string, string>, number, RegExp]> = [
    ['POST', '/v2', undefined, {}, 405, /^method_not_allowed: /],
    ['DELETE', `/v2/models/${MODEL}`, undefined, {}, 405, /^method_not_allowed: /],
    ['GET', `/v2/models/${MODEL}/infer`, undefined, {}, 405, /^method_not_allowed: /],
    ['GET', '/v2/repository/index', undefined, {}, 404, /^not_found: /],
    ['GET', '/v2/models/nope', undefined, {}, 404, /^model_not_found: /],
    ['POST', `/v2/models/${MODEL}/infer`, '{"inputs": [', {}, 400, /^invalid_json: /],
    [
      'POST',
      `/v2/models/${MODEL}/infer`,
      JSON.stringify(infer([textInput(['x'.repeat(2_000_000)], [1])])),
      {},
      413,
      /^payload_too_large: /,
    ],
    [
      'POST',
      `/v2/models/${MODEL}/infer`,
      JSON.stringify(infer([textInput(TEXTS)])),
      { 'Content-Encoding': 'br' },
      415,
      /^unsupported_media_type: /,
    ],
    [
      'POST',
      `/v2/models/${MODEL}/infer`,
      JSON.stringify(infer([textInput(TEXTS)], { parameters: { k: 1000 } })),
      {},
      422,
      /^k_too_large: /,
    ],
    [
      'POST',
      `/v2/models/${MODEL}/infer`,
      JSON.stringify(infer([textInput(Array(1001).fill('a'), [1001])])),
      {},
      422,
      /^batch_too_large: /,
    ],
  ];
  for (const [method, p, body, headers, status, message] of cases) {
    const res = await call(svc.url, method, p, body, { 'Content-Type': 'application/json', ...headers });
    const { json } = checked(method, p, res);
    t.is(res.status, status, `${method} ${p}: ${JSON.stringify(json)}`);
    t.regex(errorOf(json), message, `${method} ${p}`);
    t.deepEqual(Object.keys(json as object), ['error'], `${method} ${p}`);
  }
});

test('a model that is not ready: 503 with {"error": string} on infer, spec bodies on the probes', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fte-oip-nr-'));
  const broken = await startService({
    env: {
      MODEL_CACHE_DIR: dir,
      MODEL_URI: `file://${dir}/missing.ftz`,
      MODEL_MD5: '0'.repeat(32),
      MODEL_NAME: MODEL,
      MODEL_RETRY_BASE_MS: '60000',
      MODEL_RETRY_MAX_MS: '60000',
    },
  });
  try {
    const inferRes = await call(
      broken.url,
      'POST',
      `/v2/models/${MODEL}/infer`,
      JSON.stringify(infer([textInput(TEXTS)])),
      { 'Content-Type': 'application/json' },
    );
    t.is(inferRes.status, 503);
    t.truthy(inferRes.headers['retry-after']);
    t.regex(errorOf(checked('POST', `/v2/models/${MODEL}/infer`, inferRes).json), /^not_ready: /);
    const ready = await call(broken.url, 'GET', '/v2/health/ready');
    t.is(ready.status, 503);
    const readyBody = checked('GET', '/v2/health/ready', ready).json as { ready: boolean; error: string };
    t.false(readyBody.ready);
    t.regex(readyBody.error, /^not_ready: /);
    const modelReady = await call(broken.url, 'GET', `/v2/models/${MODEL}/ready`);
    t.is(modelReady.status, 503);
    const modelReadyBody = checked('GET', `/v2/models/${MODEL}/ready`, modelReady).json as {
      name: string;
      ready: boolean;
    };
    t.is(modelReadyBody.name, MODEL);
    t.false(modelReadyBody.ready);
    const live = await call(broken.url, 'GET', '/v2/health/live');
    t.is(live.status, 200, 'liveness never depends on the model');
    t.deepEqual(checked('GET', '/v2/health/live', live).json, { live: true });
  } finally {
    await broken.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
