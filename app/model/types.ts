// Shapes shared by the model modules: what the build fixes, and what a load yields.

/** The build-time lock: the model the service must serve, fixed by its MD5. */
export interface ModelLock {
  readonly uri: string; // s3://bucket/key or file:///abs/path
  readonly md5: string; // 32 lowercase hex
  readonly bytes?: number | undefined;
  readonly name?: string | undefined;
}

/** A verified model file on local disk. */
export interface VerifiedModel {
  readonly path: string;
  readonly md5: string;
  readonly bytes: number;
  /** true when the verified cache was reused, false when downloaded/copied now. */
  readonly fromCache: boolean;
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

export interface ModelProgress {
  readonly phase: ModelPhase;
  readonly bytesDone?: number;
  readonly bytesTotal?: number;
  readonly detail?: string; // error message for failures (no secrets)
  readonly attempt?: number;
  readonly nextRetryMs?: number;
}
