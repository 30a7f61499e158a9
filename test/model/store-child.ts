// A model store in a process of its own, for the tests of one cache dir shared by many
// processes: ensures the model given in its environment, prints one JSON line with the
// result and the log messages, and exits. Supervised by the test: it exits on its own
// after STORE_CHILD_DEADLINE_MS at the latest.
import { SourceFactory } from '../../app/model/source.js';
import { ModelStore } from '../../app/model/store.js';
import { recordingLogger } from './fixtures.js';

const env = process.env;
const deadline = AbortSignal.timeout(Number(env.STORE_CHILD_DEADLINE_MS ?? 20_000));
const logger = recordingLogger();
const sources = new SourceFactory(
  { region: 'us-east-1', endpoint: env.S3_ENDPOINT, forcePathStyle: true, checksums: 'when_required' },
  { maxAttempts: 1, connectTimeoutMs: 1000, idleTimeoutMs: 5000 },
);
const store = new ModelStore({
  cacheDir: env.CACHE_DIR ?? '',
  sources,
  logger,
  retryBaseMs: 20,
  retryMaxMs: 200,
  stallTimeoutMs: Number(env.STALL_MS ?? 5000),
  lockPollMs: 50,
});
try {
  const model = await store.ensure(
    { uri: env.MODEL_URI ?? '', md5: env.MODEL_MD5 ?? '', bytes: Number(env.MODEL_BYTES) },
    { signal: deadline },
  );
  process.stdout.write(`${JSON.stringify({ ok: true, model, messages: logger.entries.map((e) => e.msg) })}\n`);
} catch (err) {
  process.stdout.write(
    `${JSON.stringify({ ok: false, error: String(err), messages: logger.entries.map((e) => e.msg) })}\n`,
  );
  process.exitCode = 1;
} finally {
  await store.close();
  sources.close();
}
