// What the load generator is asked to do, and what it reports back: shared by the parent
// (load.ts) and the generator process (load-worker.ts).

/** An open-loop phase sends at a fixed rate whatever the answers; a closed one keeps N requests outstanding. */
export type LoadPhase =
  | { readonly name: string; readonly mode: 'open'; readonly rate: number; readonly durationMs: number }
  | { readonly name: string; readonly mode: 'closed'; readonly concurrency: number; readonly durationMs: number };

export interface LoadPlan {
  /** POST target, e.g. http://127.0.0.1:1234/v1/classify */
  readonly url: string;
  /** Texts per request: 1 sends {"text"}, more sends {"texts": [...]}; each text is unique (no cache hits). */
  readonly batch: number;
  /** A request not answered this long after its scheduled send time is abandoned and counted as a client timeout. */
  readonly clientTimeoutMs: number;
  /** Upper bound on open sockets (a guard, far above what the phases need). */
  readonly maxSockets: number;
  readonly phases: readonly LoadPhase[];
}

/** How one request ended. */
export const OUTCOMES = [
  'ok',
  'shed',
  'deadline',
  'bad_status',
  'bad_body',
  'connection_error',
  'client_timeout',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

/**
 * Every request, column-wise (compact over IPC): scheduled send time (epoch ms; latency is
 * measured from it, so a generator that falls behind cannot hide queueing), latency in ms,
 * outcome index into OUTCOMES, HTTP status (0 without a response) and the phase index.
 */
export interface RequestLog {
  readonly at: number[];
  readonly ms: number[];
  readonly outcome: number[];
  readonly status: number[];
  readonly phase: number[];
}

export interface PhaseReport {
  readonly name: string;
  readonly startedAt: number;
  readonly endedAt: number;
  /** Requests scheduled, and how far behind schedule the generator fell at worst. */
  readonly scheduled: number;
  readonly maxLagMs: number;
}

export interface LoadReport {
  readonly phases: readonly PhaseReport[];
  readonly requests: RequestLog;
  /** Error codes seen in 503/504 bodies, and the first few unexpected answers, for the logs. */
  readonly errorCodes: Readonly<Record<string, number>>;
  readonly samples: readonly string[];
  readonly peakSockets: number;
}

export type WorkerMessage =
  | { readonly type: 'started' }
  | { readonly type: 'done'; readonly report: LoadReport }
  | { readonly type: 'failed'; readonly error: string };
