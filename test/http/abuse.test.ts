// Hostile clients against the real service over raw sockets: slow bodies, expensive bodies,
// and protocol edges. Every answer must be the documented JSON shape, and none of it may take
// the pod out of service (ordinary requests served, probes fast).
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connect, portOf, post, rawRequest, readResponse, type RawResponse } from '../helpers/raw-http.js';
import { freePort, postJson, startService, type RunningService } from '../helpers/service.js';

let svc: RunningService;
let cacheDir: string;

test.before(async () => {
  cacheDir = mkdtempSync(path.join(os.tmpdir(), 'fte-abuse-'));
  svc = await startService({
    env: { MODEL_CACHE_DIR: cacheDir, MANAGEMENT_PORT: String(await freePort()), BODY_TIMEOUT_MS: '3000' },
  });
  await svc.waitReady(20_000);
});

test.after.always(async () => {
  await svc?.stop();
  rmSync(cacheDir, { recursive: true, force: true });
});

function errorCode(r: RawResponse): string | undefined {
  try {
    const body = JSON.parse(r.body) as { error?: { code?: string } | string };
    return typeof body.error === 'string' ? body.error.split(':', 1)[0] : body.error?.code;
  } catch {
    return undefined;
  }
}

function isJson(t: ExecutionContext, r: RawResponse, status: number, code: string): void {
  t.is(r.status, status, r.raw.slice(0, 300));
  t.regex(r.headers['content-type'] ?? '', /^application\/json/, `JSON content type: ${r.raw.slice(0, 300)}`);
  t.is(errorCode(r), code, r.raw.slice(0, 300));
}

const ordinary = (): Promise<{ status: number; ms: number }> => {
  const started = performance.now();
  return postJson(
    `${svc.url}/v1/classify`,
    { text: 'The quick brown fox jumps over the lazy dog' },
    { timeoutMs: 2000 },
  ).then(
    (r) => ({ status: r.status, ms: performance.now() - started }),
    () => ({ status: 0, ms: performance.now() - started }),
  );
};

test.serial(
  '150 stalled half-body clients: ordinary classifications still served within 2 s; the stalled get 503/408 JSON and are closed',
  async (t) => {
    const port = portOf(svc.url);
    const head =
      'POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n';
    const stalled: net.Socket[] = [];
    const answers: Array<Promise<RawResponse>> = [];
    for (let i = 0; i < 150; i++) {
      const s = await connect(port);
      answers.push(readResponse(s, 8000, true));
      s.write(`${head}{"text":"aaa`); // 12 of 1,000 declared bytes, then nothing
      stalled.push(s);
    }
    t.teardown(() => stalled.forEach((s) => s.destroy()));
    await new Promise((r) => setTimeout(r, 300));
    const results: Array<{ status: number; ms: number }> = [];
    for (let i = 0; i < 20; i++) results.push(await ordinary());
    const ok = results.filter((r) => r.status === 200 && r.ms < 2000).length;
    t.true(ok >= 19, `ordinary requests served within 2 s: ${ok}/20 (${JSON.stringify(results)})`);

    // Past MAX_BODY_READERS (128) the longest senders were cut off with 503; the rest time out (408) at BODY_TIMEOUT_MS.
    const cut = await Promise.all(answers);
    const statuses = new Map<number, number>();
    for (const a of cut) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
    t.is(
      (statuses.get(503) ?? 0) + (statuses.get(408) ?? 0),
      150,
      `every stalled client answered: ${JSON.stringify([...statuses])}`,
    );
    t.true((statuses.get(503) ?? 0) >= 22, `readers over the bound cut off: ${JSON.stringify([...statuses])}`);
    for (const a of cut) {
      t.true(a.closed, 'the server closed the stalled connection');
      t.regex(a.headers['content-type'] ?? '', /^application\/json/);
      t.true(errorCode(a) === 'overloaded' || errorCode(a) === 'request_timeout', a.raw.slice(0, 200));
    }
    const timedOut = cut.filter((a) => a.status === 408);
    t.true(
      timedOut.every((a) => a.elapsedMs < 6000),
      'cut at BODY_TIMEOUT_MS (3 s here), not at REQUEST_TIMEOUT_MS',
    );
  },
);

test.serial(
  'stalled OIP infer bodies hold no admission slot either: ordinary requests served; the stalled answered in the OIP shape',
  async (t) => {
    const port = portOf(svc.url);
    const head =
      'POST /v2/models/lid176/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n';
    const stalled: net.Socket[] = [];
    const answers: Array<Promise<RawResponse>> = [];
    for (let i = 0; i < 130; i++) {
      const s = await connect(port);
      answers.push(readResponse(s, 8000, true));
      s.write(`${head}{"inputs":[`);
      stalled.push(s);
    }
    t.teardown(() => stalled.forEach((s) => s.destroy()));
    await new Promise((r) => setTimeout(r, 300));
    const results: Array<{ status: number; ms: number }> = [];
    for (let i = 0; i < 10; i++) results.push(await ordinary());
    t.true(results.filter((r) => r.status === 200).length >= 9, JSON.stringify(results));
    const cut = await Promise.all(answers);
    for (const a of cut) {
      t.true(a.status === 503 || a.status === 408, a.raw.slice(0, 200));
      t.regex(a.body, /^\{"error":"(overloaded|request_timeout): /, 'the OIP error shape');
    }
  },
);

test.serial(
  'expensive bodies: refused 422 from their structure; management /health stays fast; a legitimate 1 MiB batch is served',
  async (t) => {
    const port = portOf(svc.url);
    const nested = '['.repeat(500_000) + ']'.repeat(500_000);
    const keys = `{${Array.from({ length: 90_000 }, (_, i) => `"k${i}":1`).join(',')}}`;
    const wide = JSON.stringify({ texts: new Array<string>(175_000).fill('ab') });
    const bodies = [nested, keys, wide].map((b) => post('/v1/classify', b));
    // Probe latency without an attack, measured first: the bound below is relative to it (shared machine).
    const baseline: number[] = [];
    for (const stop = performance.now() + 2000; performance.now() < stop;) {
      const started = performance.now();
      await fetch(`${svc.managementUrl}/health`, { signal: AbortSignal.timeout(1000) }).then((r) => r.text());
      baseline.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 50));
    }
    const baseP99 = [...baseline].sort((a, b) => a - b)[Math.floor(baseline.length * 0.99)] ?? 0;
    const attackMs = 6000;
    const until = performance.now() + attackMs;
    const codes = new Map<string, number>();
    const attacker = async (i: number): Promise<void> => {
      for (let n = i; performance.now() < until; n++) {
        const r = await rawRequest(port, bodies[n % bodies.length] as Buffer, 10_000);
        const key = `${r.status} ${errorCode(r) ?? r.raw.slice(0, 40)}`;
        codes.set(key, (codes.get(key) ?? 0) + 1);
      }
    };
    const probes: number[] = [];
    const prober = async (): Promise<void> => {
      while (performance.now() < until) {
        const started = performance.now();
        const res = await fetch(`${svc.managementUrl}/health`, { signal: AbortSignal.timeout(1000) }).catch(
          () => undefined,
        );
        probes.push(res?.status === 200 ? performance.now() - started : Infinity);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const legit = JSON.stringify({
      texts: Array.from({ length: 1000 }, (_, i) => `${'lorem ipsum dolor sit amet '.repeat(38)}${i}`),
    });
    t.true(legit.length > 1_000_000 && legit.length <= 1024 * 1024);
    const legitimate = (async () => {
      await new Promise((r) => setTimeout(r, attackMs / 2));
      return postJson(`${svc.url}/v1/classify`, undefined, { raw: legit, timeoutMs: 10_000 });
    })();
    await Promise.all([...Array.from({ length: 8 }, (_, i) => attacker(i)), prober()]);
    const served = await legitimate;
    t.is(served.status, 200, JSON.stringify(served.body).slice(0, 200));
    t.is((served.body as { results: unknown[] }).results.length, 1000);
    t.deepEqual(
      [...codes.keys()].sort(),
      ['422 batch_too_large', '422 body_too_complex'],
      `every attack body refused 422 from its structure: ${JSON.stringify([...codes])}`,
    );
    const sorted = [...probes].sort((a, b) => a - b);
    const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? Infinity;
    t.log(
      `slowest probes ${sorted
        .slice(-5)
        .map((p) => p.toFixed(0))
        .join(', ')} ms`,
    );
    t.log(
      `baseline p99 ${baseP99.toFixed(1)} ms; attack requests ${[...codes.values()].reduce((a, b) => a + b, 0)}, probes ${probes.length}, /health p99 ${p99.toFixed(1)} ms, max ${sorted.at(-1)?.toFixed(1)} ms`,
    );
    t.false(probes.includes(Infinity), 'no probe failed or timed out (1 s)');
    // The target is 100 ms on a quiet machine; generous here for a shared one, and relative to the
    // same probes without an attack (before the fix: 300-560 ms, each attack body blocking the loop).
    const bound = Math.max(250, 4 * baseP99);
    t.true(
      p99 < bound,
      `management /health p99 ${p99.toFixed(1)} ms under attack, ${baseP99.toFixed(1)} ms without; bound ${bound.toFixed(0)} ms`,
    );
  },
);

test('unknown methods: 501 in the JSON shape; methods the route lacks: 405', async (t) => {
  const port = portOf(svc.url);
  for (const method of ['PROPFIND', 'SEARCH']) {
    isJson(t, await rawRequest(port, `${method} /v1/classify HTTP/1.1\r\nHost: x\r\n\r\n`), 501, 'not_implemented');
    isJson(t, await rawRequest(port, `${method} / HTTP/1.1\r\nHost: x\r\n\r\n`), 501, 'not_implemented');
  }
  isJson(
    t,
    await rawRequest(port, 'PUT /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n'),
    405,
    'method_not_allowed',
  );
});

test("malformed HTTP from Node's parser: JSON 400 / 431, then closed", async (t) => {
  const port = portOf(svc.url);
  const bad = await rawRequest(port, 'this is not http\r\n\r\n', 5000, true);
  isJson(t, bad, 400, 'bad_request');
  t.true(bad.closed);
  isJson(
    t,
    await rawRequest(port, `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
    431,
    'headers_too_large',
  );
  isJson(t, await rawRequest(port, `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`), 431, 'headers_too_large');
  isJson(t, await rawRequest(port, 'GET /health HTTP/1.1\r\n\r\n'), 400, 'bad_request');
  isJson(
    t,
    await rawRequest(port, 'GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n'),
    400,
    'bad_request',
  );
});

test('Expect: an oversized 100-continue gets 413 and no 100; a small one gets 100 then its answer; others 417 JSON', async (t) => {
  const port = portOf(svc.url);
  const big = await rawRequest(
    port,
    'POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n',
    5000,
    true,
  );
  t.false(big.raw.includes('100 Continue'), big.raw.slice(0, 200));
  isJson(t, big, 413, 'payload_too_large');
  t.true(big.closed);

  const socket = await connect(port);
  t.teardown(() => socket.destroy());
  const body = '{"text":"hello world, how are you"}';
  const first = new Promise<string>((resolve) => socket.once('data', (c: Buffer) => resolve(c.toString('latin1'))));
  socket.write(
    `POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`,
  );
  t.regex(await first, /^HTTP\/1\.1 100 Continue/);
  const answer = readResponse(socket, 5000);
  socket.write(body);
  t.is((await answer).status, 200);

  isJson(
    t,
    await rawRequest(port, 'POST /v1/classify HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: teapot\r\n\r\n{}'),
    417,
    'expectation_failed',
  );
});

test('a charset other than UTF-8 is 415; bytes that are not UTF-8 are 400 invalid_json', async (t) => {
  const port = portOf(svc.url);
  const latin1 = Buffer.from('{"text":"caf\xe9 au lait"}', 'latin1');
  isJson(
    t,
    await rawRequest(port, post('/v1/classify', latin1, { 'content-type': 'application/json; charset=latin1' })),
    415,
    'unsupported_media_type',
  );
  isJson(
    t,
    await rawRequest(port, post('/v1/classify', latin1, { 'content-type': 'application/json; charset="ISO-8859-1"' })),
    415,
    'unsupported_media_type',
  );
  isJson(t, await rawRequest(port, post('/v1/classify', latin1)), 400, 'invalid_json');
  const utf8 = await rawRequest(
    port,
    post('/v1/classify', '{"text":"café au lait"}', { 'content-type': 'application/json; Charset="UTF-8"' }),
  );
  t.is(utf8.status, 200, utf8.raw.slice(0, 200));
});

test('every spelling the router accepts is classified', async (t) => {
  const port = portOf(svc.url);
  for (const p of ['/V1/CLASSIFY', '/v1/classify/', '/v1/Classify?x=1']) {
    const r = await rawRequest(port, post(p, '{"text":"bonjour tout le monde"}'));
    t.is(r.status, 200, `${p}: ${r.raw.slice(0, 200)}`);
  }
});

test('headers that never finish: 408 JSON and closed, within the headers timeout', async (t) => {
  const r = await rawRequest(portOf(svc.url), 'GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ', 20_000, true);
  isJson(t, r, 408, 'request_timeout');
  t.true(r.closed);
  t.true(
    r.elapsedMs < 13_000,
    `answered after ${Math.round(r.elapsedMs)} ms (Node's default: 60 s, checked every 30 s)`,
  );
});
