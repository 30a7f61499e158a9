// One download into a .part file of its own: each chunk is written, then fed to the
// digests that live across resumes, so the digests describe exactly the bytes this
// process wrote to that file (no one else writes to it: its name is unique and it was
// created with O_EXCL). A stall destroys the stream; the store resumes from the offset.
import { randomBytes } from 'node:crypto';
import { open, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { partName } from './cache-file.js';
import { Digests } from './digests.js';
import { errorMessage, ModelAbortError } from './errors.js';
import type { ModelLogger, ModelProgress } from './types.js';

const MB = 1024 * 1024;

/** The bytes on disk can no longer be trusted as a prefix of the object: start over. */
export class RestartError extends Error {
  override name = 'RestartError';
}

/** A download in progress: its .part file, and the digests of exactly the bytes in it. */
export interface PartialDownload {
  readonly path: string;
  readonly handle: FileHandle;
  readonly digests: Digests;
  readonly total: number;
  readonly etag: string | undefined;
  offset: number;
}

/** Creates a fresh .part file (O_EXCL: never one that exists, whoever made it). */
export async function openPart(
  cacheDir: string,
  md5: string,
  info: { readonly bytes: number; readonly etag?: string | undefined },
  withSha256: boolean,
): Promise<PartialDownload> {
  const file = path.join(cacheDir, partName(md5, randomBytes(6).toString('hex')));
  const handle = await open(file, 'wx');
  return { path: file, handle, digests: new Digests(withSha256), total: info.bytes, etag: info.etag, offset: 0 };
}

/** Closes and deletes a partial download; errors are ignored (it is being abandoned). */
export async function discard(partial: PartialDownload): Promise<void> {
  await partial.handle.close().catch(() => undefined);
  await rm(partial.path, { force: true }).catch(() => undefined);
}

async function writeAll(handle: FileHandle, chunk: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, done, chunk.length - done, position + done);
    done += bytesWritten;
  }
}

export interface ReceiveArgs {
  readonly stream: Readable;
  readonly partial: PartialDownload;
  /** Bytes read from the source in this ensure(), across attempts. */
  readonly transfer: { bytes: number };
  readonly signal: AbortSignal;
  readonly uri: string;
  readonly logger: ModelLogger;
  readonly stallTimeoutMs: number;
  readonly progressIntervalMs: number;
  /** Reports progress at each interval; the store adds the attempt and the last failure. */
  readonly onProgress: (progress: Pick<ModelProgress, 'bytesDone' | 'bytesTotal'>) => void;
}

/** Appends the stream to the partial download, hashing as it goes; a stall destroys the stream. */
export async function receive(args: ReceiveArgs): Promise<void> {
  const { stream, partial, transfer, signal, uri, logger, stallTimeoutMs } = args;
  let lastByteAt = performance.now();
  let windowStart = lastByteAt;
  let windowBytes = 0;
  const stallCheck = setInterval(
    () => {
      if (performance.now() - lastByteAt >= stallTimeoutMs) {
        stream.destroy(new Error(`no byte received for ${stallTimeoutMs} ms (stalled download)`));
      }
    },
    Math.max(10, Math.min(1000, Math.floor(stallTimeoutMs / 4))),
  );
  const onAbort = (): void => {
    stream.destroy(new ModelAbortError(signal.reason));
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const data of stream) {
      const chunk = data as Buffer;
      lastByteAt = performance.now();
      if (partial.offset + chunk.length > partial.total) {
        throw new RestartError(`${uri} sent more than the ${partial.total} bytes HEAD announced`);
      }
      try {
        await writeAll(partial.handle, chunk, partial.offset);
      } catch (err) {
        throw new RestartError(`cannot write the model to the cache: ${errorMessage(err)}`, { cause: err });
      }
      partial.digests.update(chunk);
      partial.offset += chunk.length;
      transfer.bytes += chunk.length;
      windowBytes += chunk.length;
      const elapsed = lastByteAt - windowStart;
      if (elapsed >= args.progressIntervalMs) {
        const percent = partial.total === 0 ? 100 : Math.floor((partial.offset / partial.total) * 1000) / 10;
        const mbPerS = Math.round((windowBytes / MB / (elapsed / 1000)) * 100) / 100;
        logger.info(
          { uri, percent, mbPerS, bytesDone: partial.offset, bytesTotal: partial.total },
          'model download progress',
        );
        args.onProgress({ bytesDone: partial.offset, bytesTotal: partial.total });
        windowStart = lastByteAt;
        windowBytes = 0;
      }
    }
  } finally {
    clearInterval(stallCheck);
    signal.removeEventListener('abort', onAbort);
    stream.destroy();
  }
}
