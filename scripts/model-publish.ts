// npm run model:publish -- <model file> s3://bucket/key [--lock FILE] [--name NAME] [--canary TEXT]... [--force]
// Publishes a trained model: checks it is a fastText model, computes its MD5, SHA-256 and
// size from its bytes in one pass (never from an ETag, which is no MD5 for multipart
// uploads), refuses a key that already holds other bytes (keys are immutable: pods running
// a release re-download its key at every start), uploads with Content-MD5 on every request
// and the checksums as object metadata, reads it back through the service's own S3 source
// to prove the stored bytes hash the same, and only then writes the release lock
// (releases/<name>.lock.json by default; model.lock.json stays the bundled default).
import { runCli, UsageError } from './model/run-cli.js';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../app/config.js';
import { deriveName, formatLock, LockError, parseLock } from '../app/model/lock.js';
import { classifyS3Error, createS3Client } from '../app/model/s3.js';
import { SourceError, SourceFactory } from '../app/model/source.js';
import type { ModelCanary } from '../app/model/types.js';
import { ModelUriError, parseModelUri } from '../app/model/uri.js';
import { recordCanaries } from './model/canaries.js';
import { FastTextError } from './model/fasttext-cli.js';
import { digestFile, digestStream, type FileDigest } from './model/file-digest.js';
import { checkFastTextHeader, NotAModelError } from './model/fasttext-header.js';
import { MiB, MIN_PART_SIZE, effectivePartSize, uploadFile, UploadError } from './model/s3-upload.js';
import { describe, differences, headStored } from './model/stored-object.js';

const USAGE = `Usage: npm run model:publish -- <model file> s3://bucket/key [options]

Uploads a fastText model (.bin or .ftz) to S3, proves the stored bytes hash to the file's
MD5 and SHA-256, and writes the release lock (uri, md5, sha256, bytes, name, canaries) that
release:values and image builds read. model.lock.json, the bundled default that npm start
and the tests serve, is never written unless --lock names it.

  --lock FILE       the lock file to write (default: releases/<name>.lock.json)
  --name NAME       the model's name in the API (default: the key's file name, no extension)
  --canary TEXT     a text whose top label and score (from this model) go into the lock's
                    canaries; repeat for more
  --force           overwrite a key that already holds different bytes (pods running a
                    release on that key then fail their next start: publish a new key instead)
  --part-size MIB   files larger than this go multipart, in parts of this size (default 16,
                    minimum 5)
  --no-verify       skip reading the object back (the size is still checked with HEAD)
  -h, --help        this help

A key that already holds the same bytes (size and stored md5/sha256 metadata) is not
uploaded again: the command succeeds and writes the lock. A key holding other bytes is
refused (exit 1). New keys are written with If-None-Match: * where the store supports it.

S3 settings come from the service's environment: AWS_REGION, S3_ENDPOINT (or
AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL), S3_FORCE_PATH_STYLE, S3_CHECKSUMS, and the AWS
default credential chain (AWS_ACCESS_KEY_ID..., AWS_PROFILE, web identity, instance role).
The bucket must exist. Exit status: 0 published, 1 upload, verification or existing key,
2 bad arguments, settings or file.`;

const PROGRESS_EVERY_MS = 2000;

interface PublishArgs {
  readonly file: string;
  readonly uri: string;
  /** undefined: releases/<name>.lock.json under the working directory. */
  readonly lock: string | undefined;
  readonly name: string | undefined;
  readonly canaries: readonly string[];
  readonly force: boolean;
  readonly partSize: number;
  readonly verify: boolean;
}

function parse(argv: string[]): PublishArgs | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        lock: { type: 'string' },
        name: { type: 'string' },
        canary: { type: 'string', multiple: true },
        force: { type: 'boolean' },
        'part-size': { type: 'string' },
        'no-verify': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help === true) return 'help';
  if (parsed.positionals.length !== 2) throw new UsageError('expected <model file> and s3://bucket/key');
  const [file = '', uri = ''] = parsed.positionals;
  if (!uri.startsWith('s3://')) throw new UsageError(`${uri}: the destination must be s3://bucket/key`);
  const partMiB = v['part-size'] === undefined ? 16 : Number(v['part-size']);
  if (!Number.isFinite(partMiB) || partMiB * MiB < MIN_PART_SIZE)
    throw new UsageError(`--part-size ${v['part-size'] ?? ''}: expected a number of MiB >= 5`);
  // npm runs scripts from the project root; INIT_CWD is where the user typed the command.
  const cwd = process.env.INIT_CWD ?? process.cwd();
  return {
    file: path.resolve(cwd, file),
    uri,
    lock: v.lock === undefined ? undefined : path.resolve(cwd, v.lock),
    name: v.name,
    canaries: v.canary ?? [],
    force: v.force === true,
    partSize: Math.floor(partMiB * MiB),
    verify: v['no-verify'] !== true,
  };
}

const log = (line: string): void => void process.stderr.write(`${line}\n`);

function reporter(what: string, total: number): (done: number) => void {
  const started = performance.now();
  let last = started;
  return (done) => {
    const now = performance.now();
    if (now - last < PROGRESS_EVERY_MS && done < total) return;
    last = now;
    const rate = done / MiB / Math.max(0.001, (now - started) / 1000);
    log(
      `  ${what} ${total === 0 ? 100 : ((done / total) * 100).toFixed(1)}%  ${(done / MiB).toFixed(1)} MiB  ${rate.toFixed(1)} MiB/s`,
    );
  };
}

/** Reads the object back the way the service will (same client settings, same source). */
async function verifyStored(factory: SourceFactory, uri: string, expected: FileDigest, full: boolean): Promise<void> {
  const source = factory.for(uri);
  const head = await source.head();
  if (head.bytes !== expected.bytes) {
    throw new UploadError(`${uri}: stored ${head.bytes} bytes, the file has ${expected.bytes}`);
  }
  if (!full) return;
  const stored = await digestStream(await source.open(0), reporter('verifying', expected.bytes));
  if (stored.bytes !== expected.bytes || stored.md5 !== expected.md5 || stored.sha256 !== expected.sha256) {
    throw new UploadError(
      `${uri}: the stored object is ${describe(stored)}, the file ${describe(expected)}; ` +
        'the store altered the bytes (an S3-compatible store that keeps aws-chunked framing? try S3_CHECKSUMS=when_required)',
    );
  }
}

/** The key holds other bytes and --force was not given. */
class ExistingKeyError extends Error {}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  if (args === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const location = parseModelUri(args.uri);
  if (location.kind !== 's3') throw new UsageError(`${args.uri}: the destination must be s3://bucket/key`);
  const name = args.name ?? deriveName(location);
  const lockFile = args.lock ?? path.resolve(process.env.INIT_CWD ?? process.cwd(), 'releases', `${name}.lock.json`);
  const config = loadConfig(process.env);
  try {
    await checkFastTextHeader(args.file);
  } catch (err) {
    if (err instanceof NotAModelError) throw err;
    throw new UsageError(`${args.file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const digest = await digestFile(args.file);
  log(`${args.file}: ${describe(digest)}`);
  const canaries: ModelCanary[] = await recordCanaries(args.file, args.canaries);
  for (const c of canaries) log(`canary ${JSON.stringify(c.text)}: ${c.label} ${c.score}`);
  // The lock is validated as the service reads it before anything is uploaded.
  const text = formatLock({
    uri: args.uri,
    md5: digest.md5,
    sha256: digest.sha256,
    bytes: digest.bytes,
    name,
    ...(canaries.length > 0 ? { canaries } : {}),
  });
  parseLock(JSON.parse(text), lockFile);

  const client = createS3Client(config.s3, { maxAttempts: 3, idleTimeoutMs: 120_000 });
  const factory = new SourceFactory(config.s3, { maxAttempts: 3, idleTimeoutMs: 120_000 });
  // The endpoint as scheme://host only: never a userinfo or query part in a message.
  const where = config.s3.endpoint === undefined ? `AWS S3 (${config.s3.region})` : new URL(config.s3.endpoint).origin;
  try {
    const existing = await headStored(client, location.bucket, location.key, where);
    let upload = true;
    if (existing !== undefined) {
      const diff = differences(existing, digest);
      if (diff.length === 0) {
        log(`${args.uri} already holds these bytes (${describe(existing)}): not uploaded again`);
        upload = false;
      } else if (!args.force) {
        throw new ExistingKeyError(
          `${args.uri} already holds a different object (${describe(existing)}) than ${args.file} (${describe(digest)}): ` +
            'published keys are immutable, since every pod of a release re-downloads its key at start; ' +
            'publish under a new key, or pass --force to overwrite it',
        );
      } else {
        log(`--force: overwriting ${args.uri} (${diff.join('; ')})`);
      }
    }
    if (upload) {
      const partSize = effectivePartSize(digest.bytes, args.partSize);
      const how =
        digest.bytes <= partSize
          ? 'one request'
          : `${Math.ceil(digest.bytes / partSize)} parts of ${(partSize / MiB).toFixed(0)} MiB`;
      log(`uploading to ${args.uri} (${how})`);
      let result;
      try {
        result = await uploadFile({
          client,
          bucket: location.bucket,
          key: location.key,
          file: args.file,
          bytes: digest.bytes,
          md5: digest.md5,
          sha256: digest.sha256,
          ifAbsent: !args.force,
          partSize: args.partSize,
          onProgress: reporter('uploading', digest.bytes),
        });
      } catch (err) {
        if (err instanceof UploadError) throw err;
        throw classifyS3Error(err, 'upload', args.uri, where);
      }
      log(
        `uploaded (${result.multipart ? `multipart, ${result.parts} parts` : 'single request'}); reading it back${args.verify ? '' : ' (size only)'}`,
      );
    }
    await verifyStored(factory, args.uri, digest, args.verify);

    await mkdir(path.dirname(lockFile), { recursive: true });
    await writeFile(lockFile, text);
    log(`verified; wrote ${lockFile}`);
    process.stdout.write(text);
    return 0;
  } finally {
    client.destroy();
    factory.close();
  }
}

runCli('model:publish', USAGE, main, {
  usage: [ConfigError, ModelUriError, LockError, NotAModelError],
  failure: [SourceError, UploadError, ExistingKeyError, FastTextError],
});
