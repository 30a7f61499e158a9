// The model module's entry point: the lock, the store wired from the service config, and
// the types the rest of the service sees.
import type { Config } from '../config.js';
import { SourceFactory } from './source.js';
import { ModelStore } from './store.js';
import type { ModelLogger } from './types.js';

export { applyOverrides, LockError, readLockFile, resolveLock } from './lock.js';
export { SourceError, SourceFactory } from './source.js';
export { ModelAbortError, ModelStore, ModelStoreError } from './store.js';
export { isModelFailurePhase, MODEL_FAILURE_PHASES } from './types.js';
export type {
  FetchedObject,
  FileIdentity,
  ModelFailurePhase,
  ModelLock,
  ModelLogger,
  ModelPhase,
  ModelProgress,
  ResolvedLock,
  VerifiedModel,
} from './types.js';

export interface ModelStoreHandle {
  readonly store: ModelStore;
  /** Aborts downloads in progress, then closes the S3 connection pool. */
  readonly close: () => Promise<void>;
}

/**
 * The store as the service runs it: sources on the configured S3 settings, with the
 * stall timeout also bounding each S3 call (connect, response headers, body silence),
 * SDK retries off (the store's own loop retries, with backoff and logs).
 */
export function createModelStore(config: Pick<Config, 'model' | 's3'>, logger: ModelLogger): ModelStoreHandle {
  const sources = new SourceFactory(config.s3, {
    maxAttempts: 1,
    connectTimeoutMs: Math.min(10_000, config.model.stallTimeoutMs),
    idleTimeoutMs: config.model.stallTimeoutMs,
  });
  const store = new ModelStore({
    cacheDir: config.model.cacheDir,
    sources,
    logger,
    retryBaseMs: config.model.retryBaseMs,
    retryMaxMs: config.model.retryMaxMs,
    stallTimeoutMs: config.model.stallTimeoutMs,
  });
  return {
    store,
    async close() {
      await store.close();
      sources.close();
    },
  };
}
