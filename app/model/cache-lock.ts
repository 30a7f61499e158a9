// One download of a model per cache directory, across processes (overlapping pods on a
// shared volume, a restart while the old process still runs): a lock per MD5, taken
// with proper-lockfile (an mkdir lock whose mtime the holder refreshes; a holder that
// died stops refreshing and its lock is taken over once stale). Those who find it held
// poll until it is free or until the holder's verified file appears, then reuse it.
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import lockfile from 'proper-lockfile';
import { ModelAbortError } from './errors.js';

export interface HeldLock {
  /** Fires if the lock was lost (its refresh failed, or another process took it over as stale). */
  readonly compromised: AbortSignal;
  release(): Promise<void>;
}

export interface LockWaitOptions {
  readonly signal: AbortSignal;
  /** A lock not refreshed for this long is stale and taken over. */
  readonly staleMs: number;
  /** How often a waiter tries again. */
  readonly pollMs: number;
  /** Called once when the lock is found held by another process. */
  readonly onWait?: () => void;
  /** Checked on each poll: true when the holder's result is already there, so waiting is over. */
  readonly done: () => Promise<boolean>;
}

export function lockPath(cacheDir: string, md5: string): string {
  return path.join(cacheDir, `${md5}.lock`);
}

/** The lock for `md5`, or 'done' when `done()` said true before the lock came free. */
export async function acquireDownloadLock(
  cacheDir: string,
  md5: string,
  options: LockWaitOptions,
): Promise<HeldLock | 'done'> {
  const target = path.join(cacheDir, `${md5}.bin`);
  let waited = false;
  for (;;) {
    if (options.signal.aborted) throw new ModelAbortError(options.signal.reason);
    const compromised = new AbortController();
    try {
      const release = await lockfile.lock(target, {
        realpath: false,
        lockfilePath: lockPath(cacheDir, md5),
        stale: options.staleMs,
        update: Math.max(1000, Math.floor(options.staleMs / 4)),
        retries: 0,
        onCompromised: (err) => compromised.abort(err),
      });
      return {
        compromised: compromised.signal,
        release: async () => {
          // A compromised lock belongs to someone else now: releasing it would free theirs.
          if (!compromised.signal.aborted) await release().catch(() => undefined);
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
    }
    if (!waited) {
      waited = true;
      options.onWait?.();
    }
    if (await options.done()) return 'done';
    await sleep(options.pollMs, undefined, { signal: options.signal }).catch(() => {
      throw new ModelAbortError(options.signal.reason);
    });
  }
}
