// Classified S3 failures: each cause reads as its own readiness reason, and a permanent one
// waits near the retry cap from the first retry. Real parts: s3rver, a closed port, and a
// node:http server on 127.0.0.1 answering as AWS does for a wrong region or a refusal.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { SourceFactory } from '../../app/model/source.js';
import { ModelStore } from '../../app/model/store.js';
import type { ModelFailurePhase, ModelProgress } from '../../app/model/types.js';
import { S3RVER_CREDENTIALS, startS3, type S3Fixture } from '../helpers/s3.js';
import { BUNDLED_MD5, BUNDLED_MODEL, recordingLogger, tempDir, waitFor } from './fixtures.js';

process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
process.env.AWS_EC2_METADATA_DISABLED = 'true';

const RETRY = { retryBaseMs: 20, retryMaxMs: 400 };
let s3: S3Fixture;

test.before(async () => {
  s3 = await startS3();
  await s3.put('present', 'model.ftz', BUNDLED_MODEL);
});
test.after.always(async () => {
  await s3?.close();
});

/** Runs a store against `endpoint` until the first failure, and returns it. */
async function firstFailure(t: ExecutionContext, endpoint: string, uri: string): Promise<ModelProgress> {
  const sources = new SourceFactory(
    { region: 'us-east-1', endpoint, forcePathStyle: true, checksums: 'when_required' },
    { maxAttempts: 1, connectTimeoutMs: 1000, idleTimeoutMs: 2000 },
  );
  const cacheDir = path.join(await tempDir('failures'), 'models');
  const store = new ModelStore({ cacheDir, sources, logger: recordingLogger(), stallTimeoutMs: 2000, ...RETRY });
  const abort = new AbortController();
  t.teardown(async () => {
    abort.abort();
    await store.close();
    sources.close();
  });
  const progress: ModelProgress[] = [];
  const pending = store.ensure(
    { uri, md5: BUNDLED_MD5 },
    { signal: abort.signal, onProgress: (p) => progress.push(p) },
  );
  pending.catch(() => undefined);
  await waitFor('a failure', () => progress.some((p) => p.nextRetryMs !== undefined));
  const failure = progress.find((p) => p.nextRetryMs !== undefined);
  if (failure === undefined) throw new Error('no failure');
  return failure;
}

function assertPermanent(t: ExecutionContext, failure: ModelProgress, phase: ModelFailurePhase): void {
  t.is(failure.phase, phase, failure.detail);
  t.true(
    (failure.nextRetryMs ?? 0) >= RETRY.retryMaxMs / 2,
    `a permanent failure waits near the cap (${failure.nextRetryMs} ms)`,
  );
  t.false(failure.detail?.includes(S3RVER_CREDENTIALS.secretAccessKey) ?? false);
}

/** An HTTP server on 127.0.0.1 that answers every request with one status, headers and XML error code. */
async function answering(
  t: ExecutionContext,
  status: number,
  headers: Record<string, string>,
  code: string,
): Promise<string> {
  const server = http.createServer((req, res) => {
    res.writeHead(status, { 'content-type': 'application/xml', ...headers });
    res.end(
      req.method === 'HEAD'
        ? undefined
        : `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('a missing key is model_not_found, permanent', async (t) => {
  assertPermanent(t, await firstFailure(t, s3.endpoint, 's3://present/absent.ftz'), 'model_not_found');
});

test('a missing bucket is model_not_found, permanent', async (t) => {
  assertPermanent(t, await firstFailure(t, s3.endpoint, 's3://no-such-bucket/model.ftz'), 'model_not_found');
});

test('a wrong region is wrong_region and names the bucket region from x-amz-bucket-region', async (t) => {
  const endpoint = await answering(t, 301, { 'x-amz-bucket-region': 'eu-west-3' }, 'PermanentRedirect');
  const failure = await firstFailure(t, endpoint, 's3://elsewhere/model.ftz');
  assertPermanent(t, failure, 'wrong_region');
  t.regex(failure.detail ?? '', /region eu-west-3.*AWS_REGION=eu-west-3/);
});

test('a bodiless 400 naming x-amz-bucket-region (AWS to a HEAD in the wrong region) is wrong_region', async (t) => {
  const endpoint = await answering(t, 400, { 'x-amz-bucket-region': 'ap-south-1' }, 'AuthorizationHeaderMalformed');
  const failure = await firstFailure(t, endpoint, 's3://elsewhere/model.ftz');
  assertPermanent(t, failure, 'wrong_region');
  t.regex(failure.detail ?? '', /region ap-south-1/);
});

test('403 AccessDenied is access_denied, permanent', async (t) => {
  const endpoint = await answering(t, 403, {}, 'AccessDenied');
  assertPermanent(t, await firstFailure(t, endpoint, 's3://private/model.ftz'), 'access_denied');
});

test('a closed port is endpoint_unreachable, transient (retried fast)', async (t) => {
  const port = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (probe.address() as AddressInfo).port;
      probe.close(() => resolve(p));
    });
  });
  const failure = await firstFailure(t, `http://127.0.0.1:${port}`, 's3://any/model.ftz');
  t.is(failure.phase, 'endpoint_unreachable');
  t.true((failure.nextRetryMs ?? Infinity) <= RETRY.retryBaseMs, 'the first retry of a transient failure is quick');
});

test('HTTP 500 is download_failed, transient', async (t) => {
  const endpoint = await answering(t, 500, {}, 'InternalError');
  const failure = await firstFailure(t, endpoint, 's3://flaky/model.ftz');
  t.is(failure.phase, 'download_failed');
  t.regex(failure.detail ?? '', /HTTP 500/);
  t.true((failure.nextRetryMs ?? Infinity) <= RETRY.retryBaseMs);
});
