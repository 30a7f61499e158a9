// The harness's probes against a tiny local HTTP server whose answers the test controls: what
// counts as success, timeouts, thresholds, the initial delay, startup gating and the ticker.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import test from 'ava';
import { freePort } from '../helpers/service.js';
import { probeOnce, ProbeWorker, type ProbeKind, type ProbeRecord, type ProbeSpec } from './harness/probe.js';
import { timeScale } from './harness/scale.js';
import { sleep } from '../helpers/fixtures.js';

interface Server {
  readonly port: number;
  /** Status answered on /toggle. */
  status: number;
  /** Delay before answering /toggle, ms. */
  delayMs: number;
  hits: number;
  close(): Promise<void>;
}

async function startServer(): Promise<Server> {
  const state = { status: 200, delayMs: 0, hits: 0 };
  const server = http.createServer((req, res) => {
    const fixed = /^\/status\/(\d+)$/.exec(req.url ?? '');
    if (fixed) {
      res.writeHead(Number(fixed[1]), { location: '/elsewhere' });
      res.end('x');
      return;
    }
    state.hits += 1;
    const status = state.status;
    setTimeout(() => {
      res.writeHead(status);
      res.end('x');
    }, state.delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    port,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

test('httpGet: 200-399 succeed, everything else fails, with the status', async (t) => {
  const server = await startServer();
  try {
    for (const status of [200, 204, 301, 302, 399]) {
      const r = await probeOnce({ type: 'httpGet', path: `/status/${status}`, port: server.port }, server.port, 1000);
      t.true(r.ok, `status ${status}`);
      t.is(r.status, status);
    }
    for (const status of [400, 404, 500, 503]) {
      const r = await probeOnce({ type: 'httpGet', path: `/status/${status}`, port: server.port }, server.port, 1000);
      t.false(r.ok, `status ${status}`);
      t.is(r.error, `status ${status}`);
    }
  } finally {
    await server.close();
  }
});

test('httpGet: an answer slower than the timeout fails as a timeout, at the timeout', async (t) => {
  const server = await startServer();
  try {
    server.delayMs = 500;
    const r = await probeOnce({ type: 'httpGet', path: '/toggle', port: server.port }, server.port, 100);
    t.false(r.ok);
    t.is(r.error, 'timeout');
    t.true(r.ms >= 99 && r.ms < 400, `took ${r.ms} ms`);
  } finally {
    await server.close();
  }
});

test('httpGet and tcpSocket: a closed port fails with ECONNREFUSED; tcpSocket succeeds on an open one', async (t) => {
  const closed = await freePort();
  t.is((await probeOnce({ type: 'httpGet', path: '/', port: closed }, closed, 500)).error, 'ECONNREFUSED');
  t.is((await probeOnce({ type: 'tcpSocket', port: closed }, closed, 500)).error, 'ECONNREFUSED');
  const server = await startServer();
  try {
    t.true((await probeOnce({ type: 'tcpSocket', port: server.port }, server.port, 500)).ok);
  } finally {
    await server.close();
  }
});

/** A worker at scale 0.02 (a 5 s period is 100 ms here), with what it reported. */
function worker(
  server: Server,
  kind: ProbeKind,
  spec: Partial<ProbeSpec>,
  isStarted: () => boolean = () => true,
  onResult?: (result: 'success' | 'failure') => void,
) {
  const results: { result: 'success' | 'failure'; at: number; probes: number }[] = [];
  const records: ProbeRecord[] = [];
  const full: ProbeSpec = {
    action: { type: 'httpGet', path: '/toggle', port: 'probe' },
    initialDelaySeconds: 0,
    periodSeconds: 5,
    timeoutSeconds: 25,
    successThreshold: 1,
    failureThreshold: 3,
    ...spec,
  };
  const startedAt = Date.now();
  const w = new ProbeWorker({
    kind,
    spec: full,
    scale: timeScale(0.02),
    startedAt,
    resolvePort: (port) => (port === 'probe' ? server.port : undefined),
    isStarted,
    onProbe: (r) => records.push(r),
    onResult: (result) => {
      results.push({ result, at: Date.now() - startedAt, probes: records.length });
      onResult?.(result);
    },
  });
  w.start();
  return { w, results, records, startedAt };
}

/** Waits (polling every 5 ms, at most 3 s) until `done()` holds. */
async function until(done: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 3_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`not ${what} within 3 s`);
    await sleep(5);
  }
}

test.serial(
  'liveness: fewer than failureThreshold failures in a row change nothing; failureThreshold of them fail it and put the worker on hold',
  async (t) => {
    const server = await startServer();
    const { w, results, records } = worker(server, 'liveness', { failureThreshold: 3 });
    try {
      await until(() => records.length >= 2, 'two probes');
      t.deepEqual(
        results.map((r) => r.result),
        ['success'],
      );
      server.status = 503;
      const before = records.length;
      await until(() => records.length >= before + 2, 'two failures');
      server.status = 200;
      await until(() => records.length >= before + 3, 'one more probe');
      t.deepEqual(
        records.slice(before).map((r) => r.ok),
        [false, false, true],
      );
      t.deepEqual(
        results.map((r) => r.result),
        ['success'],
        'two failures then a success: still live',
      );
      server.status = 503;
      await until(() => results.length === 2, 'failed');
      t.deepEqual(
        results.map((r) => r.result),
        ['success', 'failure'],
      );
      t.deepEqual(
        records.slice(-3).map((r) => r.ok),
        [false, false, false],
      );
      const probes = records.length;
      await sleep(300);
      t.is(records.length, probes, 'no probe after the third consecutive failure (on hold)');
    } finally {
      w.stop();
      await server.close();
    }
  },
);

test.serial(
  'readiness: successThreshold consecutive successes before success, and it keeps probing after failures',
  async (t) => {
    const server = await startServer();
    server.status = 503;
    const { w, results, records } = worker(server, 'readiness', { successThreshold: 3, failureThreshold: 1 });
    try {
      await until(() => results.length === 1, 'failed');
      t.is(results[0]?.result, 'failure');
      const failedAt = records.length;
      server.status = 200;
      await until(() => results.length === 2, 'ready again');
      t.is(results[1]?.result, 'success');
      t.deepEqual(
        records
          .slice(failedAt, results[1]?.probes)
          .map((r) => r.ok)
          .slice(-3),
        [true, true, true],
      );
      t.is(
        records.slice(failedAt, results[1]?.probes).filter((r) => r.ok).length,
        3,
        'exactly three successes before the change',
      );
    } finally {
      w.stop();
      await server.close();
    }
  },
);

test.serial('initialDelaySeconds: no probe before it', async (t) => {
  const server = await startServer();
  const { w, records, startedAt } = worker(server, 'readiness', { initialDelaySeconds: 15 }); // 300 ms here
  try {
    await until(() => records.length > 0, 'probed');
    t.true((records[0]?.at ?? 0) - startedAt >= 300, `first probe after ${(records[0]?.at ?? 0) - startedAt} ms`);
  } finally {
    w.stop();
    await server.close();
  }
});

test.serial(
  'startup gating: liveness does not probe until the startup probe has succeeded; startup stops once it has',
  async (t) => {
    const server = await startServer();
    let started = false;
    const liveness = worker(server, 'liveness', {}, () => started);
    // As the pod does: the startup probe's success is what lets the others run.
    const startup = worker(
      server,
      'startup',
      { failureThreshold: 30 },
      () => started,
      (result) => (started = result === 'success'),
    );
    try {
      server.status = 503;
      await until(() => startup.records.length >= 3, 'three startup probes');
      t.is(liveness.records.length, 0, 'liveness held back');
      t.deepEqual(startup.results, [], 'startup failures below the threshold change nothing');
      server.status = 200;
      await until(() => started, 'started');
      const startupProbes = startup.records.length;
      await until(() => liveness.records.length >= 2, 'liveness probing');
      t.is(startup.records.length, startupProbes, 'no startup probe after success');
    } finally {
      liveness.w.stop();
      startup.w.stop();
      await server.close();
    }
  },
);

test.serial(
  'periods: probes follow a fixed-rate ticker; a probe slower than its period is followed at once (Go ticker)',
  async (t) => {
    const server = await startServer();
    const steady = worker(server, 'readiness', { periodSeconds: 10 }); // 200 ms here
    await sleep(1_100);
    steady.w.stop();
    // Probes sit on the ticker's schedule (start + k x 200 ms), one per tick: no drift, no bursts.
    const ticks = steady.records.map((r) => Math.round((r.at - steady.startedAt) / 200));
    t.true(steady.records.length >= 5 && steady.records.length <= 6, `${steady.records.length} probes in 1.1 s`);
    t.deepEqual(
      ticks,
      ticks.map((_, i) => i),
      `probes at ticks ${ticks.join(', ')}`,
    );

    server.delayMs = 150; // slower than the 20 ms period, inside the 1 s timeout
    const slow = worker(server, 'readiness', { periodSeconds: 1, timeoutSeconds: 50 });
    await sleep(700);
    slow.w.stop();
    const gaps = slow.records.slice(1).map((r, i) => r.at - (slow.records[i]?.at ?? 0));
    t.true(gaps.length >= 2);
    t.true(
      gaps.every((g) => g >= 145 && g <= 350),
      `back to back, no waiting for a tick: ${gaps.join(', ')} ms`,
    );
    await server.close();
  },
);
