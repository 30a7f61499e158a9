// A Service's endpoints and a round-robin proxy in front of them.
// Endpoints: a pod is in while it is ready and not terminating. A change reaches the proxy
// after a propagation delay, as an EndpointSlice change reaches every node's kube-proxy a
// moment after the kubelet reported it: the window the preStop sleep exists to cover.
// The proxy balances each request (an L7 proxy with a keep-alive pool per endpoint, like
// an ingress controller), does not retry, and answers 502 with a JSON error when there is
// no endpoint or an endpoint fails mid-request, so a client sees every such failure.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Pod } from './pod.js';

interface Member {
  readonly pod: Pod;
  /** The address as published: a dead process keeps receiving traffic until its removal arrives. */
  readonly port: number;
}

export class Endpoints {
  private readonly members: Member[] = [];
  private readonly pods = new Set<Pod>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private cursor = 0;
  /** Every membership change the proxy saw: epoch ms, pod, in or out. */
  readonly changes: { readonly at: number; readonly pod: string; readonly ready: boolean }[] = [];

  constructor(private readonly propagationMs: number) {}

  /** Watches a pod: its readiness changes reach the endpoints after the propagation delay. */
  watch(pod: Pod): void {
    if (this.pods.has(pod)) return;
    this.pods.add(pod);
    const apply = (ready: boolean): void => {
      const port = pod.endpointPort; // the address when the kubelet reported the change
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.set(pod, ready, port);
      }, this.propagationMs);
      this.timers.add(timer);
    };
    pod.onReadyChange(apply);
    if (pod.ready) apply(true);
  }

  private set(pod: Pod, ready: boolean, port: number | undefined): void {
    const at = this.members.findIndex((m) => m.pod === pod);
    if (ready && at < 0 && port !== undefined) this.members.push({ pod, port });
    else if (!ready && at >= 0) this.members.splice(at, 1);
    else return;
    this.changes.push({ at: Date.now(), pod: pod.name, ready });
  }

  get size(): number {
    return this.members.length;
  }

  /** The next endpoint, round robin; undefined when there is none. */
  next(): Member | undefined {
    if (this.members.length === 0) return undefined;
    return this.members[this.cursor++ % this.members.length];
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

export interface Proxy {
  readonly url: string;
  /** Requests per pod name, and the proxy's own failures by kind. */
  readonly routed: Map<string, number>;
  readonly failures: Map<string, number>;
  close(): Promise<void>;
}

export async function startProxy(endpoints: Endpoints): Promise<Proxy> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const routed = new Map<string, number>();
  const failures = new Map<string, number>();
  const fail = (res: http.ServerResponse, code: string, message: string): void => {
    failures.set(code, (failures.get(code) ?? 0) + 1);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = JSON.stringify({ error: { code, message } });
    res.writeHead(502, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };

  const server = http.createServer((req, res) => {
    const target = endpoints.next();
    if (target === undefined) {
      req.resume();
      fail(res, 'no_endpoints', 'no ready endpoint');
      return;
    }
    routed.set(target.pod.name, (routed.get(target.pod.name) ?? 0) + 1);
    const upstream = http.request(
      { agent, host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
        up.once('error', () => fail(res, 'upstream_reset', `${target.pod.name} broke the response`));
      },
    );
    upstream.once('error', (error: NodeJS.ErrnoException) =>
      fail(res, 'bad_gateway', `${target.pod.name}: ${error.code ?? error.message}`),
    );
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    routed,
    failures,
    async close() {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
