// Composition root: config -> components -> listeners -> signals. Listens at once (liveness
// answers while the model loads), then drives the lifecycle; SIGTERM drains and exits 0.
// Started by app/main.ts, the entry point.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CompileCacheState } from './compile-cache.js';
import { loadConfig, projectRoot, type Config } from './config.js';
import { FastTextPool } from './engine/process-pool.js';
import { errorMessage } from './errors.js';
import { Admission } from './http/admission.js';
import { Lifecycle, type EngineHooks } from './lifecycle.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics } from './metrics.js';
import { createModelStore, resolveLock } from './model/index.js';
import { PredictionCache } from './prediction-cache.js';
import { listen, stopAccepting, type Listener } from './server.js';

function version(): string {
  try {
    return (JSON.parse(readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** Longest the HTTP import waits for the first child's spawn. */
const HEAD_START_MS = 200;

/** The first child's spawn, as a latch with a bounded wait. */
class HeadStart {
  private release: () => void = () => undefined;
  private readonly reached = new Promise<void>((resolve) => (this.release = resolve));

  done(): void {
    this.release();
  }

  /** Resolves once the spawn happened (and its microtasks ran) or after `ms`. */
  async wait(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.reached, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
    // The pool spawns a few microtasks after beforeSpawn resolves: one macrotask turn covers them.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

function fail(message: string): never {
  process.stderr.write(`fasttext-edge: ${message}\n`);
  process.exit(2);
}

export async function main(start: { compileCache?: CompileCacheState } = {}): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    fail(errorMessage(error));
  }
  const logger = createLogger(config.logLevel);
  process.on('uncaughtException', (error) => crash(logger, error));
  process.on('unhandledRejection', (error) => crash(logger, error));

  let lock;
  try {
    lock = await resolveLock(config.model);
  } catch (error) {
    fail(`model lock: ${errorMessage(error)}`);
  }
  const metrics = createMetrics();
  const { loadTimeoutMs, ...engineOptions } = config.engine;
  const engineLog = logger.child({ component: 'engine' });
  // The lifecycle builds its engines with its hooks: onRestart (metrics, logs, a canary run) and
  // the integrity check before every spawn (beforeSpawn -> the store's recheck, onModelRejected).
  const firstSpawn = new HeadStart();
  const createEngine = ({ onRestart, beforeSpawn, afterLoad, onModelRejected }: EngineHooks): FastTextPool =>
    new FastTextPool({
      ...engineOptions,
      ...(loadTimeoutMs === undefined ? {} : { loadTimeoutMs }),
      maxK: config.limits.maxK,
      log: engineLog,
      onRestart,
      onModelRejected,
      afterLoad,
      beforeSpawn: async (modelPath) => {
        const checked = await beforeSpawn(modelPath);
        firstSpawn.done();
        return checked;
      },
    });
  const { store, close: closeStore } = createModelStore(config, logger.child({ component: 'model' }));
  const cache = new PredictionCache(config.cache);
  const admission = new Admission(config.admission, {
    onShed: (reason) => metrics.shed.inc({ reason }),
    onChange: (inFlight, queued) => {
      metrics.inFlight.set(inFlight);
      metrics.queueDepth.set(queued);
    },
  });
  const canaries = config.model.canaries ?? lock.canaries ?? [];
  const lifecycle = new Lifecycle({
    config,
    logger,
    metrics,
    lock,
    canaries,
    provider: store,
    createEngine,
    cache,
    requestProgress: () => admission.progress(),
    onCanaryLatency: (ms) => admission.seedHold(ms),
  });
  const httpDeps = { config, logger, metrics, lifecycle, admission, version: version() };

  // The signals are handled from before the model's load starts: a SIGTERM while it downloads
  // or the HTTP stack loads drains and exits 0 like any other, leaving no partial file and no
  // child (Node's default is exit 143 on the spot).
  const listeners: Listener[] = [];
  let shuttingDown = false;
  const shutdown = async (signal: NodeJS.Signals): Promise<void> => {
    if (shuttingDown) {
      logger.warn({ event: 'second_signal', signal }, 'second signal: exiting now');
      process.exit(128 + os.constants.signals[signal]);
    }
    shuttingDown = true;
    const { delayMs, drainTimeoutMs } = config.shutdown;
    // Whatever happens below, the process does not outlive its own deadline.
    setTimeout(
      () => {
        logger.error({ event: 'shutdown_timeout' }, 'shutdown did not finish in time; exiting');
        process.exit(1);
      },
      delayMs + drainTimeoutMs + 10_000,
    ).unref();
    logger.info({ event: 'shutdown', signal, delayMs, drainTimeoutMs }, 'shutting down');
    lifecycle.beginDraining();
    // Endpoints take time to drop this pod: keep serving meanwhile.
    await new Promise((r) => setTimeout(r, delayMs));
    const closed = Promise.all(listeners.map(stopAccepting));
    const drained = (await Promise.all(listeners.map((l) => l.whenIdle(drainTimeoutMs)))).every(Boolean);
    if (!drained) {
      const open = listeners.reduce((n, l) => n + l.activeRequests(), 0);
      logger.warn(
        { event: 'drain_timeout', openRequests: open, inFlight: admission.active, queued: admission.queued },
        'in-flight work did not finish in time',
      );
    }
    // Responses already written flush; anything still open is cut.
    await Promise.race([closed, new Promise((r) => setTimeout(r, 500))]);
    for (const l of listeners) l.server.closeAllConnections();
    await lifecycle.stop();
    await closeStore();
    logger.info({ event: 'stopped', drained }, 'stopped');
    process.exit(0);
  };
  // SIGQUIT asks a process to quit (some images use it as their stop signal): drain as for
  // SIGTERM. SIGHUP asks a daemon to reload, which this one cannot (configuration is read once
  // at start): say so and keep serving. Node's default for both is a silent death mid-request.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const) process.on(signal, (s) => void shutdown(s));
  process.on('SIGHUP', (signal) => {
    logger.warn(
      { event: 'signal_ignored', signal },
      'SIGHUP ignored: configuration is read once at start; restart the process to apply a change',
    );
  });

  // Start loading the model first, and let it reach the first child's spawn before the HTTP
  // stack is imported: that import holds the event loop (about 50 ms), and the model's own
  // steps (cache lookup, MD5, spawn) wait behind it unless they ran first; the child then
  // loads the model in its own process during the import. A model that is not at its spawn
  // within HEAD_START_MS is downloading or hashing a large file: the import goes first then
  // (liveness must answer soon). Measured: docs/architecture.md (Start).
  lifecycle.boot();
  if (config.model.load === 'eager') await firstSpawn.wait(HEAD_START_MS);
  const { createManagementApp, createTrafficApp, overloadGate } = await import('./http/app.js');
  try {
    const gate = overloadGate(admission, metrics, config.admission.retryAfterSeconds, config.admission.shedHoldMs);
    const { host } = config;
    const bodyLimits = { maxBodyBytes: config.limits.maxBodyBytes, bodyTimeoutMs: config.http.bodyTimeoutMs };
    listeners.push(
      await listen(createTrafficApp(httpDeps), {
        host,
        port: config.port,
        backlog: config.listenBacklog,
        preHandler: gate,
        ...bodyLimits,
      }),
    );
    if (config.managementPort !== 0)
      listeners.push(
        await listen(createManagementApp(httpDeps), { host, port: config.managementPort, backlog: 511, ...bodyLimits }),
      );
  } catch (error) {
    logger.fatal({ event: 'listen_failed', err: error }, 'cannot listen');
    await lifecycle.stop();
    process.exit(1);
  }
  // A signal that came while the listeners opened: they take no new connection either.
  if (shuttingDown) for (const l of listeners) void stopAccepting(l);
  logger.info(
    {
      event: 'listening',
      host: config.host,
      port: listeners[0]?.port,
      managementPort: listeners[1]?.port ?? null,
      model: lifecycle.name,
      uri: lock.uri,
      md5: lock.md5,
      load: config.model.load,
      version: httpDeps.version,
      compileCache: start.compileCache ?? null,
    },
    'listening',
  );
}

function crash(logger: Logger, error: unknown): void {
  logger.fatal(
    { event: 'crash', err: error },
    'unexpected error; exiting so the orchestrator restarts a clean process',
  );
  process.exit(1);
}
