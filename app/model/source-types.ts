// What the sources share with the store and with each other: the source interface, its
// errors and the S3 settings. A leaf module (it imports nothing of the model's), so that
// source.ts and s3.ts both depend on it rather than on each other.
import type { Readable } from 'node:stream';
import type { S3ChecksumMode } from '../config.js';

export interface ObjectInfo {
  readonly bytes: number;
  /** The object's version tag (S3 ETag, or size+mtime for a file); undefined when the server sends none. */
  readonly etag?: string | undefined;
}

export interface OpenOptions {
  readonly signal?: AbortSignal | undefined;
  /** The version head() saw; a different one is a SourceError of kind 'changed'. */
  readonly etag?: string | undefined;
}

export interface ModelSource {
  /** The URI, for logs and errors. */
  readonly uri: string;
  head(signal?: AbortSignal): Promise<ObjectInfo>;
  /** The bytes from `start` (0-based) to the end of the object. */
  open(start: number, options?: OpenOptions): Promise<Readable>;
}

export type SourceErrorKind =
  | 'not_found'
  | 'access_denied'
  | 'no_credentials' // the client found no credentials at all: nothing was asked of the server
  | 'wrong_region' // the bucket lives in another region (the region is in the message when known)
  | 'unreachable' // network failure or timeout: the endpoint could not be reached
  | 'server_error' // the endpoint answered 5xx: transient on its side
  | 'changed' // the object was replaced between head() and open()
  | 'failed'; // anything else (bad range, malformed answer...)

export class SourceError extends Error {
  constructor(
    readonly kind: SourceErrorKind,
    message: string,
    /** For 'wrong_region': the bucket's region, from x-amz-bucket-region. */
    readonly region?: string,
  ) {
    super(message);
    this.name = 'SourceError';
  }
}

export interface S3Settings {
  readonly region: string;
  readonly endpoint: string | undefined;
  readonly forcePathStyle: boolean;
  readonly checksums: S3ChecksumMode;
}

export interface S3ClientOptions {
  /** TCP connect deadline. */
  readonly connectTimeoutMs?: number;
  /**
   * Deadline for response headers, and for socket inactivity while the body streams: no
   * SDK call waits forever on a silent server.
   */
  readonly idleTimeoutMs?: number;
  /** SDK-level attempts; 1 when the caller runs its own retry loop (the store does). */
  readonly maxAttempts?: number;
}

export function isAbort(err: unknown, signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true || (err instanceof Error && err.name === 'AbortError');
}
