// Known-answer canaries at run time: each canary is sent on its own through the engine, on
// k=1 and on every wider tier clients have started, and must come back with its label and a
// score within CANARY_SCORE_TOLERANCE of the released one. The monitor re-runs them on a
// timer and after child restarts, and keeps the last verdict in memory for the probes.
import { performance } from 'node:perf_hooks';
import { EngineError, type Prediction, type TierStats } from './engine/classifier.js';
import type { ModelCanary as Canary } from './model/types.js';

/**
 * Absolute score tolerance. The same binary on the same file gives the same score to the
 * printed digits; the slack only absorbs the rounding of the score printed at release.
 * A different model, a shifted framing or a corrupted file moves the top score far more.
 */
export const CANARY_SCORE_TOLERANCE = 0.02;

export interface CanaryFailure {
  readonly ok: false;
  /** wrong_answer: another label or score; no_answer: the deadline passed; engine_error: the engine refused the call. */
  readonly kind: 'wrong_answer' | 'no_answer' | 'engine_error';
  readonly index: number;
  readonly k: number;
  readonly expected: { readonly label: string; readonly score: number };
  readonly got: { readonly label: string; readonly score: number } | null;
  readonly detail: string;
}

export type CanaryVerdict = { readonly ok: true; readonly calls: number } | CanaryFailure;

/** One engine call of one text at k, threshold 0, under the caller's deadline. */
export type CanaryCall = (text: string, k: number) => Promise<Prediction[]>;

function describe(c: Canary): string {
  return `${c.label} ${c.score.toFixed(4)}`;
}

async function one(call: CanaryCall, canary: Canary, index: number, k: number): Promise<CanaryFailure | undefined> {
  const expected = { label: canary.label, score: canary.score };
  let predictions: Prediction[];
  try {
    predictions = await call(canary.text, k);
  } catch (error) {
    const timedOut = error instanceof EngineError && error.code === 'deadline_exceeded';
    const message = error instanceof Error ? error.message : String(error);
    return {
      ok: false,
      kind: timedOut ? 'no_answer' : 'engine_error',
      index,
      k,
      expected,
      got: null,
      detail: `canary ${index} (k=${k}): ${message}`,
    };
  }
  const top = predictions[0];
  const got = top === undefined ? null : { label: top.label, score: top.score };
  if (got !== null && got.label === canary.label && Math.abs(got.score - canary.score) <= CANARY_SCORE_TOLERANCE)
    return undefined;
  const said = got === null ? 'no label' : `${got.label} ${got.score.toFixed(4)}`;
  return {
    ok: false,
    kind: 'wrong_answer',
    index,
    k,
    expected,
    got,
    detail: `canary ${index} (k=${k}): expected ${describe(canary)}, got ${said}`,
  };
}

/**
 * The tiers to check: k=1 always, and every wider tier with a ready child. A tier still loading
 * (warming, or started by a first request) is left for a later run: a canary sent to it would
 * wait there until its deadline and read as lost progress.
 */
export function canaryTiers(tiers: readonly TierStats[] | undefined): number[] {
  const ks = new Set<number>([1]);
  for (const tier of tiers ?? []) if (tier.state === 'ready') ks.add(tier.k);
  return [...ks].sort((a, b) => a - b);
}

const SEVERITY = { wrong_answer: 0, no_answer: 1, engine_error: 2 } as const;

/**
 * Sends every canary on every tier, each as its own call and all at once, so the engine's
 * least-loaded dispatch spreads them over the children of each tier (successive runs rotate
 * through children). Returns the worst failure, wrong answers first.
 */
export async function runCanaries(
  canaries: readonly Canary[],
  tiers: readonly number[],
  call: CanaryCall,
): Promise<CanaryVerdict> {
  const pending: Array<Promise<CanaryFailure | undefined>> = [];
  for (const k of tiers) canaries.forEach((c, i) => pending.push(one(call, c, i, k)));
  const failures = (await Promise.all(pending)).filter((f): f is CanaryFailure => f !== undefined);
  if (failures.length === 0) return { ok: true, calls: pending.length };
  failures.sort((a, b) => SEVERITY[a.kind] - SEVERITY[b.kind]);
  return failures[0] as CanaryFailure;
}

export interface CanaryMonitorOptions {
  readonly intervalMs: number;
  /** After a child restart: long enough for the new child to load and be dispatched to. */
  readonly afterRestartMs: number;
  /** After a run with no answer: soon, so a merely busy engine gets a second chance before liveness judges it. */
  readonly retryMs: number;
  /** Every child up again? A run after a restart waits for it (one afterRestartMs at a time, up to maxRestartWaits). */
  readonly childrenUp?: () => boolean;
  readonly maxRestartWaits?: number;
}

export interface CanaryCounters {
  readonly runs: { inc(): void };
  readonly failures: { inc(labels: { kind: CanaryFailure['kind'] }): void };
  readonly lastSuccess: { set(value: number): void };
}

/** Runs canaries in the background while serving; one run at a time. */
export class CanaryMonitor {
  private timer: NodeJS.Timeout | undefined;
  private dueAt = Number.POSITIVE_INFINITY;
  private running = false;
  private rerun = false;
  private stopped = true;
  /** performance.now() of the start of the first run that got no answer, until a run gets answers again. */
  private unanswered: number | undefined;
  private last: CanaryVerdict | undefined;
  /** A run is due for a restarted child, which the run should reach: wait until it is up. */
  private afterRestart = false;
  private restartWaits = 0;

  constructor(
    private readonly run: () => Promise<CanaryVerdict>,
    private readonly onVerdict: (verdict: CanaryVerdict) => void,
    private readonly counters: CanaryCounters,
    private readonly options: CanaryMonitorOptions,
  ) {}

  /** Starts the timer; the first run is one interval away (the load just ran them). */
  start(initial?: CanaryVerdict): void {
    this.stopped = false;
    if (initial) this.record(initial, performance.now());
    this.schedule(this.options.intervalMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.dueAt = Number.POSITIVE_INFINITY;
  }

  /** A child was restarted: check the children soon. */
  childRestarted(): void {
    this.restartWaits = 0;
    this.afterRestart = true;
    this.schedule(this.options.afterRestartMs);
  }

  /** Since when canaries have gone unanswered (performance.now()), or undefined. O(1), for liveness. */
  unansweredSince(): number | undefined {
    return this.unanswered;
  }

  lastVerdict(): CanaryVerdict | undefined {
    return this.last;
  }

  /** Records a run's verdict: counters, the unanswered clock. */
  record(verdict: CanaryVerdict, startedAt: number): void {
    this.last = verdict;
    this.counters.runs.inc();
    if (verdict.ok) {
      this.counters.lastSuccess.set(Date.now() / 1000);
      this.unanswered = undefined;
      return;
    }
    this.counters.failures.inc({ kind: verdict.kind });
    if (verdict.kind === 'no_answer') this.unanswered ??= startedAt;
    else if (verdict.kind === 'wrong_answer') this.unanswered = undefined;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.running) {
      this.rerun = true;
      return;
    }
    const at = performance.now() + delayMs;
    if (at >= this.dueAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.dueAt = at;
    this.timer = setTimeout(() => void this.tick(), delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    this.dueAt = Number.POSITIVE_INFINITY;
    if (this.stopped) return;
    // A replacement still loading would get none of the canaries: the run waits for it.
    if (
      this.afterRestart &&
      this.options.childrenUp?.() === false &&
      this.restartWaits < (this.options.maxRestartWaits ?? 30)
    ) {
      this.restartWaits++;
      this.schedule(this.options.afterRestartMs);
      return;
    }
    this.afterRestart = false;
    this.running = true;
    this.rerun = false;
    const startedAt = performance.now();
    let verdict: CanaryVerdict;
    try {
      verdict = await this.run();
    } catch (error) {
      // Not expected (runCanaries catches every call's error), but a monitor must not die of it.
      const detail = `canary run failed: ${error instanceof Error ? error.message : String(error)}`;
      verdict = {
        ok: false,
        kind: 'engine_error',
        index: -1,
        k: 1,
        expected: { label: '', score: 0 },
        got: null,
        detail,
      };
    } finally {
      this.running = false;
    }
    if (this.stopped) return;
    this.record(verdict, startedAt);
    this.onVerdict(verdict);
    const next = this.rerun
      ? this.options.afterRestartMs
      : !verdict.ok && verdict.kind !== 'wrong_answer'
        ? this.options.retryMs
        : this.options.intervalMs;
    this.schedule(next);
  }
}
