// Runs a command to completion under a deadline (killed by its pid past it), keeping its
// output; a non-zero exit is an error that carries the output's tail.
import { spawn } from 'node:child_process';

export class CommandError extends Error {
  constructor(
    message: string,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

export interface ExecOptions {
  readonly timeoutMs: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Called with each complete output line (stdout and stderr), e.g. to keep a build log. */
  readonly onLine?: (line: string) => void;
}

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

const tail = (text: string, lines = 25): string => text.trimEnd().split('\n').slice(-lines).join('\n');

export function exec(command: string, args: readonly string[], options: ExecOptions): Promise<ExecResult> {
  const started = performance.now();
  const shown = `${command} ${args.join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let partial = '';
    const lines = (chunk: string): void => {
      if (options.onLine === undefined) return;
      partial += chunk;
      const parts = partial.split('\n');
      partial = parts.pop() ?? '';
      for (const p of parts) options.onLine(p);
    };
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      stdout += d;
      lines(d);
    });
    child.stderr.on('data', (d: string) => {
      stderr += d;
      lines(d);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new CommandError(`${shown}: ${err.message}`, stdout, stderr));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (partial !== '') options.onLine?.(partial);
      const ms = performance.now() - started;
      if (timedOut)
        reject(
          new CommandError(
            `${shown}: no result within ${options.timeoutMs} ms; killed\n${tail(stderr || stdout)}`,
            stdout,
            stderr,
          ),
        );
      else if (code !== 0)
        reject(
          new CommandError(`${shown}: ${signal ?? `exit status ${code}`}\n${tail(stderr || stdout)}`, stdout, stderr),
        );
      else resolve({ stdout, stderr, ms });
    });
  });
}
