// The framework floor: Koa and @koa/router over this project's engine, with nothing of the
// service's own (no validation, admission control, metrics, body deadlines or cache). Between
// bare-server.ts (node:http alone) and the service, it splits what the service costs into
// what the framework it is built on costs and what the service adds. Same routes, body
// handling and answers as the bare server.
import http from 'node:http';
import Router from '@koa/router';
import Koa from 'koa';
import { serveFloor, startFloorEngine } from './floor-engine.js';

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

const floor = await startFloorEngine();

const router = new Router();
router.post('/v1/classify', async (ctx) => {
  const { status, body } = await floor.answer(await readBody(ctx.req));
  ctx.status = status;
  ctx.body = body;
});
router.get(['/ready', '/health'], (ctx) => {
  ctx.body = { status: 'ok' };
});
const app = new Koa();
app.silent = true; // as in the service: an aborted upload is the client's, not a stack trace on stderr
app.use(router.routes()).use(router.allowedMethods());

const handle = app.callback();
const server = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => void handle(req, res));
serveFloor(server, floor);
