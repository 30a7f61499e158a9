// The digests of a download, fed one written batch at a time. A large download is hashed on
// a worker thread: MD5 and SHA-256 together cost ~2.5 s of CPU per GiB, and on the main
// thread they were most of a download's time (1.06 GiB from a file stream, written in 4 MiB
// batches: 3.9-5.7 s hashed inline, 2.8-3.0 s with the hashing on a worker). A small one is
// hashed inline: a worker's start (~30 ms) would cost more than it saves (the bundled model).
import { Worker } from 'node:worker_threads';
import { Digests, type DigestValues } from './digests.js';

/** Objects at least this big are hashed on a worker thread. */
export const WORKER_MIN_BYTES = 32 * 1024 * 1024;
/** Bytes handed to the worker and not yet hashed, at most: past it, update() waits. */
const MAX_OUTSTANDING_BYTES = 16 * 1024 * 1024;

export interface DownloadDigests {
  /** Hashes a written batch. It may take the batch's memory: the caller must not use it again. */
  update(batch: Buffer): Promise<void>;
  /** The digests of every batch given; nothing may be added afterwards. */
  digest(): Promise<DigestValues>;
  /** Stops hashing (an abandoned download); idempotent. */
  close(): Promise<void>;
}

export function downloadDigests(totalBytes: number, withSha256: boolean): DownloadDigests {
  if (totalBytes < WORKER_MIN_BYTES) return new InlineDigests(withSha256);
  try {
    return new WorkerDigests(withSha256);
  } catch {
    // No thread to be had (a pids limit, memory): hashing inline is slower, never wrong.
    return new InlineDigests(withSha256);
  }
}

class InlineDigests implements DownloadDigests {
  private readonly digests: Digests;

  constructor(withSha256: boolean) {
    this.digests = new Digests(withSha256);
  }

  update(batch: Buffer): Promise<void> {
    this.digests.update(batch);
    return Promise.resolve();
  }

  digest(): Promise<DigestValues> {
    return Promise.resolve(this.digests.digest());
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

// The worker's code, evaluated as a script: it has no module of its own to resolve, under tsx
// in the tests or from dist/. It answers each batch with its length, and 'digest' with the
// digests.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const md5 = createHash('md5');
const sha256 = workerData.withSha256 ? createHash('sha256') : undefined;
let bytes = 0;
parentPort.on('message', (message) => {
  if (message === 'digest') {
    parentPort.postMessage({ md5: md5.digest('hex'), sha256: sha256 && sha256.digest('hex'), bytes });
    return;
  }
  const batch = new Uint8Array(message);
  md5.update(batch);
  if (sha256) sha256.update(batch);
  bytes += batch.length;
  parentPort.postMessage(batch.length);
});
`;

class WorkerDigests implements DownloadDigests {
  private readonly worker: Worker;
  private outstanding = 0;
  private failure: Error | undefined;
  private room: (() => void) | undefined;
  private result: ((values: DigestValues) => void) | undefined;
  private rejectResult: ((error: Error) => void) | undefined;
  private closed = false;

  constructor(withSha256: boolean) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { withSha256 } });
    this.worker.on('message', (message: number | DigestValues) => {
      if (typeof message === 'number') {
        this.outstanding -= message;
        this.wake();
      } else this.result?.(message);
    });
    this.worker.on('error', (error: Error) => this.fail(error));
    this.worker.on('exit', (code) => {
      if (!this.closed) this.fail(new Error(`the hashing thread exited (code ${code})`));
    });
  }

  async update(batch: Buffer): Promise<void> {
    this.throwIfFailed();
    while (this.outstanding >= MAX_OUTSTANDING_BYTES) {
      await new Promise<void>((resolve) => (this.room = resolve));
      this.throwIfFailed();
    }
    // Moved, not copied, when the batch owns its memory (Buffer.concat's result does).
    const owned = batch.byteOffset === 0 && batch.buffer.byteLength === batch.length;
    const memory = owned ? batch.buffer : new Uint8Array(batch).buffer;
    this.outstanding += batch.length;
    this.worker.postMessage(memory, [memory as ArrayBuffer]);
  }

  async digest(): Promise<DigestValues> {
    this.throwIfFailed();
    try {
      return await new Promise<DigestValues>((resolve, reject) => {
        this.result = resolve;
        this.rejectResult = reject;
        this.worker.postMessage('digest');
      });
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fail(new Error('the hashing thread was closed'));
    await this.worker.terminate();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.wake();
    this.rejectResult?.(error);
  }

  private wake(): void {
    const room = this.room;
    this.room = undefined;
    room?.();
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure;
  }
}
