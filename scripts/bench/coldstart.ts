// Issue 16's bundled-model cold start rows: the peer, this service on a warm model cache and
// on an empty one, and on a warm model cache with Node's compile cache off (what the compile
// cache is worth), started one at a time in a rotated order, each repeat a fresh process of
// each. Every ratio is taken within one repeat, so the machine's load drifts out of it.
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { startContender, type Running } from './contenders.js';
import type { ColdStart, ServiceColdStart } from './results.js';
import type { BenchContext } from './runner.js';
import { timelineOf, verifiedBy } from './timeline.js';

type Kind = 'peer' | 'warm' | 'empty' | 'noCompileCache';
const KINDS: readonly Kind[] = ['peer', 'warm', 'empty', 'noCompileCache'];

function coldOf(c: Running): ColdStart {
  return c.coldStart;
}

function serviceCold(c: Running, md5: string): ServiceColdStart {
  return {
    ...c.coldStart,
    md5Verified: verifiedBy(c.proc.lines, md5) !== null,
    timeline: timelineOf(c.proc.lines, c.proc.spawnedEpochMs),
  };
}

export async function coldStartPhase(ctx: BenchContext): Promise<void> {
  const { plan, paths, supervisor, results, log, workDir, md5 } = ctx;
  const warmCache = mkdtempSync(path.join(workDir, 'coldstart-warm-'));
  // The service with its defaults (prediction cache on): what a scaled-from-zero pod runs.
  const startService = (cacheDir: string, env: Record<string, string> = {}): Promise<Running> =>
    startContender(supervisor, paths, 'service-cached', { env: { MODEL_CACHE_DIR: cacheDir, ...env } });
  const stop = async (c: Running): Promise<void> => {
    await supervisor.stop(c.proc, 8000);
  };
  // Fill the warm cache once (not measured): copy and verify the bundled model into it.
  await stop(await startService(warmCache));

  for (let r = 0; r < plan.coldStartPairs; r++) {
    const order = KINDS.map((_, i) => KINDS[(i + r) % KINDS.length] as Kind);
    const repeat: {
      order: Kind[];
      peer: ColdStart | null;
      warm: ServiceColdStart | null;
      empty: ServiceColdStart | null;
      noCompileCache: ServiceColdStart | null;
    } = { order, peer: null, warm: null, empty: null, noCompileCache: null };
    for (const kind of order) {
      try {
        const c =
          kind === 'peer'
            ? await startContender(supervisor, paths, 'peer')
            : kind === 'noCompileCache'
              ? await startService(warmCache, { NODE_DISABLE_COMPILE_CACHE: '1' })
              : await startService(kind === 'warm' ? warmCache : mkdtempSync(path.join(workDir, 'coldstart-empty-')));
        try {
          if (kind === 'peer') repeat.peer = coldOf(c);
          else repeat[kind] = serviceCold(c, md5);
        } finally {
          await stop(c);
        }
      } catch (error) {
        results.failures.push({
          phase: `coldstart: ${kind}`,
          message: error instanceof Error ? error.message : String(error),
        });
      }
    }
    results.coldStart.push(repeat);
    const ms = (s: ColdStart | null): string => (s === null ? 'failed' : `${Math.round(s.firstClassificationMs)} ms`);
    log(
      `  coldstart ${r + 1}/${plan.coldStartPairs} (${order.join(', ')}): first classification peer ${ms(repeat.peer)}, warm cache ${ms(repeat.warm)}${repeat.warm?.md5Verified === false ? ' (no MD5 verified!)' : ''}, empty cache ${ms(repeat.empty)}, no compile cache ${ms(repeat.noCompileCache)}`,
    );
  }
}
