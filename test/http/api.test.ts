// The HTTP contract as a client sees it: the real service on the bundled model, real HTTP.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BUNDLED_MD5, freePort, getJson, postJson, startService, type RunningService } from '../helpers/service.js';
import { waitFor } from '../helpers/fixtures.js';

interface Prediction {
  label: string;
  score: number;
}
interface ErrorBody {
  error: { code: string; message: string };
}

let svc: RunningService;
let cacheDir: string;

test.before(async () => {
  cacheDir = mkdtempSync(path.join(os.tmpdir(), 'fte-api-'));
  svc = await startService({ env: { MODEL_CACHE_DIR: cacheDir, MANAGEMENT_PORT: String(await freePort()) } });
  await svc.waitReady(20_000);
});

test.after.always(async () => {
  await svc?.stop();
  rmSync(cacheDir, { recursive: true, force: true });
});

const classify = (body: unknown, init?: Parameters<typeof postJson>[2]) =>
  postJson(`${svc.url}/v1/classify`, body, init);

test('classifies one text: label without prefix, lowercase kept, numeric score', async (t) => {
  const res = await classify({ text: 'The quick brown fox jumps over the lazy dog and runs into the forest' });
  t.is(res.status, 200);
  const body = res.body as { model: { name: string; md5: string }; predictions: Prediction[] };
  t.is(body.model.md5, BUNDLED_MD5);
  t.is(body.predictions.length, 1);
  t.is(body.predictions[0]?.label, 'en');
  t.is(typeof body.predictions[0]?.score, 'number');
  t.true((body.predictions[0]?.score ?? 0) > 0.5 && (body.predictions[0]?.score ?? 2) <= 1);
});

test('classifies a batch in order', async (t) => {
  const texts = [
    'Bonjour tout le monde, comment allez-vous aujourd’hui ?',
    'Guten Morgen, wie geht es Ihnen heute? Ich hoffe gut.',
    'Buongiorno a tutti, come state oggi? Spero bene.',
    'This sentence is written in plain English for the test.',
  ];
  const res = await classify({ texts });
  t.is(res.status, 200);
  const body = res.body as { results: Prediction[][] };
  t.deepEqual(
    body.results.map((r) => r[0]?.label),
    ['fr', 'de', 'it', 'en'],
  );
});

test('k returns k predictions in descending score; threshold filters', async (t) => {
  const res = await classify({ text: 'hola amigos, ¿cómo están?', k: 5 });
  const preds = (res.body as { predictions: Prediction[] }).predictions;
  t.is(preds.length, 5);
  for (let i = 1; i < preds.length; i++) t.true((preds[i - 1]?.score ?? 0) >= (preds[i]?.score ?? 0));
  const filtered = await classify({ text: 'hola amigos, ¿cómo están?', k: 5, threshold: 0.2 });
  const kept = (filtered.body as { predictions: Prediction[] }).predictions;
  t.true(kept.length >= 1 && kept.length < 5);
  t.true(kept.every((p) => p.score >= 0.2));
  const none = await classify({ text: 'xq', k: 3, threshold: 0.999 });
  t.deepEqual((none.body as { predictions: Prediction[] }).predictions, []);
});

test('GET /v1/model reports the verified model', async (t) => {
  const res = await getJson(`${svc.url}/v1/model`);
  t.is(res.status, 200);
  const body = res.body as {
    name: string;
    md5: { expected: string; actual: string };
    verifiedBy: string | null;
    bytes: number;
    labels: string[];
    state: string;
    loadSeconds: number;
    tiers: { k: number; state: string; children: number }[];
  };
  t.is(body.md5.expected, BUNDLED_MD5);
  t.is(body.md5.actual, BUNDLED_MD5);
  t.is(body.verifiedBy, 'md5', 'downloaded into an empty cache under the bundled lock, which names an MD5 only');
  t.is(body.bytes, 938013);
  t.is(body.labels.length, 176);
  t.true(body.labels.includes('en'));
  t.is(body.state, 'ready');
  t.true(body.loadSeconds > 0);
  // Each k tier's state: k=1 serves; the others are warmed after ready (ENGINE_WARM_TIERS).
  t.deepEqual(
    body.tiers.map((tier) => tier.k),
    [1, 10, 100],
  );
  t.like(body.tiers[0], { k: 1, state: 'ready' });
  t.true((body.tiers[0]?.children ?? 0) >= 1);
  for (const tier of body.tiers) t.true(['loading', 'ready'].includes(tier.state), JSON.stringify(tier));
  await waitFor(
    'every tier ready in /v1/model',
    async () => {
      const tiers = ((await getJson(`${svc.url}/v1/model`)).body as typeof body).tiers;
      return tiers.every((tier) => tier.state === 'ready' && tier.children >= 1);
    },
    30_000,
    100,
  );
});

test('probes: /health and /ready 200 on both listeners, with JSON bodies', async (t) => {
  for (const base of [svc.url, svc.managementUrl]) {
    const live = await getJson(`${base}/health`);
    t.is(live.status, 200);
    t.is((live.body as { status: string }).status, 'ok');
    const ready = await getJson(`${base}/ready`);
    t.is(ready.status, 200);
    t.is((ready.body as { status: string }).status, 'ready');
  }
  t.not(svc.url, svc.managementUrl);
  const mgmtClassify = await postJson(`${svc.managementUrl}/v1/classify`, { text: 'hello' });
  t.is(mgmtClassify.status, 404, 'the management port serves probes and metrics only');
});

test('Open Inference Protocol routes', async (t) => {
  const model = (await getJson(`${svc.url}/v1/model`)).body as { name: string };
  t.is((await getJson(`${svc.url}/v2/health/live`)).status, 200);
  t.is((await getJson(`${svc.url}/v2/health/ready`)).status, 200);
  const meta = await getJson(`${svc.url}/v2/models/${model.name}`);
  t.is(meta.status, 200);
  t.is((meta.body as { name: string }).name, model.name);
  t.deepEqual((await getJson(`${svc.url}/v2/models/${model.name}/ready`)).body, { name: model.name, ready: true });
  const infer = await postJson(`${svc.url}/v2/models/${model.name}/infer`, {
    id: 'req-1',
    inputs: [
      {
        name: 'text',
        datatype: 'BYTES',
        shape: [2],
        data: ['Das ist ein deutscher Satz über das Wetter.', 'Ceci est une phrase en français.'],
      },
    ],
    parameters: { k: 2 },
  });
  t.is(infer.status, 200);
  const body = infer.body as {
    id: string;
    model_name: string;
    outputs: Array<{ name: string; datatype: string; shape: number[]; data: Array<string | number> }>;
  };
  t.is(body.id, 'req-1');
  t.is(body.model_name, model.name);
  const labels = body.outputs.find((o) => o.name === 'label');
  const scores = body.outputs.find((o) => o.name === 'score');
  t.deepEqual(labels?.shape, [2, 2]);
  t.is(labels?.datatype, 'BYTES');
  t.is(labels?.data[0], 'de');
  t.is(labels?.data[2], 'fr');
  t.is(scores?.datatype, 'FP32');
  t.true(scores?.data.every((s) => typeof s === 'number'));
  const unknown = await postJson(`${svc.url}/v2/models/nope/infer`, { inputs: [] });
  t.is(unknown.status, 404);
  t.regex((unknown.body as { error: string }).error, /model_not_found/);
  const bad = await postJson(`${svc.url}/v2/models/${model.name}/infer`, {
    inputs: [{ name: 'text', datatype: 'FP32', shape: [1], data: [1] }],
  });
  t.is(bad.status, 400);
  t.is(typeof (bad.body as { error: string }).error, 'string');
});

async function expectError(
  t: import('ava').ExecutionContext,
  res: Promise<{ status: number; body: unknown }>,
  status: number,
  code: string,
): Promise<void> {
  const r = await res;
  t.is(r.status, status, JSON.stringify(r.body));
  t.is((r.body as ErrorBody).error?.code, code);
  t.is(typeof (r.body as ErrorBody).error?.message, 'string');
}

test('400 malformed JSON', (t) => expectError(t, classify(undefined, { raw: '{"text": ' }), 400, 'invalid_json'));
test('400 body is not an object', (t) => expectError(t, classify(['a']), 400, 'invalid_request'));
test('400 text is not a string', (t) => expectError(t, classify({ text: 42 }), 400, 'invalid_request'));
test('400 missing text', (t) => expectError(t, classify({}), 400, 'invalid_request'));
test('400 text and texts together', (t) =>
  expectError(t, classify({ text: 'a', texts: ['b'] }), 400, 'invalid_request'));
test('400 texts holds a non-string', (t) => expectError(t, classify({ texts: ['a', null] }), 400, 'invalid_request'));
test('400 empty texts', (t) => expectError(t, classify({ texts: [] }), 400, 'invalid_request'));
test('400 k is not a positive integer', (t) => expectError(t, classify({ text: 'a', k: 0 }), 400, 'invalid_request'));
test('400 threshold out of [0, 1]', (t) =>
  expectError(t, classify({ text: 'a', threshold: 1.5 }), 400, 'invalid_request'));
test('413 body over 1 MiB', (t) =>
  expectError(t, classify({ text: 'a'.repeat(1024 * 1024 + 10) }), 413, 'payload_too_large'));
test('415 not JSON', (t) =>
  expectError(
    t,
    classify(undefined, { raw: 'text=hello', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
    415,
    'unsupported_media_type',
  ));
test('422 text over 100,000 characters', (t) =>
  expectError(t, classify({ text: 'a'.repeat(100_001) }), 422, 'text_too_long'));
test('422 batch over 1,000 texts', (t) =>
  expectError(t, classify({ texts: new Array<string>(1001).fill('a') }), 422, 'batch_too_large'));
test('422 k over 100', (t) => expectError(t, classify({ text: 'a', k: 101 }), 422, 'k_too_large'));
test('404 unknown route, JSON', (t) => expectError(t, getJson(`${svc.url}/nope`), 404, 'not_found'));
test('405 wrong method, JSON', (t) => expectError(t, getJson(`${svc.url}/v1/classify`), 405, 'method_not_allowed'));

test('edge-case texts are answered, one result each', async (t) => {
  const texts = [
    '',
    ' ',
    '\n\n',
    'tab\there',
    'ctrl\u0000\u0001\u0007',
    '😀🎉',
    '\ud800 lone surrogate',
    'a'.repeat(100_000),
    'line one\r\nline two',
  ];
  const res = await classify({ texts, k: 1 });
  t.is(res.status, 200);
  t.is((res.body as { results: Prediction[][] }).results.length, texts.length);
});

test.serial(
  'the prediction cache serves repeats from the third on (the doorkeeper caches a second miss) and counts hits and misses',
  async (t) => {
    const text = `cache probe ${Date.now()} une phrase française pour le cache`;
    const before = await getJson(`${svc.managementUrl}/metrics`);
    const hits = (m: string): number => Number(/^fasttext_cache_hits_total (\d+)/m.exec(m)?.[1] ?? 0);
    const misses = (m: string): number => Number(/^fasttext_cache_misses_total (\d+)/m.exec(m)?.[1] ?? 0);
    const first = await classify({ text });
    const second = await classify({ text });
    const third = await classify({ text });
    t.deepEqual(first.body, second.body);
    t.deepEqual(first.body, third.body);
    const after = await getJson(`${svc.managementUrl}/metrics`);
    t.is(hits(after.body as string) - hits(before.body as string), 1);
    t.is(misses(after.body as string) - misses(before.body as string), 2);
  },
);

test('/metrics exposes request, admission, engine and model metrics', async (t) => {
  t.is((await classify({ text: 'metrics probe sentence' })).status, 200);
  const res = await fetch(`${svc.managementUrl}/metrics`);
  t.is(res.status, 200);
  const text = await res.text();
  for (const name of [
    'fasttext_http_requests_total',
    'fasttext_http_request_duration_seconds_bucket',
    'fasttext_admission_in_flight',
    'fasttext_admission_queue_depth',
    'fasttext_admission_shed_total',
    'fasttext_engine_restarts_total',
    'fasttext_model_load_duration_seconds',
    'fasttext_model_download_bytes_total',
    'fasttext_lifecycle_state{state="ready"} 1',
  ]) {
    t.true(text.includes(name), name);
  }
  t.regex(text, /fasttext_http_requests_total\{route="\/v1\/classify",method="POST",status="200"\} \d+/);
});
