// An offline stand-in for the Dockerfile's default base image (node:24-bookworm-slim), which
// cannot be pulled here (no registry). It is assembled from this machine's own files: its
// Node binary and npm, /bin/sh and env (npm's scripts need them), and exactly the shared
// libraries that ldd says node, the fastText binary and those two load, in a merged-/usr
// Debian layout with the official image's `node` user (1000) and PATH. It stands in for the
// base only: the Dockerfile on top of it is built as written.
import { chmod, cp, mkdir, mkdtemp, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildah } from './buildah.js';
import { exec } from './exec.js';

export interface StandInBase {
  readonly name: string;
  readonly nodeVersion: string;
  readonly npmVersion: string;
  /** Host files copied in (binaries and libraries). */
  readonly files: readonly string[];
}

/** The libraries `ldd` resolves for a binary, plus its program interpreter. */
export async function sharedLibraries(binary: string): Promise<string[]> {
  const { stdout } = await exec('ldd', [binary], { timeoutMs: 10_000 });
  const libs: string[] = [];
  for (const line of stdout.split('\n')) {
    const linked = /=>\s+(\/\S+)/.exec(line)?.[1] ?? /^\s*(\/\S+)\s+\(0x/.exec(line)?.[1];
    if (linked !== undefined) libs.push(linked);
    else if (/not found/.test(line)) throw new Error(`ldd ${binary}: ${line.trim()}`);
  }
  return libs;
}

async function copyFileAs(rootfs: string, hostPath: string, imagePath = hostPath, mode = 0o755): Promise<void> {
  const target = path.join(rootfs, imagePath);
  await mkdir(path.dirname(target), { recursive: true });
  // The soname is often a symlink on the host (libstdc++.so.6 -> ...0.30): copy the bytes.
  await cp(await realpath(hostPath), target);
  await chmod(target, mode);
}

export async function buildStandInBase(name: string, fastTextBinary: string): Promise<StandInBase> {
  const rootfs = await mkdtemp(path.join(os.tmpdir(), 'standin-rootfs-'));
  try {
    for (const dir of [
      'usr/bin',
      'usr/sbin',
      'usr/lib',
      'usr/lib64',
      'usr/local/bin',
      'usr/local/lib/node_modules',
      'etc',
      'var/cache',
      'var/lib',
      'home/node',
      'root',
      'run',
    ]) {
      await mkdir(path.join(rootfs, dir), { recursive: true });
    }
    for (const link of ['bin', 'sbin', 'lib', 'lib64']) await symlink(`usr/${link}`, path.join(rootfs, link));
    for (const dir of ['tmp', 'var/tmp']) {
      await mkdir(path.join(rootfs, dir), { recursive: true });
      await chmod(path.join(rootfs, dir), 0o1777);
    }
    await chmod(path.join(rootfs, 'root'), 0o700);

    const node = process.execPath;
    const shell = await realpath('/bin/sh');
    const env = '/usr/bin/env';
    await copyFileAs(rootfs, node, '/usr/local/bin/node');
    await copyFileAs(rootfs, shell, `/usr/bin/${path.basename(shell)}`);
    if (path.basename(shell) !== 'sh') await symlink(path.basename(shell), path.join(rootfs, 'usr/bin/sh'));
    await copyFileAs(rootfs, env);

    const globalRoot = (await exec('npm', ['root', '-g'], { timeoutMs: 30_000 })).stdout.trim();
    const npmDir = path.join(globalRoot, 'npm');
    await cp(npmDir, path.join(rootfs, 'usr/local/lib/node_modules/npm'), { recursive: true, verbatimSymlinks: true });
    await symlink('../lib/node_modules/npm/bin/npm-cli.js', path.join(rootfs, 'usr/local/bin/npm'));
    await symlink('../lib/node_modules/npm/bin/npx-cli.js', path.join(rootfs, 'usr/local/bin/npx'));

    const libraries = new Set<string>();
    for (const binary of [node, fastTextBinary, shell, env])
      for (const lib of await sharedLibraries(binary)) libraries.add(lib);
    for (const lib of libraries) await copyFileAs(rootfs, lib);

    await writeFile(
      path.join(rootfs, 'etc/passwd'),
      'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n',
    );
    await writeFile(path.join(rootfs, 'etc/group'), 'root:x:0:\nnode:x:1000:\n');

    const nodeVersion = process.version;
    const npmVersion = (await exec('npm', ['--version'], { timeoutMs: 30_000 })).stdout.trim();
    const container = (await buildah(['from', 'scratch'], { timeoutMs: 60_000 })).stdout.trim();
    try {
      await buildah(['copy', container, rootfs, '/'], { timeoutMs: 120_000 });
      await buildah(
        [
          'config',
          '--env',
          'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
          '--env',
          `NODE_VERSION=${nodeVersion.replace(/^v/, '')}`,
          '--cmd',
          'node',
          '--label',
          `org.opencontainers.image.description=offline stand-in for node:24-bookworm-slim: Node ${nodeVersion} from the test machine`,
          container,
        ],
        { timeoutMs: 30_000 },
      );
      await buildah(['commit', '--quiet', container, name], { timeoutMs: 180_000 });
    } finally {
      await buildah(['rm', container], { timeoutMs: 60_000 }).catch(() => undefined);
    }
    return { name, nodeVersion, npmVersion, files: [node, shell, env, ...libraries] };
  } finally {
    await rm(rootfs, { recursive: true, force: true });
  }
}
