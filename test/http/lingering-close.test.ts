// A client still writing a body the service refuses (413, or a refusal before 100 Continue)
// must receive the refusal: the service reads and discards the rest of the body, within
// bounds, before it closes. Closing at once makes the kernel reset the connection, and the
// client loses the answer (measured before the fix: 35 of 50 4 MiB uploads got no 413).
// Real service, raw sockets, bodies written as fast as the socket takes them.
import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { LINGER_BYTES, LINGER_IDLE_MS, LINGER_MS, MAX_LINGERING } from '../../app/http/linger.js';
import { parseResponse, portOf } from '../helpers/raw-http.js';
import { BUNDLED_MD5, freePort, getJson, startService, type RunningService } from '../helpers/service.js';

const MAX_BODY = 64 * 1024;
let svc: RunningService;
let cacheDir: string;

test.before(async () => {
  cacheDir = mkdtempSync(path.join(os.tmpdir(), 'fte-linger-'));
  svc = await startService({
    env: {
      MODEL_CACHE_DIR: cacheDir,
      MANAGEMENT_PORT: String(await freePort()),
      MAX_BODY_BYTES: String(MAX_BODY),
    },
  });
  await svc.waitReady(20_000);
});

test.after.always(async () => {
  await svc?.stop();
  rmSync(cacheDir, { recursive: true, force: true });
});

/** A client that keeps its side open, and writing, after the server's FIN. */
function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => resolve(socket));
    socket.once('error', reject);
  });
}

interface Upload {
  readonly path: string;
  /** Declared with Content-Length, or sent chunked (the limit is then found while reading). */
  readonly framing: 'length' | 'chunked';
  readonly bytes: number;
  readonly chunkBytes: number;
  /** Asks for 100 Continue, then sends the body without waiting for it (as curl does after 1 s). */
  readonly expectContinue: boolean;
}

interface Outcome {
  readonly status: number;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly written: number;
  /** The connection was reset, or a write failed, before the whole body was written. */
  readonly error: string | undefined;
}

/** Writes the whole body (or until the server closes) while reading the answer. */
function upload(socket: net.Socket, u: Upload, deadlineMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    let raw = '';
    let written = 0;
    let closed = false;
    let ended = false;
    const headers = [
      `POST ${u.path} HTTP/1.1`,
      'Host: 127.0.0.1',
      'Content-Type: application/json',
      u.framing === 'length' ? `Content-Length: ${u.bytes}` : 'Transfer-Encoding: chunked',
      ...(u.expectContinue ? ['Expect: 100-continue'] : []),
    ];
    const piece = Buffer.alloc(u.chunkBytes, 0x20);
    const frame = (b: Buffer): Buffer =>
      u.framing === 'length' ? b : Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from('\r\n')]);
    const pump = (): void => {
      while (!closed && written < u.bytes) {
        const n = Math.min(piece.length, u.bytes - written);
        written += n;
        const last = written >= u.bytes && u.framing === 'chunked';
        const bytes = last
          ? Buffer.concat([frame(piece.subarray(0, n)), Buffer.from('0\r\n\r\n')])
          : frame(piece.subarray(0, n));
        if (!socket.write(bytes)) {
          socket.once('drain', pump);
          return;
        }
      }
      if (ended) socket.destroy();
    };
    const finish = (): void => {
      clearTimeout(timer);
      const parsed = parseResponse(raw) ?? { status: 0, headers: {}, body: '' };
      resolve({ ...parsed, written, error });
    };
    const timer = setTimeout(() => {
      socket.destroy();
    }, deadlineMs);
    socket.on('data', (chunk: Buffer) => {
      raw += chunk.toString('latin1');
    });
    let error: string | undefined;
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error ??= e.code ?? e.message;
    });
    // The server's FIN: done once the whole body is written too (this client ignores the FIN).
    socket.on('end', () => {
      ended = true;
      if (written >= u.bytes) socket.destroy();
    });
    socket.on('close', () => {
      closed = true;
      finish();
    });
    socket.write(`${headers.join('\r\n')}\r\n\r\n`);
    pump();
  });
}

function errorCode(body: string): string | undefined {
  const parsed = JSON.parse(body) as { error?: { code?: string } | string };
  return typeof parsed.error === 'string' ? parsed.error.split(':', 1)[0] : parsed.error?.code;
}

test.serial(
  'a client still writing an oversized body always reads its 413 JSON, on every route and framing',
  async (t) => {
    const port = portOf(svc.url);
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          path: fc.constantFrom(
            '/v1/classify',
            '/v1/classify/',
            '/v2/models/lid176/infer',
            `/v2/models/lid176/versions/${BUNDLED_MD5}/infer`,
          ),
          framing: fc.constantFrom('length' as const, 'chunked' as const),
          bytes: fc.integer({ min: 2 * MAX_BODY, max: 64 * MAX_BODY }),
          chunkBytes: fc.constantFrom(1024, 16 * 1024, 64 * 1024, 256 * 1024),
          expectContinue: fc.boolean(),
        }),
        async (u) => {
          const outcome = await upload(await connect(port), u, 10_000);
          t.is(outcome.status, 413, `${JSON.stringify(u)}: ${outcome.status} after ${outcome.written} bytes written`);
          if (outcome.status !== 413) return false;
          t.regex(outcome.headers['content-type'] ?? '', /^application\/json/);
          t.is(errorCode(outcome.body), 'payload_too_large');
          t.is(outcome.headers.connection, 'close');
          return true;
        },
      ),
      { numRuns: 40 },
    );
    const health = await getJson(`${svc.managementUrl}/health`);
    t.is(health.status, 200);
  },
);

test.serial('a body that never ends is read only within the bounds: the connection closes after the 413', async (t) => {
  const port = portOf(svc.url);
  // Chunked (no declared size), far more than LINGER_BYTES, written as fast as possible: the
  // service stops reading at its cap.
  const huge: Upload = {
    path: '/v1/classify',
    framing: 'chunked',
    bytes: 64 * LINGER_BYTES,
    chunkBytes: 256 * 1024,
    expectContinue: false,
  };
  const outcome = await upload(await connect(port), huge, 30_000);
  // Past the cap the close is a reset, and a client still writing may see its write fail
  // before it reads the 413 (its socket is then destroyed unread): the bound is what is
  // asserted here; the answer, when read, is the 413.
  t.true([0, 413].includes(outcome.status), `status ${outcome.status}`);
  t.true(
    outcome.written < huge.bytes / 4,
    `the client wrote ${outcome.written} of ${huge.bytes} bytes before the close`,
  );
  // A trickle that never reaches the byte cap is closed by the time cap.
  const socket = await connect(port);
  const started = performance.now();
  let raw = '';
  socket.on('data', (c: Buffer) => (raw += c.toString('latin1')));
  socket.on('error', () => undefined);
  socket.write(
    `POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${4 * MAX_BODY}\r\n\r\n`,
  );
  const trickle = setInterval(() => socket.write('          '), 50);
  const closedAfter = await new Promise<number>((resolve) =>
    socket.once('close', () => resolve(performance.now() - started)),
  );
  clearInterval(trickle);
  t.is(parseResponse(raw)?.status, 413);
  t.true(closedAfter >= LINGER_MS * 0.9, `closed after ${Math.round(closedAfter)} ms`);
  t.true(closedAfter < LINGER_MS + 10_000, `closed after ${Math.round(closedAfter)} ms`);
});

test.serial(
  'a body declared over LINGER_BYTES is not waited for; clients that send nothing more hold no lingering place',
  async (t) => {
    const port = portOf(svc.url);
    // Declared too large to read: closed at once, as without lingering (its 413 may be lost).
    const socket = await connect(port);
    const started = performance.now();
    socket.on('error', () => undefined);
    socket.write(
      `POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${LINGER_BYTES + 1}\r\n\r\n`,
    );
    const writing = setInterval(() => socket.write(Buffer.alloc(64 * 1024, 0x20)), 5);
    // The server's FIN, or the reset a write then meets, whichever shows first.
    const closedAfter = await new Promise<number>((resolve) => {
      socket.once('end', () => resolve(performance.now() - started));
      socket.once('close', () => resolve(performance.now() - started));
    });
    clearInterval(writing);
    socket.destroy();
    t.true(closedAfter < LINGER_MS / 2, `closed after ${Math.round(closedAfter)} ms`);
    // Expect: 100-continue clients that read their 413 and send no body are let go after
    // LINGER_IDLE_MS: after MAX_LINGERING of them, a client writing its whole body still lingers.
    const head = (expect: boolean): string =>
      `POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${expect ? 'Expect: 100-continue\r\n' : ''}Content-Length: ${4 * MAX_BODY}\r\n\r\n`;
    const idle = await Promise.all(Array.from({ length: MAX_LINGERING }, () => connect(port)));
    try {
      for (const s of idle) {
        s.on('error', () => undefined);
        s.write(head(true));
      }
      await new Promise((r) => setTimeout(r, 3 * LINGER_IDLE_MS));
      for (let i = 0; i < 5; i++) {
        const request = Buffer.concat([Buffer.from(head(false)), Buffer.alloc(4 * MAX_BODY, 0x20)]);
        t.deepEqual(await writeAllThenRead(port, request, 10_000), { status: 413 }, `try ${i + 1}`);
      }
    } finally {
      for (const s of idle) s.destroy();
    }
  },
);

test.serial('a close with nothing left unread does not linger', async (t) => {
  const port = portOf(svc.url);
  const socket = await connect(port);
  const started = performance.now();
  let raw = '';
  socket.on('data', (c: Buffer) => (raw += c.toString('latin1')));
  const body = JSON.stringify({ text: 'The weather was lovely this morning.' });
  socket.write(
    `POST /v1/classify HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  // The client never half-closes: only the server's FIN ends this wait.
  const closedAfter = await new Promise<number>((resolve) =>
    socket.once('end', () => resolve(performance.now() - started)),
  );
  socket.destroy();
  t.is(parseResponse(raw)?.status, 200);
  t.true(closedAfter < LINGER_MS * 0.75, `closed after ${Math.round(closedAfter)} ms`);
});

/**
 * The request in one write, or in parts 50 ms apart, the answer read only once everything is
 * written (as Python's http.client does).
 */
function writeAllThenRead(
  port: number,
  request: Buffer | readonly Buffer[],
  deadlineMs: number,
): Promise<{ status: number; error?: string }> {
  const parts = Buffer.isBuffer(request) ? [request] : request;
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let raw = '';
    let error: string | undefined;
    const timer = setTimeout(() => socket.destroy(), deadlineMs);
    socket.on('error', (e: NodeJS.ErrnoException) => {
      error ??= e.code ?? e.message;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ status: parseResponse(raw)?.status ?? 0, ...(error === undefined ? {} : { error }) });
    });
    const writeFrom = (i: number): void => {
      const last = i === parts.length - 1;
      socket.write(parts[i] as Buffer, (e) => {
        if (e) return;
        if (!last) {
          setTimeout(() => writeFrom(i + 1), 50);
          return;
        }
        // Only now does this client look at the answer; the server's FIN then ends it.
        socket.on('data', (c: Buffer) => (raw += c.toString('latin1')));
        socket.on('end', () => socket.destroy());
      });
    };
    socket.on('connect', () => writeFrom(0));
  });
}

/**
 * The runtimes the last two tests run the service on: the project's pinned Node, and the
 * machine's own when its major differs (Node 20 here). Node 20's HTTP server stops reading a
 * socket whose request body nobody reads, and dispatches requests pipelined behind an answer
 * that closes the connection; the pinned Node 24 does neither, so these tests catch a
 * lingering close that only works on 24 only when they also run on 20.
 */
function runtimes(): { name: string; node: string | undefined }[] {
  const pinned = { name: `pinned Node ${process.version}`, node: undefined };
  const machine = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => existsSync(p));
  if (machine === undefined) return [pinned];
  const version = execFileSync(machine, ['--version'], { encoding: 'utf8' }).trim();
  return version.split('.')[0] === process.version.split('.')[0]
    ? [pinned]
    : [pinned, { name: `machine's Node ${version}`, node: machine }];
}

async function ownService(t: ExecutionContext, node: string | undefined): Promise<RunningService> {
  const cache = mkdtempSync(path.join(os.tmpdir(), 'fte-linger-own-'));
  const own = await startService({
    env: { MODEL_CACHE_DIR: cache, MAX_BODY_BYTES: String(MAX_BODY) },
    ...(node === undefined ? {} : { node }),
  });
  t.teardown(async () => {
    await own.stop();
    rmSync(cache, { recursive: true, force: true });
  });
  await own.waitReady(20_000);
  return own;
}

test.serial('the runtimes the service is tried on', (t) => {
  const list = runtimes();
  t.log(`lingering close tried on: ${list.map((r) => r.name).join(', ')}`);
  t.true(list.length >= 1);
});

for (const runtime of runtimes())
  test.serial(
    `${runtime.name}: a client that writes headers and the whole body at once, then reads, gets its 413 without a reset`,
    async (t) => {
      const own = await ownService(t, runtime.node);
      const port = portOf(own.url);
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('/v1/classify', '/v2/models/lid176/infer'),
          fc.integer({ min: 2 * MAX_BODY, max: 64 * MAX_BODY }),
          async (target, bytes) => {
            const head = `POST ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${bytes}\r\n\r\n`;
            const outcome = await writeAllThenRead(
              port,
              Buffer.concat([Buffer.from(head), Buffer.alloc(bytes, 0x20)]),
              10_000,
            );
            t.deepEqual(outcome, { status: 413 }, `${target}, ${bytes} bytes`);
            return outcome.status === 413 && outcome.error === undefined;
          },
        ),
        { numRuns: 15 },
      );
    },
  );

for (const runtime of runtimes())
  test.serial(
    `${runtime.name}: requests pipelined behind a refused body are not worked on, and do not hold up a shutdown`,
    async (t) => {
      const own = await ownService(t, runtime.node);
      const body = JSON.stringify({ text: 'pipelined behind an oversized body' });
      const valid = `POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
      const big = 4 * MAX_BODY;
      // The head first, as a client waiting briefly for a 100 Continue would send it; then the
      // body with 50 requests pipelined behind it.
      const request = [
        Buffer.from(
          `POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${big}\r\n\r\n`,
        ),
        Buffer.concat([Buffer.alloc(big, 0x20), Buffer.from(valid.repeat(50))]),
      ];
      const served = async (): Promise<number> => {
        const text = await (await fetch(`${own.url}/metrics`)).text();
        const line = /fasttext_http_requests_total\{route="\/v1\/classify",method="POST",status="200"\} (\d+)/.exec(
          text,
        );
        return Number(line?.[1] ?? 0);
      };
      const servedBefore = await served();
      const outcome = await writeAllThenRead(portOf(own.url), request, 10_000);
      t.is(outcome.status, 413);
      t.is(await served(), servedBefore, 'none of the 50 pipelined requests was classified');
      const stopped = await own.stop(20_000);
      t.is(stopped.code, 0);
      t.false(
        own.logs.some((l) => l.event === 'drain_timeout'),
        'no request is left counted open',
      );
    },
  );
