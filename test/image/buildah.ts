// buildah as these machines can run it: no Docker engine, so images are built and run with
// Debian's buildah, vfs storage (no overlay mounts needed) and chroot isolation (no OCI
// runtime; `podman run` fails here on rlimits).
import { exec, type ExecOptions, type ExecResult } from './exec.js';

export const STORAGE = ['--storage-driver', 'vfs'] as const;
export const ISOLATION = ['--isolation', 'chroot'] as const;

export function buildah(args: readonly string[], options: ExecOptions): Promise<ExecResult> {
  return exec('buildah', [...STORAGE, ...args], options);
}

/** `buildah --version`, or undefined when buildah is not installed. */
export async function buildahVersion(): Promise<string | undefined> {
  try {
    return (await exec('buildah', ['--version'], { timeoutMs: 10_000 })).stdout.trim();
  } catch {
    return undefined;
  }
}

export interface ImageConfig {
  readonly User?: string;
  readonly ExposedPorts?: Record<string, object>;
  readonly Env?: string[];
  readonly Entrypoint?: string[] | null;
  readonly Cmd?: string[] | null;
  readonly WorkingDir?: string;
  readonly Volumes?: Record<string, object>;
  readonly Labels?: Record<string, string>;
}

export interface ImageInfo {
  readonly config: ImageConfig;
  /** The Docker-format config's HEALTHCHECK (absent from an OCI-format image). */
  readonly healthcheck: { readonly Test?: string[] } | undefined;
  /** Layer sizes as stored (uncompressed tar), bottom first. */
  readonly layers: readonly number[];
}

export async function inspectImage(name: string): Promise<ImageInfo> {
  const { stdout } = await buildah(['inspect', '--type', 'image', name], { timeoutMs: 30_000 });
  const doc = JSON.parse(stdout) as {
    OCIv1: { config?: ImageConfig };
    Docker?: { config?: { Healthcheck?: { Test?: string[] } } };
    Manifest: string;
  };
  const manifest = JSON.parse(doc.Manifest) as { layers?: { size: number }[] };
  return {
    config: doc.OCIv1.config ?? {},
    healthcheck: doc.Docker?.config?.Healthcheck,
    layers: (manifest.layers ?? []).map((l) => l.size),
  };
}

/** Removes containers and images by name, ignoring the ones already gone. */
export async function removeAll(containers: readonly string[], images: readonly string[]): Promise<void> {
  for (const c of containers) await buildah(['rm', c], { timeoutMs: 60_000 }).catch(() => undefined);
  for (const i of images) await buildah(['rmi', '--force', i], { timeoutMs: 60_000 }).catch(() => undefined);
}
