// npm run model:publish -- <model file> s3://bucket/key [--lock FILE] [--name NAME]
// Publishes a trained model: checks it is a fastText model, computes its MD5 and size from
// its bytes (never from an ETag, which is no MD5 for multipart uploads), uploads it with
// Content-MD5 on every request, reads it back through the service's own S3 source to prove
// the stored bytes hash the same, and only then writes model.lock.json.
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, projectRoot } from '../app/config.js';
import { deriveName, formatLock, LockError, parseLock } from '../app/model/lock.js';
import { classifyS3Error, createS3Client } from '../app/model/s3.js';
import { SourceError, SourceFactory } from '../app/model/source.js';
import { ModelUriError, parseModelUri } from '../app/model/uri.js';
import { digestFile, type FileDigest } from './model/file-digest.js';
import { checkFastTextHeader, NotAModelError } from './model/fasttext-header.js';
import { MiB, MIN_PART_SIZE, effectivePartSize, uploadFile, UploadError } from './model/s3-upload.js';

const USAGE = `Usage: npm run model:publish -- <model file> s3://bucket/key [options]

Uploads a fastText model (.bin or .ftz) to S3, proves the stored bytes hash to the file's
MD5, and writes the lock (uri, md5, bytes, name) that the image and the chart carry.

  --lock FILE       the lock file to write (default: model.lock.json at the project root)
  --name NAME       the model's name in the API (default: the key's file name, no extension)
  --part-size MIB   files larger than this go multipart, in parts of this size (default 16,
                    minimum 5)
  --no-verify       skip reading the object back (the size is still checked with HEAD)
  -h, --help        this help

S3 settings come from the service's environment: AWS_REGION, S3_ENDPOINT (or
AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL), S3_FORCE_PATH_STYLE, S3_CHECKSUMS, and the AWS
default credential chain (AWS_ACCESS_KEY_ID..., AWS_PROFILE, web identity, instance role).
The bucket must exist. Exit status: 0 published, 1 upload or verification failed, 2 bad
arguments, settings or file.`;

const PROGRESS_EVERY_MS = 2000;

class UsageError extends Error {}

interface PublishArgs {
  readonly file: string;
  readonly uri: string;
  readonly lock: string;
  readonly name: string | undefined;
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
  if (!Number.isFinite(partMiB) || partMiB * MiB < MIN_PART_SIZE) throw new UsageError(`--part-size ${v['part-size'] ?? ''}: expected a number of MiB >= 5`);
  // npm runs scripts from the project root; INIT_CWD is where the user typed the command.
  const cwd = process.env.INIT_CWD ?? process.cwd();
  return {
    file: path.resolve(cwd, file),
    uri,
    lock: v.lock === undefined ? path.join(projectRoot(), 'model.lock.json') : path.resolve(cwd, v.lock),
    name: v.name,
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
    log(`  ${what} ${total === 0 ? 100 : ((done / total) * 100).toFixed(1)}%  ${(done / MiB).toFixed(1)} MiB  ${rate.toFixed(1)} MiB/s`);
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
  const hash = createHash('md5');
  const progress = reporter('verifying', expected.bytes);
  let bytes = 0;
  for await (const chunk of await source.open(0)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
    progress(bytes);
  }
  const md5 = hash.digest('hex');
  if (bytes !== expected.bytes || md5 !== expected.md5) {
    throw new UploadError(
      `${uri}: the stored object is ${bytes} bytes with md5 ${md5}, the file ${expected.bytes} bytes with md5 ${expected.md5}; ` +
        'the store altered the bytes (an S3-compatible store that keeps aws-chunked framing? try S3_CHECKSUMS=when_required)',
    );
  }
}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  if (args === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const location = parseModelUri(args.uri);
  if (location.kind !== 's3') throw new UsageError(`${args.uri}: the destination must be s3://bucket/key`);
  const name = args.name ?? deriveName(location);
  const config = loadConfig(process.env);
  try {
    await checkFastTextHeader(args.file);
  } catch (err) {
    if (err instanceof NotAModelError) throw err;
    throw new UsageError(`${args.file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  const digest = await digestFile(args.file);
  log(`${args.file}: ${digest.bytes} bytes, md5 ${digest.md5}`);

  const client = createS3Client(config.s3, { maxAttempts: 3, idleTimeoutMs: 120_000 });
  const factory = new SourceFactory(config.s3, { maxAttempts: 3, idleTimeoutMs: 120_000 });
  try {
    const partSize = effectivePartSize(digest.bytes, args.partSize);
    const how = digest.bytes <= partSize ? 'one request' : `${Math.ceil(digest.bytes / partSize)} parts of ${(partSize / MiB).toFixed(0)} MiB`;
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
        partSize: args.partSize,
        onProgress: reporter('uploading', digest.bytes),
      });
    } catch (err) {
      if (err instanceof UploadError) throw err;
      // The endpoint as scheme://host only: never a userinfo or query part in a message.
      const where = config.s3.endpoint === undefined ? `AWS S3 (${config.s3.region})` : new URL(config.s3.endpoint).origin;
      throw classifyS3Error(err, 'upload', args.uri, where);
    }
    log(`uploaded (${result.multipart ? `multipart, ${result.parts} parts` : 'single request'}); reading it back${args.verify ? '' : ' (size only)'}`);
    await verifyStored(factory, args.uri, digest, args.verify);

    const text = formatLock({ uri: args.uri, md5: digest.md5, bytes: digest.bytes, name });
    parseLock(JSON.parse(text), args.lock); // the service's own validation, before writing
    await writeFile(args.lock, text);
    log(`verified; wrote ${args.lock}`);
    process.stdout.write(text);
    return 0;
  } finally {
    client.destroy();
    factory.close();
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError || err instanceof ConfigError || err instanceof ModelUriError || err instanceof LockError || err instanceof NotAModelError) {
      process.stderr.write(`model:publish: ${err.message}\n${err instanceof UsageError ? `\n${USAGE}\n` : ''}`);
      process.exitCode = 2;
    } else if (err instanceof SourceError || err instanceof UploadError) {
      process.stderr.write(`model:publish: ${err.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`model:publish: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
