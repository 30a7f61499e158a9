// An HTTP proxy on 127.0.0.1 in front of a real server (s3rver), for the two S3 behaviours
// neither s3rver nor the TCP fault proxy (tcp-proxy.ts) can produce: S3's own 500
// InternalError answers, and a slow link (a bandwidth cap on response bodies). The 500 is
// this proxy's answer, not s3rver's (s3rver cannot be made to fail); its body is the XML
// error document S3 sends, so the SDK parses it as it would parse S3's.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HttpFaultProxy {
  readonly url: string;
  readonly port: number;
  /** Answer `status` (S3 XML error) to the next `times` requests (default: until heal()). */
  failWith(status: number, times?: number): void;
  /** Cap response bodies at this many bytes per second (per response); undefined = no cap. */
  throttle(bytesPerSecond: number | undefined): void;
  /** Back to a clean pass-through. */
  heal(): void;
  /** Requests received: method and path. */
  readonly requests: readonly { readonly method: string; readonly path: string; readonly failed: boolean }[];
  count(method: string, failed?: boolean): number;
  close(): Promise<void>;
}

const S3_ERRORS: Readonly<Record<number, string>> = { 500: 'InternalError', 503: 'SlowDown' };

export async function startHttpFaultProxy(targetPort: number): Promise<HttpFaultProxy> {
  let failStatus: number | undefined;
  let failRemaining = 0;
  let bytesPerSecond: number | undefined;
  const requests: { method: string; path: string; failed: boolean }[] = [];
  const agent = new http.Agent({ keepAlive: true });

  const server = http.createServer((req, res) => {
    const failing = failStatus !== undefined && failRemaining > 0;
    requests.push({ method: req.method ?? '', path: req.url ?? '', failed: failing });
    if (failing && failStatus !== undefined) {
      failRemaining -= 1;
      req.resume();
      const code = S3_ERRORS[failStatus] ?? 'InternalError';
      const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>injected by the test</Message><RequestId>fault</RequestId></Error>`;
      res.writeHead(failStatus, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    const upstream = http.request(
      { agent, host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        const cap = bytesPerSecond;
        if (cap === undefined) {
          up.pipe(res);
          return;
        }
        // Forward in slices of a tenth of a second's budget, one slice per 100 ms.
        const slice = Math.max(1, Math.floor(cap / 10));
        const queue: Buffer[] = [];
        let ended = false;
        let timer: NodeJS.Timeout | undefined;
        const pump = (): void => {
          timer = undefined;
          let budget = slice;
          while (budget > 0 && queue.length > 0) {
            const head = queue[0] as Buffer;
            const part = head.subarray(0, budget);
            res.write(part);
            budget -= part.length;
            if (part.length === head.length) queue.shift();
            else queue[0] = head.subarray(part.length);
          }
          if (queue.length > 0) timer = setTimeout(pump, 100);
          else if (ended) res.end();
          else up.resume();
        };
        up.on('data', (chunk: Buffer) => {
          queue.push(chunk);
          up.pause();
          timer ??= setTimeout(pump, 100);
        });
        up.on('end', () => {
          ended = true;
          if (queue.length === 0 && timer === undefined) res.end();
        });
        res.once('close', () => {
          if (timer !== undefined) clearTimeout(timer);
          up.destroy();
        });
      },
    );
    upstream.once('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    failWith(status, times = Infinity) {
      failStatus = status;
      failRemaining = times;
    },
    throttle(rate) {
      bytesPerSecond = rate;
    },
    heal() {
      failStatus = undefined;
      failRemaining = 0;
      bytesPerSecond = undefined;
    },
    requests,
    count(method, failed) {
      return requests.filter((r) => r.method === method && (failed === undefined || r.failed === failed)).length;
    },
    async close() {
      agent.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
