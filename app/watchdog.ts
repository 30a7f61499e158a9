// Liveness watchdog: is this process still making progress? Signals, all local: the event
// loop's delay (a timer that fires late), the engine's progress (work is pending but no
// child has answered anything for too long), known-answer canaries that got no answer (a
// child hung while the service was idle), and admission slots that are never released.
// Nothing here touches the network or the model source, so S3 can never fail liveness.
import { performance } from 'node:perf_hooks';
import type { EngineStats } from './engine/classifier.js';

export interface WatchdogOptions {
  readonly maxEventLoopDelayMs: number;
  readonly engineStallMs: number;
  /** How often the loop-delay timer fires. */
  readonly sampleMs?: number;
  /** Liveness fails when requests hold admission slots and none was released for this long. */
  readonly requestStallMs?: number;
}

/** Where the watchdog reads progress from; every read is O(1). */
export interface WatchdogSources {
  /** The engine's counters, or undefined while no engine runs. */
  readonly engineStats: () => EngineStats | undefined;
  /** Admitted requests and when one last finished. */
  readonly requestProgress?: () => { readonly active: number; readonly lastReleaseAt: number };
  /** performance.now() since which canaries have gone unanswered, or undefined. */
  readonly canaryUnansweredSince?: () => number | undefined;
}

export interface LivenessReport {
  readonly live: boolean;
  readonly reason?: 'event_loop_blocked' | 'engine_stalled' | 'requests_stalled';
  readonly eventLoopDelayMs: number;
  readonly engineIdleMs: number;
}

export class Watchdog {
  private readonly sampleMs: number;
  private timer: NodeJS.Timeout | undefined;
  private expectedAt = 0;
  /** Worst lateness among the recent samples (decays as on-time samples arrive). */
  private delayMs = 0;

  constructor(
    private readonly options: WatchdogOptions,
    private readonly sources: WatchdogSources,
  ) {
    this.sampleMs = options.sampleMs ?? 200;
  }

  start(): void {
    this.expectedAt = performance.now() + this.sampleMs;
    this.timer = setInterval(() => this.sample(), this.sampleMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private sample(): void {
    const now = performance.now();
    const late = Math.max(0, now - this.expectedAt);
    // Keep a slow-decaying maximum so one probe between two late samples still sees the delay.
    this.delayMs = Math.max(late, this.delayMs * 0.5);
    this.expectedAt = now + this.sampleMs;
  }

  /** Current event-loop delay, counting a timer that is overdue right now. */
  eventLoopDelayMs(): number {
    if (!this.timer) return 0;
    const overdue = Math.max(0, performance.now() - this.expectedAt);
    return Math.max(this.delayMs, overdue);
  }

  report(): LivenessReport {
    const now = performance.now();
    const eventLoopDelayMs = this.eventLoopDelayMs();
    const stats = this.sources.engineStats();
    let engineIdleMs = stats && stats.pending > 0 ? now - stats.lastProgressAt : 0;
    // A canary that got no answer is engine progress lost, even when nothing is pending any more
    // (its call timed out): the only sign of a child that hung while no client was asking.
    const unanswered = stats ? this.sources.canaryUnansweredSince?.() : undefined;
    if (unanswered !== undefined) engineIdleMs = Math.max(engineIdleMs, now - unanswered);
    if (eventLoopDelayMs > this.options.maxEventLoopDelayMs) {
      return { live: false, reason: 'event_loop_blocked', eventLoopDelayMs, engineIdleMs };
    }
    if (engineIdleMs > this.options.engineStallMs) {
      return { live: false, reason: 'engine_stalled', eventLoopDelayMs, engineIdleMs };
    }
    // Every admitted request ends by its deadline; slots held with none released for longer
    // than that (plus the engine's stall allowance) means requests are stuck for good.
    const requests = this.sources.requestProgress?.();
    if (
      requests &&
      requests.active > 0 &&
      this.options.requestStallMs !== undefined &&
      now - requests.lastReleaseAt > this.options.requestStallMs
    ) {
      return { live: false, reason: 'requests_stalled', eventLoopDelayMs, engineIdleMs };
    }
    return { live: true, eventLoopDelayMs, engineIdleMs };
  }
}
