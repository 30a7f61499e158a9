// The shape of one benchmark run's measurements: what runner.ts fills in, what
// bench/results/results.json holds, and what report.ts and plot.ts read.
import type { LatencySummary } from './stats.js';

export type ContenderId = 'service' | 'service-cached' | 'service-canaries' | 'koa' | 'bare' | 'peer';

export interface ContenderInfo {
  readonly id: ContenderId;
  readonly label: string;
  readonly description: string;
  /** How it was started (command line and the settings that matter). */
  readonly command: string;
}

/** CPU used during a load run, in cores (CPU seconds per wall second, from /proc). */
export interface CpuUse {
  readonly wallS: number;
  /** The contender's Node process (all its threads). */
  readonly contender: number;
  /** Its descendants: the fastText children. */
  readonly children: number;
  /** The load generator process. */
  readonly loadgen: number;
}

/** One autocannon run as the load generator saw it. */
export interface LoadRun {
  readonly contender: ContenderId;
  readonly connections: number;
  readonly durationS: number;
  /** autocannon's overallRate (requests/s over all connections), or null for a closed loop. */
  readonly rateCap: number | null;
  readonly textsPerRequest: number;
  /** Wall time measured: from `measureAfterS` after the first connection to the end of the run. */
  readonly elapsedS: number;
  /** The first seconds left out of every figure but connection errors and timeouts (connect storm). */
  readonly measureAfterS: number;
  /** Requests written to a socket. */
  readonly sent: number;
  /** Responses per HTTP status code. */
  readonly statusCounts: Readonly<Record<string, number>>;
  /** Latency of 2xx responses (ms). */
  readonly ok: LatencySummary;
  /** Latency of 503 responses: requests shed by admission control (ms). */
  readonly shed: LatencySummary;
  /** Latency of any other status (ms). */
  readonly other: LatencySummary;
  /** Sockets that failed (refused, reset) while connecting or mid-request. */
  readonly connErrors: number;
  /** Requests with no answer within the client timeout. */
  readonly timeouts: number;
  /** Filled in by the orchestrator. */
  readonly cpu?: CpuUse;
}

export interface ColdStart {
  /** Spawn to the process's "listening" log line (modules loaded; the peer and the bare server print it after loading the model). */
  readonly listeningMs: number | null;
  /** Spawn to the first 200 from the readiness route (the peer has none: to its first HTTP answer). */
  readonly readyMs: number;
  /** Spawn to the first 200 classification. */
  readonly firstClassificationMs: number;
}

/** One moment of a service start, from its own log line's timestamp: ms since spawn. */
export interface TimelineEvent {
  readonly what: string;
  readonly ms: number;
}

/** A service start on the bundled model, with where its time went. */
export interface ServiceColdStart extends ColdStart {
  /** The service logged the file it loads verified against the lock (the bundled lock has an MD5 only). */
  readonly md5Verified: boolean;
  readonly timeline: readonly TimelineEvent[];
}

/** Issue 16's bundled-model rows: the peer and the service (warm and empty model cache) started in turn. */
export interface ColdStartRepeat {
  readonly order: readonly string[];
  readonly peer: ColdStart | null;
  readonly warm: ServiceColdStart | null;
  readonly empty: ServiceColdStart | null;
  /** Warm model cache with Node's compile cache off (NODE_DISABLE_COMPILE_CACHE=1); absent in older results. */
  readonly noCompileCache?: ServiceColdStart | null;
}

/** A first request of one k tier, sent the moment /ready answered 200. */
export interface TierRequest {
  readonly k: number;
  readonly status: number | null;
  readonly ms: number;
}

/** The service started on the large model (warm cache or from s3rver). */
export interface LargeStart {
  readonly listeningMs: number | null;
  /** Spawn to the first 200 of /ready. */
  readonly readyMs: number;
  readonly timeline: readonly TimelineEvent[];
  /** A cache hit's hash pass inside the service (its own log's verifyMs); null for a download. */
  readonly verifyMs: number | null;
  /** How the service verified the file: by the lock's SHA-256 or MD5 on a cache hit, both on a download. */
  readonly verifiedBy: 'md5' | 'sha256' | 'download' | null;
  /** Every child's own load time (its log line: spawn of the child to its probe's answer). */
  readonly childLoads: readonly { k: number; loadMs: number }[];
  readonly tierRequests: readonly TierRequest[];
  /** RSS of the service and its children at ready, and the number of fastText children. */
  readonly atReady: RssSample & { children: number };
  /** Spawn to every tier of /v1/model ready (null: not within the deadline). */
  readonly tiersWarmMs: number | null;
  readonly warmed: (RssSample & { children: number }) | null;
  /** The management /health probed every 100 ms from listening to ready (hashing and the first load). */
  readonly healthDuringStart: ProbeSummary | null;
}

export interface LargeRun {
  readonly model: { bytes: number; md5: string; sha256: string; labels: number; trainMs: number | null };
  /** `md5sum` of the file, wall time. */
  readonly md5sumMs: number;
  /** `sha256sum` of the file, wall time. */
  readonly sha256sumMs: number;
  /** The raw binary: spawn to exit of `echo line | fasttext predict-prob model - 1` (one load, one answer). */
  readonly rawLoadMs: number[];
  /** Warm cache, the lock with its SHA-256 (as `model:lock` and `model:publish` write it). */
  warm: LargeStart | null;
  /** Warm cache, a lock with an MD5 only: the cache hit is re-hashed by MD5. */
  warmMd5Only: LargeStart | null;
  /** The object read from s3rver to a file by the bench: the transfer the service must do. */
  s3Transfer: { ms: number; bytesPerSec: number } | null;
  s3: LargeStart | null;
}

export interface RawRun {
  readonly lines: number;
  /** Wall time of `fasttext predict-prob` over the whole file. */
  readonly totalS: number;
  /** Wall time of the same command over a one-line file: loading the model. */
  readonly loadS: number;
  /** lines / (totalS - loadS). */
  readonly linesPerSec: number;
  /** The same through pipes: `cat file | fasttext predict-prob model - 1 | cat > /dev/null`. */
  readonly pipedLinesPerSec: number;
}

/** One round: every HTTP contender started fresh (cold start measured), then loaded in turn. */
export interface Round {
  readonly order: readonly ContenderId[];
  readonly coldStart: Partial<Record<ContenderId, ColdStart>>;
  readonly single: Partial<Record<ContenderId, LoadRun>>;
  readonly batch: Partial<Record<ContenderId, LoadRun>>;
}

export interface ProbeSummary {
  /** What was probed, e.g. "GET /health (traffic port)". */
  readonly target: string;
  readonly count: number;
  /** Probes that timed out, failed to connect or answered non-2xx. */
  readonly failures: number;
  readonly timeoutMs: number;
  /** Latency of every probe (ms); a failed one counts with the time it took to fail. */
  readonly latency: LatencySummary;
}

export interface RssSample {
  /** Resident set of the contender's Node process (kB). */
  readonly processKb: number;
  /** The process and every descendant (its fastText children) (kB). */
  readonly treeKb: number;
}

export interface MemoryRun {
  readonly contender: ContenderId;
  readonly stageS: number;
  readonly idleS: number;
  readonly before: RssSample;
  readonly afterStages: readonly RssSample[];
  readonly afterIdle: RssSample | null;
  /** Highest process RSS sampled during the stages. */
  readonly peakProcessKb: number;
  readonly stages: readonly LoadRun[];
  /** Set when the process died or stopped answering before the end. */
  readonly aborted: string | null;
}

/** One classification sent a moment after a load run: does the contender still work? */
export interface Recovery {
  /** HTTP status, or null when no answer came within the timeout. */
  readonly status: number | null;
  readonly ms: number;
}

export interface OverloadRun {
  readonly contender: ContenderId;
  /** The contender's median single-text req/s at 50 connections, from the rounds. */
  readonly capacity: number;
  readonly multiple: number;
  readonly run: LoadRun;
  readonly probes: readonly ProbeSummary[];
  readonly rssBefore: RssSample | null;
  readonly rssAfter: RssSample | null;
  readonly afterwards: Recovery | null;
}

export interface SweepPoint {
  readonly multiple: number;
  readonly run: LoadRun;
  readonly afterwards: Recovery | null;
}

export interface SweepSeries {
  readonly contender: ContenderId;
  /** The load multiples are of this rate (the peer's measured capacity). */
  readonly baseRate: number;
  readonly points: readonly SweepPoint[];
}

export interface ProfileEntry {
  readonly name: string;
  /** Where the function lives, shortened (node_modules/<pkg>/..., app/..., node:...). */
  readonly where: string;
  readonly selfMs: number;
  readonly share: number;
}

export interface ProfileSummary {
  readonly contender: ContenderId;
  /** The load it was profiled under, e.g. "single text, 50 connections". */
  readonly scenario: string;
  /** The .cpuprofile file, relative to the repository. */
  readonly file: string;
  readonly sampledMs: number;
  /** req/s while profiled (the profiler itself slows the process). */
  readonly reqPerSec: number;
  readonly byCategory: readonly ProfileEntry[];
  readonly topFunctions: readonly ProfileEntry[];
}

export interface Machine {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGb: number;
  readonly os: string;
  readonly node: string;
  readonly loadAverageStart: readonly number[];
  readonly loadAverageEnd: readonly number[];
  readonly versions: Readonly<Record<string, string>>;
  readonly gitCommit: string;
}

export interface CorpusInfo {
  readonly sources: readonly string[];
  readonly texts: number;
  readonly meanChars: number;
  readonly p50Chars: number;
  readonly p99Chars: number;
  readonly maxChars: number;
}

export interface Plan {
  readonly quick: boolean;
  readonly rounds: number;
  readonly connections: number;
  readonly warmupS: number;
  readonly singleS: number;
  readonly batchS: number;
  readonly batchSize: number;
  readonly rawLines: number;
  readonly coldStartRepeats: number;
  /** Repeats of the coldstart phase (peer, warm cache, empty cache each time). */
  readonly coldStartPairs: number;
  /** Which contenders the memory phase measures (the full plan: both cache settings and the peer). */
  readonly memoryContenders: readonly ContenderId[];
  readonly memoryStages: number;
  readonly memoryStageS: number;
  readonly memoryIdleS: number;
  readonly overloadMultiple: number;
  readonly overloadS: number;
  readonly overloadConnections: number;
  readonly sweepMultiples: readonly number[];
  readonly sweepS: number;
  /** Left out of each sweep point's figures: the connect storm of its connections. */
  readonly sweepSettleS: number;
  readonly sweepConnections: number;
  readonly probeIntervalMs: number;
  readonly probeTimeoutMs: number;
  readonly profileS: number;
  readonly requestTimeoutS: number;
}

export interface BenchResults {
  readonly meta: {
    readonly startedAt: string;
    finishedAt: string;
    readonly machine: Machine;
    readonly plan: Plan;
    readonly corpus: CorpusInfo;
  };
  readonly contenders: ContenderInfo[];
  readonly rounds: Round[];
  readonly raw: RawRun[];
  readonly coldStartS3: { empty: ColdStart[]; warm: ColdStart[] };
  /** The coldstart phase (issue 16): bundled model, peer vs warm and empty cache. */
  readonly coldStart: ColdStartRepeat[];
  /** The large phase (issues 16 and 20): a >= 1 GiB model synthesized in the run. */
  large: LargeRun | null;
  readonly memory: MemoryRun[];
  readonly overload: OverloadRun[];
  readonly sweep: SweepSeries[];
  readonly profiles: ProfileSummary[];
  readonly failures: { phase: string; message: string }[];
}
