// From environment to verified file, the way the service wires it: loadConfig ->
// resolveLock -> createModelStore -> ensure.
import { readFile } from 'node:fs/promises';
import test from 'ava';
import { loadConfig } from '../../app/config.js';
import { createModelStore, resolveLock } from '../../app/model/index.js';
import { S3RVER_CREDENTIALS, startS3 } from '../helpers/s3.js';
import { BUNDLED_MD5, BUNDLED_MODEL, BUNDLED_SHA256, recordingLogger, tempDir } from './fixtures.js';

process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;

test('no configuration: the committed lock yields the bundled model, verified into the cache', async (t) => {
  const config = loadConfig({ MODEL_CACHE_DIR: await tempDir('wiring') });
  const lock = await resolveLock(config.model);
  const { store, close } = createModelStore(config, recordingLogger());
  t.teardown(close);
  const first = await store.ensure(lock);
  t.like(first, { md5: BUNDLED_MD5, fromCache: false });
  t.true((await readFile(first.path)).equals(await readFile(BUNDLED_MODEL)));
  t.like(await store.ensure(lock), { fromCache: true, path: first.path });
});

test('MODEL_URI + MODEL_MD5 + S3_ENDPOINT: the model comes from S3', async (t) => {
  const s3 = await startS3();
  t.teardown(() => s3.close());
  const model = await readFile(BUNDLED_MODEL);
  await s3.put('pipeline', 'v7/lid.ftz', model);
  const config = loadConfig({
    MODEL_CACHE_DIR: await tempDir('wiring'),
    MODEL_URI: 's3://pipeline/v7/lid.ftz',
    MODEL_MD5: BUNDLED_MD5,
    S3_ENDPOINT: s3.endpoint,
    S3_FORCE_PATH_STYLE: 'true',
    MODEL_RETRY_BASE_MS: '20',
    MODEL_RETRY_MAX_MS: '100',
  });
  const lock = await resolveLock(config.model);
  t.like(lock, { uri: 's3://pipeline/v7/lid.ftz', name: 'lid', bytes: undefined });
  const { store, close } = createModelStore(config, recordingLogger());
  t.teardown(close);
  const verified = await store.ensure(lock);
  t.true((await readFile(verified.path)).equals(model));
  t.is(s3.count('GET', 'pipeline', 'v7/lid.ftz'), 1);
});

test('MODEL_SHA256: validated at start, carried through the lock, checked by the store', async (t) => {
  t.throws(() => loadConfig({ MODEL_SHA256: 'abc' }), {
    message: /MODEL_SHA256="abc" is not 64 hexadecimal characters/,
  });
  const config = loadConfig({ MODEL_CACHE_DIR: await tempDir('wiring'), MODEL_SHA256: BUNDLED_SHA256.toUpperCase() });
  const lock = await resolveLock(config.model);
  t.is(lock.sha256, BUNDLED_SHA256);
  const { store, close } = createModelStore(config, recordingLogger());
  t.teardown(close);
  t.like(await store.ensure(lock), { md5: BUNDLED_MD5, sha256: BUNDLED_SHA256 });
});
