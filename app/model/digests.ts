// MD5 (always) and SHA-256 (when the lock has one) over the same bytes in one pass, for
// downloads (fed chunk by chunk) and for files already on disk.
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
 * Reads are this big: measured on a 1 GiB file on this project's 2-core machine (see
 * docs/model.md, "Hashing"), 1 MiB reads hash as fast as md5sum while the event loop
 * stays responsive (each update blocks it ~2 ms); 64 KiB reads cost ~1.4x in syscalls
 * and promise turns, larger reads gain nothing and block the loop longer per chunk.
 */
export const HASH_READ_BYTES = 1024 * 1024;

/** Hashes an open file from its start to its end; `signal` stops it between reads. */
export async function hashHandle(handle: FileHandle, withSha256: boolean, signal?: AbortSignal): Promise<DigestValues> {
  const digests = new Digests(withSha256);
  const buffer = Buffer.allocUnsafe(HASH_READ_BYTES);
  let position = 0;
  for (;;) {
    signal?.throwIfAborted();
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) break;
    // update() copies nothing it keeps, so the buffer is reused for the next read.
    digests.update(buffer.subarray(0, bytesRead));
    position += bytesRead;
  }
  return digests.digest();
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
