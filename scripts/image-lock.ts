// Run by the Dockerfile's build stage (node dist/scripts/image-lock.js <lock file>): fixes
// the model the image will serve. With the MODEL_URI build argument set, it writes the lock
// from MODEL_URI, MODEL_MD5, MODEL_BYTES, MODEL_NAME, MODEL_SHA256 and MODEL_CANARIES (JSON);
// without it, the committed lock stays. Either way the lock is validated exactly as the service reads it, so an image
// with a broken lock fails to build instead of failing to start.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { formatLock, LockError, parseLock, readLockFile } from '../app/model/lock.js';

function arg(name: string): string | undefined {
  const value = process.env[name]?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/** parseLock, keeping the uri as given (a relative uri stays relative to the lock). */
function parseLockAsWritten(doc: Record<string, unknown>, lockFile: string): Parameters<typeof formatLock>[0] {
  const lock = parseLock(doc, lockFile);
  return { ...lock, uri: String(doc.uri), bytes: lock.bytes ?? 0 };
}

async function main(): Promise<void> {
  const lockFile = path.resolve(process.argv[2] ?? 'model.lock.json');
  const uri = arg('MODEL_URI');
  if (uri === undefined) {
    for (const name of ['MODEL_MD5', 'MODEL_BYTES', 'MODEL_NAME', 'MODEL_SHA256', 'MODEL_CANARIES']) {
      if (arg(name) !== undefined)
        throw new LockError(
          `${name} is set but MODEL_URI is not: pass all of MODEL_URI, MODEL_MD5 and MODEL_BYTES, or none`,
        );
    }
    const lock = await readLockFile(lockFile);
    process.stdout.write(`image-lock: serving the committed lock: ${lock.uri} md5 ${lock.md5}\n`);
    return;
  }
  const md5 = arg('MODEL_MD5');
  const bytes = arg('MODEL_BYTES');
  if (md5 === undefined || bytes === undefined) {
    throw new LockError(
      'MODEL_URI needs MODEL_MD5 and MODEL_BYTES too (model:publish writes all three, with MODEL_SHA256 and MODEL_CANARIES, to the release lock it names with --lock)',
    );
  }
  const canaries = arg('MODEL_CANARIES');
  let canaryDoc: unknown;
  try {
    canaryDoc = canaries === undefined ? undefined : JSON.parse(canaries);
  } catch (err) {
    throw new LockError(`MODEL_CANARIES is not JSON (${(err as Error).message}): pass the lock's "canaries" array`);
  }
  const doc: Record<string, unknown> = {
    uri,
    md5: md5.toLowerCase(),
    bytes: /^\d+$/.test(bytes) ? Number(bytes) : NaN,
  };
  if (arg('MODEL_NAME') !== undefined) doc.name = arg('MODEL_NAME');
  if (arg('MODEL_SHA256') !== undefined) doc.sha256 = arg('MODEL_SHA256')?.toLowerCase();
  if (canaryDoc !== undefined) doc.canaries = canaryDoc;
  // Validated first (every problem named), then written in the lock's own format.
  const text = formatLock(parseLockAsWritten(doc, lockFile));
  const lock = parseLock(JSON.parse(text), lockFile);
  await writeFile(lockFile, text);
  process.stdout.write(`image-lock: wrote ${lockFile}: ${lock.uri} md5 ${lock.md5} (${lock.bytes ?? 0} bytes)\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`image-lock: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
