// Where the lifecycle stands: its state, the model/engine phase within it, and the failure a
// recovering load keeps naming. Kept apart from lifecycle.ts, which decides the transitions: this
// only records them, publishes them (gauges, one log line a phase change), answers /ready while
// not ready, and wakes the requests waiting for a change.
import type { Logger } from './logger.js';
import { publishReadiness, type Metrics } from './metrics.js';
import {
  FAILED_REASONS,
  LIFECYCLE_STATES,
  type LifecycleState,
  type NotReadyReason,
  type Readiness,
} from './readiness.js';

export type LifecyclePhase = NotReadyReason | 'verified';

/** Phases the model store and the engine pass through on the way to ready (not failures). */
const PROGRESS_PHASES: ReadonlySet<LifecyclePhase> = new Set([
  'pending',
  'downloading',
  'verifying',
  'engine_starting',
]);

export class LifecycleStatus {
  private current: LifecycleState = 'starting';
  private currentPhase: LifecyclePhase = 'starting';
  private phaseDetail: string | undefined;
  /** The failure that sent the loop round again; /ready keeps naming it while the loop recovers. */
  private carried: { readonly reason: NotReadyReason; readonly detail: string | undefined } | undefined;
  private changeWaiters: Array<() => void> = [];

  constructor(
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {}

  get state(): LifecycleState {
    return this.current;
  }

  get phase(): LifecyclePhase {
    return this.currentPhase;
  }

  /** Why not ready while loading: a verified model whose engine does not serve yet is still starting. */
  reason(): NotReadyReason {
    return this.currentPhase === 'verified' ? 'engine_starting' : this.currentPhase;
  }

  /** Resolves at the next state change, or the next phase that is a failure. */
  nextChange(): Promise<void> {
    return new Promise((resolve) => this.changeWaiters.push(resolve));
  }

  setState(state: LifecycleState): void {
    this.current = state;
    for (const s of LIFECYCLE_STATES) this.metrics.state.set({ state: s }, s === state ? 1 : 0);
    publishReadiness(this.metrics, state, this.currentPhase);
    this.wake();
  }

  /** Out of starting into loading, with nothing asked of the model store yet. */
  beginLoading(): void {
    this.setState('loading');
    this.currentPhase = 'pending';
  }

  setPhase(phase: LifecyclePhase, detail?: string): void {
    if (this.carried && PROGRESS_PHASES.has(phase)) ({ reason: phase, detail } = this.carried);
    if (phase !== this.currentPhase) this.logger.info({ event: 'model_phase', phase, detail }, `model ${phase}`);
    this.currentPhase = phase;
    this.phaseDetail = detail;
    publishReadiness(this.metrics, this.current, phase);
    if (phase !== 'verified' && FAILED_REASONS.has(phase)) this.wake();
  }

  /** A failure the load loop goes round again on: named until the loop reaches ready. */
  fail(reason: NotReadyReason, detail: string): void {
    this.carried = { reason, detail };
    this.setPhase(reason, detail);
  }

  /** The load loop got there: the failure it carried is over. */
  markReady(): void {
    this.carried = undefined;
    this.setPhase('verified');
    this.setState('ready');
  }

  /** /ready's answer while starting or loading. */
  notReady(): Readiness {
    const reason = this.reason();
    return this.phaseDetail === undefined
      ? { ready: false, state: this.current, reason }
      : { ready: false, state: this.current, reason, detail: this.phaseDetail };
  }

  private wake(): void {
    for (const wake of this.changeWaiters.splice(0)) wake();
  }
}
