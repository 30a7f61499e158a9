// The benchmark's report writer, target checks, plot and profile summary, on synthetic
// results (no benchmark runs here): what a reader of bench/results/ would see.
import test from 'ava';
import { stripLabels } from '../../scripts/bench/corpus.js';
import { renderSweepSvg } from '../../scripts/bench/plot.js';
import { categoryOf, summarizeProfile, type CpuProfile } from '../../scripts/bench/profile.js';
import { fmtSpread, renderReport } from '../../scripts/bench/report.js';
import { FULL_PLAN } from '../../scripts/bench/plan.js';
import type { BenchResults, ContenderId, LoadRun, MemoryRun, Round } from '../../scripts/bench/results.js';
import { percentile, spread } from '../../scripts/bench/stats.js';
import { evaluateTargets } from '../../scripts/bench/targets.js';

function latency(p50: number, p99: number, count: number) {
  return { count, mean: p50, p50, p90: p99, p99, max: p99 * 2 };
}

/** A run that answered `reqPerSec` 2xx for 10 s with the given p99. */
function run(contender: ContenderId, reqPerSec: number, p99: number, extra: Partial<LoadRun> = {}): LoadRun {
  return {
    contender,
    connections: 50,
    durationS: 10,
    rateCap: null,
    textsPerRequest: 1,
    elapsedS: 10,
    measureAfterS: 0,
    sent: reqPerSec * 10,
    statusCounts: { 200: reqPerSec * 10 },
    ok: latency(p99 / 3, p99, reqPerSec * 10),
    shed: latency(0, 0, 0),
    other: latency(0, 0, 0),
    connErrors: 0,
    timeouts: 0,
    ...extra,
  };
}

function round(serviceRps: number, peerRps: number, serviceColdMs: number): Round {
  return {
    order: ['peer', 'service'],
    coldStart: {
      service: { listeningMs: 300, readyMs: serviceColdMs - 20, firstClassificationMs: serviceColdMs },
      peer: { listeningMs: 470, readyMs: 480, firstClassificationMs: 500 },
    },
    single: {
      service: run('service', serviceRps, 4),
      peer: run('peer', peerRps, 5),
      'service-canaries': run('service-canaries', serviceRps * 0.97, 4),
    },
    batch: { service: run('service', 1000, 80, { textsPerRequest: 64 }) },
  };
}

function memory(contender: ContenderId, growthMb: number): MemoryRun {
  const before = { processKb: 80_000, treeKb: 100_000 };
  const stages = [1, 2, 3, 4, 5].map((i) => ({
    processKb: before.processKb + (growthMb * 1024 * i) / 5,
    treeKb: before.treeKb + (growthMb * 1024 * i) / 5,
  }));
  return {
    contender,
    stageS: 20,
    idleS: 15,
    before,
    afterStages: stages,
    afterIdle: stages[4] ?? null,
    peakProcessKb: 0,
    stages: [],
    aborted: null,
  };
}

function results(): BenchResults {
  const capacity = 20_000;
  return {
    meta: {
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:15:00.000Z',
      machine: {
        cpuModel: 'Test CPU',
        cores: 2,
        memoryGb: 8,
        os: 'Linux',
        node: 'v20.0.0',
        loadAverageStart: [0.1, 0.2, 0.3],
        loadAverageEnd: [1, 1, 1],
        versions: { koa: '3.0.0' },
        gitCommit: 'abc1234',
      },
      plan: FULL_PLAN,
      corpus: { sources: ['a.tsv'], texts: 100, meanChars: 40, p50Chars: 38, p99Chars: 120, maxChars: 150 },
    },
    contenders: [
      { id: 'service', label: 'this service', description: 'the service', command: 'node dist/app/main.js' },
      { id: 'peer', label: 'peer', description: 'the <example> server', command: 'node server.js' },
    ],
    // Service/peer req/s ratios 1.1, 1.2, 0.9 (median 1.1); cold start ratios 1.6, 1.8, 2.0.
    rounds: [round(22_000, 20_000, 800), round(24_000, 20_000, 900), round(18_000, 20_000, 1000)],
    // 64,000 texts/s through HTTP against 160,000 lines/s: 40%, 20% short of 50%.
    raw: [{ lines: 1_000_000, totalS: 6.35, loadS: 0.1, linesPerSec: 160_000, pipedLinesPerSec: 100_000 }],
    coldStart: [],
    large: null,
    coldStartS3: {
      empty: [{ listeningMs: 300, readyMs: 1200, firstClassificationMs: 1210 }],
      warm: [{ listeningMs: null, readyMs: 700, firstClassificationMs: 705 }],
    },
    memory: [memory('service-cached', 30), memory('service', 60)],
    overload: [
      {
        contender: 'service',
        capacity,
        multiple: 10,
        run: run('service', 17_000, 30, {
          rateCap: 10 * capacity,
          connErrors: 2,
          shed: latency(1, 3, 50_000),
          statusCounts: { 200: 170_000, 503: 50_000 },
        }),
        probes: [
          {
            target: 'GET /health (traffic port)',
            count: 200,
            failures: 0,
            timeoutMs: 2000,
            latency: latency(2, 40, 200),
          },
        ],
        rssBefore: null,
        rssAfter: null,
        afterwards: { status: null, ms: 5000 },
      },
    ],
    sweep: [
      {
        contender: 'peer',
        baseRate: capacity,
        points: [0.5, 1, 10].map((m) => ({
          multiple: m,
          run: run('peer', Math.min(m, 1) * capacity, 5 * m, { rateCap: m * capacity }),
          afterwards: { status: 200, ms: 2 },
        })),
      },
      {
        contender: 'service',
        baseRate: capacity,
        points: [0.5, 1, 10].map((m) => ({
          multiple: m,
          run: run('service', Math.min(m, 1) * capacity, 4, {
            rateCap: m * capacity,
            shed: latency(1, 2, m > 1 ? 1000 : 0),
          }),
          afterwards: m > 1 ? { status: 504, ms: 3000 } : { status: 200, ms: 2 },
        })),
      },
    ],
    profiles: [],
    failures: [],
  };
}

test('targets: each is met or missed by how much, from ratios within the run', (t) => {
  const checks = new Map(evaluateTargets(results()).map((c) => [c.target, c]));
  const rps = checks.get('Single text, 50 connections: req/s vs the peer');
  t.is(rps?.met, true);
  t.is(rps?.measured, '1.10x (0.90x–1.20x, 3 rounds)');
  t.is(checks.get('Single text, 50 connections: p99 vs the peer')?.met, true);
  const batch = checks.get('Batch of 64: texts/s vs the raw binary lines/s');
  t.deepEqual([batch?.met, batch?.measured, batch?.shortfall], [false, '40%', '20% short']);
  t.is(checks.get('Memory: RSS growth over the five saturation stages (default, cache on)')?.met, true);
  const mem = checks.get('Memory: RSS growth over the five saturation stages (cache off)');
  t.deepEqual([mem?.met, mem?.measured, mem?.shortfall], [false, '60.0 MB', '20% over']);
  t.is(checks.get('Overload 10x: connection errors (and timeouts)')?.met, false);
  t.is(checks.get('Overload 10x: GET /health (traffic port) p99')?.met, true);
  const goodput = checks.get('Overload 10x: goodput vs capacity');
  t.deepEqual([goodput?.met, goodput?.measured, goodput?.shortfall], [false, '85% (17000 of 20000 req/s)', '6% short']);
  const wedged = checks.get('Extra check: the service still classifies after each overload and sweep run');
  t.deepEqual([wedged?.met, wedged?.measured], [false, 'no 200 after overload 10x, sweep 10x (2/4)']);
  const canaries = checks.get(
    'Canaries every 100 ms (300x the default): single-text req/s vs the service at the default 30 s',
  );
  t.deepEqual([canaries?.met, canaries?.measured], [true, '0.97x (0.97x–0.97x, 3 rounds)']);
  const cold = checks.get('Cold start (bundled model): time to first classification vs the peer');
  t.deepEqual([cold?.met, cold?.measured, cold?.shortfall], [false, '1.80x (1.60x–2.00x, 3 rounds)', '20% over']);
});

test('the goodput target names the floors beside it, each against its own capacity, and the report labels them', (t) => {
  const r = results();
  const service = r.overload[0];
  if (service === undefined) return t.fail('fixture has no overload run');
  const floor = (contender: 'koa' | 'bare', capacity: number, ok: number) => ({
    ...service,
    contender,
    capacity,
    run: run(contender, ok, 60, { rateCap: 10 * capacity }),
    probes: [],
  });
  r.overload.push(floor('koa', 24_000, 21_000), floor('bare', 30_000, 29_700));
  const goodput = evaluateTargets(r).find((c) => c.target === 'Overload 10x: goodput vs capacity');
  t.is(
    goodput?.measured,
    '85% (17000 of 20000 req/s); the floors over the same engine, each of its own capacity: Koa + @koa/router 88%, bare node:http 99%',
  );
  t.is(goodput?.met, false);
  const md = renderReport(r, { plotFile: 'p.svg', command: 'npm run bench' });
  t.regex(md, /\| Koa \+ @koa\/router \+ engine \| 24,000 \|/);
  t.regex(md, /\| bare node:http \+ engine \| 30,000 \|/);
});

test('targets not measured in a run say so instead of passing', (t) => {
  const empty: BenchResults = { ...results(), rounds: [], raw: [], memory: [], overload: [] };
  const emptier: BenchResults = { ...empty, sweep: [] };
  for (const check of evaluateTargets(emptier)) t.is(check.met, null, check.target);
});

test('the report shows the targets, medians with ranges, ratios, the machine and the plot', (t) => {
  const md = renderReport(results(), { plotFile: 'load-curve.svg', command: 'npm run bench' });
  t.regex(
    md,
    /\| Batch of 64: texts\/s vs the raw binary lines\/s \| >= 50% \| 40% \| \*\*missed\*\* \(20% short\) \|/,
  );
  t.regex(md, /\| this service \(cache off\) \| 22,000 \(18,000–24,000\) \|/);
  t.regex(md, /\| fasttext\.js example server \(peer\) \| 20,000 \|/);
  t.true(md.includes('![p99 latency and goodput against offered load](load-curve.svg)'));
  t.true(md.includes('Test CPU, 2 cores available'));
  t.true(md.includes('this service, from S3 (s3rver), empty cache'));
  t.true(md.includes('GET /health (traffic port): p50 2.00, p99 40.0'));
  t.false(md.includes('NaN'));
  t.false(md.includes('undefined'));
});

test('a failed phase is listed in the report', (t) => {
  const r = results();
  r.failures.push({ phase: 'memory peer', message: 'peer exited during stage 3\nmore lines' });
  const md = renderReport(r, { plotFile: 'p.svg', command: 'npm run bench' });
  t.true(md.includes('- **memory peer**: peer exited during stage 3\n'));
});

test('the plot has one line per series, a point per measurement, and escaped text', (t) => {
  const svg = renderSweepSvg(results().sweep, 'a <subtitle> & more');
  t.true(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  t.true(svg.trimEnd().endsWith('</svg>'));
  t.true(svg.includes('a &lt;subtitle&gt; &amp; more'));
  // Latency: 2 series; goodput: 2 series plus the service's shed line.
  t.is(svg.match(/<path /g)?.length, 5);
  t.is(svg.match(/<circle /g)?.length, 15);
  t.false(svg.includes('NaN'));
});

test('profile summary charges each sample interval to the function on top of the stack', (t) => {
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2, 3, 4, 5] },
      {
        id: 2,
        callFrame: { functionName: 'dispatch', url: 'file:///repo/node_modules/koa-compose/index.js', lineNumber: 34 },
      },
      { id: 3, callFrame: { functionName: 'classify', url: 'file:///repo/dist/app/http/classify.js', lineNumber: 9 } },
      { id: 4, callFrame: { functionName: '(idle)', url: '', lineNumber: -1 } },
      { id: 5, callFrame: { functionName: 'writeGeneric', url: 'node:internal/stream_base_commons', lineNumber: 150 } },
    ],
    samples: [2, 2, 3, 4, 5, 2],
    timeDeltas: [0, 100, 100, 100, 500, 200],
  };
  const s = summarizeProfile(
    profile,
    'service',
    'single text, 50 connections',
    'bench/results/service.cpuprofile',
    1234,
  );
  t.is(s.sampledMs, 1);
  const top = s.topFunctions[0];
  t.deepEqual([top?.name, top?.where, top?.selfMs], ['dispatch', 'koa-compose/index.js:35', 0.2]);
  const byName = new Map(s.byCategory.map((c) => [c.name, c]));
  t.is(byName.get('(idle)')?.selfMs, 0.5);
  t.is(byName.get('koa-compose')?.share, 0.4);
  t.is(byName.get('node:internal/stream_base_commons')?.selfMs, 0.2);
  t.is(byName.get('app/http')?.selfMs, 0.1);
  t.is(categoryOf('parse', ''), 'V8 builtins and native code');
  t.is(categoryOf('x', 'file:///r/node_modules/@koa/router/lib/router.js'), '@koa/router');
});

test('stats and corpus helpers', (t) => {
  t.is(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99), 10);
  t.is(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50), 5);
  t.deepEqual(spread([3, Number.NaN, 1, 2]), { median: 2, min: 1, max: 3, n: 3 });
  t.is(
    fmtSpread(spread([1000, 3000, 2000]), (x) => String(x)),
    '2000 (1000–3000)',
  );
  t.is(stripLabels('__label__sauce __label__cheese How much starch?'), 'How much starch?');
  t.is(stripLabels('ham\tOk... see you  later'), 'Ok... see you later');
  t.is(stripLabels('To be, or not to be'), 'To be, or not to be');
});

function serviceCold(firstMs: number, md5Verified = true) {
  return {
    listeningMs: 100,
    readyMs: firstMs - 5,
    firstClassificationMs: firstMs,
    md5Verified,
    timeline: [
      { what: 'listening', ms: 100 },
      { what: 'lifecycle ready', ms: firstMs - 10 },
    ],
  };
}

function largeStart(
  readyMs: number,
  statuses: readonly (number | null)[],
  verifiedBy: 'md5' | 'sha256' | 'download' | null = 'sha256',
) {
  return {
    listeningMs: 200,
    readyMs,
    timeline: [{ what: 'model verified', ms: readyMs - 1000 }],
    verifyMs: verifiedBy === 'md5' ? 2600 : 1100,
    verifiedBy,
    childLoads: [{ k: 1, loadMs: 900 }],
    tierRequests: statuses.map((status, i) => ({ k: [1, 10, 100][i] as number, status, ms: 100 })),
    atReady: { processKb: 130 * 1024, treeKb: 1.2 * 1024 * 1024, children: 3 },
    tiersWarmMs: readyMs + 7000,
    warmed: { processKb: 135 * 1024, treeKb: 4.4 * 1024 * 1024, children: 4 },
    healthDuringStart: {
      target: 'GET /health',
      count: 40,
      failures: 0,
      timeoutMs: 2000,
      latency: { count: 40, mean: 5, p50: 4, p90: 30, p99: readyMs > 5000 ? 140 : 60, max: 150 },
    },
  };
}

/** Issue 16's rows: peer 200 ms; warm 190, 210, 250 ms (0.95x, 1.05x, 1.25x); empty 230 ms (1.15x) each time. */
function coldResults(): BenchResults {
  const peer = { listeningMs: 150, readyMs: 195, firstClassificationMs: 200 };
  return {
    ...results(),
    coldStart: [190, 210, 250].map((warm) => ({
      order: ['peer', 'warm', 'empty'],
      peer,
      warm: serviceCold(warm),
      empty: serviceCold(230),
    })),
    large: {
      model: { bytes: 1_135_566_353, md5: 'a'.repeat(32), sha256: 'b'.repeat(64), labels: 736, trainMs: null },
      md5sumMs: 2000,
      sha256sumMs: 1000,
      rawLoadMs: [1000, 1200, 1400],
      // 1.2 s warm ready vs (1.0 + 1.2) / 2 = 1.1 s: 1.09x; 10 s from S3 vs 6.7 + 1.3 s: 1.25x.
      warm: largeStart(1200, [200, 200, 200]),
      warmMd5Only: largeStart(2750, [200, 200, 200], 'md5'),
      s3Transfer: { ms: 6700, bytesPerSec: 169e6 },
      s3: largeStart(10_000, [200, 504, null], 'download'),
    },
  };
}

test('cold-start targets: ratios per repeat against the peer, and the large model against the binary in the same run', (t) => {
  const checks = new Map(evaluateTargets(coldResults()).map((c) => [c.target, c]));
  const warm = checks.get(
    'Cold start, bundled model, warm cache: spawn to first classification vs the peer, MD5 verified',
  );
  t.deepEqual(
    [warm?.met, warm?.measured, warm?.shortfall],
    [false, '1.05x (0.95x–1.25x, 3 repeats); MD5 verified in 3/3 starts', '5% over'],
  );
  const empty = checks.get('Cold start, bundled model, empty cache: spawn to first classification vs the peer');
  t.deepEqual([empty?.met, empty?.measured], [true, '1.15x']);
  const largeWarm = checks.get(
    "Large model (1.06 GiB), warm cache, lock with its SHA-256: spawn to ready vs the raw binary's load + one answer",
  );
  t.deepEqual([largeWarm?.met, largeWarm?.measured], [true, '1.09x (1.20 s vs 1.10 s; verified by sha256)']);
  const largeS3 = checks.get(
    'Large model (1.06 GiB), empty cache from s3rver: spawn to ready vs (transfer at the measured rate + the raw load)',
  );
  t.deepEqual([largeS3?.met, largeS3?.shortfall], [false, '4% over']);
  const hash = checks.get(
    "Large model (1.06 GiB): a cache hit's hash in the service vs the coreutils tool for that digest (sha256sum with a SHA-256 in the lock)",
  );
  t.deepEqual([hash?.met, hash?.measured], [true, '1.10x (sha256: 1.10 s vs 1.00 s)']);
  t.is(checks.get('Large model, warm cache: the first request of every k tier, sent as /ready turns 200')?.met, true);
  const health = checks.get(
    'Large model, warm cache: management /health p99 while the file is hashed and loaded (listening to ready)',
  );
  t.deepEqual([health?.met, health?.measured], [true, '60.0 ms over 40 probes']);
  const tiers = checks.get('Large model, from s3rver: the first request of every k tier, sent as /ready turns 200');
  t.deepEqual([tiers?.met, tiers?.shortfall], [false, '2 of 3 failed']);
});

test('cold-start targets: a warm start without a verified MD5 misses whatever its time', (t) => {
  const base = coldResults();
  const unverified: BenchResults = {
    ...base,
    coldStart: base.coldStart.map((r) => ({ ...r, warm: serviceCold(100, false) })),
  };
  const warm = evaluateTargets(unverified).find((c) => c.target.startsWith('Cold start, bundled model, warm cache'));
  t.deepEqual([warm?.met, warm?.shortfall], [false, 'MD5 not verified']);
});

test('cold-start targets: a large warm start that verified nothing misses whatever its time', (t) => {
  const base = coldResults();
  const large = base.large;
  if (large === null) throw new Error('fixture has a large run');
  const unverified: BenchResults = { ...base, large: { ...large, warm: largeStart(900, [200, 200, 200], null) } };
  const warm = evaluateTargets(unverified).find((c) => c.target.includes('warm cache, lock with its SHA-256'));
  t.deepEqual([warm?.met, warm?.shortfall], [false, 'the file was not verified']);
});

test('the report has the cold-start rows, the large-model table and the breakdown', (t) => {
  const md = renderReport(coldResults(), { plotFile: 'load-curve.svg', command: 'npm run bench' });
  t.true(md.includes('## Cold start against the peer, bundled model (issue 16)'));
  t.regex(md, /\| median \(range\) \| {2}\| 200 \| 210 \(190–250\) \| 1\.05x \(0\.95x–1\.25x\) \|/);
  t.true(md.includes('## Large model (issues 16 and 20)'));
  t.true(md.includes('k=10: **504** in 0.10 s; k=100: **no answer** in 0.10 s'));
  t.true(md.includes('4.40 GiB (Node 135 MiB + 4 children)'));
  t.true(md.includes('p50 4.0, p99 140.0, max 150.0 ms; 0/40 failed'));
  t.true(
    md.includes(
      '| sha256 1.10 s (1.10x sha256sum) | hashed while downloading (download) | md5sum 2.00 s, sha256sum 1.00 s |',
    ),
  );
  t.true(md.includes('| 2.75 s (2.50x; MD5 2.60 s) |'));
  t.regex(md, /\| lifecycle ready \| 200 \| 220 \|/);
  t.false(md.includes('NaN'));
  t.false(md.includes('undefined'));
});
