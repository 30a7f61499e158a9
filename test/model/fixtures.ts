// Shared by the model tests: the bundled model, hashing, a recording logger, bounded waits.
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ModelLogger } from '../../app/model/types.js';

export {
  BUNDLED_BYTES,
  BUNDLED_MD5,
  BUNDLED_MODEL,
  BUNDLED_SHA256,
  md5Of,
  md5OfFile,
  waitFor,
} from '../helpers/fixtures.js';

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
