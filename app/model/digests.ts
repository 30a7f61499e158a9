// MD5 (always) and SHA-256 (when the lock has one) over the same bytes in one pass, for
// downloads (fed chunk by chunk); one digest for files already on disk.
import { createHash, type Hash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';

export interface DigestValues {
  readonly md5: string;
  readonly sha256?: string | undefined;
  readonly bytes: number;
}

export class Digests {
  private readonly md5 = createHash('md5');
  private readonly sha256: Hash | undefined;
  bytes = 0;

  constructor(withSha256: boolean) {
    this.sha256 = withSha256 ? createHash('sha256') : undefined;
  }

  update(chunk: Uint8Array): void {
    this.md5.update(chunk);
    this.sha256?.update(chunk);
    this.bytes += chunk.length;
  }

  /** Finalises both; the object cannot be used afterwards. */
  digest(): DigestValues {
    return { md5: this.md5.digest('hex'), sha256: this.sha256?.digest('hex'), bytes: this.bytes };
  }
}

/**
 * Reads are this big. Measured on this project's 2-core machine, a 1 GiB file in the page
 * cache, CPU seconds (user + system; wall time measured the other tenants, load 17):
 * md5sum 1.64; 64 KiB stream reads (an older version) 2.13 (1.30x); 1 MiB reads into one
 * reused buffer 1.64 (1.00x); 8 MiB reads 1.61; a worker thread with 1 or 8 MiB reads
 * 1.63 / 1.66. Event-loop delay while hashing, p99: 26 ms with 1 MiB reads (each update
 * holds the loop ~2 ms), 115 ms with 8 MiB, 42-52 ms with the worker (its reads and the
 * main thread share two busy cores). So: 1 MiB reads on the main thread; a worker buys
 * nothing on two cores and costs a thread start and a second copy of the code path.
 * With a sha256 in the lock, a download's MD5 and SHA-256 together cost 2.3-2.4 s CPU per GiB.
 */
export const HASH_READ_BYTES = 1024 * 1024;

/**
 * The one digest a file already verified on its download is checked by again (a cache hit, a
 * file touched since): the lock's SHA-256 when it has one, else its MD5. Both digests were
 * fixed at build time from the same bytes and both were checked on the download. A file that
 * hashes to the SHA-256 is those bytes, so also has their MD5, and SHA-256 is the stronger of
 * the two (MD5 collisions can be made). It is also 2.6x cheaper here (SHA-NI): 0.80 s against
 * 2.08 s for 1.06 GiB, which is the difference between a warm start bound by the hash and
 * one bound by the model's load (docs/model.md).
 */
export interface FileCheck {
  readonly algorithm: 'md5' | 'sha256';
  /** The expected digest, lowercase hex. */
  readonly digest: string;
}

export function fileCheckOf(expected: { readonly md5: string; readonly sha256?: string | undefined }): FileCheck {
  return expected.sha256 === undefined
    ? { algorithm: 'md5', digest: expected.md5 }
    : { algorithm: 'sha256', digest: expected.sha256 };
}

export interface FileDigest {
  readonly algorithm: FileCheck['algorithm'];
  /** The digest of the bytes read, lowercase hex. */
  readonly digest: string;
  readonly bytes: number;
}

/**
 * Hashes an open file from its start to its end; `signal` stops it between reads. The next
 * read is in flight while a chunk is hashed: on a 1.06 GiB file in the page cache, SHA-256
 * took 650 ms against 800 ms read-then-hash, the same as hashing it from memory (628 ms).
 */
export async function hashHandle(
  handle: FileHandle,
  algorithm: FileCheck['algorithm'],
  signal?: AbortSignal,
): Promise<FileDigest> {
  const hash = createHash(algorithm);
  let current = Buffer.allocUnsafe(HASH_READ_BYTES);
  let next = Buffer.allocUnsafe(HASH_READ_BYTES);
  let position = 0;
  let reading = handle.read(current, 0, HASH_READ_BYTES, 0);
  try {
    for (;;) {
      const { bytesRead } = await reading;
      if (bytesRead === 0) break;
      signal?.throwIfAborted();
      position += bytesRead;
      reading = handle.read(next, 0, HASH_READ_BYTES, position);
      // update() keeps nothing of the chunk, so its buffer takes the read after next.
      hash.update(current.subarray(0, bytesRead));
      [current, next] = [next, current];
    }
  } finally {
    // The caller closes the handle: no read may still be in flight on it.
    await reading.catch(() => undefined);
  }
  return { algorithm, digest: hash.digest('hex'), bytes: position };
}

/** Do the digests match what the lock expects? Says which one differs, or undefined when both match. */
export function digestMismatch(
  actual: DigestValues,
  expected: { readonly md5: string; readonly sha256?: string | undefined },
): 'md5_mismatch' | 'sha256_mismatch' | undefined {
  if (actual.md5 !== expected.md5) return 'md5_mismatch';
  if (expected.sha256 !== undefined && actual.sha256 !== expected.sha256) return 'sha256_mismatch';
  return undefined;
}
