// The listening sockets: traffic and (optionally) management, with a large accept backlog
// so a connection storm waits in the kernel instead of being refused.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';

export interface Listener {
  readonly server: http.Server;
  readonly port: number;
}

export function listen(app: Koa, host: string, port: number, backlog: number): Promise<Listener> {
  const server = http.createServer({ keepAliveTimeout: 65_000, requestTimeout: 120_000, headersTimeout: 60_000 }, app.callback());
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog }, () => {
      server.off('error', reject);
      resolve({ server, port: (server.address() as AddressInfo).port });
    });
  });
}

/** Stops accepting, closes idle keep-alive connections; busy ones close after their response. */
export function stopAccepting(listener: Listener): Promise<void> {
  return new Promise((resolve) => {
    listener.server.close(() => resolve());
    listener.server.closeIdleConnections();
  });
}
