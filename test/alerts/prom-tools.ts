// The chart's rule groups as Prometheus reads them, and Debian's promtool / prometheus binaries
// (package `prometheus`, installed by .ci/run). A missing binary is a failure that says what to
// install, never a skip. Every promtool run has a deadline and is killed by pid past it.
import { execFile } from 'node:child_process';
import { access, constants, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { findOne, renderChart } from '../chart/chart-helm.js';

export const NAMESPACE = 'ml';
export const SELECTOR_LABELS = { namespace: NAMESPACE, service: 'edge-fasttext-edge-management' } as const;

export interface Rule {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly Rule[];
}

/** Absolute path of a Debian `prometheus` package binary, or a thrown error naming the package. */
export async function promBinary(name: 'promtool' | 'prometheus'): Promise<string> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).concat('/usr/bin')) {
    const candidate = path.join(dir, name);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  throw new Error(
    `${name} not found on PATH: install Debian's prometheus package (apt-get install -y prometheus); .ci/run does`,
  );
}

/** The PrometheusRule the chart renders (helm 3) with the monitoring API present. */
export async function renderPrometheusRule(args: readonly string[] = []): Promise<Record<string, unknown>> {
  const manifests = await renderChart(3, [
    '--namespace',
    NAMESPACE,
    '--api-versions',
    'monitoring.coreos.com/v1',
    '--set',
    'metrics.prometheusRule.enabled=true',
    ...args,
  ]);
  return findOne(manifests, 'PrometheusRule');
}

export function ruleGroups(prometheusRule: Record<string, unknown>): RuleGroup[] {
  return (prometheusRule.spec as { groups: RuleGroup[] }).groups;
}

/** Writes `{groups: [...]}` (Prometheus' rule-file format) into a fresh temp dir; returns the file. */
export async function writeRuleFile(groups: readonly RuleGroup[], dir?: string): Promise<string> {
  const target = dir ?? (await mkdtemp(path.join(tmpdir(), 'fte-rules-')));
  const file = path.join(target, 'rules.yaml');
  await writeFile(file, stringify({ groups }));
  return file;
}

export interface ToolRun {
  readonly code: number;
  readonly output: string;
}

/** Runs promtool with a deadline; a non-zero exit is a result (its output says why). */
export async function promtool(args: readonly string[], cwd: string, timeoutMs = 60_000): Promise<ToolRun> {
  const binary = await promBinary('promtool');
  return new Promise((resolve, reject) => {
    execFile(
      binary,
      [...args],
      { cwd, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 8 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`;
        if (error === null) return resolve({ code: 0, output });
        if (typeof error.code === 'number') return resolve({ code: error.code, output });
        reject(
          new Error(
            `promtool ${args.join(' ')}: ${error.message}${error.killed ? ` (killed after ${timeoutMs} ms)` : ''}`,
          ),
        );
      },
    );
  });
}
