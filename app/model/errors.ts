// The store's failures, each with the readiness reason it becomes and whether retrying
// soon can help: a 404, a denied request or a bad MD5 will not heal in a second (those
// wait near the retry cap), a dropped connection or a 5xx may.
import { SourceError } from './source-types.js';
import type { FetchedObject, ModelFailurePhase } from './types.js';

export class ModelStoreError extends Error {
  override name = 'ModelStoreError';
  constructor(
    readonly phase: ModelFailurePhase,
    message: string,
    /** True when an immediate retry cannot help: the store then waits near its cap. */
    readonly permanent: boolean,
    /** For mismatches: what the rejected bytes hashed to. */
    readonly fetched?: FetchedObject,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** What ensure() rejects with when its signal fires; the signal's reason is the cause. */
export class ModelAbortError extends Error {
  override name = 'AbortError';
  readonly code = 'ABORT_ERR';
  constructor(cause: unknown) {
    super('the model download was aborted', { cause });
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Local file-system failures that will not go away by retrying soon. */
const LOCAL_PERMANENT = new Set(['EISDIR', 'ENOTDIR', 'EACCES', 'EPERM', 'EROFS', 'ELOOP', 'ENAMETOOLONG', 'EEXIST']);
/** Local failures that heal when an operator or another process frees space. */
const LOCAL_TRANSIENT = new Set(['ENOSPC', 'EDQUOT', 'EMFILE', 'ENFILE', 'EIO']);

function errnoOf(err: unknown): string | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
  }
  return undefined;
}

/**
 * The readiness reason of a failure. SourceErrors are about the model's source; an errno
 * error anywhere else came from the cache directory (the only local files the store
 * touches), so it is `cache_unusable`.
 */
export function classifyFailure(err: unknown): ModelStoreError {
  if (err instanceof ModelStoreError) return err;
  const message = errorMessage(err);
  if (err instanceof SourceError) {
    switch (err.kind) {
      case 'not_found':
        return new ModelStoreError('model_not_found', message, true, undefined, { cause: err });
      case 'access_denied':
        return new ModelStoreError('access_denied', message, true, undefined, { cause: err });
      case 'no_credentials':
        return new ModelStoreError('no_credentials', message, true, undefined, { cause: err });
      case 'wrong_region':
        return new ModelStoreError('wrong_region', message, true, undefined, { cause: err });
      case 'unreachable':
        return new ModelStoreError('endpoint_unreachable', message, false, undefined, { cause: err });
      default:
        return new ModelStoreError('download_failed', message, false, undefined, { cause: err });
    }
  }
  const code = errnoOf(err);
  if (code !== undefined && LOCAL_PERMANENT.has(code)) {
    return new ModelStoreError('cache_unusable', `the cache directory is unusable: ${message}`, true, undefined, {
      cause: err,
    });
  }
  if (code !== undefined && LOCAL_TRANSIENT.has(code)) {
    return new ModelStoreError('cache_unusable', `the cache directory is unusable: ${message}`, false, undefined, {
      cause: err,
    });
  }
  return new ModelStoreError('download_failed', message, false, undefined, { cause: err });
}
