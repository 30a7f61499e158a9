// The load generator process: runs autocannon jobs sent over IPC and answers with a LoadRun.
// It is a separate process so the generator's CPU and GC never share an event loop with the
// orchestrator's probes; it still shares the machine's cores with the contender.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { EventEmitter } from 'node:events';
import autocannon from 'autocannon';
import { buildRequest, requestsPerConnection, type FromWorker, type LoadSpec, type ToWorker } from './load-spec.js';
import type { LoadRun } from './results.js';
import { SampleLog } from './stats.js';

const corpora = new Map<string, readonly string[]>();

function textsOf(file: string): readonly string[] {
  let texts = corpora.get(file);
  if (texts === undefined) {
    texts = JSON.parse(readFileSync(file, 'utf8')) as string[];
    corpora.set(file, texts);
  }
  return texts;
}

/** The private fields of autocannon 9's Client that its per-connection rate limit uses. */
interface RateLimitedClient {
  rate?: number;
  reqsMadeThisSecond?: number;
  rateInterval?: NodeJS.Timeout;
  paused?: boolean;
  destroyed?: boolean;
  cer?: unknown;
  _doRequest?: (this: unknown, arg: unknown) => void;
}

/**
 * autocannon's overallRate gives each connection a budget of rate/connections requests per
 * 1-s window, and every connection's window starts at the same instant: all connections
 * would fire together at each second boundary, a burst that is not the offered load we mean.
 * This shifts connection i's window by i/connections of a second (and gives its first,
 * partial window the matching share of the budget), spreading arrivals over the second.
 * Returns false (and changes nothing) if the client does not have the expected fields.
 */
function staggerRateWindow(client: autocannon.Client, offsetMs: number): boolean {
  const c = client as unknown as RateLimitedClient;
  const rate = c.rate;
  if (typeof rate !== 'number' || rate <= 0 || typeof c.reqsMadeThisSecond !== 'number') return false;
  c.reqsMadeThisSecond = rate - Math.round((rate * offsetMs) / 1000);
  setImmediate(() => {
    const doRequest = c._doRequest;
    if (c.rateInterval === undefined || doRequest === undefined || c.destroyed === true) return;
    clearInterval(c.rateInterval);
    const reset = (): void => {
      c.reqsMadeThisSecond = 0;
      if (c.paused === true && c.destroyed !== true) doRequest.call(client, c.cer);
      c.paused = false;
    };
    c.rateInterval = setTimeout(() => {
      reset();
      c.rateInterval = setInterval(reset, 1000);
    }, offsetMs);
  });
  return true;
}

async function runLoad(spec: LoadSpec): Promise<LoadRun> {
  const texts = textsOf(spec.corpusFile);
  const perConnection = requestsPerConnection(spec.connections);
  const ok = new SampleLog();
  const shed = new SampleLog();
  const other = new SampleLog();
  const statusCounts: Record<string, number> = {};
  let sent = 0;
  let connErrors = 0;
  let timeouts = 0;
  let nextClient = 0;
  const connections =
    spec.rateCap === null ? spec.connections : Math.min(spec.connections, Math.max(1, Math.round(spec.rateCap)));

  const started = performance.now();
  const measureFrom = started + spec.measureAfterS * 1000;
  const setupClient = (client: autocannon.Client): void => {
    const i = nextClient++;
    const requests = [];
    for (let j = 0; j < perConnection; j++)
      requests.push(buildRequest(spec.shape, texts, i * perConnection + j, spec.batchSize));
    client.setRequests(requests);
    const events = client as unknown as EventEmitter;
    events.on('request', () => {
      if (performance.now() >= measureFrom) sent += 1;
    });
    events.on('response', (status: number, _bytes: number, ms: number) => {
      if (performance.now() < measureFrom) return;
      statusCounts[status] = (statusCounts[status] ?? 0) + 1;
      if (status >= 200 && status < 300) ok.push(ms);
      else if (status === 503) shed.push(ms);
      else other.push(ms);
    });
    events.on('connError', () => {
      connErrors += 1;
    });
    events.on('timeout', () => {
      timeouts += 1;
    });
    if (spec.rateCap !== null) staggerRateWindow(client, (i / connections) * 1000);
  };

  const first = buildRequest(spec.shape, texts, 0, spec.batchSize);
  const result = await autocannon({
    url: `http://127.0.0.1:${spec.port}`,
    connections,
    duration: spec.durationS,
    overallRate: spec.rateCap === null ? undefined : Math.round(spec.rateCap),
    // Our own latency logs are the record. With a rate, autocannon would also fill its own
    // histogram with synthetic samples (an "expected interval" of ceil(1/rate) = 1 ms).
    ignoreCoordinatedOmission: spec.rateCap !== null,
    timeout: spec.timeoutS,
    requests: [first],
    setupClient,
  });
  return {
    contender: spec.contender,
    connections,
    durationS: spec.durationS,
    rateCap: spec.rateCap,
    textsPerRequest: spec.shape === 'json-batch' ? spec.batchSize : 1,
    elapsedS: Math.max(0.001, result.duration - spec.measureAfterS),
    measureAfterS: spec.measureAfterS,
    sent,
    statusCounts,
    ok: ok.summarize(),
    shed: shed.summarize(),
    other: other.summarize(),
    connErrors,
    timeouts,
  };
}

function reply(message: FromWorker): void {
  process.send?.(message);
}

process.on('message', (message: ToWorker) => {
  runLoad(message.spec).then(
    (run) => reply({ id: message.id, ok: true, run }),
    (error: unknown) =>
      reply({ id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
  );
});
// The orchestrator is gone (or done): nothing left to do.
process.on('disconnect', () => process.exit(0));
