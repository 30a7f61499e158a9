// The model store: makes a verified copy of the locked model available on local disk,
// and re-checks it before each use. How it works and why: docs/model.md.
// - hit: <md5>.bin is a regular file (never a symlink) whose digests match -> reused, the
//   source is not contacted at all;
// - miss: HEAD, then the download lock of this MD5 (other processes on the same cache dir
//   wait, then reuse the result), then GET streamed into a .part file of this attempt's
//   own, hashed as written; a dropped connection resumes with a Range request. The file
//   is published (fsync, link: never over another file) only after its digests match;
// - failure: retried until aborted, with the service's backoff; failures that waiting
//   will not fix (404, denied, a bad MD5...) wait near the cap, and an object that
//   failed its check is not downloaded again until HEAD shows a new version.
// This module is the retry loop and the public face; one attempt is fetcher.ts.
import { setTimeout as sleep } from 'node:timers/promises';
import { retryDelayMs } from '../backoff.js';
import { RestartError } from './download.js';
import { classifyFailure, ModelAbortError } from './errors.js';
import { ModelFetcher, type FetcherOptions, type Run } from './fetcher.js';
import { SingleFlight } from './flight.js';
import { Rechecker } from './recheck.js';
import type { FetchedObject, ModelLock, ModelProgress, VerifiedModel } from './types.js';

export { ModelAbortError, ModelStoreError } from './errors.js';
export type { SourceProvider } from './fetcher.js';

export interface StoreOptions extends FetcherOptions {
  readonly retryBaseMs: number;
  /** Source of randomness for jitter, in [0, 1). Default Math.random. */
  readonly random?: () => number;
}

export interface EnsureOptions {
  /** Gives up this caller's wait; the shared download stops when every waiter gave up. */
  readonly signal?: AbortSignal | undefined;
  /** Every phase change, and the byte count at each progress interval. */
  readonly onProgress?: ((progress: ModelProgress) => void) | undefined;
}

function keyOf(lock: Pick<ModelLock, 'md5' | 'sha256'>): string {
  return lock.sha256 === undefined ? lock.md5 : `${lock.md5}:${lock.sha256}`;
}

export class ModelStore {
  private readonly flights = new SingleFlight<VerifiedModel, ModelProgress>();
  private readonly rechecker: Rechecker;
  private readonly fetcher: ModelFetcher;
  private readonly random: () => number;

  constructor(private readonly options: StoreOptions) {
    this.random = options.random ?? Math.random;
    this.rechecker = new Rechecker(options.logger);
    this.fetcher = new ModelFetcher(options);
  }

  /** Where the verified file for this MD5 lives (whether or not it exists yet). */
  cachePath(md5: string): string {
    return this.fetcher.cachePath(md5);
  }

  /** What the last complete download for this lock hashed to, matching or not (for /v1/model). */
  lastFetched(lock: Pick<ModelLock, 'md5' | 'sha256'>): FetchedObject | undefined {
    return this.fetcher.lastFetched(keyOf(lock));
  }

  /** Resolves with a verified local copy of the locked model; retries until it has one or is aborted. */
  ensure(lock: ModelLock, options: EnsureOptions = {}): Promise<VerifiedModel> {
    return this.flights.join(keyOf(lock), (signal, emit) => this.run(lock, signal, emit), options);
  }

  /**
   * Resolves with the model when its file is still the one verified: an unchanged lstat
   * identity is enough; a changed one is re-hashed. A file that no longer matches (or is
   * gone, or became a link) is removed and the call rejects with phase `model_changed`.
   */
  recheck(model: VerifiedModel): Promise<VerifiedModel> {
    return this.rechecker.recheck(model);
  }

  /** Aborts every download in progress and resolves once each has stopped and removed its temp file. */
  async close(): Promise<void> {
    await this.flights.abortAll(new Error('model store closed'));
  }

  private async run(lock: ModelLock, signal: AbortSignal, emit: (p: ModelProgress) => void): Promise<VerifiedModel> {
    const log = this.options.logger;
    const run: Run = {
      lock,
      key: keyOf(lock),
      signal,
      emit,
      started: performance.now(),
      transfer: { bytes: 0 },
      partial: undefined,
      held: undefined,
      attempt: 0,
      lastFailure: undefined,
      cacheChecked: false,
    };
    let failures = 0; // consecutive failures without progress, for the backoff
    try {
      for (;;) {
        if (signal.aborted) throw new ModelAbortError(signal.reason);
        run.attempt = failures + 1;
        const offsetBefore = run.partial?.offset ?? 0;
        try {
          const verified = await this.fetcher.attempt(run);
          const model = { ...verified, durationMs: Math.round(performance.now() - run.started) };
          this.rechecker.remember(model);
          return model;
        } catch (err) {
          if (signal.aborted) throw new ModelAbortError(signal.reason);
          const failure = classifyFailure(err);
          const startOver = err instanceof RestartError || failure.permanent || run.partial === undefined;
          if (startOver) await this.fetcher.drop(run);
          // A failure after progress (a dropped connection mid-download) resumes promptly.
          failures = (run.partial?.offset ?? 0) > offsetBefore ? 1 : failures + 1;
          const backoff = { baseMs: this.options.retryBaseMs, maxMs: this.options.retryMaxMs };
          const delay = retryDelayMs(backoff, failures, failure.permanent, this.random);
          run.lastFailure = { phase: failure.phase, detail: failure.message, fetched: failure.fetched };
          const { partial } = run;
          emit({
            phase: failure.phase,
            detail: failure.message,
            attempt: run.attempt,
            nextRetryMs: delay,
            bytesDone: partial?.offset,
            bytesTotal: partial?.total,
            lastFailure: run.lastFailure,
          });
          const fields = {
            uri: lock.uri,
            md5: lock.md5,
            phase: failure.phase,
            attempt: run.attempt,
            retryInMs: delay,
            error: failure.message,
            resumeFrom: partial?.offset,
            fetched: failure.fetched,
          };
          if (failure.permanent) log.error(fields, 'model not available; retrying in case it is fixed');
          else log.warn(fields, 'model not available yet; retrying');
          await sleep(delay, undefined, { signal }).catch(() => {
            throw new ModelAbortError(signal.reason); // the only way the sleep fails
          });
        }
      }
    } finally {
      await this.fetcher.drop(run);
    }
  }
}
