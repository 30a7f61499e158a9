// The model store: makes a verified copy of the locked model available on local disk.
//
// Cache: <cacheDir>/<md5>.bin holds only bytes that hashed to <md5>; <md5>.part is the
// download in progress. One process per cache directory is assumed (a pod's emptyDir).
// - hit: the file exists with the expected size and its MD5 matches -> reused, the source
//   is not contacted at all (no HEAD, no GET);
// - miss: HEAD (size, version), then GET streamed to the .part file, each chunk written
//   then fed to one MD5 state that lives across resumes: a dropped connection or a stall
//   continues with a Range request from the bytes on disk, nothing is read twice and the
//   model is never held in memory. fsync + rename only after the MD5 matches; a mismatch
//   deletes the .part file.
// - failure: retried forever (until aborted) with capped exponential backoff and full
//   jitter; an MD5 or size mismatch is retried at the cap only (the object may be
//   republished, but hammering it will not fix it).
// Concurrent ensure() calls for one MD5 share one download (single flight).
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, statfs, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ModelSource } from './source.js';
import type { ModelFailurePhase, ModelLock, ModelLogger, ModelProgress, VerifiedModel } from './types.js';

export interface SourceProvider {
  for(uri: string): ModelSource;
}

export interface StoreOptions {
  readonly cacheDir: string;
  readonly sources: SourceProvider;
  readonly logger: ModelLogger;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** A download that receives no byte for this long is dropped and resumed. */
  readonly stallTimeoutMs: number;
  /** How often a running download logs its progress (and reports it). Default 5000. */
  readonly progressIntervalMs?: number;
  /** Source of randomness for jitter, in [0, 1). Default Math.random. */
  readonly random?: () => number;
}

export interface EnsureOptions {
  /** Gives up this caller's wait; the shared download stops when every waiter gave up. */
  readonly signal?: AbortSignal | undefined;
  /** Every phase change, and the byte count at each progress interval. */
  readonly onProgress?: ((progress: ModelProgress) => void) | undefined;
}

class Md5MismatchError extends Error {
  override name = 'Md5MismatchError';
}
class SizeMismatchError extends Error {
  override name = 'SizeMismatchError';
}
/** The bytes on disk can no longer be trusted as a prefix of the object: start over. */
class RestartError extends Error {
  override name = 'RestartError';
}

/** A download in progress: the .part file, and the MD5 of exactly the bytes in it. */
interface PartialDownload {
  readonly handle: FileHandle;
  readonly hash: Hash;
  readonly total: number;
  readonly etag: string | undefined;
  offset: number;
}

/** One download shared by every ensure() waiting for the same MD5. */
class Flight {
  readonly controller = new AbortController();
  readonly listeners = new Set<(progress: ModelProgress) => void>();
  waiters = 0;
  last: ModelProgress | undefined;
  readonly promise: Promise<VerifiedModel>;

  constructor(work: (flight: Flight) => Promise<VerifiedModel>) {
    this.promise = work(this);
    // The waiters observe the promise; this keeps an abandoned flight from being "unhandled".
    this.promise.catch(() => undefined);
  }

  emit(progress: ModelProgress): void {
    this.last = progress;
    for (const listener of this.listeners) listener(progress);
  }
}

const MB = 1024 * 1024;

/** What ensure() rejects with when its signal fires; the signal's reason is the cause. */
export class ModelAbortError extends Error {
  override name = 'AbortError';
  readonly code = 'ABORT_ERR';
  constructor(cause: unknown) {
    super('the model download was aborted', { cause });
  }
}

function abortReason(signal: AbortSignal): ModelAbortError {
  return new ModelAbortError(signal.reason);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function writeAll(handle: FileHandle, chunk: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, done, chunk.length - done, position + done);
    done += bytesWritten;
  }
}

export class ModelStore {
  private readonly flights = new Map<string, Flight>();
  private readonly progressIntervalMs: number;
  private readonly random: () => number;

  constructor(private readonly options: StoreOptions) {
    this.progressIntervalMs = options.progressIntervalMs ?? 5000;
    this.random = options.random ?? Math.random;
  }

  /** Where the verified file for this MD5 lives (whether or not it exists yet). */
  cachePath(md5: string): string {
    return path.join(this.options.cacheDir, `${md5}.bin`);
  }

  private partPath(md5: string): string {
    return path.join(this.options.cacheDir, `${md5}.part`);
  }

  /** Resolves with a verified local copy of the locked model; retries until it has one or is aborted. */
  ensure(lock: ModelLock, options: EnsureOptions = {}): Promise<VerifiedModel> {
    const { signal, onProgress } = options;
    if (signal?.aborted) return Promise.reject(abortReason(signal));

    let flight = this.flights.get(lock.md5);
    if (flight === undefined || flight.controller.signal.aborted) {
      flight = this.startFlight(lock, flight);
    }
    const joined = flight;
    joined.waiters += 1;
    if (onProgress !== undefined) {
      joined.listeners.add(onProgress);
      if (joined.last !== undefined) onProgress(joined.last); // a late joiner learns where it stands
    }

    return new Promise<VerifiedModel>((resolve, reject) => {
      let settled = false;
      const leave = (): void => {
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        if (onProgress !== undefined) joined.listeners.delete(onProgress);
        joined.waiters -= 1;
      };
      const onAbort = (): void => {
        if (settled) return;
        leave();
        if (joined.waiters === 0) joined.controller.abort(signal?.reason);
        reject(new ModelAbortError(signal?.reason));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      joined.promise.then(
        (model) => {
          if (settled) return;
          leave();
          resolve(model);
        },
        (err: unknown) => {
          if (settled) return;
          leave();
          reject(err);
        },
      );
    });
  }

  /**
   * Aborts every download in progress (their waiters reject with ModelAbortError) and
   * resolves once each has stopped and removed its temp file. For shutdown.
   */
  async close(): Promise<void> {
    const flights = [...this.flights.values()];
    for (const flight of flights) flight.controller.abort(new Error('model store closed'));
    await Promise.all(flights.map((f) => f.promise.then(() => undefined, () => undefined)));
  }

  private startFlight(lock: ModelLock, previous: Flight | undefined): Flight {
    // An aborted flight for the same MD5 may still be closing its .part file: wait for it.
    const before = previous === undefined ? Promise.resolve() : previous.promise.then(() => undefined, () => undefined);
    const flight = new Flight((self) =>
      before
        .then(() => this.run(lock, self.controller.signal, (p) => self.emit(p)))
        .finally(() => {
          if (this.flights.get(lock.md5) === self) this.flights.delete(lock.md5);
        }),
    );
    this.flights.set(lock.md5, flight);
    return flight;
  }

  private async run(lock: ModelLock, signal: AbortSignal, emit: (p: ModelProgress) => void): Promise<VerifiedModel> {
    const log = this.options.logger;
    const started = performance.now();
    const finalPath = this.cachePath(lock.md5);
    const partPath = this.partPath(lock.md5);
    const transfer = { bytes: 0 };
    let partial: PartialDownload | undefined;
    let attempts = 0; // every attempt, for the logs
    let failures = 0; // consecutive failures without progress, for the backoff
    let lastFailure: ModelProgress['lastFailure'];
    let cacheChecked = false;
    let succeeded = false;

    const discardPartial = async (): Promise<void> => {
      const p = partial;
      partial = undefined;
      if (p !== undefined) await p.handle.close().catch(() => undefined);
    };

    try {
      for (;;) {
        if (signal.aborted) throw abortReason(signal);
        attempts += 1;
        const attempt = failures + 1;
        const offsetBefore = partial?.offset ?? 0;
        try {
          await mkdir(this.options.cacheDir, { recursive: true });
          if (!cacheChecked) {
            const hit = await this.checkCache(lock, finalPath, signal, emit);
            cacheChecked = true;
            if (hit !== undefined) {
              succeeded = true;
              return { ...hit, durationMs: Math.round(performance.now() - started) };
            }
          }
          const source = this.options.sources.for(lock.uri);
          emit({ phase: 'downloading', bytesDone: partial?.offset ?? 0, bytesTotal: partial?.total ?? lock.bytes, attempt, lastFailure });
          const info = await source.head(signal);
          if (lock.bytes !== undefined && info.bytes !== lock.bytes) {
            throw new SizeMismatchError(`${source.uri} is ${info.bytes} bytes, the lock expects ${lock.bytes}`);
          }
          if (partial !== undefined && (partial.etag !== info.etag || partial.total !== info.bytes)) {
            log.warn({ uri: source.uri }, 'model object changed since the download began; starting over');
            await discardPartial();
          }
          if (partial === undefined) {
            await this.checkFreeSpace(info.bytes);
            partial = { handle: await open(partPath, 'w'), hash: createHash('md5'), total: info.bytes, etag: info.etag, offset: 0 };
            log.info({ uri: source.uri, md5: lock.md5, bytes: info.bytes }, 'model download started');
          } else {
            log.info({ uri: source.uri, md5: lock.md5, bytes: info.bytes, from: partial.offset }, 'model download resuming');
          }
          const current = partial;
          if (current.offset < current.total) {
            const stream = await source.open(current.offset, { signal, etag: current.etag });
            await this.receive(stream, current, transfer, signal, source.uri, emit, attempt, lastFailure);
          }
          if (current.offset < current.total) {
            throw new Error(`the connection ended at byte ${current.offset} of ${current.total}`);
          }
          emit({ phase: 'verifying', bytesDone: current.offset, bytesTotal: current.total, attempt, lastFailure });
          partial = undefined; // the hash is finalised below: whatever happens next starts over
          const actual = current.hash.digest('hex');
          if (actual !== lock.md5) {
            await current.handle.close().catch(() => undefined);
            await rm(partPath, { force: true });
            throw new Md5MismatchError(`${source.uri} hashes to ${actual}, expected ${lock.md5}; not loaded`);
          }
          try {
            await current.handle.sync();
          } finally {
            await current.handle.close();
          }
          await rename(partPath, finalPath);
          await fsyncDir(this.options.cacheDir);
          const durationMs = Math.round(performance.now() - started);
          log.info(
            { uri: source.uri, md5: lock.md5, bytes: current.total, bytesTransferred: transfer.bytes, durationMs, attempts },
            'model downloaded and verified',
          );
          emit({ phase: 'verified', bytesDone: current.total, bytesTotal: current.total, attempt });
          succeeded = true;
          return { path: finalPath, md5: lock.md5, bytes: current.total, fromCache: false, bytesTransferred: transfer.bytes, durationMs };
        } catch (err) {
          if (signal.aborted) throw abortReason(signal);
          if (err instanceof RestartError) await discardPartial();
          const progressed = (partial?.offset ?? 0) > offsetBefore;
          const phase: ModelFailurePhase =
            err instanceof Md5MismatchError ? 'md5_mismatch' : err instanceof SizeMismatchError ? 'size_mismatch' : 'download_failed';
          // A failure after progress (a dropped connection mid-download) resumes promptly.
          failures = progressed ? 1 : failures + 1;
          const delay = this.retryDelay(phase, failures);
          const detail = errorMessage(err);
          lastFailure = { phase, detail };
          emit({ phase, detail, attempt, nextRetryMs: delay, bytesDone: partial?.offset, bytesTotal: partial?.total, lastFailure });
          const fields = { uri: lock.uri, md5: lock.md5, phase, attempt, retryInMs: delay, error: detail, resumeFrom: partial?.offset };
          if (phase === 'download_failed') log.warn(fields, 'model not available yet; retrying');
          else log.error(fields, 'model rejected; retrying in case it is republished');
          await sleep(delay, undefined, { signal }).catch(() => {
            throw abortReason(signal); // the only way the sleep fails
          });
        }
      }
    } finally {
      await discardPartial();
      if (!succeeded) await rm(partPath, { force: true }).catch(() => undefined);
    }
  }

  /** Full jitter over a capped exponential for transient failures; near the cap for mismatches. */
  private retryDelay(phase: ModelFailurePhase, failures: number): number {
    const { retryBaseMs, retryMaxMs } = this.options;
    if (phase !== 'download_failed') return Math.round(retryMaxMs / 2 + (this.random() * retryMaxMs) / 2);
    const cap = Math.min(retryMaxMs, retryBaseMs * 2 ** Math.min(failures - 1, 30));
    return Math.round(this.random() * cap);
  }

  /** Fails early, with numbers, when the model cannot fit (an emptyDir sizeLimit, a full disk). */
  private async checkFreeSpace(bytes: number): Promise<void> {
    const fs = await statfs(this.options.cacheDir);
    const free = fs.bavail * fs.bsize;
    if (free < bytes) {
      throw new Error(
        `not enough space in ${this.options.cacheDir}: the model needs ${(bytes / MB).toFixed(1)} MB, ` +
          `${(free / MB).toFixed(1)} MB free`,
      );
    }
  }

  /** A verified cached copy, or undefined after removing whatever stood there unverified. */
  private async checkCache(
    lock: ModelLock,
    finalPath: string,
    signal: AbortSignal,
    emit: (p: ModelProgress) => void,
  ): Promise<Omit<VerifiedModel, 'durationMs'> | undefined> {
    const log = this.options.logger;
    let size: number;
    try {
      const st = await stat(finalPath);
      if (!st.isFile()) throw new Error(`${finalPath} is not a regular file`);
      size = st.size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    if (lock.bytes !== undefined && size !== lock.bytes) {
      log.warn({ path: finalPath, bytes: size, expected: lock.bytes }, 'cached model has the wrong size; removing it');
      await rm(finalPath, { force: true });
      return undefined;
    }
    emit({ phase: 'verifying', bytesDone: 0, bytesTotal: size });
    const started = performance.now();
    const hash = createHash('md5');
    for await (const chunk of createReadStream(finalPath, { signal })) hash.update(chunk as Buffer);
    const actual = hash.digest('hex');
    if (actual !== lock.md5) {
      log.warn({ path: finalPath, md5: actual, expected: lock.md5 }, 'cached model failed its MD5 check; removing it');
      await rm(finalPath, { force: true });
      return undefined;
    }
    log.info({ path: finalPath, md5: actual, bytes: size, verifyMs: Math.round(performance.now() - started) }, 'model cache hit, MD5 verified');
    emit({ phase: 'verified', bytesDone: size, bytesTotal: size });
    return { path: finalPath, md5: actual, bytes: size, fromCache: true, bytesTransferred: 0 };
  }

  /** Appends the stream to the partial download, hashing as it goes; a stall destroys the stream. */
  private async receive(
    stream: Readable,
    partial: PartialDownload,
    transfer: { bytes: number },
    signal: AbortSignal,
    uri: string,
    emit: (p: ModelProgress) => void,
    attempt: number,
    lastFailure: ModelProgress['lastFailure'],
  ): Promise<void> {
    const log = this.options.logger;
    const stallMs = this.options.stallTimeoutMs;
    let lastByteAt = performance.now();
    let windowStart = lastByteAt;
    let windowBytes = 0;
    const stallCheck = setInterval(
      () => {
        if (performance.now() - lastByteAt >= stallMs) {
          stream.destroy(new Error(`no byte received for ${stallMs} ms (stalled download)`));
        }
      },
      Math.max(10, Math.min(1000, Math.floor(stallMs / 4))),
    );
    const onAbort = (): void => {
      stream.destroy(abortReason(signal));
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
          throw new RestartError(`cannot write the model to the cache: ${errorMessage(err)}`);
        }
        partial.hash.update(chunk);
        partial.offset += chunk.length;
        transfer.bytes += chunk.length;
        windowBytes += chunk.length;
        const elapsed = lastByteAt - windowStart;
        if (elapsed >= this.progressIntervalMs) {
          const percent = partial.total === 0 ? 100 : Math.floor((partial.offset / partial.total) * 1000) / 10;
          const mbPerS = Math.round((windowBytes / MB / (elapsed / 1000)) * 100) / 100;
          log.info({ uri, percent, mbPerS, bytesDone: partial.offset, bytesTotal: partial.total }, 'model download progress');
          emit({ phase: 'downloading', bytesDone: partial.offset, bytesTotal: partial.total, attempt, lastFailure });
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
}
