// Runs the helm-unittest CLI as a user would (a child process with its own exit status),
// under a deadline, and reads the counts of its summary block.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = path.join(REPO_ROOT, 'scripts', 'helm-unittest', 'cli.ts');
const TSX = path.join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs');
const DEADLINE_MS = 60_000;

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(
  args: readonly string[],
  options: { cwd: string; helmMajor: 3 | 4; env?: NodeJS.ProcessEnv },
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', `file://${TSX}`, CLI, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ...options.env, HELM_MAJOR: String(options.helmMajor), NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`helm-unittest ${args.join(' ')} did not finish within ${DEADLINE_MS} ms`));
    }, DEADLINE_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface Counts {
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
  readonly total: number;
}

/** The counts of one summary line (`Charts:`, `Test Suites:` or `Tests:`). */
export function summaryCounts(stdout: string, label: 'Charts' | 'Test Suites' | 'Tests'): Counts | undefined {
  const line = stdout.split('\n').find((l) => l.startsWith(`${label}:`));
  if (line === undefined) return undefined;
  const count = (word: string): number => Number(new RegExp(`(\\d+) ${word}`).exec(line)?.[1] ?? 0);
  return { passed: count('passed'), failed: count('failed'), skipped: count('skipped'), total: count('total') };
}
