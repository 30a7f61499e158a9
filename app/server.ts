// The listening sockets: traffic and (optionally) management, with a large accept backlog
// so a connection storm waits in the kernel instead of being refused. Each listener counts
// the requests it has open, so shutdown can wait for them (including bodies still arriving).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';

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

export function listen(app: Koa, host: string, port: number, backlog: number, preHandler?: PreHandler): Promise<Listener> {
  const handle = app.callback();
  const server = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 120_000, headersTimeout: 60_000 }, (req, res) => {
    if (preHandler?.(req, res)) return;
    void handle(req, res); // Koa answers its own errors; the promise never rejects
  });
  let active = 0;
  let idleWaiters: Array<() => void> = [];
  server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    active += 1;
    res.once('close', () => {
      active -= 1;
      if (active === 0) for (const wake of idleWaiters.splice(0)) wake();
    });
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
    server.listen({ host, port, backlog }, () => {
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
