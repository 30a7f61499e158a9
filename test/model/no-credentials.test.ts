// "No credentials found" is not "access denied" (nothing was even sent): a process whose
// environment has no AWS credentials at all gets no_credentials. A file of its own so its
// scrubbed environment holds for the whole process (ava runs each file in one).
import path from 'node:path';
import test from 'ava';
import { SourceFactory } from '../../app/model/source.js';
import { ModelStore } from '../../app/model/store.js';
import type { ModelProgress } from '../../app/model/types.js';
import { startS3 } from '../helpers/s3.js';
import { BUNDLED_MD5, BUNDLED_MODEL, recordingLogger, tempDir, waitFor } from './fixtures.js';

for (const name of Object.keys(process.env)) {
  if (name.startsWith('AWS_') && name !== 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED') delete process.env[name];
}
const nowhere = path.join(path.sep, 'nonexistent', 'aws');
process.env.AWS_SHARED_CREDENTIALS_FILE = path.join(nowhere, 'credentials');
process.env.AWS_CONFIG_FILE = path.join(nowhere, 'config');
process.env.AWS_EC2_METADATA_DISABLED = 'true';

test('no credentials anywhere: no_credentials, permanent, and no request reaches S3', async (t) => {
  const s3 = await startS3();
  t.teardown(() => s3.close());
  await s3.put('present', 'model.ftz', BUNDLED_MODEL);
  const before = s3.requests.length;
  const sources = new SourceFactory(
    { region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, checksums: 'when_required' },
    { maxAttempts: 1 },
  );
  const store = new ModelStore({
    cacheDir: await tempDir('nocreds'),
    sources,
    logger: recordingLogger(),
    retryBaseMs: 20,
    retryMaxMs: 400,
    stallTimeoutMs: 2000,
  });
  const abort = new AbortController();
  t.teardown(async () => {
    abort.abort();
    await store.close();
    sources.close();
  });
  const progress: ModelProgress[] = [];
  store
    .ensure(
      { uri: 's3://present/model.ftz', md5: BUNDLED_MD5 },
      { signal: abort.signal, onProgress: (p) => progress.push(p) },
    )
    .catch(() => undefined);
  await waitFor('a failure', () => progress.some((p) => p.nextRetryMs !== undefined), 15_000);
  const failure = progress.find((p) => p.nextRetryMs !== undefined);
  t.is(failure?.phase, 'no_credentials', failure?.detail);
  t.regex(failure?.detail ?? '', /no S3 credentials found/);
  t.true((failure?.nextRetryMs ?? 0) >= 200);
  t.is(s3.requests.length, before, 'nothing was sent');
});
