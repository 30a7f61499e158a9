// One download into a .part file of its own: chunks are gathered into batches, each written
// (one batch on disk while the next arrives) and then fed to the digests that live across
// resumes. Whenever receive() returns or throws, every batch has been written and hashed, so
// the digests describe exactly the bytes this process wrote to that file (no one else writes
// to it: its name is unique and it was created with O_EXCL); a failed write or hash discards
// the file (RestartError). A stall destroys the stream; the store resumes from the offset.
import { randomBytes } from 'node:crypto';
import { open, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { partName } from './cache-file.js';
import { downloadDigests, type DownloadDigests } from './download-digests.js';
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
  readonly digests: DownloadDigests;
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
  // The digests first: nothing is opened that a failure here would leave open.
  const digests = downloadDigests(info.bytes, withSha256);
  const file = path.join(cacheDir, partName(md5, randomBytes(6).toString('hex')));
  let handle: FileHandle;
  try {
    handle = await open(file, 'wx');
  } catch (err) {
    await digests.close();
    throw err;
  }
  return { path: file, handle, digests, total: info.bytes, etag: info.etag, offset: 0 };
}

/** Closes and deletes a partial download; errors are ignored (it is being abandoned). */
export async function discard(partial: PartialDownload): Promise<void> {
  await partial.digests.close().catch(() => undefined);
  await partial.handle.close().catch(() => undefined);
  await rm(partial.path, { force: true }).catch(() => undefined);
}

/**
 * Bytes gathered before they go to disk in one writev. Awaiting a write per network chunk
 * (~64 KiB) left the socket unread during every write: 1.06 GiB from s3rver took 6.1 s
 * against 2.5 s for the transfer alone (bench, large phase).
 */
const BATCH_BYTES = 4 * MB;

async function writeAll(handle: FileHandle, batch: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < batch.length) {
    const { bytesWritten } = await handle.write(batch, done, batch.length - done, position + done);
    done += bytesWritten;
  }
}

/** Batches of chunks written in order, one at a time, while the next batch gathers. */
class BatchWriter {
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private writing: Promise<void> = Promise.resolve();
  private failure: unknown;

  constructor(
    private readonly partial: PartialDownload,
    /** Where the next byte handed to add() goes in the file. */
    private position: number,
  ) {}

  /**
   * Takes a chunk; resolves at once unless a full batch had to wait for the previous write.
   * Throws once a write has failed: the download stops there instead of reading the rest.
   */
  async add(chunk: Buffer): Promise<void> {
    this.throwIfFailed();
    this.batch.push(chunk);
    this.batchBytes += chunk.length;
    if (this.batchBytes >= BATCH_BYTES) await this.flush();
  }

  /** Starts writing what has gathered, once the write before it is done. */
  private async flush(): Promise<void> {
    if (this.batchBytes === 0) return;
    const chunks = this.batch;
    const bytes = this.batchBytes;
    const position = this.position;
    this.batch = [];
    this.batchBytes = 0;
    this.position += bytes;
    await this.writing;
    if (this.failure !== undefined) return;
    // One buffer: one write, and memory the hashing thread can take over without a copy.
    const batch = Buffer.concat(chunks, bytes);
    this.writing = (async () => {
      await writeAll(this.partial.handle, batch, position);
      this.partial.offset += bytes;
      await this.partial.digests.update(batch);
    })().catch((err: unknown) => {
      // A failed write or hash: the file can no longer be resumed, whatever the stream does.
      this.failure = err;
    });
  }

  /** Everything added is on disk (partial.offset counts it), or a RestartError. */
  async finish(): Promise<void> {
    await this.flush();
    await this.writing;
    this.throwIfFailed();
  }

  private throwIfFailed(): void {
    if (this.failure === undefined) return;
    throw new RestartError(`cannot write or hash the model: ${errorMessage(this.failure)}`, {
      cause: this.failure,
    });
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

/** Appends the stream to the partial download, hashing what it wrote; a stall destroys the stream. */
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
  const writer = new BatchWriter(partial, partial.offset);
  let received = partial.offset;
  try {
    for await (const data of stream) {
      const chunk = data as Buffer;
      lastByteAt = performance.now();
      if (received + chunk.length > partial.total) {
        throw new RestartError(`${uri} sent more than the ${partial.total} bytes HEAD announced`);
      }
      received += chunk.length;
      await writer.add(chunk);
      transfer.bytes += chunk.length;
      windowBytes += chunk.length;
      const elapsed = lastByteAt - windowStart;
      if (elapsed >= args.progressIntervalMs) {
        const percent = partial.total === 0 ? 100 : Math.floor((received / partial.total) * 1000) / 10;
        const mbPerS = Math.round((windowBytes / MB / (elapsed / 1000)) * 100) / 100;
        logger.info(
          { uri, percent, mbPerS, bytesDone: received, bytesTotal: partial.total },
          'model download progress',
        );
        args.onProgress({ bytesDone: received, bytesTotal: partial.total });
        windowStart = lastByteAt;
        windowBytes = 0;
      }
    }
  } finally {
    clearInterval(stallCheck);
    signal.removeEventListener('abort', onAbort);
    stream.destroy();
    // Also after a stream error: the offset a resume starts from counts written bytes only,
    // and a failed write outranks the stream's error (the file cannot be resumed).
    await writer.finish();
  }
}
