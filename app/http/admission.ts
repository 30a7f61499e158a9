// Admission control: at most `maxInFlight` classifications at once and `maxQueue` waiting;
// past that a request is refused at once (503 overloaded + Retry-After) rather than queued
// without bound: under a surge, fast refusals keep latency and memory flat.
import { performance } from 'node:perf_hooks';
import { ApiError } from './errors.js';

export interface AdmissionOptions {
  readonly maxInFlight: number;
  readonly maxQueue: number;
  readonly retryAfterSeconds: number;
}

export interface AdmissionObserver {
  onShed(reason: 'overloaded' | 'queue_timeout'): void;
  onChange(inFlight: number, queued: number): void;
}

interface Waiter {
  readonly grant: () => void;
  readonly timer: NodeJS.Timeout;
}

export type Release = () => void;

export class Admission {
  private inFlight = 0;
  /** performance.now() of the last slot released (or of construction): the watchdog's progress mark. */
  private lastReleaseAt = performance.now();
  private readonly queue: Waiter[] = [];

  constructor(
    private readonly options: AdmissionOptions,
    private readonly observer: AdmissionObserver,
  ) {}

  get active(): number {
    return this.inFlight;
  }

  /** Work held and how long since any slot was released: every admitted request ends by its deadline, so a long silence with slots held is a wedge. */
  progress(): { readonly active: number; readonly lastReleaseAt: number } {
    return { active: this.inFlight, lastReleaseAt: this.lastReleaseAt };
  }

  get queued(): number {
    return this.queue.length;
  }

  /** True when a new request would be refused: every slot busy and the queue at its bound. */
  full(): boolean {
    return this.inFlight >= this.options.maxInFlight && this.queue.length >= this.options.maxQueue;
  }

  /** Counts a refusal made elsewhere on admission's behalf (the overload gate). */
  countShed(): void {
    this.observer.onShed('overloaded');
  }

  /** A slot now, a place in the queue until `deadlineMs` (performance.now() time), or an ApiError. */
  acquire(deadlineMs: number): Promise<Release> | Release {
    if (this.inFlight < this.options.maxInFlight) {
      this.inFlight += 1;
      this.observer.onChange(this.inFlight, this.queue.length);
      return this.releaser();
    }
    if (this.full()) {
      this.observer.onShed('overloaded');
      throw new ApiError(503, 'overloaded', 'the service is at capacity; retry later', this.options.retryAfterSeconds);
    }
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(waiter.timer);
          resolve(this.releaser());
        },
        timer: setTimeout(() => {
          const at = this.queue.indexOf(waiter);
          if (at >= 0) this.queue.splice(at, 1);
          this.observer.onChange(this.inFlight, this.queue.length);
          this.observer.onShed('queue_timeout');
          reject(new ApiError(504, 'deadline_exceeded', 'the request waited for capacity past its deadline'));
        }, Math.max(0, deadlineMs - performance.now())),
      };
      this.queue.push(waiter);
      this.observer.onChange(this.inFlight, this.queue.length);
    });
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.lastReleaseAt = performance.now();
      const next = this.queue.shift();
      if (next) next.grant(); // the slot passes straight to the next waiter
      else this.inFlight -= 1;
      this.observer.onChange(this.inFlight, this.queue.length);
    };
  }
}

/**
 * Runs `work` inside an admission slot (a slot now, or a place in the queue until
 * `deadlineMs`); the slot is released on every path. Refusals throw ApiError.
 */
export async function admitted<T>(admission: Admission, deadlineMs: number, work: () => Promise<T>): Promise<T> {
  const slot = admission.acquire(deadlineMs);
  const release = typeof slot === 'function' ? slot : await slot;
  try {
    return await work();
  } finally {
    release();
  }
}
