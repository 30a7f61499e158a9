// The lifecycle's vocabulary: its states and the reasons /ready gives while not ready. Kept
// apart from lifecycle.ts so the classification path and the HTTP layer can name them
// without importing the state machine.
import { MODEL_FAILURE_PHASES, type ModelPhase } from './model/types.js';

export const LIFECYCLE_STATES = ['starting', 'loading', 'ready', 'draining', 'stopped'] as const;

export type LifecycleState = (typeof LIFECYCLE_STATES)[number];

export type NotReadyReason =
  | Exclude<ModelPhase, 'verified'>
  | 'starting'
  | 'engine_starting'
  | 'engine_failed'
  | 'engine_unavailable'
  | 'model_changed'
  | 'canary_failed'
  | 'draining'
  | 'stopped';

/** Reasons that will not clear within one request's deadline: a request fails at once on them. */
export const FAILED_REASONS: ReadonlySet<NotReadyReason> = new Set<NotReadyReason>([
  ...MODEL_FAILURE_PHASES,
  'engine_failed',
  'canary_failed',
]);

export class NotReadyError extends Error {
  constructor(readonly reason: NotReadyReason) {
    super(`model not ready: ${reason}`);
    this.name = 'NotReadyError';
  }
}

export interface Readiness {
  readonly ready: boolean;
  readonly state: LifecycleState;
  readonly reason?: NotReadyReason;
  readonly detail?: string;
}
