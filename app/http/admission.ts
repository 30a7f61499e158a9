// Admission control, judged by queue delay rather than by count (CoDel with adaptive LIFO):
// at most `maxInFlight` classifications at once; the rest wait in a queue. While the queue
// drains within `queueDelayTargetMs` at least once every `queueDelayIntervalMs`, the service
// is keeping up: waiters are served oldest first and may wait up to the interval. When the
// shortest wait of a whole interval stays above the target, the queue is standing, not
// absorbing a burst: waiters are served newest first (their clients are the likeliest still
// waiting) and any that has waited past the target is refused 503 with Retry-After. A hard
// cap (`maxQueue`) bounds the queue's memory; past it a request is refused at once.
// Queued requests hold only their raw body bytes (see intake.ts): no parsed objects.
// Rationale and measurements: docs/http.md.
import { performance } from 'node:perf_hooks';
import { ApiError } from './errors.js';

export interface AdmissionOptions {
  readonly maxInFlight: number;
  readonly maxQueue: number;
  readonly retryAfterSeconds: number;
  /** The queue delay the service aims to stay under (CoDel's target); 0 = count-based only. */
  readonly queueDelayTargetMs?: number;
  /** The window over which the shortest queue delay is judged (CoDel's interval). */
  readonly queueDelayIntervalMs?: number;
  /** Body bytes the queue may hold at once (queued requests keep their raw body). */
  readonly maxQueueBytes?: number;
}

export interface AdmissionObserver {
  onShed(reason: 'overloaded' | 'queue_timeout' | 'queue_delay'): void;
  onChange(inFlight: number, queued: number): void;
}

interface Waiter {
  readonly enqueuedAt: number;
  readonly bytes: number;
  readonly deadlineMs: number;
  readonly grant: (release: Release) => void;
  readonly refuse: (error: ApiError) => void;
}

export type Release = () => void;

export class Admission {
  private inFlight = 0;
  /** performance.now() of the last slot released (or of construction): the watchdog's progress mark. */
  private lastReleaseAt = performance.now();
  private readonly queue: Waiter[] = [];
  private queuedBytes = 0;
  /** Requests past the overload gate still reading their body (see full()). */
  private arriving = 0;
  /** CoDel state: the shortest queue delay seen since `intervalStart`, and the verdict of the last interval. */
  private intervalStart = performance.now();
  private minDelayMs = 0;
  private standing = false;
  private sweeper: NodeJS.Timeout | undefined;

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

  /** True while the last interval's shortest queue delay was above the target (adaptive LIFO on). */
  get overloaded(): boolean {
    return this.standing;
  }

  /**
   * True when the overload gate should refuse a new request: every slot busy, and the queue at its
   * bound counting the requests already past the gate and still reading their body (each of them
   * is on its way to a queue place). Without them the gate let requests through while bodies were
   * in flight, and those were refused at acquire() after paying for the body read and its scan.
   */
  full(): boolean {
    return this.inFlight >= this.options.maxInFlight && this.queue.length + this.arriving >= this.options.maxQueue;
  }

  /** Marks a request past the gate that is reading its body before acquire(); call the result once it stops. */
  arrive(): () => void {
    this.arriving += 1;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.arriving -= 1;
    };
  }

  private queueFull(): boolean {
    return this.inFlight >= this.options.maxInFlight && this.queue.length >= this.options.maxQueue;
  }

  /** Counts a refusal made elsewhere on admission's behalf (the overload gate). */
  countShed(): void {
    this.observer.onShed('overloaded');
  }

  private get target(): number {
    return this.options.queueDelayTargetMs ?? 0;
  }

  private get interval(): number {
    return this.options.queueDelayIntervalMs ?? 100;
  }

  /** Records one request's queue delay and closes the interval when it is over. */
  private observeDelay(delayMs: number, now: number): void {
    if (this.target <= 0) return;
    if (delayMs < this.minDelayMs) this.minDelayMs = delayMs;
    if (now - this.intervalStart >= this.interval) {
      this.standing = this.minDelayMs > this.target;
      this.intervalStart = now;
      this.minDelayMs = Infinity;
    }
  }

  /** A slot now, a place in the queue until `deadlineMs` (performance.now() time), or an ApiError. `bytes`: the body the request holds while queued. */
  acquire(deadlineMs: number, bytes = 0): Promise<Release> | Release {
    const now = performance.now();
    if (this.inFlight < this.options.maxInFlight && this.queue.length === 0) {
      this.inFlight += 1;
      this.observeDelay(0, now);
      this.observer.onChange(this.inFlight, this.queue.length);
      return this.releaser();
    }
    if (this.queueFull() || this.queuedBytes + bytes > (this.options.maxQueueBytes ?? Infinity)) {
      this.observer.onShed('overloaded');
      throw new ApiError(503, 'overloaded', 'the service is at capacity; retry later', this.options.retryAfterSeconds);
    }
    return new Promise<Release>((resolve, reject) => {
      this.queue.push({ enqueuedAt: now, bytes, deadlineMs, grant: resolve, refuse: reject });
      this.queuedBytes += bytes;
      this.observer.onChange(this.inFlight, this.queue.length);
      this.sweeper ??= setInterval(() => this.sweep(), this.sweepEveryMs());
    });
  }

  private sweepEveryMs(): number {
    return Math.max(5, Math.min(50, (this.target > 0 ? this.target : this.interval) / 4));
  }

  /** How long a waiter may wait now: the target while the queue stands, else the interval (CoDel off: its deadline). */
  private allowedWaitMs(): number {
    if (this.target <= 0) return Infinity;
    return this.standing ? this.target : this.interval;
  }

  /** Refuses waiters past their allowed wait (503) or their deadline (504). */
  private sweep(): void {
    const now = performance.now();
    const allowed = this.allowedWaitMs();
    let kept = 0;
    for (const w of this.queue) {
      if (now >= w.deadlineMs) {
        this.observer.onShed('queue_timeout');
        w.refuse(new ApiError(504, 'deadline_exceeded', 'the request waited for capacity past its deadline'));
      } else if (now - w.enqueuedAt > allowed) {
        this.observer.onShed('queue_delay');
        w.refuse(
          new ApiError(503, 'overloaded', 'the service is at capacity; retry later', this.options.retryAfterSeconds),
        );
      } else {
        this.queue[kept++] = w;
        continue;
      }
      this.queuedBytes -= w.bytes;
    }
    if (kept !== this.queue.length) {
      this.queue.length = kept;
      this.observer.onChange(this.inFlight, this.queue.length);
    }
    // An idle queue also ends an interval: nothing waited, so nothing stands.
    if (kept === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
      this.observeDelay(0, now);
    }
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const now = performance.now();
      this.lastReleaseAt = now;
      // Adaptive LIFO: while the queue stands, the newest waiter's client is the likeliest still there.
      const next = this.standing ? this.queue.pop() : this.queue.shift();
      if (next) {
        this.queuedBytes -= next.bytes;
        this.observeDelay(now - next.enqueuedAt, now);
        next.grant(this.releaser()); // the slot passes straight to the next waiter
      } else {
        this.inFlight -= 1;
      }
      this.observer.onChange(this.inFlight, this.queue.length);
    };
  }
}

/**
 * Runs `work` inside an admission slot (a slot now, or a place in the queue until
 * `deadlineMs`); the slot is released on every path. Refusals throw ApiError.
 */
export async function admitted<T>(
  admission: Admission,
  deadlineMs: number,
  work: () => Promise<T>,
  bytes = 0,
): Promise<T> {
  const slot = admission.acquire(deadlineMs, bytes);
  const release = typeof slot === 'function' ? slot : await slot;
  try {
    return await work();
  } finally {
    release();
  }
}
