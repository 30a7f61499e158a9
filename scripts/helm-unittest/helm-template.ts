// One `helm template` run: builds the command line from a test's release, capabilities and
// values, runs the real helm binary under a deadline, and splits its output by `# Source:`.
// Helm refuses upstream's default release name `RELEASE-NAME` (names must be lowercase), so a
// lowercase stand-in of the same length is rendered and put back in the output and errors.
import { spawn } from 'node:child_process';
import { stringify } from 'yaml';
import type { YamlMap } from './yaml-data.js';

export const DEFAULT_RELEASE_NAME = 'RELEASE-NAME';
const RELEASE_STAND_IN = 'rn-unittest0';
const TIMEOUT_MS = 60_000;

export interface HelmTemplateRequest {
  readonly binary: string;
  readonly chartDir: string;
  readonly releaseName: string;
  readonly namespace: string;
  readonly isUpgrade: boolean;
  readonly kubeVersion: string;
  readonly apiVersions: readonly string[];
  readonly values: YamlMap;
  readonly includeCrds: boolean;
  readonly skipSchemaValidation: boolean;
}

export interface RenderedDocument {
  /** The `# Source:` path, e.g. `basic/templates/service.yaml`. */
  readonly source: string;
  readonly text: string;
}

export type HelmTemplateResult =
  | { readonly ok: true; readonly documents: readonly RenderedDocument[] }
  | { readonly ok: false; readonly error: string };

export function helmTemplateArgs(request: HelmTemplateRequest): string[] {
  const name = request.releaseName === DEFAULT_RELEASE_NAME ? RELEASE_STAND_IN : request.releaseName;
  const args = [
    'template',
    name,
    request.chartDir,
    '--namespace',
    request.namespace,
    '--kube-version',
    request.kubeVersion,
  ];
  for (const api of request.apiVersions) args.push('--api-versions', api);
  if (request.isUpgrade) args.push('--is-upgrade');
  if (request.includeCrds) args.push('--include-crds');
  if (request.skipSchemaValidation) args.push('--skip-schema-validation');
  args.push('--values', '-');
  return args;
}

function restoreReleaseName(text: string, request: HelmTemplateRequest): string {
  if (request.releaseName !== DEFAULT_RELEASE_NAME) return text;
  return text
    .replaceAll(RELEASE_STAND_IN, DEFAULT_RELEASE_NAME)
    .replaceAll(RELEASE_STAND_IN.toUpperCase(), DEFAULT_RELEASE_NAME);
}

/** The error as the Helm library returned it: no `Error: ` prefix, log lines or CLI hints. */
export function cleanHelmError(stderr: string): string {
  const lines = stderr.split('\n').filter((line) => !/^level=[A-Z]+ /.test(line));
  const start = lines.findIndex((line) => line.startsWith('Error: '));
  const text = (start >= 0 ? lines.slice(start) : lines).join('\n');
  return text
    .replace(/^Error: /, '')
    .replace(/\s*Use --debug flag to render out invalid YAML\s*$/, '')
    .trimEnd();
}

export function splitBySource(stdout: string): RenderedDocument[] {
  const marker = /^---\n# Source: (.*)\n/gm;
  const found: { source: string; start: number; end: number }[] = [];
  for (let match = marker.exec(stdout); match !== null; match = marker.exec(stdout)) {
    found.push({ source: match[1] ?? '', start: match.index, end: match.index + match[0].length });
  }
  return found.map((entry, i) => {
    const next = found[i + 1];
    const body = stdout.slice(entry.end, next === undefined ? stdout.length : next.start);
    // Helm 3 ends each document with one newline; Helm 4 omits it after the last one.
    return { source: entry.source, text: body.replace(/\n*$/, '\n') };
  });
}

interface ProcessOutput {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runProcess(binary: string, args: readonly string[], input: string): Promise<ProcessOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`helm template did not finish within ${TIMEOUT_MS} ms`));
    }, TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.on('error', () => {
      // helm may exit before reading its values (e.g. a bad flag); the exit code tells the story.
    });
    child.stdin.end(input);
  });
}

export async function helmTemplate(request: HelmTemplateRequest): Promise<HelmTemplateResult> {
  const values = stringify(request.values, { lineWidth: 0 });
  const result = await runProcess(request.binary, helmTemplateArgs(request), values);
  if (result.code !== 0) {
    return { ok: false, error: restoreReleaseName(cleanHelmError(result.stderr), request) };
  }
  return { ok: true, documents: splitBySource(restoreReleaseName(result.stdout, request)) };
}
