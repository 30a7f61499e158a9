// The listening sockets: traffic and (optionally) management, with a large accept backlog
// so a connection storm waits in the kernel instead of being refused. Each listener counts
// the requests it has open, so shutdown can wait for them (including bodies still arriving).
//
// Node's own deadlines, set deliberately (docs/http.md):
// - headersTimeout: a request whose line and headers have not all arrived within
//   HEADERS_TIMEOUT_MS is answered 408 and closed (Node's default, 60 s, lets a slow-headers
//   client hold a socket ten times longer than any real client needs).
// - requestTimeout: headers + BODY_TIMEOUT_MS + 1 s. The body deadline itself is the app's
//   (BODY_TIMEOUT_MS, from the moment Koa sees the request); this is the backstop for bodies
//   nobody reads, such as a body sent to an unknown route.
// - connectionsCheckingInterval: 1 s, so both are enforced to the second (Node's default
//   checks every 30 s).
// - keepAliveTimeout: 65 s, longer than the 60 s idle timeout of common load balancers, so
//   the balancer, not this server, closes an idle keep-alive connection.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type Koa from 'koa';
import type { RequestState } from './http/state.js';
import { openConnection, trackRequest } from './http/connection.js';
import { lingerOnClose } from './http/linger.js';
import { answerClientError, answerExpectation, refuseBeforeKoa } from './http/protocol.js';

/** A request line and headers that take longer than this to arrive are answered 408. */
export const HEADERS_TIMEOUT_MS = 10_000;

export interface Listener {
  readonly server: http.Server;
  readonly port: number;
  /** Requests received and not yet answered. */
  activeRequests(): number;
  /** Resolves true once no request is open, false if timeoutMs passes first. */
  whenIdle(timeoutMs: number): Promise<boolean>;
}

/** Answers a request before Koa sees it (returns true), or lets it through (false). */
export type PreHandler = (req: http.IncomingMessage, res: http.ServerResponse) => boolean;

export interface ListenOptions {
  readonly host: string;
  readonly port: number;
  readonly backlog: number;
  readonly preHandler?: PreHandler;
  /** A request declaring a larger body is answered 413 before Koa (and before any 100 Continue). */
  readonly maxBodyBytes: number;
  /** The app's body deadline (BODY_TIMEOUT_MS): Node's requestTimeout is set past it. */
  readonly bodyTimeoutMs: number;
}

export function listen(app: Koa<RequestState>, options: ListenOptions): Promise<Listener> {
  const handle = app.callback();
  const { preHandler, maxBodyBytes } = options;
  const server = http.createServer({
    keepAliveTimeout: 65_000,
    headersTimeout: HEADERS_TIMEOUT_MS,
    requestTimeout: HEADERS_TIMEOUT_MS + options.bodyTimeoutMs + 1000,
    connectionsCheckingInterval: 1000,
    // Checked in refuseBeforeKoa, which answers in the JSON shape (Node's own 400 has no body).
    requireHostHeader: false,
  });
  let active = 0;
  let idleWaiters: Array<() => void> = [];
  /**
   * Counts a request open until its answer closes, or its connection does (an answer queued
   * behind one that never went out emits no 'close' of its own). False: not to be dispatched,
   * because the connection's previous answer closes it.
   */
  const track = (req: http.IncomingMessage, res: http.ServerResponse): boolean => {
    const connection = trackRequest(req, res);
    if (connection === undefined) {
      req.resume();
      return false;
    }
    active += 1;
    const { open } = connection;
    const done = (): void => {
      if (!open.delete(done)) return;
      active -= 1;
      if (active === 0) for (const wake of idleWaiters.splice(0)) wake();
    };
    open.add(done);
    res.once('close', done);
    return true;
  };
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (!track(req, res) || refuseBeforeKoa(req, res, maxBodyBytes) || preHandler?.(req, res)) return;
    void handle(req, res); // Koa answers its own errors; the promise never rejects
  });
  // With a listener here Node sends no automatic 100 Continue: a request refused now (too
  // large, or overloaded) gets its final answer instead, and its body is never sent.
  server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (!track(req, res) || refuseBeforeKoa(req, res, maxBodyBytes)) return;
    // A refusal here is answered before the body was sent: the connection cannot be reused.
    res.setHeader('connection', 'close');
    if (preHandler?.(req, res)) return;
    res.removeHeader('connection');
    res.writeContinue();
    void handle(req, res);
  });
  server.on('checkExpectation', (req: http.IncomingMessage, res: http.ServerResponse) => {
    if (track(req, res)) answerExpectation(req, res);
  });
  server.on('clientError', answerClientError);
  server.on('connection', (socket: Socket) => {
    openConnection(socket);
    lingerOnClose(socket);
  });
  const whenIdle = (timeoutMs: number): Promise<boolean> => {
    if (active === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        idleWaiters = idleWaiters.filter((w) => w !== wake);
        resolve(false);
      }, timeoutMs);
      idleWaiters.push(wake);
    });
  };
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: options.host, port: options.port, backlog: options.backlog }, () => {
      server.off('error', reject);
      resolve({ server, port: (server.address() as AddressInfo).port, activeRequests: () => active, whenIdle });
    });
  });
}

/** Stops accepting and closes idle keep-alive connections; busy ones close after their response. */
export function stopAccepting(listener: Listener): Promise<void> {
  return new Promise((resolve) => {
    listener.server.close(() => resolve());
    listener.server.closeIdleConnections();
  });
}
