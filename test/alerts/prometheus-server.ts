// A real Prometheus server (Debian's `prometheus` package) on 127.0.0.1 for the end-to-end alert
// test: temp config and TSDB, 1 s scrape and evaluation, static targets carrying the labels a
// ServiceMonitor target would get. Stopped by pid (SIGTERM, then SIGKILL past a grace period).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../helpers/service.js';
import { promBinary } from './prom-tools.js';
import { reapWithWorker } from '../helpers/reap.js';

export interface Target {
  /** host:port of the /metrics listener. */
  readonly address: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface ActiveAlert {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly state: 'pending' | 'firing' | 'inactive';
  readonly activeAt?: string;
}

export interface PrometheusServer {
  readonly pid: number;
  readonly url: string;
  alerts(): Promise<ActiveAlert[]>;
  /** Instant query; the result vector's samples. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  stop(): Promise<void>;
  readonly output: () => string;
}

export async function startPrometheus(options: {
  readonly rulesFile: string;
  readonly targets: readonly Target[];
  readonly readyTimeoutMs?: number;
}): Promise<PrometheusServer> {
  const binary = await promBinary('prometheus');
  const dir = await mkdtemp(path.join(tmpdir(), 'fte-prom-'));
  const config = {
    global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    rule_files: [options.rulesFile],
    scrape_configs: [
      {
        job_name: 'fasttext-edge',
        metrics_path: '/metrics',
        static_configs: options.targets.map((t) => ({ targets: [t.address], labels: t.labels })),
      },
    ],
  };
  await writeFile(path.join(dir, 'prometheus.yml'), stringify(config));
  const port = await freePort();
  const proc: ChildProcess = spawn(
    binary,
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  reapWithWorker(proc);
  let output = '';
  proc.stdout?.on('data', (c: Buffer) => (output += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;

  async function stop(): Promise<void> {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  }

  async function api<T>(pathAndQuery: string): Promise<T> {
    const res = await fetch(`${url}${pathAndQuery}`, { signal: AbortSignal.timeout(3000) });
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${pathAndQuery}: ${body.error ?? res.status}`);
    return body.data;
  }

  const deadline = Date.now() + (options.readyTimeoutMs ?? 20_000);
  for (;;) {
    if (proc.exitCode !== null) {
      await stop();
      throw new Error(`prometheus exited (${proc.exitCode}): ${output}`);
    }
    try {
      if ((await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) })).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus not ready within the deadline: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    pid: proc.pid ?? -1,
    url,
    alerts: async () => (await api<{ alerts: ActiveAlert[] }>('/api/v1/alerts')).alerts,
    query: async (expr) =>
      (
        await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
          `/api/v1/query?query=${encodeURIComponent(expr)}`,
        )
      ).result,
    stop,
    output: () => output,
  };
}
