// Shapes shared by the model modules: what the build fixes, and what a load yields.

/** The build-time lock: the model the service must serve, fixed by its MD5. */
export interface ModelLock {
  /** s3://bucket/key or file:///abs/path (absolute once resolved by lock.ts). */
  readonly uri: string;
  readonly md5: string; // 32 lowercase hex
  /** Optional second digest (64 lowercase hex): when given, the bytes must match both. */
  readonly sha256?: string | undefined;
  /** Expected size; undefined when an override replaced the locked object. */
  readonly bytes?: number | undefined;
  readonly name?: string | undefined;
  /** Known answers of this model, checked after it loads. */
  readonly canaries?: readonly ModelCanary[] | undefined;
}

/** A text and the top label (without `__label__`) and score the model gives it. */
export interface ModelCanary {
  readonly text: string;
  readonly label: string;
  readonly score: number;
}

/** The lock after overrides: what the service will serve, with where each value came from. */
export interface ResolvedLock extends ModelLock {
  readonly name: string;
  /** The lock file read, or undefined when MODEL_URI + MODEL_MD5 replaced it entirely and it was absent. */
  readonly lockFile: string | undefined;
  /** Which values came from the environment rather than the lock file. */
  readonly overridden: readonly ('uri' | 'md5' | 'sha256' | 'name')[];
}

/**
 * What lstat said about a file when its bytes were verified. While all five are unchanged
 * the bytes are taken as unchanged (a write moves mtime/ctime, a replacement moves ino).
 */
export interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

/** A verified model file on local disk. */
export interface VerifiedModel {
  readonly path: string;
  readonly md5: string;
  /** Present when the lock asked for sha256 too (then it was checked). */
  readonly sha256?: string | undefined;
  readonly bytes: number;
  /** The file's identity right after its bytes were last hashed. */
  readonly identity: FileIdentity;
  /** true when the verified cache was reused, false when downloaded/copied now. */
  readonly fromCache: boolean;
  /**
   * The digests computed over these bytes: a download both the lock names ('md5+sha256', or
   * 'md5'), a cache hit one (the lock's SHA-256 when it has one, which binds its MD5).
   */
  readonly verifiedBy: 'md5' | 'sha256' | 'md5+sha256';
  /** Bytes read from the source during this ensure() (0 on a cache hit; more than `bytes` after re-downloads). */
  readonly bytesTransferred: number;
  /** Wall time of this ensure(), retries and waits included. */
  readonly durationMs: number;
}

/**
 * Why a model could not be obtained; each becomes /ready's `reason` (README, readiness
 * reasons). Kept stable: operators alert on them.
 */
export const MODEL_FAILURE_PHASES = [
  'md5_mismatch',
  'sha256_mismatch',
  'size_mismatch',
  'model_not_found',
  'access_denied',
  'wrong_region',
  'no_credentials',
  'endpoint_unreachable',
  'download_failed',
  'cache_unusable',
  'model_changed',
] as const;

export type ModelFailurePhase = (typeof MODEL_FAILURE_PHASES)[number];

const FAILURES: ReadonlySet<string> = new Set(MODEL_FAILURE_PHASES);

export function isModelFailurePhase(phase: string): phase is ModelFailurePhase {
  return FAILURES.has(phase);
}

/** Why the model is not (yet) usable; becomes /ready's `reason`. */
export type ModelPhase =
  | 'pending' // lazy mode, nothing asked yet
  | 'downloading'
  | 'verifying'
  | 'verified'
  | ModelFailurePhase;

/** What a complete download hashed to: shown to operators even when it was rejected. */
export interface FetchedObject {
  readonly md5: string;
  readonly sha256?: string | undefined;
  readonly bytes: number;
  /** The source's version tag of what was read, when it has one. */
  readonly etag?: string | undefined;
}

export interface ModelProgress {
  readonly phase: ModelPhase;
  readonly bytesDone?: number;
  readonly bytesTotal?: number;
  readonly detail?: string; // error message for failures (no secrets)
  readonly attempt?: number;
  readonly nextRetryMs?: number;
  /**
   * The failure that caused the current retry, carried by the phases that follow it
   * ('downloading', 'verifying') until a model is verified: /ready can keep saying
   * `md5_mismatch` while the store fetches the object again.
   */
  readonly lastFailure?: ModelFailure;
  /**
   * On 'verifying' a cached file: the file about to be hashed, as it stood before the hash.
   * The lifecycle may start the engine on it meanwhile (app/lifecycle-early-engine.ts).
   */
  readonly candidate?: ModelCandidate;
}

/** A cached model file not yet verified: its path and the identity it had when found. */
export interface ModelCandidate {
  readonly path: string;
  readonly identity: FileIdentity;
}

export interface ModelFailure {
  readonly phase: ModelFailurePhase;
  readonly detail: string;
  /** For the mismatch phases: what the rejected bytes hashed to. */
  readonly fetched?: FetchedObject | undefined;
}

/** The subset of a pino logger the model modules use; the caller passes its own. */
export interface ModelLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
