// docs/openapi.yaml against the running service: GET /openapi.json serves exactly the
// document; every documented operation exists and answers what the document says (v1, v2,
// probes, metrics, errors); the README links the document and names the same error codes.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { assertMatchesOpenApi, matchPath, OPENAPI_FILE } from '../helpers/openapi.js';
import { BUNDLED_MD5, ROOT, startService, type RunningService } from '../helpers/service.js';
import { call, decode, type RawResponse } from './oip-support.js';

interface Doc {
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
}
const doc = parse(readFileSync(OPENAPI_FILE, 'utf8')) as Doc;

let svc: RunningService;
let cacheDir: string;
const MODEL = 'lid176';

test.before(async () => {
  cacheDir = mkdtempSync(path.join(os.tmpdir(), 'fte-openapi-'));
  svc = await startService({ env: { MODEL_CACHE_DIR: cacheDir } });
  await svc.waitReady(20_000);
});

test.after.always(async () => {
  await svc?.stop();
  rmSync(cacheDir, { recursive: true, force: true });
});

function check(method: string, p: string, res: RawResponse): unknown {
  const type = String(res.headers['content-type'] ?? '');
  if (type.startsWith('text/plain')) {
    assertMatchesOpenApi(method, p, res.status, res.raw.toString('utf8'), 'text/plain');
    return undefined;
  }
  const { json } = decode(res);
  assertMatchesOpenApi(method, p, res.status, json);
  return json;
}

test('GET /openapi.json serves docs/openapi.yaml as JSON', async (t) => {
  const res = await call(svc.url, 'GET', '/openapi.json');
  t.is(res.status, 200);
  t.regex(String(res.headers['content-type']), /^application\/json/);
  t.deepEqual(check('GET', '/openapi.json', res), doc);
  const again = await call(svc.url, 'GET', '/openapi.json');
  t.deepEqual(again.raw, res.raw, 'the converted document is kept');
});

test('every documented operation is served and answers as documented', async (t) => {
  const inferBody = JSON.stringify({
    inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: ['Guten Morgen, wie geht es?'] }],
  });
  const bodies: Record<string, string> = { '/v1/classify': JSON.stringify({ text: 'Guten Morgen, wie geht es?' }) };
  let operations = 0;
  for (const [template, item] of Object.entries(doc.paths)) {
    for (const method of Object.keys(item).filter((m) => ['get', 'post', 'put', 'delete', 'patch'].includes(m))) {
      const concrete = template.replace('{name}', MODEL).replace('{version}', BUNDLED_MD5);
      const body = method === 'post' ? (bodies[template] ?? inferBody) : undefined;
      const res = await call(
        svc.url,
        method.toUpperCase(),
        concrete,
        body,
        method === 'post' ? { 'Content-Type': 'application/json' } : {},
      );
      t.is(res.status, 200, `${method} ${concrete}: ${res.raw.toString('utf8').slice(0, 200)}`);
      check(method, concrete, res);
      operations += 1;
    }
  }
  t.true(operations >= 15, `${operations} operations documented`);
});

test('v1 answers and errors match the document', async (t) => {
  const json = { 'Content-Type': 'application/json' };
  const cases: Array<[string, string, string | undefined, Record<string, string>, number]> = [
    [
      'POST',
      '/v1/classify',
      JSON.stringify({ texts: ['Hello there, my friend', 'Hola amigo, como estas'], k: 2 }),
      json,
      200,
    ],
    ['POST', '/v1/classify', '{"text":', json, 400],
    ['POST', '/v1/classify', JSON.stringify({ text: 7 }), json, 400],
    ['POST', '/v1/classify', JSON.stringify({ text: 'x' }), { 'Content-Type': 'text/plain' }, 415],
    ['POST', '/v1/classify', JSON.stringify({ text: 'x', k: 100_000 }), json, 422],
    ['POST', '/v1/classify', JSON.stringify({ text: 'x'.repeat(1_100_000) }), json, 413],
    ['GET', '/v1/classify', undefined, {}, 405],
    ['POST', '/v1/model', '{}', json, 405],
    ['GET', '/v1/nothing', undefined, {}, 404],
    ['POST', '/health', '{}', json, 405],
    ['GET', '/v2/nothing', undefined, {}, 404],
  ];
  for (const [method, p, body, headers, status] of cases) {
    const res = await call(svc.url, method, p, body, headers);
    t.is(res.status, status, `${method} ${p}: ${res.raw.toString('utf8').slice(0, 200)}`);
    t.notThrows(() => check(method, p, res), `${method} ${p}`);
  }
});

test('the checker itself refuses what the document does not say', (t) => {
  t.is(matchPath(`/v2/models/${MODEL}/versions/abc/infer`), '/v2/models/{name}/versions/{version}/infer');
  t.is(matchPath('/v2/'), '/v2');
  t.throws(() => assertMatchesOpenApi('GET', '/v2', 200, { name: 'x', version: '1', extensions: [] }), {
    message: /extensions must contain/,
  });
  t.throws(() => assertMatchesOpenApi('POST', '/v1/classify', 400, { error: { code: 'not_a_code', message: 'm' } }));
  t.throws(
    () => assertMatchesOpenApi('POST', '/v2/models/m/infer', 400, { error: { code: 'invalid_request', message: 'm' } }),
    undefined,
    'v1 error shape under /v2',
  );
  t.throws(() => assertMatchesOpenApi('GET', '/v2/health/live', 418, {}), { message: /does not document status 418/ });
});

test('the README links the document, and names every error code it lists', (t) => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  t.regex(readme, /\(docs\/openapi\.yaml\)/);
  t.regex(readme, /npm run docs/);
  const text = readFileSync(OPENAPI_FILE, 'utf8');
  const codes = new Set<string>();
  for (const m of text.matchAll(/'\^\(?([a-z_|]+)\)?: '/g)) for (const c of (m[1] ?? '').split('|')) codes.add(c);
  for (const m of text.matchAll(/code: \{ (?:const: ([a-z_]+)|enum: \[([a-z_, ]+)\]) \}/g))
    for (const c of (m[1] ?? m[2] ?? '').split(', ')) codes.add(c);
  t.true(codes.size >= 15, [...codes].join(' '));
  for (const code of codes) t.true(readme.includes(`\`${code}\``), `README names \`${code}\``);
});
