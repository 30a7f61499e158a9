// Shapes shared by the model modules: what the build fixes, and what a load yields.

/** The build-time lock: the model the service must serve, fixed by its MD5. */
export interface ModelLock {
  /** s3://bucket/key or file:///abs/path (absolute once resolved by lock.ts). */
  readonly uri: string;
  readonly md5: string; // 32 lowercase hex
  /** Expected size; undefined when an override replaced the locked object. */
  readonly bytes?: number | undefined;
  readonly name?: string | undefined;
  /** SHA-256 of the model file (64 lowercase hex), when the lock carries it. */
  readonly sha256?: string | undefined;
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
  readonly overridden: readonly ('uri' | 'md5' | 'name')[];
}

/** A verified model file on local disk. */
export interface VerifiedModel {
  readonly path: string;
  readonly md5: string;
  readonly bytes: number;
  /** true when the verified cache was reused, false when downloaded/copied now. */
  readonly fromCache: boolean;
  /** Bytes read from the source during this ensure() (0 on a cache hit; more than `bytes` after re-downloads). */
  readonly bytesTransferred: number;
  /** Wall time of this ensure(), retries and waits included. */
  readonly durationMs: number;
}

/** Why the model is not (yet) usable; becomes /ready's `reason`. */
export type ModelPhase =
  | 'pending' // lazy mode, nothing asked yet
  | 'downloading'
  | 'verifying'
  | 'md5_mismatch'
  | 'size_mismatch'
  | 'download_failed'
  | 'verified';

export type ModelFailurePhase = 'md5_mismatch' | 'size_mismatch' | 'download_failed';

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
  readonly lastFailure?: { readonly phase: ModelFailurePhase; readonly detail: string };
}

/** The subset of a pino logger the model modules use; the caller passes its own. */
export interface ModelLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
