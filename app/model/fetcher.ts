// One attempt of ensure() at a verified local copy of the locked model: reuse the cached
// file if its digests match, else HEAD the source, take the MD5's download lock (or wait
// for the process holding it and reuse its result), download into a .part file, and
// publish it only once its digests match. The retry loop around attempts, its backoff and
// its failure reports are store.ts's; what an attempt leaves for the next one to resume
// (a partial download, the download lock) lives in the Run.
import { mkdir, unlink } from 'node:fs/promises';
import path from 'node:path';
import { checkFreeSpace, hashFile, identityOf, inspect } from './cache-file.js';
import { publish, publishedIdentity, removeStaleParts } from './cache-file.js';
import { acquireDownloadLock, type HeldLock } from './cache-lock.js';
import { digestMismatch, fileCheckOf, type DigestValues } from './digests.js';
import { discard, openPart, receive, type PartialDownload } from './download.js';
import { errorMessage, ModelStoreError } from './errors.js';
import { RejectedVersions } from './rejected.js';
import type { ModelSource } from './source-types.js';
import type { FetchedObject, ModelFailure, ModelLock, ModelLogger, ModelProgress, VerifiedModel } from './types.js';
import type { FileIdentity } from './types.js';

export interface SourceProvider {
  for(uri: string): ModelSource;
}

export interface FetcherOptions {
  readonly cacheDir: string;
  readonly sources: SourceProvider;
  readonly logger: ModelLogger;
  readonly retryMaxMs: number;
  /** A download that receives no byte for this long is dropped and resumed. */
  readonly stallTimeoutMs: number;
  /** How often a running download logs its progress (and reports it). Default 5000. */
  readonly progressIntervalMs?: number;
  /** A download lock its holder stopped refreshing this long ago is taken over. Default 10000. */
  readonly lockStaleMs?: number;
  /** How often a process waiting for another's download looks again. Default 500. */
  readonly lockPollMs?: number;
}

/** The state of one ensure() run across its attempts. */
export interface Run {
  readonly lock: ModelLock;
  readonly key: string;
  readonly signal: AbortSignal;
  readonly emit: (progress: ModelProgress) => void;
  readonly started: number;
  readonly transfer: { bytes: number };
  partial: PartialDownload | undefined;
  held: HeldLock | undefined;
  attempt: number;
  lastFailure: ModelFailure | undefined;
  cacheChecked: boolean;
}

/** A verified copy before the run that produced it adds its duration. */
export type AttemptResult = Omit<VerifiedModel, 'durationMs'>;

export class ModelFetcher {
  private readonly rejected: RejectedVersions;
  private readonly fetched = new Map<string, FetchedObject>();
  private readonly progressIntervalMs: number;

  constructor(private readonly options: FetcherOptions) {
    this.progressIntervalMs = options.progressIntervalMs ?? 5000;
    this.rejected = new RejectedVersions(2 * options.retryMaxMs);
  }

  /** Where the verified file for this MD5 lives (whether or not it exists yet). */
  cachePath(md5: string): string {
    return path.join(this.options.cacheDir, `${md5}.bin`);
  }

  /** What the last complete download under this run key hashed to, matching or not. */
  lastFetched(key: string): FetchedObject | undefined {
    return this.fetched.get(key);
  }

  /** Abandons the partial download (its file is removed) and frees the download lock. */
  async drop(run: Run): Promise<void> {
    const { partial, held } = run;
    run.partial = undefined;
    run.held = undefined;
    if (partial !== undefined) await discard(partial);
    if (held !== undefined) await held.release();
  }

  /** One attempt: throws what failed, leaving in `run` what the next attempt may resume. */
  async attempt(run: Run): Promise<AttemptResult> {
    const { lock, signal, emit, attempt } = run;
    const { cacheDir, logger: log } = this.options;
    await mkdir(cacheDir, { recursive: true });
    if (!run.cacheChecked) {
      const hit = await this.verifiedCache(lock, signal, emit);
      run.cacheChecked = true;
      if (hit !== undefined) return hit;
    }
    const source = this.options.sources.for(lock.uri);
    emit({
      phase: 'downloading',
      bytesDone: run.partial?.offset ?? 0,
      bytesTotal: run.partial?.total ?? lock.bytes,
      attempt,
      lastFailure: run.lastFailure,
    });
    const info = await source.head(signal);
    if (lock.bytes !== undefined && info.bytes !== lock.bytes) {
      throw new ModelStoreError(
        'size_mismatch',
        `${source.uri} is ${info.bytes} bytes, the lock expects ${lock.bytes}`,
        true,
      );
    }
    this.rejected.refuse(run.key, source.uri, info);
    if (run.partial !== undefined && (run.partial.etag !== info.etag || run.partial.total !== info.bytes)) {
      log.warn({ uri: source.uri }, 'model object changed since the download began; starting over');
      await this.drop(run);
    }
    if (run.partial === undefined) {
      const reused = await this.takeDownloadLock(run);
      if (reused !== undefined) return reused;
      const removed = await removeStaleParts(cacheDir, lock.md5);
      if (removed.length > 0) log.info({ removed }, 'removed stale partial downloads');
      await checkFreeSpace(cacheDir, info.bytes);
      run.partial = await openPart(cacheDir, lock.md5, info, lock.sha256 !== undefined);
      log.info({ uri: source.uri, md5: lock.md5, bytes: info.bytes }, 'model download started');
    } else {
      log.info(
        { uri: source.uri, md5: lock.md5, bytes: info.bytes, from: run.partial.offset },
        'model download resuming',
      );
    }
    const current = run.partial;
    if (current.offset < current.total) {
      const stream = await source.open(current.offset, { signal, etag: current.etag });
      await receive({
        stream,
        partial: current,
        transfer: run.transfer,
        signal,
        uri: source.uri,
        logger: log,
        stallTimeoutMs: this.options.stallTimeoutMs,
        progressIntervalMs: this.progressIntervalMs,
        onProgress: (p) => emit({ phase: 'downloading', ...p, attempt, lastFailure: run.lastFailure }),
      });
    }
    if (current.offset < current.total) {
      throw new Error(`the connection ended at byte ${current.offset} of ${current.total}`);
    }
    emit({
      phase: 'verifying',
      bytesDone: current.offset,
      bytesTotal: current.total,
      attempt,
      lastFailure: run.lastFailure,
    });
    return this.finish(run, current, source.uri);
  }

  /** Checks the digests of a complete download and publishes it into the cache. */
  private async finish(run: Run, current: PartialDownload, uri: string): Promise<AttemptResult> {
    const { lock, emit } = run;
    const log = this.options.logger;
    const finalPath = this.cachePath(lock.md5);
    run.partial = undefined; // the digests are final: whatever happens next starts over
    let written: FileIdentity | undefined;
    let actual: DigestValues;
    try {
      actual = await current.digests.digest();
    } catch (err) {
      await discard(current);
      throw new ModelStoreError('download_failed', `the download could not be hashed: ${errorMessage(err)}`, false);
    }
    try {
      const fetched: FetchedObject = { ...actual, etag: current.etag };
      this.fetched.set(run.key, fetched);
      const mismatch = digestMismatch(actual, lock);
      if (mismatch !== undefined) {
        const [expected, got] =
          mismatch === 'md5_mismatch'
            ? [`md5 ${lock.md5}`, `md5 ${actual.md5}`]
            : [`sha256 ${lock.sha256 ?? ''}`, `sha256 ${actual.sha256 ?? ''}`];
        const error = new ModelStoreError(
          mismatch,
          `${uri} hashes to ${got}, expected ${expected}; not loaded`,
          true,
          fetched,
        );
        this.rejected.record(run.key, { bytes: current.total, etag: current.etag }, error);
        throw error;
      }
      await current.handle.sync();
      // The file written and hashed, as its own handle sees it: what gets published must be
      // this inode, unwritten since (a file renamed over the .part would be linked by name).
      written = identityOf(await current.handle.stat());
      await current.handle.close();
      if (run.held?.compromised.aborted === true) {
        throw new ModelStoreError(
          'download_failed',
          'lost the cache lock to another process before publishing; starting over',
          false,
        );
      }
      if (!(await publish(current.path, finalPath))) {
        const theirs = await this.verifiedCache(lock, run.signal, emit);
        if (theirs !== undefined) return theirs;
        throw new ModelStoreError(
          'download_failed',
          `another file appeared at ${finalPath} and failed its check; starting over`,
          false,
        );
      }
    } finally {
      await discard(current); // the .part name only: a published file lives on under its final name
    }
    const identity = await publishedIdentity(finalPath, written);
    if (identity === undefined) {
      // Published by us, so not a file anyone may have verified: remove it, and start over.
      await unlink(finalPath).catch(() => undefined);
      throw new ModelStoreError(
        'download_failed',
        `${finalPath} is not the file that was written and hashed (replaced or written meanwhile); starting over`,
        false,
      );
    }
    log.info(
      {
        uri,
        md5: lock.md5,
        sha256: actual.sha256,
        bytes: actual.bytes,
        bytesTransferred: run.transfer.bytes,
        durationMs: Math.round(performance.now() - run.started),
        attempts: run.attempt,
      },
      'model downloaded and verified',
    );
    emit({ phase: 'verified', bytesDone: actual.bytes, bytesTotal: actual.bytes, attempt: run.attempt });
    return {
      path: finalPath,
      md5: lock.md5,
      sha256: actual.sha256,
      bytes: actual.bytes,
      identity,
      fromCache: false,
      verifiedBy: actual.sha256 === undefined ? 'md5' : 'md5+sha256',
      bytesTransferred: run.transfer.bytes,
    };
  }

  /** Takes this MD5's download lock; returns the model instead when another process verified it meanwhile. */
  private async takeDownloadLock(run: Run): Promise<AttemptResult | undefined> {
    const { lock, signal, emit } = run;
    const finalPath = this.cachePath(lock.md5);
    for (;;) {
      const held = await acquireDownloadLock(this.options.cacheDir, lock.md5, {
        signal,
        staleMs: this.options.lockStaleMs ?? 10_000,
        pollMs: this.options.lockPollMs ?? 500,
        onWait: () => {
          this.options.logger.info(
            { md5: lock.md5, cacheDir: this.options.cacheDir },
            'another process is downloading this model; waiting for it',
          );
          emit({
            phase: 'downloading',
            detail: 'waiting for another process downloading into the same cache directory',
            attempt: run.attempt,
            lastFailure: run.lastFailure,
          });
        },
        done: async () => (await inspect(finalPath)).kind !== 'absent',
      });
      if (held !== 'done') {
        run.held = held;
        // The holder before us may have finished between our cache check and now.
        return (await inspect(finalPath)).kind === 'absent' ? undefined : this.verifiedCache(lock, signal, emit);
      }
      const theirs = await this.verifiedCache(lock, signal, emit);
      if (theirs !== undefined) return theirs;
    }
  }

  /** A verified cached copy, or undefined after removing whatever stood there unverified. */
  private async verifiedCache(
    lock: ModelLock,
    signal: AbortSignal,
    emit: (p: ModelProgress) => void,
  ): Promise<AttemptResult | undefined> {
    const log = this.options.logger;
    const file = this.cachePath(lock.md5);
    const entry = await inspect(file);
    if (entry.kind === 'absent') return undefined;
    if (entry.kind === 'symlink') {
      log.warn({ path: file }, 'cached model is a symbolic link; removing the link, never following it');
      await unlink(file);
      return undefined;
    }
    if (lock.bytes !== undefined && entry.identity.size !== lock.bytes) {
      log.warn(
        { path: file, bytes: entry.identity.size, expected: lock.bytes },
        'cached model has the wrong size; removing it',
      );
      await unlink(file);
      return undefined;
    }
    emit({
      phase: 'verifying',
      bytesDone: 0,
      bytesTotal: entry.identity.size,
      candidate: { path: file, identity: entry.identity },
    });
    const started = performance.now();
    const check = fileCheckOf(lock);
    const hashed = await hashFile(file, check.algorithm, signal);
    if (hashed === undefined || hashed.digest !== check.digest) {
      log.warn(
        { path: file, algorithm: check.algorithm, digest: hashed?.digest, expected: check.digest },
        'cached model failed its check; removing it',
      );
      await unlink(file).catch(() => undefined);
      return undefined;
    }
    log.info(
      {
        path: file,
        md5: lock.md5,
        verifiedBy: check.algorithm,
        [check.algorithm]: hashed.digest,
        bytes: hashed.bytes,
        verifyMs: Math.round(performance.now() - started),
      },
      'model cache hit, verified',
    );
    emit({ phase: 'verified', bytesDone: hashed.bytes, bytesTotal: hashed.bytes });
    return {
      path: file,
      md5: lock.md5,
      sha256: lock.sha256,
      bytes: hashed.bytes,
      identity: hashed.identity,
      fromCache: true,
      verifiedBy: check.algorithm,
      bytesTransferred: 0,
    };
  }
}
