// Starts the real service (`node dist/app/main.js`, built by `npm test` before ava runs) on an
// ephemeral port, reads its JSON log lines, and stops it by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { reapWithWorker } from './reap.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MAIN = path.join(ROOT, 'dist', 'app', 'main.js');
export { BUNDLED_MD5, BUNDLED_MODEL, freePort } from './fixtures.js';

export interface LogLine {
  readonly level?: number;
  readonly event?: string;
  readonly msg?: string;
  readonly [key: string]: unknown;
}

export interface RunningService {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly url: string;
  /** The management listener's URL when MANAGEMENT_PORT was asked for, else the traffic URL. */
  readonly managementUrl: string;
  readonly logs: LogLine[];
  /** The same lines as printed, for what parsing hides (duplicate keys). */
  readonly rawLogs: string[];
  readonly stderr: string[];
  /** Resolves with the first log line matching, or rejects after timeoutMs. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs: number): Promise<LogLine>;
  /** Polls GET /ready until 200, or rejects after timeoutMs. */
  waitReady(timeoutMs: number): Promise<void>;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after graceMs; resolves when the process is gone. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartOptions {
  readonly env?: Readonly<Record<string, string>>;
  /** Wait for the listening line (default true). */
  readonly waitListening?: boolean;
  readonly timeoutMs?: number;
  /** Another build's dist/app/main.js (default MAIN). */
  readonly main?: string;
  /** Another Node binary (default: the one running the tests, the project's pinned Node). */
  readonly node?: string;
}

export async function startService(options: StartOptions = {}): Promise<RunningService> {
  const main = options.main ?? MAIN;
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first (npm test does)`);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'info',
    SHUTDOWN_DELAY_MS: '0',
    ...options.env,
  };
  const proc = spawn(options.node ?? process.execPath, [main], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  reapWithWorker(proc);
  const logs: LogLine[] = [];
  const rawLogs: string[] = [];
  const stderr: string[] = [];
  const listeners = new Set<() => void>();
  let buffered = '';
  proc.stdout?.setEncoding('utf8');
  proc.stdout?.on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      rawLogs.push(line);
      try {
        logs.push(JSON.parse(line) as LogLine);
      } catch {
        logs.push({ msg: line });
      }
    }
    for (const l of listeners) l();
  });
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (chunk: string) => stderr.push(chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => {
      for (const l of listeners) l();
      resolve({ code, signal });
    });
  });
  let hasExited = false;
  void exited.then(() => (hasExited = true));

  function waitForLog(match: (line: LogLine) => boolean, timeoutMs: number): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = logs.find(match);
        if (found) {
          done();
          resolve(found);
        } else if (hasExited || proc.exitCode !== null) {
          done();
          reject(new Error(`service exited before the expected log line; stderr: ${stderr.join('')}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching log line within ${timeoutMs} ms; last lines: ${JSON.stringify(logs.slice(-5))}`));
      }, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        listeners.delete(check);
      }
      listeners.add(check);
      check();
    });
  }

  async function stop(graceMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    }
    return exited;
  }

  const timeoutMs = options.timeoutMs ?? 15_000;
  let url = '';
  let managementUrl = '';
  if (options.waitListening !== false) {
    try {
      const line = await waitForLog((l) => l.event === 'listening', timeoutMs);
      url = `http://127.0.0.1:${String(line.port)}`;
      managementUrl = line.managementPort ? `http://127.0.0.1:${Number(line.managementPort)}` : url;
    } catch (error) {
      await stop(1000);
      throw error;
    }
  }

  async function waitReady(readyTimeoutMs: number): Promise<void> {
    const deadline = Date.now() + readyTimeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (proc.exitCode !== null)
        throw new Error(`service exited (${proc.exitCode}) before ready; stderr: ${stderr.join('')}`);
      try {
        const res = await fetch(`${managementUrl}/ready`, { signal: AbortSignal.timeout(1000) });
        last = await res.text();
        if (res.status === 200) return;
      } catch (error) {
        last = String(error);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`not ready within ${readyTimeoutMs} ms; last /ready: ${last}`);
  }

  return { proc, pid: proc.pid ?? -1, url, managementUrl, logs, rawLogs, stderr, waitForLog, waitReady, exited, stop };
}

/** The body as JSON when it is JSON, else the text. */
function parseBody(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** POST JSON with a deadline; returns status, headers and parsed body. */
export async function postJson(
  url: string,
  body: unknown,
  init: { timeoutMs?: number; headers?: Record<string, string>; raw?: string } = {},
): Promise<{ status: number; headers: Headers; body: unknown }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...init.headers },
    body: init.raw ?? JSON.stringify(body),
    signal: AbortSignal.timeout(init.timeoutMs ?? 15_000),
  });
  return { status: res.status, headers: res.headers, body: parseBody(await res.text()) };
}

export async function getJson(
  url: string,
  timeoutMs = 5000,
): Promise<{ status: number; headers: Headers; body: unknown }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, headers: res.headers, body: parseBody(await res.text()) };
}
