// Fakes for in-process tests of Lifecycle. Why fakes and not the real store and engine: these
// tests drive orderings that real parts cannot produce on demand (a download that finishes
// exactly between SIGTERM and the engine's start, a child restart or a changed file at a
// chosen moment, a canary that is answered wrongly). The real parts are tested end to end
// in test/http/*.test.ts; here every step is a latch the test opens.
import { performance } from 'node:perf_hooks';
import { loadConfig, type Config } from '../../app/config.js';
import {
  EngineError,
  type Classifier,
  type EngineStats,
  type Prediction,
  type TierStats,
} from '../../app/engine/classifier.js';
import { Lifecycle, type EngineHooks, type LifecycleDeps, type ModelProvider } from '../../app/lifecycle.js';
import { createLogger } from '../../app/logger.js';
import { createMetrics, type Metrics } from '../../app/metrics.js';
import type {
  ModelCanary as Canary,
  ModelCandidate,
  ModelLock,
  ModelProgress,
  VerifiedModel,
} from '../../app/model/types.js';
import { PredictionCache } from '../../app/prediction-cache.js';

/** A promise opened from outside; opening it before anyone waits is allowed. */
export class Latch<T = void> {
  readonly promise: Promise<T>;
  resolve!: (value: T) => void;
  reject!: (error: Error) => void;
  settled = false;
  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = (v) => {
        this.settled = true;
        resolve(v);
      };
      this.reject = (e) => {
        this.settled = true;
        reject(e);
      };
    });
    this.promise.catch(() => undefined);
  }
}

export const MD5 = '340156704bb8c8e50c4abf35a7ec2569';

export function verified(path = `/cache/${MD5}.bin`): VerifiedModel {
  return {
    path,
    md5: MD5,
    bytes: 1000,
    fromCache: true,
    verifiedBy: 'md5',
    bytesTransferred: 0,
    durationMs: 1,
    identity: { dev: 1, ino: 1, size: 1000, mtimeMs: 0, ctimeMs: 0 },
  };
}

/** ensure() waits for `gate`, then for each call's own latch if `perCall` is set. */
export class FakeProvider implements ModelProvider {
  readonly calls: Array<{ signal: AbortSignal | undefined; onProgress: ((p: ModelProgress) => void) | undefined }> = [];
  gate = new Latch();
  aborted = 0;
  rechecks = 0;
  recheckFails: string | undefined;
  /** Announced as the cached file being hashed (a head start), before the gate. */
  candidate: ModelCandidate | undefined;
  /** What ensure() resolves with (default: verified()). */
  result: (() => VerifiedModel) | undefined;

  async ensure(
    _lock: ModelLock,
    options: { signal?: AbortSignal; onProgress?: (p: ModelProgress) => void },
  ): Promise<VerifiedModel> {
    this.calls.push({ signal: options.signal, onProgress: options.onProgress });
    options.onProgress?.({ phase: 'downloading', bytesDone: 0 });
    if (this.candidate !== undefined) options.onProgress?.({ phase: 'verifying', candidate: this.candidate });
    const signal = options.signal;
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.aborted++;
        reject(new Error('aborted'));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      void this.gate.promise.then(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
    return this.result?.() ?? verified();
  }

  async recheck(model: VerifiedModel): Promise<VerifiedModel> {
    this.rechecks++;
    await Promise.resolve();
    if (this.recheckFails !== undefined) throw new Error(this.recheckFails);
    return model;
  }
}

export type Answer = (text: string, k: number) => Prediction[] | 'hang';

/** A classifier whose start waits for `started` and whose answers come from `answer`. */
export class FakeEngine implements Classifier {
  readonly startGate: Latch;
  startCalled = false;
  running = false;
  stopped = false;
  live = 2;
  predictCalls: Array<{ texts: readonly string[]; k: number }> = [];
  private readonly hung = new Set<{ deadline: number; reject: (e: Error) => void }>();

  constructor(
    readonly hooks: EngineHooks,
    private readonly answer: () => Answer,
    startGate: Latch,
  ) {
    this.startGate = startGate;
  }

  async start(): Promise<void> {
    this.startCalled = true;
    if (this.stopped) throw new EngineError('engine_unavailable', 'stopped');
    await Promise.race([this.startGate.promise, this.stopSignal.promise]);
    if (this.stopped) throw new EngineError('engine_unavailable', 'engine stopped during start');
    this.running = true;
  }

  private readonly stopSignal = new Latch();

  predict(texts: readonly string[], k: number, _threshold: number, deadlineMs: number): Promise<Prediction[][]> {
    this.predictCalls.push({ texts, k });
    if (!this.running || this.stopped) return Promise.reject(new EngineError('engine_unavailable', 'not running'));
    const answers = texts.map((t) => this.answer()(t, k));
    if (answers.some((a) => a === 'hang')) {
      return new Promise((_resolve, reject) => {
        const entry = { deadline: deadlineMs, reject };
        this.hung.add(entry);
        setTimeout(
          () => {
            this.hung.delete(entry);
            reject(new EngineError('deadline_exceeded', 'no answer within the deadline'));
          },
          Math.max(0, deadlineMs - performance.now()),
        );
      });
    }
    return Promise.resolve(answers as Prediction[][]);
  }

  labels(): readonly string[] {
    return this.running ? ['en', 'fr', 'de'] : [];
  }

  stats(): EngineStats {
    const tiers: TierStats[] = [
      { k: 1, state: this.running ? 'ready' : 'idle', children: this.running ? this.live : 0 },
      { k: 3, state: this.wideTier, children: this.wideTier === 'ready' ? 1 : 0 },
    ];
    return {
      liveChildren: this.running ? this.live : 0,
      pending: this.hung.size,
      restarts: 0,
      lastProgressAt: performance.now(),
      tiers,
    };
  }

  /** The k=3 tier's state, as the pool reports it. */
  wideTier: TierStats['state'] = 'idle';

  /** When set, stop() resolves only once it opens: children that take their time to end. */
  stopLatch: Latch | undefined;

  async stop(): Promise<void> {
    this.stopped = true;
    this.running = false;
    this.stopSignal.resolve();
    for (const h of this.hung) h.reject(new EngineError('engine_unavailable', 'stopped'));
    this.hung.clear();
    await (this.stopLatch?.promise ?? Promise.resolve());
  }
}

export const CANARIES: readonly Canary[] = [
  { text: 'hello world', label: 'en', score: 0.9 },
  { text: 'bonjour le monde', label: 'fr', score: 0.8 },
];

/** Answers every canary rightly and any other text with `en`. */
export const rightAnswers = (text: string): Prediction[] => {
  const c = CANARIES.find((x) => x.text === text);
  return [{ label: c?.label ?? 'en', score: c?.score ?? 0.5 }];
};

export interface Harness {
  readonly lifecycle: Lifecycle;
  readonly provider: FakeProvider;
  readonly engines: FakeEngine[];
  readonly metrics: Metrics;
  readonly config: Config;
  readonly logs: Array<Record<string, unknown>>;
  /** The gate every next engine's start waits on (open it before or after the engine exists). */
  engineGate: Latch;
  answer: Answer;
}

export function harness(
  env: Record<string, string> = {},
  canaries: readonly Canary[] = CANARIES,
  hooks: Pick<LifecycleDeps, 'onCanaryLatency'> = {},
): Harness {
  const config = loadConfig({
    MODEL_RETRY_BASE_MS: '5',
    MODEL_RETRY_MAX_MS: '20',
    CANARY_INTERVAL_MS: '60000',
    ENGINE_CALL_TIMEOUT_MS: '200',
    ...env,
  });
  const logs: Array<Record<string, unknown>> = [];
  const logger = createLogger('info', {
    write(chunk: string) {
      for (const line of chunk.split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
    },
  });
  const metrics = createMetrics();
  const provider = new FakeProvider();
  const engines: FakeEngine[] = [];
  const h: Harness = {
    provider,
    engines,
    metrics,
    config,
    logs,
    engineGate: new Latch(),
    answer: rightAnswers,
    lifecycle: undefined as unknown as Lifecycle,
  };
  const lifecycle = new Lifecycle({
    config,
    logger,
    metrics,
    lock: { uri: 'file:///models/lid.176.ftz', md5: MD5, bytes: 1000, name: 'lid176' },
    canaries,
    provider,
    createEngine: (hooks) => {
      const engine = new FakeEngine(hooks, () => h.answer, h.engineGate);
      engines.push(engine);
      return engine;
    },
    cache: new PredictionCache(config.cache),
    ...hooks,
  });
  (h as { lifecycle: Lifecycle }).lifecycle = lifecycle;
  return h;
}

/** Lets every promise callback and due timer run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

export async function until(what: string, check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
