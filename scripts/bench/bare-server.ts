// The HTTP floor: a bare node:http server over this project's engine (FastTextPool) and
// nothing else: no Koa, router, validation, admission control, metrics or cache. It speaks
// the service's POST /v1/classify ({"text"} or {"texts"}), so the service's cost over it is
// the cost of everything the service adds. Like the peer, it listens once the model is
// loaded. Settings come from the same environment as the service (app/config.ts).
import http from 'node:http';
import { serveFloor, startFloorEngine } from './floor-engine.js';

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const floor = await startFloorEngine();

const server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  if (req.method === 'POST' && req.url === '/v1/classify') {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void floor.answer(Buffer.concat(chunks).toString('utf8')).then(({ status, body }) => send(res, status, body));
    });
    return;
  }
  if (req.method === 'GET' && (req.url === '/ready' || req.url === '/health')) {
    send(res, 200, { status: 'ok' });
    return;
  }
  send(res, 404, { error: { code: 'not_found', message: 'not found' } });
});

serveFloor(server, floor);
