// The one small interface the rest of the service sees of fastText.
export interface Prediction {
  /** Label without the `__label__` prefix, case kept. */
  readonly label: string;
  /** Probability in [0, 1]. */
  readonly score: number;
}

export type EngineErrorCode =
  | 'engine_unavailable' // no live child (starting, restarting, stopped)
  | 'engine_crashed' // the child serving the call exited or was killed mid-call
  | 'deadline_exceeded'; // the call's deadline passed before the answer

export class EngineError extends Error {
  constructor(
    readonly code: EngineErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

/** One k tier of the engine: idle (not started), loading, ready (a child answers) or failing. */
export interface TierStats {
  readonly k: number;
  readonly state: 'idle' | 'loading' | 'ready' | 'failing';
  /** Its children that are ready. */
  readonly children: number;
}

export interface EngineStats {
  /** Children currently running and answering. */
  readonly liveChildren: number;
  /** Lines written to children and not yet answered. */
  readonly pending: number;
  /** Child restarts since start. */
  readonly restarts: number;
  /** performance.now() of the last answer from any child (or of start). */
  readonly lastProgressAt: number;
  /** Each k tier, by increasing k (for /v1/model). */
  readonly tiers?: readonly TierStats[];
}

export interface Classifier {
  /** Spawns the children on the model file; resolves once one answers a probe line. */
  start(modelPath: string): Promise<void>;
  /**
   * One prediction list per text, in order. Rejects with EngineError, never hangs past
   * `deadlineMs` (an absolute performance.now() time).
   */
  predict(texts: readonly string[], k: number, threshold: number, deadlineMs: number): Promise<Prediction[][]>;
  /** Every label the model knows (without prefix), read once at start. */
  labels(): readonly string[];
  stats(): EngineStats;
  /** Fails pending calls with engine_unavailable and ends every child (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
  /** Called on each child restart (for metrics/logs). */
  onRestart?: (reason: string) => void;
}
