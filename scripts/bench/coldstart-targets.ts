// Issue 16's cold-start targets and issue 20's large-model checks, each a ratio against a
// peer measured in the same run (the fasttext.js example server in the same repeat; the raw
// binary and md5sum timed right before and after the service's start).
import type { BenchResults, ColdStartRepeat, LargeRun, LargeStart, ServiceColdStart } from './results.js';
import { median, spread, type Spread } from './stats.js';
import type { TargetCheck } from './targets.js';

const x = (v: number): string => `${v.toFixed(2)}x`;
const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

function ceiling(value: number, limit: number): Pick<TargetCheck, 'met' | 'shortfall'> {
  if (!Number.isFinite(value)) return { met: false, shortfall: 'not measured' };
  return value <= limit
    ? { met: true, shortfall: '' }
    : { met: false, shortfall: `${(((value - limit) / limit) * 100).toFixed(0)}% over` };
}

function notMeasured(target: string, required: string): TargetCheck {
  return { target, required, measured: 'not measured', met: null, shortfall: '' };
}

function rangeOf(sp: Spread): string {
  return sp.n > 1 && sp.min !== sp.max ? `${x(sp.median)} (${x(sp.min)}–${x(sp.max)}, ${sp.n} repeats)` : x(sp.median);
}

/** Per-repeat ratio of the service's first classification (warm or empty cache) to the peer's. */
export function bundledRatios(repeats: readonly ColdStartRepeat[], which: 'warm' | 'empty' | 'noCompileCache'): Spread {
  const ratios: number[] = [];
  for (const r of repeats) {
    const service: ServiceColdStart | null = r[which] ?? null;
    if (service !== null && r.peer !== null && r.peer.firstClassificationMs > 0)
      ratios.push(service.firstClassificationMs / r.peer.firstClassificationMs);
  }
  return spread(ratios);
}

/** The raw binary's load + one answer around a start: the mean of the timings before and after it. */
export function rawAround(run: LargeRun, which: 'warm' | 's3'): number {
  const [a, b, c] = run.rawLoadMs;
  return which === 'warm'
    ? median([a, b].filter((v): v is number => v !== undefined))
    : median([b, c].filter((v): v is number => v !== undefined));
}

/** The coreutils tool's time for the digest a cache hit was checked by. */
export function sumToolMs(run: LargeRun, start: LargeStart | null): number {
  return start?.verifiedBy === 'sha256' ? run.sha256sumMs : run.md5sumMs;
}

export function largeRatios(run: LargeRun): { warm: number; warmMd5Only: number; s3: number; verify: number } {
  const warm = run.warm === null ? Number.NaN : run.warm.readyMs / rawAround(run, 'warm');
  const warmMd5Only = run.warmMd5Only === null ? Number.NaN : run.warmMd5Only.readyMs / rawAround(run, 'warm');
  const s3 =
    run.s3 === null || run.s3Transfer === null
      ? Number.NaN
      : run.s3.readyMs / (run.s3Transfer.ms + rawAround(run, 's3'));
  const verify = run.warm?.verifyMs == null ? Number.NaN : run.warm.verifyMs / sumToolMs(run, run.warm);
  return { warm, warmMd5Only, s3, verify };
}

/** A start that logged no verification of its file misses, whatever its time. */
function verifiedCheck(check: TargetCheck, start: LargeStart): TargetCheck {
  return start.verifiedBy === null ? { ...check, met: false, shortfall: 'the file was not verified' } : check;
}

function tierCheck(name: string, start: LargeStart | null): TargetCheck {
  const target = `Large model, ${name}: the first request of every k tier, sent as /ready turns 200`;
  if (start === null) return notMeasured(target, '200 each');
  const failed = start.tierRequests.filter((t) => t.status !== 200);
  return {
    target,
    required: '200 each',
    measured: start.tierRequests.map((t) => `k=${t.k}: ${t.status ?? 'no answer'} in ${s(t.ms)}`).join('; '),
    met: failed.length === 0 && start.tierRequests.length > 0,
    shortfall: failed.length === 0 ? '' : `${failed.length} of ${start.tierRequests.length} failed`,
  };
}

function healthCheck(start: LargeStart | null): TargetCheck {
  const target =
    'Large model, warm cache: management /health p99 while the file is hashed and loaded (listening to ready)';
  const probe = start?.healthDuringStart;
  if (probe === null || probe === undefined || probe.count === 0) return notMeasured(target, '< 100 ms');
  const failed = probe.failures > 0 ? `, ${probe.failures}/${probe.count} probes failed` : '';
  const met = probe.latency.p99 < 100 && probe.failures === 0;
  return {
    target,
    required: '< 100 ms',
    measured: `${probe.latency.p99.toFixed(1)} ms over ${probe.count} probes${failed}`,
    met,
    shortfall: met
      ? ''
      : probe.failures > 0
        ? 'probes failed'
        : `${(((probe.latency.p99 - 100) / 100) * 100).toFixed(0)}% over`,
  };
}

export function coldStartTargets(results: BenchResults): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const warmTarget = 'Cold start, bundled model, warm cache: spawn to first classification vs the peer, MD5 verified';
  const warm = bundledRatios(results.coldStart, 'warm');
  if (warm.n === 0) checks.push(notMeasured(warmTarget, '<= 1.0x'));
  else {
    const starts = results.coldStart.map((r) => r.warm).filter((w): w is ServiceColdStart => w !== null);
    const verified = starts.filter((w) => w.md5Verified).length;
    const ratio = ceiling(warm.median, 1.0);
    checks.push({
      target: warmTarget,
      required: '<= 1.0x',
      measured: `${rangeOf(warm)}; MD5 verified in ${verified}/${starts.length} starts`,
      met: ratio.met && verified === starts.length,
      shortfall: ratio.shortfall || (verified < starts.length ? 'MD5 not verified' : ''),
    });
  }
  const emptyTarget = 'Cold start, bundled model, empty cache: spawn to first classification vs the peer';
  const empty = bundledRatios(results.coldStart, 'empty');
  checks.push(
    empty.n === 0
      ? notMeasured(emptyTarget, '<= 1.2x')
      : { target: emptyTarget, required: '<= 1.2x', measured: rangeOf(empty), ...ceiling(empty.median, 1.2) },
  );

  const run = results.large;
  const gib = run === null ? '' : ` (${(run.model.bytes / 2 ** 30).toFixed(2)} GiB)`;
  const warmLarge = `Large model${gib}, warm cache, lock with its SHA-256: spawn to ready vs the raw binary's load + one answer`;
  const s3Large = `Large model${gib}, empty cache from s3rver: spawn to ready vs (transfer at the measured rate + the raw load)`;
  const md5Large = `Large model${gib}: a cache hit's hash in the service vs the coreutils tool for that digest (sha256sum with a SHA-256 in the lock)`;
  if (run === null) {
    checks.push(
      notMeasured(warmLarge, '<= 1.2x'),
      notMeasured(s3Large, '<= 1.2x'),
      notMeasured(md5Large, '<= 1.3x'),
      notMeasured('Large model: the first request of every k tier right after ready', '200 each'),
      healthCheck(null),
    );
    return checks;
  }
  const r = largeRatios(run);
  checks.push(
    run.warm === null
      ? notMeasured(warmLarge, '<= 1.2x')
      : verifiedCheck(
          {
            target: warmLarge,
            required: '<= 1.2x',
            measured: `${x(r.warm)} (${s(run.warm.readyMs)} vs ${s(rawAround(run, 'warm'))}; verified by ${run.warm.verifiedBy ?? 'nothing'})`,
            ...ceiling(r.warm, 1.2),
          },
          run.warm,
        ),
    run.s3 === null || run.s3Transfer === null
      ? notMeasured(s3Large, '<= 1.2x')
      : {
          target: s3Large,
          required: '<= 1.2x',
          measured: `${x(r.s3)} (${s(run.s3.readyMs)} vs ${s(run.s3Transfer.ms)} + ${s(rawAround(run, 's3'))})`,
          ...ceiling(r.s3, 1.2),
        },
    run.warm?.verifyMs == null
      ? notMeasured(md5Large, '<= 1.3x')
      : {
          target: md5Large,
          required: '<= 1.3x',
          measured: `${x(r.verify)} (${run.warm.verifiedBy ?? 'nothing'}: ${s(run.warm.verifyMs)} vs ${s(sumToolMs(run, run.warm))})`,
          ...ceiling(r.verify, 1.3),
        },
    tierCheck('warm cache', run.warm),
    tierCheck('from s3rver', run.s3),
    healthCheck(run.warm),
  );
  return checks;
}
