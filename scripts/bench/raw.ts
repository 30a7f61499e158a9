// The inference limit: the fastText binary alone, `predict-prob <model> <file> 1`, its
// output discarded. Timed over the whole corpus file and over a one-line file (which is
// only the model load), so lines/s excludes loading. Also timed with stdin and stdout as
// pipes (as the engine drives it), which shows what the pipes cost fastText itself.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { corpusLines } from './corpus.js';
import type { RawRun } from './results.js';
import type { Supervisor } from './supervisor.js';

/** Single-quoted for sh. */
function shellQuote(s: string): string {
  return `'${s.replace(/'/g, "'\\''")}'`;
}

async function timeRun(
  supervisor: Supervisor,
  fastText: string,
  model: string,
  file: string,
  deadlineMs: number,
  piped = false,
): Promise<number> {
  const started = performance.now();
  // Piped: stdin and stdout are pipes, as the engine drives it (fastText flushes every output line).
  const proc = piped
    ? supervisor.start(
        'fasttext-raw-piped',
        '/bin/sh',
        [
          '-c',
          `cat ${shellQuote(file)} | ${shellQuote(fastText)} predict-prob ${shellQuote(model)} - 1 | cat > /dev/null`,
        ],
        { discardStdout: true },
      )
    : supervisor.start('fasttext-raw', fastText, ['predict-prob', model, file, '1'], { discardStdout: true });
  const exit = await Promise.race([
    proc.exited,
    new Promise<null>((resolve) => setTimeout(() => resolve(null), deadlineMs)),
  ]);
  if (exit === null) {
    await supervisor.stop(proc, 500);
    throw new Error(`fasttext predict-prob did not finish within ${deadlineMs} ms`);
  }
  if (exit.code !== 0)
    throw new Error(`fasttext predict-prob exited with ${exit.signal ?? exit.code}\n${proc.tailText()}`);
  return (performance.now() - started) / 1000;
}

export function writeRawInputs(dir: string, texts: readonly string[], lines: number): { big: string; one: string } {
  const big = path.join(dir, 'raw-corpus.txt');
  const one = path.join(dir, 'raw-one.txt');
  writeFileSync(big, corpusLines(texts, lines));
  writeFileSync(one, corpusLines(texts, 1));
  return { big, one };
}

export async function measureRaw(
  supervisor: Supervisor,
  fastText: string,
  model: string,
  inputs: { big: string; one: string },
  lines: number,
): Promise<RawRun> {
  const loadS = await timeRun(supervisor, fastText, model, inputs.one, 30_000);
  const totalS = await timeRun(supervisor, fastText, model, inputs.big, 120_000);
  const pipedS = await timeRun(supervisor, fastText, model, inputs.big, 120_000, true);
  return {
    lines,
    totalS,
    loadS,
    linesPerSec: lines / Math.max(1e-6, totalS - loadS),
    pipedLinesPerSec: lines / Math.max(1e-6, pipedS - loadS),
  };
}
