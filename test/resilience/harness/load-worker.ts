// The load generator process (forked by load.ts): runs one LoadPlan and sends back every
// request's outcome. A separate process so that generating thousands of requests a second
// never delays the harness's probes in the parent's event loop (it still shares the cores).
// Hand-written rather than autocannon: autocannon keeps a fixed number of connections busy
// (a closed loop); an overloaded service must be offered a fixed request rate however slowly
// it answers (an open loop), with latency counted from the scheduled send time.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  OUTCOMES,
  type LoadPhase,
  type LoadPlan,
  type LoadReport,
  type Outcome,
  type PhaseReport,
  type RequestLog,
  type WorkerMessage,
} from './load-plan.js';
import { textNumber } from './texts.js';

const outcomeIndex = (o: Outcome): number => OUTCOMES.indexOf(o);

class ClientTimeout extends Error {}

/** Set by a `stop` message: the current phase stops scheduling and later phases are skipped. */
let stopRequested = false;

async function run(plan: LoadPlan): Promise<LoadReport> {
  const target = new URL(plan.url);
  const agent = new http.Agent({
    keepAlive: true,
    maxSockets: plan.maxSockets,
    maxFreeSockets: plan.maxSockets,
    scheduling: 'fifo',
  });
  const log: RequestLog = { at: [], ms: [], outcome: [], status: [], phase: [] };
  const errorCodes: Record<string, number> = {};
  const samples: string[] = [];
  let textSeq = 0;
  let outstanding = 0;
  let peakSockets = 0;
  let drained: (() => void) | undefined;

  const countSockets = (): number => Object.values(agent.sockets).reduce((n, list) => n + (list?.length ?? 0), 0);
  const sample = (what: string): void => {
    if (samples.length < 10) samples.push(what.slice(0, 300));
  };

  const record = (phase: number, at: number, outcome: Outcome, status: number): void => {
    log.at.push(at);
    log.ms.push(Date.now() - at);
    log.outcome.push(outcomeIndex(outcome));
    log.status.push(status);
    log.phase.push(phase);
  };

  const body = (): string => {
    if (plan.batch === 1) return JSON.stringify({ text: textNumber(textSeq++) });
    const texts: string[] = [];
    for (let i = 0; i < plan.batch; i++) texts.push(textNumber(textSeq++));
    return JSON.stringify({ texts });
  };

  const judge = (status: number, text: string): Outcome => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      sample(`${status} non-JSON: ${text}`);
      return 'bad_body';
    }
    if (status >= 200 && status < 300) {
      const ok = typeof parsed === 'object' && parsed !== null && ('predictions' in parsed || 'results' in parsed);
      if (!ok) sample(`${status} without predictions: ${text}`);
      return ok ? 'ok' : 'bad_body';
    }
    const code = (parsed as { error?: { code?: unknown } } | null)?.error?.code;
    if ((status === 503 || status === 504) && typeof code === 'string') {
      errorCodes[`${status} ${code}`] = (errorCodes[`${status} ${code}`] ?? 0) + 1;
      return status === 503 ? 'shed' : 'deadline';
    }
    sample(`${status}: ${text}`);
    return 'bad_status';
  };

  /** One request scheduled at `at`; resolves when it has an outcome (never rejects). */
  const fire = (phase: number, at: number): Promise<void> => {
    outstanding += 1;
    return new Promise<void>((resolve) => {
      let settled = false;
      const finish = (outcome: Outcome, status: number): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        record(phase, at, outcome, status);
        outstanding -= 1;
        if (outstanding === 0) drained?.();
        resolve();
      };
      const payload = body();
      const req = http.request(
        {
          agent,
          method: 'POST',
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            finish(judge(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8')), res.statusCode ?? 0),
          );
          res.on('error', () => finish('connection_error', res.statusCode ?? 0));
        },
      );
      const timer = setTimeout(
        () => req.destroy(new ClientTimeout()),
        Math.max(1, at + plan.clientTimeoutMs - Date.now()),
      );
      req.on('error', (error) => {
        if (error instanceof ClientTimeout) finish('client_timeout', 0);
        else {
          sample(`connection error: ${(error as NodeJS.ErrnoException).code ?? error.message}`);
          finish('connection_error', 0);
        }
      });
      req.end(payload);
      peakSockets = Math.max(peakSockets, countSockets());
    });
  };

  const runPhase = async (phase: LoadPhase, index: number): Promise<PhaseReport> => {
    const startedAt = Date.now();
    const endAt = startedAt + phase.durationMs;
    let scheduled = 0;
    let maxLagMs = 0;
    if (phase.mode === 'open') {
      const interval = 1000 / phase.rate;
      const total = Math.floor(phase.durationMs / interval);
      while (scheduled < total && !stopRequested) {
        const now = Date.now();
        const due = Math.min(total, Math.floor((now - startedAt) / interval) + 1);
        if (due > scheduled) maxLagMs = Math.max(maxLagMs, now - (startedAt + scheduled * interval));
        for (; scheduled < due; scheduled++) void fire(index, Math.round(startedAt + scheduled * interval));
        await sleep(1);
      }
    } else {
      const loop = async (): Promise<void> => {
        while (Date.now() < endAt && !stopRequested) {
          scheduled += 1;
          await fire(index, Date.now());
        }
      };
      await Promise.all(Array.from({ length: phase.concurrency }, loop));
    }
    return { name: phase.name, startedAt, endedAt: Date.now(), scheduled, maxLagMs };
  };

  const phases: PhaseReport[] = [];
  for (const [i, phase] of plan.phases.entries()) {
    if (stopRequested) break;
    phases.push(await runPhase(phase, i));
  }
  if (outstanding > 0) await new Promise<void>((resolve) => (drained = resolve));
  agent.destroy();
  return { phases, requests: log, errorCodes, samples, peakSockets };
}

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve) => process.send?.(message, undefined, {}, () => resolve()));
}

process.on('message', (message: { readonly type: 'run'; readonly plan: LoadPlan } | { readonly type: 'stop' }) => {
  if (message.type === 'stop') {
    stopRequested = true;
    return;
  }
  void (async () => {
    try {
      await send({ type: 'started' });
      const report = await run(message.plan);
      await send({ type: 'done', report });
    } catch (error) {
      await send({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    }
    process.disconnect();
  })();
});
