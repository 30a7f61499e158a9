// The report's sections for the coldstart and large phases: the rows, and where the time
// from spawn to the first answer went (from the service's own log timestamps).
import { bundledRatios, largeRatios, rawAround } from './coldstart-targets.js';
import type { BenchResults, ColdStart, LargeStart, RssSample, ServiceColdStart, TimelineEvent } from './results.js';
import { median, spread, type Spread } from './stats.js';

const ms = (v: number | null | undefined): string =>
  v === null || v === undefined || !Number.isFinite(v) ? '–' : `${Math.round(v)}`;
const ratio = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)}x` : '–');
const gb = (kb: number): string => `${(kb / 1024 / 1024).toFixed(2)} GiB`;
const sec = (v: number): string => `${(v / 1000).toFixed(2)} s`;

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function spreadCell(sp: Spread, format: (v: number) => string): string {
  if (sp.n === 0) return '–';
  return sp.n === 1 || sp.min === sp.max
    ? format(sp.median)
    : `${format(sp.median)} (${format(sp.min)}–${format(sp.max)})`;
}

/** Median ms of each timeline step over several starts, in the order of the first start. */
function medianTimeline(starts: readonly { timeline: readonly TimelineEvent[] }[]): Map<string, number> {
  const steps = new Map<string, number[]>();
  for (const start of starts) for (const e of start.timeline) steps.set(e.what, [...(steps.get(e.what) ?? []), e.ms]);
  return new Map([...steps].map(([what, values]) => [what, median(values)] as const).sort((a, b) => a[1] - b[1]));
}

function breakdown(
  columns: readonly { name: string; starts: readonly (ColdStart & { timeline: readonly TimelineEvent[] })[] }[],
): string {
  const timelines = columns.map((c) => ({ ...c, steps: medianTimeline(c.starts) }));
  const order = [...new Set(timelines.flatMap((t) => [...t.steps].sort((a, b) => a[1] - b[1]).map(([what]) => what)))];
  const rows = order.map((what) => [what, ...timelines.map((t) => ms(t.steps.get(what)))]);
  rows.push([
    '/ready 200 seen by the bench (polled every 5 ms)',
    ...timelines.map((t) => ms(median(t.starts.map((s) => s.readyMs)))),
  ]);
  if (timelines.some((t) => t.starts.some((s) => s.firstClassificationMs !== s.readyMs))) {
    rows.push([
      'first classification 200 seen by the bench',
      ...timelines.map((t) => ms(median(t.starts.map((s) => s.firstClassificationMs)))),
    ]);
  }
  return table(['ms since spawn (median; service log timestamps)', ...columns.map((c) => c.name)], rows);
}

function bundledSection(results: BenchResults): string {
  const repeats = results.coldStart;
  if (repeats.length === 0) return '';
  const first = (c: ColdStart | null): string => ms(c?.firstClassificationMs);
  const rows = repeats.map((r, i) => {
    const peer = r.peer?.firstClassificationMs ?? Number.NaN;
    const vs = (c: ServiceColdStart | null): string => ratio((c?.firstClassificationMs ?? Number.NaN) / peer);
    return [
      `${i + 1}`,
      r.order.join(', '),
      first(r.peer),
      first(r.warm),
      vs(r.warm),
      r.warm === null ? '–' : r.warm.md5Verified ? 'yes' : '**no**',
      first(r.empty),
      vs(r.empty),
      first(r.noCompileCache ?? null),
      vs(r.noCompileCache ?? null),
    ];
  });
  const pick = (which: 'warm' | 'empty' | 'noCompileCache'): ServiceColdStart[] =>
    repeats.map((r) => r[which] ?? null).filter((c): c is ServiceColdStart => c !== null);
  const peers = repeats.map((r) => r.peer).filter((c): c is ColdStart => c !== null);
  rows.push([
    'median (range)',
    '',
    spreadCell(spread(peers.map((c) => c.firstClassificationMs)), ms),
    spreadCell(spread(pick('warm').map((c) => c.firstClassificationMs)), ms),
    spreadCell(bundledRatios(repeats, 'warm'), ratio),
    '',
    spreadCell(spread(pick('empty').map((c) => c.firstClassificationMs)), ms),
    spreadCell(bundledRatios(repeats, 'empty'), ratio),
    spreadCell(spread(pick('noCompileCache').map((c) => c.firstClassificationMs)), ms),
    spreadCell(bundledRatios(repeats, 'noCompileCache'), ratio),
  ]);
  return `## Cold start against the peer, bundled model (issue 16)

Each repeat starts, one at a time in a rotated order: the fasttext.js example server (peer), this service with its defaults on a **warm** model cache (the verified file is there: it is re-hashed, then loaded), and on an **empty** one (copied from the lock's file:// source and hashed); Node's compile cache is warm in both (the run's first start writes it, as the image build does). The last columns: a warm model cache with the compile cache off (\`NODE_DISABLE_COMPILE_CACHE=1\`), what the compile cache is worth. Spawn to the first 200 classification, ms; ratios within a repeat.

${table(['repeat', 'order', 'peer', 'warm cache', 'warm vs peer', 'MD5 verified (warm)', 'empty cache', 'empty vs peer', 'no compile cache (warm)', 'no compile cache vs peer'], rows)}

Where the time goes (this service's own log timestamps against the spawn time):

${breakdown([
  { name: 'warm cache', starts: pick('warm') },
  { name: 'empty cache', starts: pick('empty') },
])}
`;
}

function rssCell(r: (RssSample & { children: number }) | null): string {
  return r === null ? '–' : `${gb(r.treeKb)} (Node ${(r.processKb / 1024).toFixed(0)} MiB + ${r.children} children)`;
}

function loadsCell(start: LargeStart | null): string {
  if (start === null) return '–';
  return start.childLoads.map((l) => `k=${l.k} ${sec(l.loadMs)}`).join(', ');
}

function tiersCell(start: LargeStart | null): string {
  if (start === null) return '–';
  return start.tierRequests
    .map((t) => `k=${t.k}: ${t.status === 200 ? '200' : `**${t.status ?? 'no answer'}**`} in ${sec(t.ms)}`)
    .join('; ');
}

function healthCell(start: LargeStart | null): string {
  const p = start?.healthDuringStart;
  if (p === null || p === undefined) return '–';
  return `p50 ${p.latency.p50.toFixed(1)}, p99 ${p.latency.p99.toFixed(1)}, max ${p.latency.max.toFixed(1)} ms; ${p.failures}/${p.count} failed`;
}

function largeSection(results: BenchResults): string {
  const run = results.large;
  if (run === null) return '';
  const r = largeRatios(run);
  const { warm, s3 } = run;
  const transfer = run.s3Transfer;
  const rows = [
    [
      'model',
      `${run.model.bytes.toLocaleString('en-US')} bytes (${(run.model.bytes / 2 ** 30).toFixed(3)} GiB), ${run.model.labels} labels`,
      '',
      '',
    ],
    [
      'the cached file hashed in the service (by the lock SHA-256; a download: MD5 and SHA-256 on the way in)',
      warm?.verifyMs == null
        ? '–'
        : `${warm.verifiedBy ?? 'not verified'} ${sec(warm.verifyMs)} (${ratio(r.verify)} ${warm.verifiedBy === 'sha256' ? 'sha256sum' : 'md5sum'})`,
      s3 === null ? '–' : `hashed while downloading (${s3.verifiedBy ?? 'not verified'})`,
      `md5sum ${sec(run.md5sumMs)}, sha256sum ${sec(run.sha256sumMs)}`,
    ],
    [
      'children loading (each child: spawn to its probe answer)',
      loadsCell(warm),
      loadsCell(s3),
      `raw binary: ${run.rawLoadMs.map(sec).join(', ')}`,
    ],
    [
      'spawn to /ready 200',
      warm === null ? '–' : `${sec(warm.readyMs)} (${ratio(r.warm)} of ${sec(rawAround(run, 'warm'))})`,
      s3 === null || transfer === null
        ? '–'
        : `${sec(s3.readyMs)} (${ratio(r.s3)} of ${sec(transfer.ms)} transfer + ${sec(rawAround(run, 's3'))})`,
      transfer === null ? '' : `s3rver transfer ${sec(transfer.ms)} (${(transfer.bytesPerSec / 1e6).toFixed(0)} MB/s)`,
    ],
    [
      'spawn to /ready 200 with a lock without SHA-256 (cache hit re-hashed by MD5)',
      run.warmMd5Only === null
        ? '–'
        : `${sec(run.warmMd5Only.readyMs)} (${ratio(r.warmMd5Only)}; MD5 ${run.warmMd5Only.verifyMs === null ? '–' : sec(run.warmMd5Only.verifyMs)})`,
      '',
      '',
    ],
    ['first request of every k tier, sent as /ready turned 200', tiersCell(warm), tiersCell(s3), ''],
    ['management /health, every 100 ms from listening to ready', healthCell(warm), healthCell(s3), ''],
    ['RSS at ready (service + children)', rssCell(warm?.atReady ?? null), rssCell(s3?.atReady ?? null), ''],
    [
      'spawn to every tier loaded',
      warm?.tiersWarmMs == null ? '–' : sec(warm.tiersWarmMs),
      s3?.tiersWarmMs == null ? '–' : sec(s3.tiersWarmMs),
      '',
    ],
    ['RSS after every tier warmed', rssCell(warm?.warmed ?? null), rssCell(s3?.warmed ?? null), ''],
  ];
  const starts = [
    ...(warm === null ? [] : [{ name: 'warm cache', starts: [{ ...warm, firstClassificationMs: warm.readyMs }] }]),
    ...(s3 === null ? [] : [{ name: 'empty cache, s3rver', starts: [{ ...s3, firstClassificationMs: s3.readyMs }] }]),
  ];
  return `## Large model (issues 16 and 20)

A supervised model synthesized in the run with the bundled binary (cooking dataset, \`-bucket 2200000 -dim 128\`; cached in node_modules/.cache/fasttext-edge-large, never committed), served from file:// (warm cache: the verified file already in the cache directory) and from s3rver (empty cache), with the chart's default engine shape (ENGINE_POOL_SIZE=2, ENGINE_WIDE_POOL_SIZE=1, ENGINE_K_TIERS=10: tiers k=1, 10 and 100, four model copies). The warm and s3rver starts use a lock with the model's SHA-256 besides its MD5, as \`npm run model:lock\` and \`model:publish\` write it: a cache hit is then re-hashed by the SHA-256 alone (docs/model.md); one more warm start with an MD5-only lock shows the difference. The raw binary's load (\`echo line | fasttext predict-prob model - 1\`, spawn to exit), md5sum and sha256sum are timed in the same run, around the service's starts.

${table(['', 'warm cache', 'empty cache, from s3rver', 'reference, same run'], rows)}

${starts.length > 0 ? `Where the time goes:\n\n${breakdown(starts)}\n` : ''}`;
}

export function coldStartSections(results: BenchResults): string {
  return [bundledSection(results), largeSection(results)].filter((s) => s !== '').join('\n');
}
