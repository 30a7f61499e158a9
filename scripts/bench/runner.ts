// The benchmark's phases, in order: rounds (cold start, single text, batch), cold start
// against the peer (coldstart.ts), the raw binary, cold start from S3, the large model (large.ts), memory under saturation, overload at 10x, the offered-load sweep for
// the plot, and CPU profiles. Each phase starts its own contenders and stops them by pid;
// a failed phase is recorded in the results and the next one runs.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { probeClassification, startContender, type Paths, type Running } from './contenders.js';
import type { LoadGenerator } from './load.js';
import type { RequestShape } from './load-spec.js';
import { Prober, request } from './probe.js';
import { cpuSeconds, descendantCpuSeconds, rssKb, treeRssKb } from './procfs.js';
import { summarizeProfile, type CpuProfile } from './profile.js';
import { measureRaw, writeRawInputs } from './raw.js';
import type {
  BenchResults,
  ContenderId,
  LoadRun,
  MemoryRun,
  Plan,
  Recovery,
  RssSample,
  Round,
  SweepPoint,
} from './results.js';
import { coldStartPhase } from './coldstart.js';
import { largePhase } from './large.js';
import { startS3 } from './s3.js';
import { median } from './stats.js';
import { okPerSec } from './targets.js';
import { sleep, type Supervisor } from './supervisor.js';

export type Phase = 'rounds' | 'coldstart' | 'raw' | 's3' | 'large' | 'memory' | 'overload' | 'sweep' | 'profile';
export const PHASES: readonly Phase[] = [
  'rounds',
  'coldstart',
  'raw',
  's3',
  'large',
  'memory',
  'overload',
  'sweep',
  'profile',
];

export interface BenchContext {
  readonly plan: Plan;
  readonly paths: Paths;
  readonly supervisor: Supervisor;
  readonly loadgen: LoadGenerator;
  readonly corpusFile: string;
  readonly texts: readonly string[];
  readonly md5: string;
  /** Scratch space for this run (raw input files, cache dirs, profiles). */
  readonly workDir: string;
  /** Where the report goes; CPU profiles are copied here. */
  readonly outDir: string;
  readonly results: BenchResults;
  /** Called after each phase (results.json is rewritten, so an interrupted run keeps its data). */
  readonly checkpoint: () => void;
  readonly log: (message: string) => void;
}

const ROUND_CONTENDERS: readonly ContenderId[] = [
  'peer',
  'bare',
  'koa',
  'service',
  'service-cached',
  'service-canaries',
];

export function rotate<T>(items: readonly T[], by: number): T[] {
  const n = items.length;
  return items.map((_, i) => items[(i + by) % n] as T);
}

function describe(run: LoadRun): string {
  const rate = okPerSec(run);
  const shed = run.shed.count > 0 ? `, 503 ${run.shed.count}` : '';
  const errors = run.connErrors + run.timeouts > 0 ? `, errors ${run.connErrors}+${run.timeouts} timeouts` : '';
  const cpu =
    run.cpu === undefined
      ? ''
      : `; cores: contender ${run.cpu.contender}, fastText ${run.cpu.children}, loadgen ${run.cpu.loadgen}`;
  return `${Math.round(rate)} ok/s (${Math.round(rate * run.textsPerRequest)} texts/s), p50 ${run.ok.p50.toFixed(2)} ms, p99 ${run.ok.p99.toFixed(2)} ms${shed}${errors}${cpu}`;
}

function rss(pid: number): RssSample | null {
  const processKb = rssKb(pid);
  const treeKb = treeRssKb(pid);
  return processKb === null || treeKb === null ? null : { processKb, treeKb };
}

export class Bench {
  constructor(private readonly ctx: BenchContext) {}

  async run(phases: readonly Phase[]): Promise<void> {
    for (const phase of phases) {
      const started = performance.now();
      this.ctx.log(`phase ${phase}`);
      try {
        await this[phase]();
      } catch (error) {
        this.fail(phase, error);
      }
      this.ctx.log(`phase ${phase} done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      this.ctx.checkpoint();
    }
  }

  private fail(phase: string, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.ctx.results.failures.push({ phase, message });
    this.ctx.log(`FAILED ${phase}: ${message}`);
  }

  private async load(
    c: Running,
    shape: RequestShape,
    durationS: number,
    connections: number,
    rateCap: number | null,
    measureAfterS = 0,
  ): Promise<LoadRun> {
    const { plan, loadgen } = this.ctx;
    const loadgenPid = loadgen.pid;
    const before = {
      at: performance.now(),
      contender: cpuSeconds(c.proc.pid),
      children: descendantCpuSeconds(c.proc.pid),
      loadgen: cpuSeconds(loadgenPid),
    };
    const run = await loadgen.run({
      contender: c.id,
      port: c.port,
      shape,
      corpusFile: this.ctx.corpusFile,
      connections,
      durationS,
      rateCap,
      batchSize: plan.batchSize,
      timeoutS: plan.requestTimeoutS,
      measureAfterS,
    });
    const wallS = (performance.now() - before.at) / 1000;
    const after = {
      contender: cpuSeconds(c.proc.pid),
      children: descendantCpuSeconds(c.proc.pid),
      loadgen: cpuSeconds(loadgenPid),
    };
    if (before.contender === null || after.contender === null || before.loadgen === null || after.loadgen === null)
      return run;
    let children = 0;
    for (const [pid, seconds] of after.children) children += seconds - (before.children.get(pid) ?? 0);
    const cores = (seconds: number): number => Math.round((seconds / wallS) * 100) / 100;
    return {
      ...run,
      cpu: {
        wallS,
        contender: cores(after.contender - before.contender),
        children: cores(children),
        loadgen: cores(after.loadgen - before.loadgen),
      },
    };
  }

  private async start(id: ContenderId, options: Parameters<typeof startContender>[3] = {}): Promise<Running> {
    const c = await startContender(this.ctx.supervisor, this.ctx.paths, id, options);
    this.ctx.log(
      `  started ${id} (pid ${c.proc.pid}, port ${c.port}): ready ${c.coldStart.readyMs.toFixed(0)} ms, first classification ${c.coldStart.firstClassificationMs.toFixed(0)} ms`,
    );
    return c;
  }

  private async stop(c: Running): Promise<void> {
    const exit = await this.ctx.supervisor.stop(c.proc, 8000);
    if (exit.code !== 0 && exit.signal !== 'SIGTERM') this.ctx.log(`  ${c.id} exited with ${exit.signal ?? exit.code}`);
  }

  /**
   * Waits until the contender answers its liveness route within 20 ms (at most 15 s): a
   * server that queued work without bound (the peer) is still working it off after a run.
   */
  private async settle(c: Running): Promise<void> {
    const until = performance.now() + 15_000;
    while (performance.now() < until && c.proc.alive) {
      const answer = await request(c.port, { path: c.healthPath }, 2000).catch(() => null);
      if (answer !== null && answer.ms < 20) return;
      await sleep(200);
    }
  }

  /**
   * After a run: give the contender time to work off what it queued (settle), then send one
   * classification. A server that still answers /health but no longer classifies is wedged.
   */
  private async recovery(c: Running): Promise<Recovery> {
    await this.settle(c);
    await sleep(1000);
    const answer = await probeClassification(c, 5000);
    if (answer.status !== 200)
      this.ctx.log(
        `  ${c.id}: a classification after the run got ${answer.status ?? 'no answer'} in ${Math.round(answer.ms)} ms`,
      );
    return answer;
  }

  private async warmup(c: Running): Promise<void> {
    const { plan } = this.ctx;
    if (plan.warmupS > 0) await this.load(c, c.shape, plan.warmupS, plan.connections, null);
  }

  private async rounds(): Promise<void> {
    const { plan, results, log } = this.ctx;
    for (let r = 0; r < plan.rounds; r++) {
      const round: Round = { order: rotate(ROUND_CONTENDERS, r), coldStart: {}, single: {}, batch: {} };
      results.rounds.push(round);
      log(` round ${r + 1}/${plan.rounds}: ${round.order.join(', ')}`);
      const running: Running[] = [];
      try {
        // One at a time, so no start competes with another for the CPU.
        for (const id of round.order) {
          try {
            const c = await this.start(id);
            running.push(c);
            round.coldStart[id] = c.coldStart;
          } catch (error) {
            this.fail(`rounds: start ${id}`, error);
          }
        }
        for (const c of running) {
          try {
            await this.warmup(c);
            const run = await this.load(c, c.shape, plan.singleS, plan.connections, null);
            round.single[c.id] = run;
            log(`  single ${c.id}: ${describe(run)}`);
          } catch (error) {
            this.fail(`rounds: single ${c.id}`, error);
          }
        }
        for (const c of running) {
          if (c.batchShape === null || c.id === 'service-cached' || c.id === 'service-canaries') continue;
          try {
            const run = await this.load(c, c.batchShape, plan.batchS, plan.connections, null);
            round.batch[c.id] = run;
            log(`  batch ${c.id}: ${describe(run)}`);
          } catch (error) {
            this.fail(`rounds: batch ${c.id}`, error);
          }
        }
      } finally {
        await Promise.all(running.map((c) => this.stop(c)));
      }
      this.ctx.checkpoint();
    }
  }

  private async coldstart(): Promise<void> {
    await coldStartPhase(this.ctx);
  }

  private async large(): Promise<void> {
    await largePhase(this.ctx);
  }

  private async raw(): Promise<void> {
    const { plan, paths, results, log } = this.ctx;
    const inputs = writeRawInputs(this.ctx.workDir, this.ctx.texts, plan.rawLines);
    for (let r = 0; r < Math.max(1, plan.rounds); r++) {
      const run = await measureRaw(this.ctx.supervisor, paths.fastText, paths.model, inputs, plan.rawLines);
      results.raw.push(run);
      log(
        `  raw: ${Math.round(run.linesPerSec)} lines/s (${run.lines} lines in ${run.totalS.toFixed(2)} s, load ${run.loadS.toFixed(2)} s)`,
      );
    }
  }

  private async s3(): Promise<void> {
    const { plan, paths, results, log } = this.ctx;
    const s3 = await startS3(paths.model, this.ctx.md5);
    try {
      for (let r = 0; r < plan.coldStartRepeats; r++) {
        const cacheDir = mkdtempSync(path.join(this.ctx.workDir, 's3-cache-'));
        const env = { ...s3.env, MODEL_CACHE_DIR: cacheDir };
        for (const which of ['empty', 'warm'] as const) {
          const c = await this.start('service', { env });
          results.coldStartS3[which].push(c.coldStart);
          await this.stop(c);
          log(`  S3 ${which} cache: ready ${c.coldStart.readyMs.toFixed(0)} ms`);
        }
      }
    } finally {
      await s3.close();
    }
  }

  private async memory(): Promise<void> {
    const { plan, results, log } = this.ctx;
    for (const id of plan.memoryContenders) {
      const c = await this.start(id);
      let peak = 0;
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssKb(c.proc.pid) ?? 0);
      }, 500);
      const entry: MemoryRun & { afterStages: RssSample[]; stages: LoadRun[] } = {
        contender: id,
        stageS: plan.memoryStageS,
        idleS: plan.memoryIdleS,
        before: { processKb: 0, treeKb: 0 },
        afterStages: [],
        afterIdle: null,
        peakProcessKb: 0,
        stages: [],
        aborted: null,
      };
      try {
        await sleep(1000);
        const before = rss(c.proc.pid);
        if (before === null) throw new Error(`${id} exited before the first stage`);
        Object.assign(entry, { before });
        for (let s = 0; s < plan.memoryStages; s++) {
          const run = await this.load(c, c.shape, plan.memoryStageS, plan.connections, null);
          entry.stages.push(run);
          const after = rss(c.proc.pid);
          if (after === null) throw new Error(`${id} exited during stage ${s + 1}\n${c.proc.tailText()}`);
          entry.afterStages.push(after);
          log(
            `  memory ${id} stage ${s + 1}: RSS ${(after.processKb / 1024).toFixed(0)} MB (tree ${(after.treeKb / 1024).toFixed(0)} MB); ${describe(run)}`,
          );
        }
        await sleep(plan.memoryIdleS * 1000);
        Object.assign(entry, { afterIdle: rss(c.proc.pid) });
      } catch (error) {
        Object.assign(entry, { aborted: error instanceof Error ? error.message : String(error) });
        this.fail(`memory ${id}`, error);
      } finally {
        clearInterval(sampler);
        Object.assign(entry, { peakProcessKb: peak });
        results.memory.push(entry);
        await this.stop(c);
      }
    }
  }

  /** The contender's median single-text req/s over the rounds, or a fresh measurement. */
  private async capacityOf(c: Running): Promise<number> {
    const measured = this.ctx.results.rounds
      .map((r) => r.single[c.id])
      .filter((run): run is LoadRun => run !== undefined);
    if (measured.length > 0) return median(measured.map(okPerSec));
    await this.warmup(c);
    return okPerSec(await this.load(c, c.shape, this.ctx.plan.singleS, this.ctx.plan.connections, null));
  }

  private async overload(): Promise<void> {
    const { plan, results, log } = this.ctx;
    for (const id of ['service', 'koa', 'bare', 'peer'] as const) {
      const c = await this.start(id);
      try {
        const capacity = await this.capacityOf(c);
        await this.settle(c);
        const rssBefore = rss(c.proc.pid);
        const probers = [
          new Prober(
            `GET ${c.healthPath} (traffic port)`,
            c.port,
            c.healthPath,
            plan.probeIntervalMs,
            plan.probeTimeoutMs,
            c.healthAccept,
          ),
        ];
        if (c.managementPort !== null)
          probers.push(
            new Prober(
              'GET /health (management port)',
              c.managementPort,
              '/health',
              plan.probeIntervalMs,
              plan.probeTimeoutMs,
            ),
          );
        const outcome = await this.load(
          c,
          c.shape,
          plan.overloadS,
          plan.overloadConnections,
          plan.overloadMultiple * capacity,
        ).then(
          (loaded) => ({ loaded }),
          (error: unknown) => ({ error }),
        );
        const probes = await Promise.all(probers.map((p) => p.stop()));
        if ('error' in outcome) throw outcome.error;
        const run = outcome.loaded;
        const rssAfter = rss(c.proc.pid);
        const afterwards = await this.recovery(c);
        results.overload.push({
          contender: id,
          capacity,
          multiple: plan.overloadMultiple,
          run,
          probes,
          rssBefore,
          rssAfter,
          afterwards,
        });
        log(
          `  overload ${id} at ${plan.overloadMultiple}x ${Math.round(capacity)}/s: sent ${Math.round(run.sent / run.elapsedS)}/s; ${describe(run)}; ${probes.map((p) => `${p.target} p99 ${p.latency.p99.toFixed(1)} ms, ${p.failures}/${p.count} failed`).join('; ')}`,
        );
      } finally {
        await this.stop(c);
      }
    }
  }

  private async sweep(): Promise<void> {
    const { plan, results, log } = this.ctx;
    const peerRuns = results.rounds.map((r) => r.single.peer).filter((run): run is LoadRun => run !== undefined);
    let baseRate = peerRuns.length > 0 ? median(peerRuns.map(okPerSec)) : Number.NaN;
    for (const id of ['peer', 'service'] as const) {
      const c = await this.start(id);
      try {
        if (!Number.isFinite(baseRate)) baseRate = await this.capacityOf(c);
        else await this.warmup(c);
        const series = { contender: id, baseRate, points: [] as SweepPoint[] };
        results.sweep.push(series);
        for (const multiple of plan.sweepMultiples) {
          await this.settle(c);
          if (!c.proc.alive) throw new Error(`${id} exited during the sweep\n${c.proc.tailText()}`);
          const run = await this.load(
            c,
            c.shape,
            plan.sweepS,
            plan.sweepConnections,
            multiple * baseRate,
            plan.sweepSettleS,
          );
          const afterwards = await this.recovery(c);
          series.points.push({ multiple, run, afterwards });
          log(
            `  sweep ${id} ${multiple}x (${Math.round(multiple * baseRate)}/s): sent ${Math.round(run.sent / run.elapsedS)}/s; ${describe(run)}`,
          );
        }
      } finally {
        await this.stop(c);
      }
    }
  }

  private async profile(): Promise<void> {
    const { plan } = this.ctx;
    if (plan.profileS <= 0) return;
    const single = `single text, ${plan.connections} connections`;
    for (const id of ['service', 'koa', 'bare', 'peer'] as const) {
      await this.profileOne(id, single, (c) => this.load(c, c.shape, plan.profileS, plan.connections, null));
    }
    await this.profileOne('service', `batch of ${plan.batchSize}, ${plan.connections} connections`, (c) =>
      this.load(c, c.batchShape ?? c.shape, plan.profileS, plan.connections, null),
    );
    // Where the time goes at 1000 connections: the overload scenario under the profiler, for the
    // service and for the framework floor it is built on.
    for (const id of ['service', 'koa'] as const) {
      await this.profileOne(
        id,
        `overload ${plan.overloadMultiple}x, ${plan.overloadConnections} connections`,
        async (c) => {
          const capacity = await this.capacityOf(c);
          return this.load(c, c.shape, plan.profileS, plan.overloadConnections, plan.overloadMultiple * capacity);
        },
      );
    }
  }

  private async profileOne(id: ContenderId, scenario: string, drive: (c: Running) => Promise<LoadRun>): Promise<void> {
    const { results, log, outDir } = this.ctx;
    const dir = mkdtempSync(path.join(this.ctx.workDir, `prof-${id}-`));
    const c = await this.start(id, { cpuProfDir: dir });
    let run: LoadRun;
    try {
      await this.warmup(c);
      run = await drive(c);
    } finally {
      await this.stop(c);
    }
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (file === undefined) throw new Error(`${id}: no .cpuprofile written (did it exit cleanly on SIGTERM?)`);
    const kept = path.join(outDir, `${id}-${scenario.split(',')[0]?.replace(/\W+/g, '-') ?? 'run'}.cpuprofile`);
    mkdirSync(outDir, { recursive: true });
    copyFileSync(path.join(dir, file), kept);
    const profile = JSON.parse(readFileSync(kept, 'utf8')) as CpuProfile;
    const summary = summarizeProfile(profile, id, scenario, path.relative(this.ctx.paths.root, kept), okPerSec(run));
    results.profiles.push(summary);
    const top = summary.byCategory.filter((e) => e.name !== '(idle)').slice(0, 4);
    log(
      `  profile ${id} (${scenario}): ${Math.round(summary.reqPerSec)} ok/s under the profiler; top: ${top.map((e) => `${e.name} ${(e.share * 100).toFixed(0)}%`).join(', ')}`,
    );
  }
}

export function writeJson(file: string, value: unknown): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(value, null, 1)}\n`);
}

export function makeWorkDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'fasttext-edge-bench-'));
}
