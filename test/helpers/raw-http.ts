// Raw HTTP/1.1 over net.Socket for the abuse tests: bytes exactly as written (no client
// library fixing them up), and the answer exactly as the server sent it.
import net from 'node:net';

export interface RawResponse {
  /** Every byte received, as latin1 text. */
  readonly raw: string;
  /** The status of the first response (after any interim 1xx). */
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** The server closed the connection. */
  readonly closed: boolean;
  readonly elapsedMs: number;
}

export function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Parses the final (non-1xx) response in `raw`, or undefined while it is incomplete. */
export function parseResponse(raw: string): Omit<RawResponse, 'closed' | 'elapsedMs' | 'raw'> | undefined {
  let at = 0;
  for (;;) {
    const end = raw.indexOf('\r\n\r\n', at);
    if (end < 0) return undefined;
    const [statusLine = '', ...lines] = raw.slice(at, end).split('\r\n');
    const status = Number(statusLine.split(' ')[1]);
    if (status >= 100 && status < 200) {
      at = end + 4;
      continue;
    }
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    const body = raw.slice(end + 4, end + 4 + length);
    if (Buffer.byteLength(body, 'latin1') < length) return undefined;
    return { status, headers, body };
  }
}

/** Reads from `socket` until a complete response arrived and (when `untilClose`) the server closed, or timeoutMs. */
export function readResponse(socket: net.Socket, timeoutMs: number, untilClose = false): Promise<RawResponse> {
  const started = performance.now();
  return new Promise((resolve) => {
    let raw = '';
    let closed = socket.destroyed;
    const finish = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      const parsed = parseResponse(raw) ?? { status: 0, headers: {}, body: '' };
      resolve({ ...parsed, raw, closed, elapsedMs: performance.now() - started });
    };
    const onData = (chunk: Buffer): void => {
      raw += chunk.toString('latin1');
      if (parseResponse(raw) && !untilClose) finish();
    };
    const onClose = (): void => {
      closed = true;
      finish();
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.on('error', () => {});
  });
}

/** Sends `request` (string or bytes) on a fresh connection and reads one response. */
export async function rawRequest(
  port: number,
  request: string | Buffer,
  timeoutMs = 5000,
  untilClose = false,
): Promise<RawResponse> {
  const socket = await connect(port);
  try {
    const answer = readResponse(socket, timeoutMs, untilClose);
    socket.write(request);
    return await answer;
  } finally {
    socket.destroy();
  }
}

export function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** A POST with a JSON content type, Content-Length from the body. */
export function post(path: string, body: string | Buffer, headers: Readonly<Record<string, string>> = {}): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const all = {
    host: '127.0.0.1',
    'content-type': 'application/json',
    'content-length': String(bytes.length),
    ...headers,
  };
  const head = `POST ${path} HTTP/1.1\r\n${Object.entries(all)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), bytes]);
}
