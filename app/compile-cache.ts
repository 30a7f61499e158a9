// Node's on-disk compile cache (V8 code cache of every module, keyed by file, source hash,
// Node version and user id): where it lives, and turning it on. Why and the numbers:
// docs/architecture.md (Start). Imports nothing of the service, so the entry can load it first.
import nodeModule from 'node:module';
import { fileURLToPath } from 'node:url';

/** What enabling the cache did, for the start's log line. */
export interface CompileCacheState {
  readonly status: 'enabled' | 'already_enabled' | 'failed' | 'disabled' | 'unsupported';
  /** The directory Node uses (with its version/user subdirectory), when it uses one. */
  readonly directory?: string;
  /** Node's reason when it failed or is disabled. */
  readonly message?: string;
}

type CompileCacheApi = Partial<Pick<typeof nodeModule, 'enableCompileCache' | 'getCompileCacheDir' | 'constants'>>;

/** `node_modules/.cache/fasttext-edge-compile` of the install (dist/app/ -> the project root). */
export function compileCacheDir(): string {
  return fileURLToPath(new URL('../../node_modules/.cache/fasttext-edge-compile', import.meta.url));
}

/**
 * Turns the cache on. NODE_COMPILE_CACHE (another directory) and NODE_DISABLE_COMPILE_CACHE=1
 * (off) are Node's own and win over this call. A directory that cannot be written (a read-only
 * root filesystem) still serves what the image build put there; Node < 22.1 has no cache.
 */
export function enableCompileCache(dir: string = compileCacheDir()): CompileCacheState {
  const api = nodeModule as CompileCacheApi;
  const codes = api.constants?.compileCacheStatus;
  if (api.enableCompileCache === undefined || codes === undefined) return { status: 'unsupported' };
  const result = api.enableCompileCache(dir);
  const status =
    result.status === codes.ENABLED
      ? 'enabled'
      : result.status === codes.ALREADY_ENABLED
        ? 'already_enabled'
        : result.status === codes.DISABLED
          ? 'disabled'
          : 'failed';
  const directory = api.getCompileCacheDir?.();
  return {
    status,
    ...(directory === undefined ? {} : { directory }),
    ...(result.message === undefined ? {} : { message: result.message }),
  };
}
