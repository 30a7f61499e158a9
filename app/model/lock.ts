// The build-time lock (model.lock.json) and the environment overrides pipelines apply.
//
// The lock fixes {uri, md5, bytes, sha256?, name?}. Its uri may be relative to the lock
// file (see uri.ts). MODEL_URI, MODEL_MD5, MODEL_SHA256 and MODEL_NAME override it, with
// one rule that keeps the service honest: a different model is only served with its own
// expected MD5, so MODEL_URI pointing elsewhere without MODEL_MD5 is refused rather than
// trusted. MD5 is not collision-resistant: a lock that also names a sha256 has both checked.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ModelCanary, ModelLock, ResolvedLock } from './types.js';
import { baseName, ModelUriError, parseModelUri, resolveModelUri, sameLocation, type ModelLocation } from './uri.js';

export class LockError extends Error {
  /** 'missing': the lock file does not exist; 'invalid': anything else. */
  constructor(
    message: string,
    readonly reason: 'missing' | 'invalid' = 'invalid',
  ) {
    super(message);
    this.name = 'LockError';
  }
}

export interface LockOverrides {
  readonly uri?: string | undefined;
  readonly md5?: string | undefined;
  readonly sha256?: string | undefined;
  readonly name?: string | undefined;
}

const MD5 = /^[0-9a-f]{32}$/;
const SHA256 = /^[0-9a-f]{64}$/;
// The name appears in URL paths (/v2/models/{name}) and in metrics labels.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const LOCK_KEYS = new Set(['uri', 'md5', 'bytes', 'name', 'sha256', 'canaries']);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function location(reference: string, lockFile: string | undefined, what: string): ModelLocation {
  try {
    return lockFile === undefined ? parseModelUri(reference) : resolveModelUri(reference, lockFile);
  } catch (err) {
    if (err instanceof ModelUriError) throw new LockError(`${what}: ${err.message}`);
    throw err;
  }
}

export function validMd5(value: string): string | undefined {
  const md5 = value.trim().toLowerCase();
  return MD5.test(md5) ? md5 : undefined;
}

export function validSha256(value: string): string | undefined {
  const sha256 = value.trim().toLowerCase();
  return SHA256.test(sha256) ? sha256 : undefined;
}

/** Validates a canaries array ({text, label, score}[]); returns the problem, or the canaries. */
export function parseCanaries(value: unknown): readonly ModelCanary[] | string {
  if (!Array.isArray(value)) return 'must be an array of {"text", "label", "score"}';
  const canaries: ModelCanary[] = [];
  for (const [i, c] of value.entries()) {
    const ok =
      isRecord(c) &&
      Object.keys(c).every((k) => k === 'text' || k === 'label' || k === 'score') &&
      typeof c.text === 'string' &&
      c.text.trim() !== '' &&
      typeof c.label === 'string' &&
      c.label !== '' &&
      !c.label.startsWith('__label__') &&
      typeof c.score === 'number' &&
      c.score >= 0 &&
      c.score <= 1.0001;
    if (!ok)
      return `[${i}] must be {"text": non-empty string, "label": string without __label__, "score": number in [0, 1]}`;
    canaries.push({ text: c.text as string, label: c.label as string, score: c.score as number });
  }
  return canaries;
}

/** A name safe for URL paths: from the file name, extension dropped, odd characters replaced. */
export function deriveName(loc: ModelLocation): string {
  const base = baseName(loc).replace(/\.[^.]*$/, '');
  const name = base
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 64);
  return name === '' ? 'model' : name;
}

/** Validates a parsed lock document; a relative uri is resolved against lockFile. */
export function parseLock(doc: unknown, lockFile: string): ModelLock {
  const where = lockFile;
  if (!isRecord(doc)) throw new LockError(`${where}: expected a JSON object {"uri", "md5", "bytes", "name"?}`);
  const problems: string[] = [];
  for (const key of Object.keys(doc)) {
    if (!LOCK_KEYS.has(key))
      problems.push(`unknown field ${JSON.stringify(key)} (expected uri, md5, bytes, name, sha256, canaries)`);
  }
  const { uri, md5, bytes, name, sha256, canaries } = doc;
  let resolvedUri: string | undefined;
  if (typeof uri !== 'string' || uri.trim() === '') {
    problems.push(
      '"uri" must be a non-empty string (s3://bucket/key, file:///abs/path or a path relative to the lock file)',
    );
  } else {
    try {
      resolvedUri = location(uri, lockFile, '"uri"').uri;
    } catch (err) {
      if (!(err instanceof LockError)) throw err;
      problems.push(err.message);
    }
  }
  const md5Value = typeof md5 === 'string' ? validMd5(md5) : undefined;
  if (md5Value === undefined) problems.push('"md5" must be 32 hexadecimal characters');
  if (typeof bytes !== 'number' || !Number.isSafeInteger(bytes) || bytes <= 0) {
    problems.push('"bytes" must be a positive integer (the model size)');
  }
  if (name !== undefined && (typeof name !== 'string' || !NAME.test(name))) {
    problems.push('"name" must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}');
  }
  const sha256Value = typeof sha256 === 'string' ? validSha256(sha256) : undefined;
  if (sha256 !== undefined && sha256Value === undefined) problems.push('"sha256" must be 64 hexadecimal characters');
  const canaryList = canaries === undefined ? undefined : parseCanaries(canaries);
  if (typeof canaryList === 'string') problems.push(`"canaries" ${canaryList}`);
  if (problems.length > 0 || resolvedUri === undefined || md5Value === undefined || typeof bytes !== 'number') {
    throw new LockError(`${where}: invalid model lock:\n  - ${problems.join('\n  - ')}`);
  }
  const lock: ModelLock = { uri: resolvedUri, md5: md5Value, bytes, name: typeof name === 'string' ? name : undefined };
  if (sha256Value === undefined && canaryList === undefined) return lock;
  return {
    ...lock,
    ...(sha256Value === undefined ? {} : { sha256: sha256Value }),
    ...(canaryList === undefined || typeof canaryList === 'string' ? {} : { canaries: canaryList }),
  };
}

export async function readLockFile(lockFile: string): Promise<ModelLock> {
  let text: string;
  try {
    text = await readFile(lockFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new LockError(
      `cannot read the model lock ${lockFile} (${code}); a release lock is written by npm run model:publish -- <file> <s3 uri> --lock <path>, the bundled model.lock.json by npm run model:lock -- <uri>`,
      code === 'ENOENT' ? 'missing' : 'invalid',
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new LockError(`${lockFile}: not valid JSON (${(err as Error).message})`);
  }
  return parseLock(doc, lockFile);
}

/**
 * Applies the environment overrides to a lock. `lock` may be undefined only when both
 * MODEL_URI and MODEL_MD5 are set. The lock's bytes are kept only while the uri and md5
 * are the lock's own (any other object has an unknown size until HEAD says it).
 */
export function applyOverrides(
  lock: ModelLock | undefined,
  lockFile: string | undefined,
  overrides: LockOverrides,
): ResolvedLock {
  const overridden: ('uri' | 'md5' | 'sha256' | 'name')[] = [];
  const lockLoc = lock === undefined ? undefined : location(lock.uri, undefined, 'lock uri');

  let loc = lockLoc;
  if (overrides.uri !== undefined) {
    loc = location(overrides.uri, undefined, 'MODEL_URI');
    overridden.push('uri');
  }
  let md5 = lock?.md5;
  if (overrides.md5 !== undefined) {
    md5 = validMd5(overrides.md5);
    if (md5 === undefined)
      throw new LockError(`MODEL_MD5=${JSON.stringify(overrides.md5)} is not 32 hexadecimal characters`);
    overridden.push('md5');
  }
  if (loc === undefined || md5 === undefined) {
    throw new LockError('no model: the lock file is missing and MODEL_URI and MODEL_MD5 are not both set');
  }
  const uriChanged = lockLoc === undefined || !sameLocation(loc, lockLoc);
  if (uriChanged && overrides.md5 === undefined) {
    throw new LockError(
      `MODEL_URI=${loc.uri} is not the locked model (${lockLoc?.uri ?? 'none'}) and MODEL_MD5 is not set: ` +
        'a model is never loaded without its expected MD5; set MODEL_MD5 too ' +
        '(npm run model:lock -- <uri> computes it)',
    );
  }
  const sameObject = !uriChanged && lock !== undefined && md5 === lock.md5;
  // The lock's sha256 describes the lock's object: it goes with it, not with another MD5.
  let sha256 = sameObject ? lock.sha256 : undefined;
  if (overrides.sha256 !== undefined) {
    sha256 = validSha256(overrides.sha256);
    if (sha256 === undefined)
      throw new LockError(`MODEL_SHA256=${JSON.stringify(overrides.sha256)} is not 64 hexadecimal characters`);
    overridden.push('sha256');
  }

  let name: string;
  if (overrides.name !== undefined) {
    if (!NAME.test(overrides.name)) {
      throw new LockError(`MODEL_NAME=${JSON.stringify(overrides.name)} must match [A-Za-z0-9][A-Za-z0-9._-]{0,63}`);
    }
    name = overrides.name;
    overridden.push('name');
  } else {
    name = (!uriChanged ? lock?.name : undefined) ?? deriveName(loc);
  }
  return {
    uri: loc.uri,
    md5,
    ...(sha256 === undefined ? {} : { sha256 }),
    bytes: sameObject ? lock.bytes : undefined,
    ...(sameObject && lock.canaries !== undefined ? { canaries: lock.canaries } : {}),
    name,
    lockFile,
    overridden,
  };
}

/** Reads the lock file named by the config and applies MODEL_URI / MODEL_MD5 / MODEL_SHA256 / MODEL_NAME. */
export async function resolveLock(model: {
  readonly lockFile: string;
  readonly uri: string | undefined;
  readonly md5: string | undefined;
  readonly sha256?: string | undefined;
  readonly name: string | undefined;
}): Promise<ResolvedLock> {
  const fullyOverridden = model.uri !== undefined && model.md5 !== undefined;
  let lock: ModelLock | undefined;
  try {
    lock = await readLockFile(model.lockFile);
  } catch (err) {
    // A pipeline that names the model and its MD5 needs no lock; a broken lock still fails.
    if (!(fullyOverridden && err instanceof LockError && err.reason === 'missing')) throw err;
  }
  return applyOverrides(lock, lock === undefined ? undefined : path.resolve(model.lockFile), model);
}

/** The lock file's text as the model:lock and model:publish scripts write it. */
export function formatLock(lock: {
  uri: string;
  md5: string;
  bytes: number;
  name?: string | undefined;
  sha256?: string | undefined;
  canaries?: readonly ModelCanary[] | undefined;
}): string {
  const doc: Record<string, string | number | readonly ModelCanary[]> = {
    uri: lock.uri,
    md5: lock.md5,
    bytes: lock.bytes,
  };
  if (lock.name !== undefined) doc.name = lock.name;
  if (lock.sha256 !== undefined) doc.sha256 = lock.sha256;
  if (lock.canaries !== undefined) doc.canaries = lock.canaries;
  return `${JSON.stringify(doc, null, 2)}\n`;
}
