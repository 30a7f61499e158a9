// Single flight: concurrent callers asking for the same key share one run of the work.
// Each caller may give up on its own (its signal); the shared run is aborted only when
// every caller has given up, and a new caller after that starts a fresh run once the
// aborted one has finished cleaning up.
import { ModelAbortError } from './errors.js';

export interface JoinOptions<P> {
  readonly signal?: AbortSignal | undefined;
  /** Every progress report of the run; a late joiner first gets the latest one. */
  readonly onProgress?: ((progress: P) => void) | undefined;
}

/** The work of one flight: it must stop when `signal` fires. */
export type FlightWork<T, P> = (signal: AbortSignal, emit: (progress: P) => void) => Promise<T>;

class Flight<T, P> {
  readonly controller = new AbortController();
  readonly listeners = new Set<(progress: P) => void>();
  waiters = 0;
  last: P | undefined;
  readonly promise: Promise<T>;

  constructor(run: (self: Flight<T, P>) => Promise<T>) {
    this.promise = run(this);
    // The waiters observe the promise; this keeps an abandoned flight from being "unhandled".
    this.promise.catch(() => undefined);
  }

  emit(progress: P): void {
    this.last = progress;
    for (const listener of this.listeners) listener(progress);
  }
}

export class SingleFlight<T, P> {
  private readonly flights = new Map<string, Flight<T, P>>();

  join(key: string, work: FlightWork<T, P>, options: JoinOptions<P> = {}): Promise<T> {
    const { signal, onProgress } = options;
    if (signal?.aborted) return Promise.reject(new ModelAbortError(signal.reason));
    let flight = this.flights.get(key);
    if (flight === undefined || flight.controller.signal.aborted) flight = this.start(key, work, flight);
    const joined = flight;
    joined.waiters += 1;
    if (onProgress !== undefined) {
      joined.listeners.add(onProgress);
      if (joined.last !== undefined) onProgress(joined.last);
    }
    return new Promise<T>((resolve, reject) => {
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
        (value) => {
          if (settled) return;
          leave();
          resolve(value);
        },
        (err: unknown) => {
          if (settled) return;
          leave();
          reject(err);
        },
      );
    });
  }

  /** Aborts every run and resolves once each has finished (success or failure alike). */
  async abortAll(reason: Error): Promise<void> {
    const flights = [...this.flights.values()];
    for (const flight of flights) flight.controller.abort(reason);
    await Promise.all(
      flights.map((f) =>
        f.promise.then(
          () => undefined,
          () => undefined,
        ),
      ),
    );
  }

  private start(key: string, work: FlightWork<T, P>, previous: Flight<T, P> | undefined): Flight<T, P> {
    // An aborted run for the same key may still be closing its files: wait for it.
    const before =
      previous === undefined
        ? Promise.resolve()
        : previous.promise.then(
            () => undefined,
            () => undefined,
          );
    const flight = new Flight<T, P>((self) =>
      before
        .then(() => work(self.controller.signal, (p) => self.emit(p)))
        .finally(() => {
          if (this.flights.get(key) === self) this.flights.delete(key);
        }),
    );
    this.flights.set(key, flight);
    return flight;
  }
}
