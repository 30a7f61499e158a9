// Admission control, judged by the time a request would wait rather than by a count: at most
// `maxInFlight` classifications at once; the rest wait in a FIFO queue. With a queue delay
// target, a request is refused at once (503 + Retry-After) when the queue ahead of it is
// predicted to take longer than the target to drain, and admitted otherwise, however many
// are waiting. The prediction is Little's law on the slots: while every slot is busy the
// service completes maxInFlight requests per mean slot-hold time, so a place `n` deep waits
// about n x hold / maxInFlight, where each request ahead counts as its body bytes over the mean
// body (a 13 KB batch among 60-byte texts is 200 requests' work, not one); before the first
// completion the hold is a prior (the target: one round of slots may queue) or a measured seed
// (hold-estimate.ts). In every mode a waiter still queued after `queueDelayIntervalMs` is
// refused 503 (with a target: the prediction was wrong, capacity fell after it was admitted;
// without one: the wait bound of count-only admission). `maxQueue` and `maxQueueBytes` bound
// the queue's memory whatever the target.
// Queued requests hold only their raw body bytes (see intake.ts): no parsed objects.
// Why this rather than CoDel's sojourn-time judgement, with measurements: docs/http.md.
import { performance } from 'node:perf_hooks';
import { ApiError } from './errors.js';
import { WorkEstimate } from './hold-estimate.js';

export interface AdmissionOptions {
  readonly maxInFlight: number;
  readonly maxQueue: number;
  readonly retryAfterSeconds: number;
  /** The longest predicted queue wait a new request is admitted to; 0 = count-based only. */
  readonly queueDelayTargetMs?: number;
  /** The longest a queued request waits for a slot before it is refused 503, in every mode (default 1000). */
  readonly queueDelayIntervalMs?: number;
  /** The mean slot hold assumed before any request completed, ms (default: the target). */
  readonly initialHoldMs?: number;
  /** Body bytes the queue may hold at once (queued requests keep their raw body). */
  readonly maxQueueBytes?: number;
  /**
   * Body bytes the requests being worked on may hold at once: the bound on work, where the count
   * bounds requests (a request alone may exceed it). Default: no bound.
   */
  readonly maxInFlightBytes?: number;
}

/**
 * Waiters past a head that does not fit the byte bound that a release may still start (a
 * single text need not wait behind a 1 MiB batch that waits for bytes); bounded so a release
 * costs O(1) however deep the queue.
 */
const LOOKAHEAD = 16;

export interface AdmissionObserver {
  onShed(reason: 'overloaded' | 'queue_timeout' | 'queue_delay' | 'client_gone'): void;
  onChange(inFlight: number, queued: number): void;
}

interface Waiter {
  readonly enqueuedAt: number;
  readonly bytes: number;
  readonly deadlineMs: number;
  readonly grant: (release: Release) => void;
  readonly refuse: (error: ApiError) => void;
}

/**
 * Gives the slot back. `failed`: the work ended in an error; its hold then counts only if it
 * was longer than the mean (a slow failure, e.g. a timeout, says holds are long; a fast one,
 * e.g. a 400 for a bad body, says nothing about service time and would pull the mean down).
 */
export type Release = (failed?: boolean) => void;

export class Admission {
  private inFlight = 0;
  /** Body bytes of the requests being worked on. */
  private inFlightBytes = 0;
  /** Waiters in the queue (it may hold holes where a waiter behind the head was started). */
  private waiting = 0;
  /** performance.now() of the last slot released (or of construction): the watchdog's progress mark. */
  private lastReleaseAt = performance.now();
  /** FIFO from `head` on, with holes (undefined): an index, not shift(), so a deep queue costs O(1) a grant. */
  private queue: Array<Waiter | undefined> = [];
  private head = 0;
  private queuedBytes = 0;
  /** Requests past the overload gate still reading their body (see full()), and their declared bytes. */
  private arriving = 0;
  private arrivingBytes = 0;
  /** The mean slot hold and the mean body: what the prediction multiplies work by. */
  private readonly work: WorkEstimate;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly options: AdmissionOptions,
    private readonly observer: AdmissionObserver,
  ) {
    this.work = new WorkEstimate(
      options.initialHoldMs ?? options.queueDelayTargetMs ?? 0,
      options.maxInFlight,
      options.maxInFlightBytes,
    );
  }

  /** A slot hold measured before traffic (the canaries' slowest call, ms): raises the prior until the first completion. */
  seedHold(measuredMs: number): void {
    this.work.hold.seed(measuredMs);
  }

  get active(): number {
    return this.inFlight;
  }

  /** Work held and how long since any slot was released: every admitted request ends by its deadline, so a long silence with slots held is a wedge. */
  progress(): { readonly active: number; readonly lastReleaseAt: number } {
    return { active: this.inFlight, lastReleaseAt: this.lastReleaseAt };
  }

  get queued(): number {
    return this.waiting;
  }

  /**
   * The wait predicted for a request joining the queue behind `ahead` others holding
   * `aheadBytes` of bodies, ms: each counts as its body over the mean body (hold-estimate.ts).
   */
  predictedWaitMs(ahead = this.queued, aheadBytes = this.queuedBytes): number {
    return this.work.predictedWaitMs(ahead, aheadBytes);
  }

  /**
   * Whether a request of `bytes` may start now: a free slot, and room in the byte bound (or
   * nothing else running), less `reserved` bytes kept for the queue's head (see reserveForHead).
   */
  private fits(bytes: number, reserved = 0): boolean {
    if (this.inFlight >= this.options.maxInFlight) return false;
    return this.inFlight === 0 || this.inFlightBytes + bytes + reserved <= (this.options.maxInFlightBytes ?? Infinity);
  }

  /**
   * Bytes a request starting past the head must leave free for it: none while the head is
   * young, its size once it has waited a quarter of the interval. Without this a large head
   * never found room under a steady stream of smaller requests, each release's bytes going to
   * one of them, and was refused after the interval every time (review: 85% of 1 MB batches
   * beside 130 KB ones).
   */
  private reserveForHead(now: number): number {
    const head = this.queue[this.head];
    if (head === undefined || now - head.enqueuedAt < this.maxWaitMs / 4) return 0;
    return head.bytes;
  }

  private get target(): number {
    return this.options.queueDelayTargetMs ?? 0;
  }

  private get maxWaitMs(): number {
    return this.options.queueDelayIntervalMs ?? 1000;
  }

  /** True when a request would be refused behind `ahead` others: the count bound, or the predicted wait past the target. */
  private wouldRefuse(ahead: number, aheadBytes: number): boolean {
    if (this.inFlight < this.options.maxInFlight && this.waiting === 0) return false;
    if (ahead >= this.options.maxQueue) return true;
    return this.target > 0 && this.predictedWaitMs(ahead, aheadBytes) > this.target;
  }

  /**
   * True when the overload gate should refuse a new request. It counts the requests already
   * past the gate and still reading their body (each is on its way to a queue place): without
   * them the gate let requests through while bodies were in flight, and those were refused at
   * acquire() after paying for the body read and its scan. `declaredBytes`: the request's
   * Content-Length, when it has one.
   */
  full(declaredBytes?: number): boolean {
    // A body that would fit the byte bound now starts past waiters that wait for room.
    if (
      declaredBytes !== undefined &&
      this.waiting > 0 &&
      this.fits(declaredBytes, this.reserveForHead(performance.now()))
    )
      return false;
    return this.wouldRefuse(this.queued + this.arriving, this.queuedBytes + this.arrivingBytes);
  }

  /**
   * Marks a request past the gate that is reading its body before acquire(), of `declaredBytes`
   * (its Content-Length; unknown: the mean body); call the result once it stops. A body still
   * arriving counts at most as a mean one: a declared length costs its sender nothing to send
   * slowly, and counted whole, one connection trickling a declared 1 MiB shut the gate on
   * everyone (review: 12% of a healthy closed loop refused). Once in, it queues at its size.
   */
  arrive(declaredBytes?: number): () => void {
    const bytes = Math.min(declaredBytes ?? Infinity, this.work.meanBytes);
    this.arriving += 1;
    this.arrivingBytes += bytes;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.arriving -= 1;
      this.arrivingBytes -= bytes;
    };
  }

  /** Counts a request that got its slot after its client had gone, and did no work (see intake.ts). */
  countClientGone(): void {
    this.observer.onShed('client_gone');
  }

  /** Counts a refusal made elsewhere on admission's behalf (the overload gate). */
  countShed(): void {
    this.observer.onShed('overloaded');
  }

  /** A slot now, a place in the queue until `deadlineMs` (performance.now() time), or an ApiError. `bytes`: the body the request holds while queued. */
  acquire(deadlineMs: number, bytes = 0): Promise<Release> | Release {
    const now = performance.now();
    // A waiter the release path could start is started there, so a request that fits now
    // overtakes only waiters that do not fit (or lie past the lookahead).
    if (this.fits(bytes, this.waiting > 0 ? this.reserveForHead(now) : 0)) {
      const release = this.start(now, bytes);
      this.observer.onChange(this.inFlight, this.waiting);
      return release;
    }
    if (
      this.wouldRefuse(this.queued, this.queuedBytes) ||
      this.queuedBytes + bytes > (this.options.maxQueueBytes ?? Infinity)
    ) {
      this.observer.onShed('overloaded');
      throw new ApiError(503, 'overloaded', 'the service is at capacity; retry later', this.options.retryAfterSeconds);
    }
    return new Promise<Release>((resolve, reject) => {
      this.queue.push({ enqueuedAt: now, bytes, deadlineMs, grant: resolve, refuse: reject });
      this.waiting += 1;
      this.queuedBytes += bytes;
      this.observer.onChange(this.inFlight, this.queued);
      this.sweeper ??= setInterval(() => this.sweep(), this.sweepEveryMs());
    });
  }

  private sweepEveryMs(): number {
    return Math.max(5, Math.min(50, this.maxWaitMs / 4));
  }

  /** Refuses waiters past their deadline (504) or past the longest allowed wait (503). */
  private sweep(): void {
    const now = performance.now();
    const kept: Waiter[] = [];
    let refused = false;
    for (let i = this.head; i < this.queue.length; i++) {
      const w = this.queue[i];
      if (w === undefined) continue;
      if (now >= w.deadlineMs) {
        this.observer.onShed('queue_timeout');
        w.refuse(new ApiError(504, 'deadline_exceeded', 'the request waited for capacity past its deadline'));
      } else if (now - w.enqueuedAt > this.maxWaitMs) {
        this.observer.onShed('queue_delay');
        w.refuse(
          new ApiError(503, 'overloaded', 'the service is at capacity; retry later', this.options.retryAfterSeconds),
        );
      } else {
        kept.push(w);
        continue;
      }
      refused = true;
      this.waiting -= 1;
      this.queuedBytes -= w.bytes;
    }
    if (refused) {
      this.queue = kept;
      this.head = 0;
      // Waiters that did not fit behind a refused one may fit now.
      this.pump();
      this.observer.onChange(this.inFlight, this.queued);
    }
    if (this.queued === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  /** Takes a slot and `bytes` of the byte bound. */
  private start(now: number, bytes: number): Release {
    this.inFlight += 1;
    this.inFlightBytes += bytes;
    return this.releaser(now, bytes);
  }

  /**
   * Starts waiters while slots are free: the head first, and, when the head waits for bytes,
   * the first of the next LOOKAHEAD waiters that fit (oldest first).
   */
  private pump(): void {
    const now = performance.now();
    let scanned = 0;
    for (let i = this.head; i < this.queue.length && scanned < LOOKAHEAD; i++) {
      if (this.inFlight >= this.options.maxInFlight) break;
      const w = this.queue[i];
      if (w === undefined) continue;
      scanned += 1;
      if (!this.fits(w.bytes, i === this.head ? 0 : this.reserveForHead(now))) continue;
      this.queue[i] = undefined;
      this.waiting -= 1;
      this.queuedBytes -= w.bytes;
      w.grant(this.start(now, w.bytes));
    }
    while (this.head < this.queue.length && this.queue[this.head] === undefined) this.head += 1;
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private releaser(grantedAt: number, bytes: number): Release {
    let released = false;
    return (failed = false) => {
      if (released) return;
      released = true;
      const now = performance.now();
      this.lastReleaseAt = now;
      const held = now - grantedAt;
      if (!failed || held > this.work.hold.meanMs) this.work.completed(held, bytes);
      this.inFlight -= 1;
      this.inFlightBytes -= bytes;
      this.pump();
      this.observer.onChange(this.inFlight, this.queued);
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
  let failed = true;
  try {
    const result = await work();
    failed = false;
    return result;
  } finally {
    release(failed);
  }
}
