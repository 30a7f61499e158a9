// Runs the real helm (3 or 4, from scripts/helm/helm-binary.ts) against chart/ and parses what
// it renders. Shared by the chart's ava tests; every helm process has a deadline and is killed
// by pid when it passes it.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { helmBinary, type HelmMajor } from '../../scripts/helm/helm-binary.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHART = path.join(ROOT, 'chart');
export const HELM_MAJORS: readonly HelmMajor[] = [3, 4];
export const RELEASE = 'edge';

/** What a release pipeline passes on top of an overlay. */
export const PIPELINE_MD5 = '340156704bb8c8e50c4abf35a7ec2569';
export const PIPELINE_SET: readonly string[] = [
  '--set',
  'image.tag=1.4.2',
  '--set',
  'model.uri=s3://models/lid/model.ftz',
  '--set-string',
  `model.md5=${PIPELINE_MD5}`,
];

export interface Environment {
  readonly name: 'default' | 'dev' | 'staging' | 'prod';
  /** Overlay and pipeline arguments for `helm template|lint`. */
  readonly args: readonly string[];
}

const overlay = (name: string): string[] => ['-f', path.join(CHART, `values-${name}.yaml`)];

export const ENVIRONMENTS: readonly Environment[] = [
  { name: 'default', args: [] },
  { name: 'dev', args: overlay('dev') },
  { name: 'staging', args: [...overlay('staging'), ...PIPELINE_SET] },
  { name: 'prod', args: [...overlay('prod'), ...PIPELINE_SET] },
];

export interface HelmRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

// ava runs a file's tests concurrently; two helm processes at a time keep a 2-core machine
// (shared with the other test files) responsive.
const MAX_CONCURRENT_HELM = 2;
let running = 0;
const waiting: (() => void)[] = [];

async function withHelmSlot<T>(work: () => Promise<T>): Promise<T> {
  // A finished run hands its slot to the next waiter directly, so the count never overshoots.
  if (running >= MAX_CONCURRENT_HELM) await new Promise<void>((resolve) => waiting.push(resolve));
  else running += 1;
  try {
    return await work();
  } finally {
    const next = waiting.shift();
    if (next === undefined) running -= 1;
    else next();
  }
}

/** Runs helm with a deadline; a non-zero exit is a result, not an exception. */
export async function runHelm(major: HelmMajor, args: readonly string[], timeoutMs = 30_000): Promise<HelmRun> {
  const binary = await helmBinary(major);
  return withHelmSlot(() => execHelm(binary, major, args, timeoutMs));
}

function execHelm(binary: string, major: HelmMajor, args: readonly string[], timeoutMs: number): Promise<HelmRun> {
  return new Promise((resolve, reject) => {
    execFile(
      binary,
      [...args],
      { cwd: ROOT, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error === null) return resolve({ code: 0, stdout, stderr });
        if (typeof error.code === 'number') return resolve({ code: error.code, stdout, stderr });
        reject(
          new Error(
            `helm ${major} ${args.join(' ')}: ${error.message}${error.killed ? ` (killed after ${timeoutMs} ms)` : ''}`,
          ),
        );
      },
    );
  });
}

export interface Manifest {
  /** The template file, e.g. templates/deployment.yaml. */
  readonly source: string;
  readonly doc: Record<string, unknown>;
}

/** The non-empty documents of `helm template` output, each with the file it came from. */
export function parseManifests(stdout: string): Manifest[] {
  const manifests: Manifest[] = [];
  // helm prints every document as `---`, `# Source: <chart>/<file>`, then the YAML.
  for (const chunk of stdout.split(/^---\s*$/m)) {
    const doc: unknown = parse(chunk);
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) continue;
    const source = /^# Source: [^/]+\/(.+)$/m.exec(chunk)?.[1] ?? '';
    manifests.push({ source, doc: doc as Record<string, unknown> });
  }
  return manifests;
}

/** `helm template edge chart <args>`, parsed; throws with helm's stderr when it fails. */
export async function renderChart(major: HelmMajor, args: readonly string[], chartDir = CHART): Promise<Manifest[]> {
  const run = await runHelm(major, ['template', RELEASE, chartDir, ...args]);
  if (run.code !== 0) throw new Error(`helm ${major} template failed (${run.code}): ${run.stderr}`);
  return parseManifests(run.stdout);
}

/** The one document of `kind` (and `name` when given); throws when there is not exactly one. */
export function findOne(manifests: readonly Manifest[], kind: string, name?: string): Record<string, unknown> {
  const found = manifests.filter(
    (m) =>
      m.doc.kind === kind && (name === undefined || (m.doc.metadata as { name?: string } | undefined)?.name === name),
  );
  if (found.length !== 1)
    throw new Error(`expected one ${kind}${name === undefined ? '' : ` ${name}`}, found ${found.length}`);
  return (found[0] as Manifest).doc;
}
