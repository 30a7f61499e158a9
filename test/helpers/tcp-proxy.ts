// A fault-injecting TCP proxy on 127.0.0.1 in front of any local port, for the failures a
// real server will not produce on demand: refused connections, resets, slow first bytes,
// connections dropped or stalled mid-response, corrupted or truncated bodies.
// Hand-written rather than a library (toxiproxy needs its own daemon and binary): node:net
// is enough, and the tests keep the whole fault in-process with no child to supervise.
//
// A mode applies to connections accepted after setMode(); by default setMode() also
// closes the connections already open, so a client's keep-alive pool cannot bypass it.
// Byte offsets count the server -> client bytes of one connection (HTTP headers
// included, all responses on a keep-alive connection together). `times` bounds how often
// the fault fires (a drop that fires once, then every connection passes).
// The proxy also parses the HTTP/1.x requests going through it, best effort (bodies are
// skipped by Content-Length), so a test can count the GETs and see the Range headers.
import net from 'node:net';

export type ProxyMode =
  | { readonly kind: 'pass' }
  /** Not listening: connecting fails with ECONNREFUSED. */
  | { readonly kind: 'refuse' }
  /** Accept, then reset (RST) at once. */
  | { readonly kind: 'reset' }
  /** Accept, then close (FIN) at once, before any byte. */
  | { readonly kind: 'close' }
  /** Hold the first response byte for `ms`. */
  | { readonly kind: 'delay'; readonly ms: number }
  /** Forward `afterBytes` response bytes, then reset both sides. */
  | { readonly kind: 'drop'; readonly afterBytes: number }
  /** Forward `afterBytes` response bytes, then nothing more; the connection stays open. */
  | { readonly kind: 'stall'; readonly afterBytes: number }
  /** Forward `afterBytes` response bytes, then end the connection cleanly (FIN). */
  | { readonly kind: 'truncate'; readonly afterBytes: number }
  /** Invert the response byte at offset `atByte`. */
  | { readonly kind: 'corrupt'; readonly atByte: number };

export interface SetModeOptions {
  /** How many times the fault fires before the proxy passes everything; default unlimited. */
  readonly times?: number;
  /** Leave already-open connections alone (default: close them). */
  readonly keepExisting?: boolean;
}

export interface ProxiedRequest {
  readonly connection: number;
  readonly method: string;
  readonly path: string;
  /** Header names lower-cased. */
  readonly headers: Readonly<Record<string, string>>;
}

export interface TcpProxy {
  readonly port: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  setMode(mode: ProxyMode, options?: SetModeOptions): Promise<void>;
  /** Connections accepted since start (or resetCounters). */
  readonly connections: number;
  /** How many times the current or earlier faults fired. */
  readonly faults: number;
  /** HTTP requests seen, oldest first. */
  readonly requests: readonly ProxiedRequest[];
  /** Requests with this method (e.g. 'GET'). */
  count(method: string): number;
  resetCounters(): void;
  close(): Promise<void>;
}

const HEAD_END = '\r\n\r\n';
const MAX_HEAD = 64 * 1024;

/** Splits a client -> server byte stream into HTTP/1.x request heads, skipping bodies. */
class RequestParser {
  private buffer = '';
  private skip = 0;
  private opaque = false;

  constructor(private readonly onRequest: (method: string, path: string, headers: Record<string, string>) => void) {}

  push(chunk: Buffer): void {
    if (this.opaque) return;
    let text = chunk.toString('latin1');
    if (this.skip > 0) {
      const n = Math.min(this.skip, text.length);
      this.skip -= n;
      text = text.slice(n);
    }
    this.buffer += text;
    for (;;) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, this.buffer.length);
        this.skip -= n;
        this.buffer = this.buffer.slice(n);
        if (this.skip > 0) return;
      }
      const end = this.buffer.indexOf(HEAD_END);
      if (end < 0) {
        if (this.buffer.length > MAX_HEAD) this.opaque = true;
        return;
      }
      const [requestLine = '', ...lines] = this.buffer.slice(0, end).split('\r\n');
      this.buffer = this.buffer.slice(end + HEAD_END.length);
      const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(requestLine);
      if (m === null) {
        this.opaque = true; // not HTTP/1.x (or lost sync): stop guessing
        return;
      }
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      this.onRequest(m[1] ?? '', m[2] ?? '', headers);
      if (headers['transfer-encoding'] !== undefined) {
        this.opaque = true; // chunked bodies are not followed
        return;
      }
      this.skip = Number(headers['content-length'] ?? 0) || 0;
    }
  }
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  let mode: ProxyMode = { kind: 'pass' };
  let remaining = Infinity;
  let connections = 0;
  let faults = 0;
  let nextId = 0;
  const requests: ProxiedRequest[] = [];
  const open = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;

  /** Whether a fault may fire now; counts it when it does. */
  const fire = (): boolean => {
    if (remaining <= 0) return false;
    remaining -= 1;
    faults += 1;
    return true;
  };

  const handle = (client: net.Socket): void => {
    connections += 1;
    const id = ++nextId;
    const connMode = mode;
    open.add(client);
    client.once('close', () => open.delete(client));
    client.on('error', () => undefined);

    if ((connMode.kind === 'reset' || connMode.kind === 'close') && fire()) {
      if (connMode.kind === 'reset') client.resetAndDestroy();
      else client.end();
      return;
    }

    const upstream = net.connect({ port: targetPort, host: targetHost });
    open.add(upstream);
    upstream.once('close', () => {
      open.delete(upstream);
      if (!client.destroyed) client.destroy();
    });
    upstream.on('error', () => {
      if (!client.destroyed) client.resetAndDestroy();
    });
    client.once('close', () => upstream.destroy());

    const parser = new RequestParser((method, path, headers) =>
      requests.push({ connection: id, method, path, headers }),
    );
    client.on('data', (chunk: Buffer) => {
      parser.push(chunk);
      upstream.write(chunk);
    });
    client.on('end', () => upstream.end());

    let sent = 0; // response bytes forwarded on this connection
    let halted = false; // stall: swallow everything from now on
    let firstByte = true;
    const forward = (chunk: Buffer): void => {
      if (halted) return;
      if (connMode.kind === 'corrupt' && connMode.atByte >= sent && connMode.atByte < sent + chunk.length && fire()) {
        const copy = Buffer.from(chunk);
        const i = connMode.atByte - sent;
        copy[i] = (copy[i] ?? 0) ^ 0xff;
        chunk = copy;
      }
      if (connMode.kind === 'drop' || connMode.kind === 'stall' || connMode.kind === 'truncate') {
        if (sent + chunk.length >= connMode.afterBytes && fire()) {
          const head = chunk.subarray(0, Math.max(0, connMode.afterBytes - sent));
          sent += head.length;
          halted = true;
          if (connMode.kind === 'drop') {
            client.write(head, () => {
              client.resetAndDestroy();
              upstream.destroy();
            });
          } else if (connMode.kind === 'truncate') {
            client.end(head);
            upstream.destroy();
          } else {
            client.write(head);
          }
          return;
        }
      }
      sent += chunk.length;
      client.write(chunk);
    };
    upstream.on('data', (chunk: Buffer) => {
      if (firstByte && connMode.kind === 'delay' && fire()) {
        firstByte = false;
        upstream.pause();
        setTimeout(() => {
          if (client.destroyed) return;
          forward(chunk);
          upstream.resume();
        }, connMode.ms);
        return;
      }
      firstByte = false;
      forward(chunk);
    });
    upstream.on('end', () => {
      if (!halted) client.end();
    });
    // A stalled connection swallows the rest; it lives until the client gives up.
  };

  const listen = async (): Promise<void> => {
    const s = net.createServer(handle);
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => resolve());
    });
    port = (s.address() as net.AddressInfo).port;
    server = s;
  };
  const stopListening = async (): Promise<void> => {
    const s = server;
    server = undefined;
    if (s !== undefined) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  const closeOpen = (): void => {
    for (const socket of open) socket.destroy();
    open.clear();
  };

  await listen();

  return {
    get port() {
      return port;
    },
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get connections() {
      return connections;
    },
    get faults() {
      return faults;
    },
    get requests() {
      return requests;
    },
    count(method: string) {
      return requests.filter((r) => r.method === method).length;
    },
    resetCounters() {
      connections = 0;
      faults = 0;
      requests.length = 0;
    },
    async setMode(next: ProxyMode, options: SetModeOptions = {}) {
      mode = next;
      remaining = options.times ?? Infinity;
      if (options.keepExisting !== true) closeOpen();
      if (next.kind === 'refuse') {
        await stopListening();
      } else if (server === undefined) {
        await listen();
      }
    },
    async close() {
      await stopListening();
      closeOpen();
    },
  };
}
