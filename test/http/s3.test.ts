// The service against a real S3 (s3rver) through a fault-injecting proxy: what an operator
// sees on /ready, /health and /v1/classify while the model comes (or does not come) from S3.
import test from 'ava';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startS3, type S3Fixture } from '../helpers/s3.js';
import { BUNDLED_MD5, BUNDLED_MODEL, getJson, postJson, startService } from '../helpers/service.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

let s3: S3Fixture;
const BUCKET = 'models';
const KEY = 'lid/lid.176.ftz';

test.before(async () => {
  s3 = await startS3();
  await s3.put(BUCKET, KEY, BUNDLED_MODEL);
});
test.after.always(async () => {
  await s3?.close();
});

function s3Env(endpoint: string, cacheDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    MODEL_URI: `s3://${BUCKET}/${KEY}`,
    MODEL_MD5: BUNDLED_MD5,
    MODEL_CACHE_DIR: cacheDir,
    S3_ENDPOINT: endpoint,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
    AWS_REGION: 'us-east-1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    MODEL_RETRY_BASE_MS: '100',
    MODEL_RETRY_MAX_MS: '400',
    MODEL_DOWNLOAD_STALL_MS: '1000',
    ...extra,
  };
}

async function proxied(t: import('ava').ExecutionContext): Promise<TcpProxy> {
  const proxy = await startTcpProxy(s3.port);
  t.teardown(() => proxy.close());
  return proxy;
}

function tempDir(t: import('ava').ExecutionContext): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fte-s3-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const FRENCH = 'Le chat dort sur le canapé pendant que la pluie tombe dehors.';

test('S3 with the right MD5: ready and classifying; a restart reuses the verified cache with no GET', async (t) => {
  const proxy = await proxied(t);
  const cacheDir = tempDir(t);
  const first = await startService({ env: s3Env(proxy.url, cacheDir) });
  await first.waitReady(20_000);
  const res = await postJson(`${first.url}/v1/classify`, { text: FRENCH });
  t.is(res.status, 200);
  t.is((res.body as { predictions: Array<{ label: string }> }).predictions[0]?.label, 'fr');
  const info = (await getJson(`${first.url}/v1/model`)).body as {
    uri: string;
    md5: { actual: string };
    fromCache: boolean;
  };
  t.is(info.uri, `s3://${BUCKET}/${KEY}`);
  t.is(info.md5.actual, BUNDLED_MD5);
  t.false(info.fromCache);
  t.true(proxy.count('GET') >= 1);
  t.is((await first.stop()).code, 0);

  proxy.resetCounters();
  const second = await startService({ env: s3Env(proxy.url, cacheDir) });
  t.teardown(() => second.stop());
  await second.waitReady(20_000);
  t.true(((await getJson(`${second.url}/v1/model`)).body as { fromCache: boolean }).fromCache);
  t.is(proxy.count('GET'), 0, 'no GET to S3 for a verified cached model');
  t.is(proxy.connections, 0, 'not even a connection');
});

test('wrong MD5 from S3: never ready (md5_mismatch), classify 503 not_ready, /health 200, no verified file left', async (t) => {
  const cacheDir = tempDir(t);
  const wrong = 'ffffffffffffffffffffffffffffffff';
  const key = 'lid/bad-release.ftz';
  await s3.put(BUCKET, key, BUNDLED_MODEL);
  const svc = await startService({
    env: s3Env(s3.endpoint, cacheDir, { MODEL_MD5: wrong, MODEL_URI: `s3://${BUCKET}/${key}` }),
  });
  t.teardown(() => svc.stop());
  await svc.waitForLog((l) => l.event === 'model_phase' && l.phase === 'md5_mismatch', 15_000);
  // The retry after the second identical mismatch is a HEAD only: the unchanged object is not fetched again and again.
  await svc.waitForLog((l) => typeof l.error === 'string' && /not downloaded again/.test(l.error), 15_000);
  const gets = s3.count('GET', BUCKET, key);
  const ready = await getJson(`${svc.url}/ready`);
  t.is(ready.status, 503);
  t.is((ready.body as { reason: string }).reason, 'md5_mismatch');
  const res = await postJson(`${svc.url}/v1/classify`, { text: FRENCH });
  t.is(res.status, 503);
  t.is((res.body as { error: { code: string } }).error.code, 'not_ready');
  t.is((await getJson(`${svc.url}/health`)).status, 200);
  t.false(existsSync(path.join(cacheDir, `${wrong}.bin`)));
  t.false(readdirSync(cacheDir).some((f) => f.endsWith('.bin')));
  // What the operator sees: the actual MD5 and size of what was fetched, and the failures counted.
  const info = (await getJson(`${svc.url}/v1/model`)).body as {
    md5: { expected: string; actual: string | null };
    bytes: number | null;
  };
  t.deepEqual(info.md5, { expected: wrong, actual: BUNDLED_MD5 });
  t.is(info.bytes, 938_013);
  const metrics = await (await fetch(`${svc.url}/metrics`)).text();
  const failures = Number(
    /^fasttext_model_download_failures_total\{reason="md5_mismatch"\} (\d+)$/m.exec(metrics)?.[1] ?? 0,
  );
  t.true(failures >= 3, `${failures} failures counted`);
  // No egress loop: 2 full GETs (the second in case of damage in transit), then HEADs only for a while.
  t.is(gets, 2);
  t.true(s3.count('HEAD', BUCKET, key) >= 3);
});

test('S3 unreachable at boot, reachable later: ready after retries; liveness 200 throughout', async (t) => {
  const proxy = await proxied(t);
  await proxy.setMode({ kind: 'refuse' });
  const svc = await startService({ env: s3Env(proxy.url, tempDir(t)) });
  t.teardown(() => svc.stop());
  await svc.waitForLog((l) => l.event === 'model_phase' && l.phase === 'endpoint_unreachable', 15_000);
  const ready = await getJson(`${svc.url}/ready`);
  t.is(ready.status, 503);
  t.is((await getJson(`${svc.url}/health`)).status, 200, 'S3 never fails liveness');
  await proxy.setMode({ kind: 'pass' });
  await svc.waitReady(20_000);
  t.is((await postJson(`${svc.url}/v1/classify`, { text: FRENCH })).status, 200);
});

test('a connection dropped mid-download: the model still arrives intact (resumed with Range)', async (t) => {
  const proxy = await proxied(t);
  await proxy.setMode({ kind: 'drop', afterBytes: 400_000 }, { times: 1 });
  const svc = await startService({ env: s3Env(proxy.url, tempDir(t)) });
  t.teardown(() => svc.stop());
  await svc.waitReady(20_000);
  t.true(proxy.faults >= 1, 'the fault fired');
  t.true(
    proxy.requests.some((r) => r.method === 'GET' && /bytes=\d+-/.test(r.headers.range ?? '')),
    'resumed with a Range request',
  );
  const info = (await getJson(`${svc.url}/v1/model`)).body as { md5: { actual: string } };
  t.is(info.md5.actual, BUNDLED_MD5);
  t.is((await postJson(`${svc.url}/v1/classify`, { text: FRENCH })).status, 200);
});
