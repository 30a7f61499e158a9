// What a FastTextPool is configured with (from app/config.ts in production).
/** The subset of a pino logger the engine uses. */
export interface EngineLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface FastTextPoolOptions {
  /** The fastText executable. */
  readonly binary: string;
  /** Children in the k=1 group. */
  readonly poolSize: number;
  /** A child owing lines that prints nothing for this long is killed and replaced. */
  readonly stallMs: number;
  readonly restartBaseMs: number;
  readonly restartMaxMs: number;
  /** The largest k callers may ask for; the widest tier prints min(maxK, labels) labels. */
  readonly maxK: number;
  /** k of the groups besides k=1 (capped at min(maxK, labels); the cap is always a tier). Default [10]. */
  readonly kTiers?: readonly number[];
  /** Children in each k>1 group, started on the first call needing it. Default max(1, poolSize/2): each child holds a copy of the model. */
  readonly widePoolSize?: number;
  /** A child that has not answered its probe after this long is killed. Default 10 s + 1 s per 10 MB of model. */
  readonly loadTimeoutMs?: number;
  /** stop(): SIGTERM, then SIGKILL after this long. Default 2000. */
  readonly stopTimeoutMs?: number;
  /** A child alive this long resets the restart backoff. Default 10 s. */
  readonly healthyAfterMs?: number;
  readonly log?: EngineLogger;
  /**
   * Niceness of the children (0..19). Under CPU saturation the event loop, which accepts
   * connections, sheds overload and answers probes, then wins the core over inference.
   */
  readonly niceness?: number;
  /**
   * Awaited before every process that loads the model is spawned (first start, restart after
   * a death, a new k tier, a stall replacement, the label read), with the model path. If it
   * rejects (or takes longer than loadTimeoutMs), that process is not spawned: a failed start
   * for its slot (restart backoff), and calls that would wait for it fail with
   * engine_unavailable. The lifecycle checks the file is still the verified one here. What it
   * resolves with is handed to afterLoad for the process it allowed.
   */
  readonly beforeSpawn?: (modelPath: string) => Promise<unknown>;
  /**
   * Awaited once a process has loaded the model (answered its probe) and before it takes any
   * line, with what beforeSpawn resolved with for it. If it rejects, the process is killed
   * unused (a death like any other: restart after backoff, or a failed start). The lifecycle
   * checks here that the file did not change while the process read it.
   */
  readonly afterLoad?: (modelPath: string, checked: unknown) => Promise<void>;
  /** Called with the reason each time beforeSpawn rejects. */
  readonly onModelRejected?: (reason: string) => void;
  /**
   * Once a call's lines are handed to a ready child, it must be answered within this long
   * (and by its own deadline). Time spent waiting for a child to load does not count: that
   * wait is bounded by the call's deadline only. Default: no limit beyond the deadline.
   */
  readonly callTimeoutMs?: number;
  /**
   * Start the k>1 tiers in the background once the engine is ready, widest first, one tier
   * at a time (parallel loads slow each other down). Default true. Without it a tier starts
   * on the first call that needs it.
   */
  readonly warmTiers?: boolean;
  /**
   * At most this many children load the model at once (first start, the rest of a group,
   * warm tiers, restarts); the others wait their turn, the k=1 group first while it has no
   * ready child, then a tier calls wait for, then the widest tier without a ready child.
   * Default 1: loads at once share the machine and none is ready before all are.
   */
  readonly loadConcurrency?: number;
  /** Called on each child restart (for metrics, logs and canaries). */
  readonly onRestart?: (reason: string) => void;
}
