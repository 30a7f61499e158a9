// npm run --silent release:verify -- <values file>... | --lock FILE
// Proves before a deploy that the model a release names is in S3 as the release expects:
// one HEAD, its size and the checksums model:publish stored as metadata compared with the
// values (model.uri, model.md5, and model.bytes / model.sha256 when set). The values files
// are read in helm's order (later files win), so a pipeline passes the same -f list it gives
// helm. Prints a JSON report on stdout; a mismatch names both sides and exits 1.
import { runCli, UsageError } from './model/run-cli.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { ConfigError, loadConfig } from '../app/config.js';
import { LockError, readLockFile, validMd5, validSha256 } from '../app/model/lock.js';
import { SourceError } from '../app/model/source.js';
import { ModelUriError } from '../app/model/uri.js';
import { ReleaseMismatchError, verifyRelease } from './model/verify-release.js';

const USAGE = `Usage: npm run --silent release:verify -- <values file>... | --lock FILE

Checks, with one HEAD and before anything is deployed, that the model a release names
(model.uri) is stored with the size and checksums the release expects (model.md5, and
model.bytes and model.sha256 when set), as x-amz-meta-md5 / x-amz-meta-sha256 metadata
written by model:publish. Values files are merged in order, later files winning, as
helm's -f does; --lock checks a release lock instead.

S3 settings are the service's (AWS_REGION, S3_ENDPOINT, S3_FORCE_PATH_STYLE, the AWS
credential chain). stdout: a JSON report. Exit status: 0 verified, 1 mismatch, missing
object or S3 failure, 2 bad arguments or values.`;

interface Expected {
  readonly uri: string;
  readonly md5: string;
  readonly bytes: number | undefined;
  readonly sha256: string | undefined;
  readonly from: string;
}

const isMergeKey = (key: unknown): boolean =>
  YAML.isScalar(key) && (key.value === '<<' || (typeof key.value === 'symbol' && key.value.description === '<<'));

/**
 * Refuses a merge key placed after an explicit key of the model block: helm's reader lets such
 * a `<<` override the keys above it, the YAML merge this tool applies does not, so the two would
 * name different objects. A merge key first means the same to both.
 */
function checkMergeOrder(file: string, doc: YAML.Document): void {
  const model = doc.get('model', true);
  if (!YAML.isMap(model)) return;
  const firstExplicit = model.items.findIndex((pair) => !isMergeKey(pair.key));
  const lateMerge = model.items.findIndex((pair, i) => i > firstExplicit && isMergeKey(pair.key));
  if (firstExplicit >= 0 && lateMerge >= 0)
    throw new UsageError(
      `${file}: a merge key (<<) in model comes after an explicit key; helm and YAML's merge then disagree on which value wins: put the merge key first`,
    );
}

async function fromValues(files: readonly string[]): Promise<Expected> {
  const model: Record<string, unknown> = {};
  for (const file of files) {
    let doc: unknown;
    try {
      // merge: helm applies YAML merge keys (<<), so a model block built with one is what it renders.
      const parsed = YAML.parseDocument(await readFile(file, 'utf8'), { merge: true });
      const [error] = parsed.errors;
      if (error !== undefined) throw error;
      checkMergeOrder(file, parsed);
      doc = parsed.toJS();
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new UsageError(`${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    const m = (doc as { model?: unknown } | null)?.model;
    if (typeof m === 'object' && m !== null) Object.assign(model, m);
  }
  const from = files.join(' + ');
  const { uri, md5, bytes, sha256 } = model;
  if (typeof uri !== 'string' || uri === '')
    throw new UsageError(
      `${from}: no model.uri: nothing to verify (a release that serves the image's baked lock has no model to check)`,
    );
  const md5Value = typeof md5 === 'string' ? validMd5(md5) : undefined;
  if (md5Value === undefined)
    throw new UsageError(`${from}: model.md5 must be 32 hexadecimal characters, got ${JSON.stringify(md5 ?? null)}`);
  if (bytes !== undefined && bytes !== 0 && !(typeof bytes === 'number' && Number.isSafeInteger(bytes) && bytes > 0)) {
    throw new UsageError(`${from}: model.bytes must be a positive integer, got ${JSON.stringify(bytes)}`);
  }
  const sha = typeof sha256 === 'string' && sha256 !== '' ? validSha256(sha256) : undefined;
  // Unquoted digits are a YAML number: refused like any malformed value, never skipped.
  if (sha256 !== undefined && sha256 !== null && sha256 !== '' && sha === undefined)
    throw new UsageError(`${from}: model.sha256 must be 64 hexadecimal characters, got ${JSON.stringify(sha256)}`);
  return { uri, md5: md5Value, bytes: typeof bytes === 'number' && bytes > 0 ? bytes : undefined, sha256: sha, from };
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: process.argv.slice(2),
      allowPositionals: true,
      options: { lock: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (parsed.values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const cwd = process.env.INIT_CWD ?? process.cwd();
  const files = parsed.positionals.map((f) => path.resolve(cwd, f));
  const lockFile = parsed.values.lock === undefined ? undefined : path.resolve(cwd, parsed.values.lock);
  if ((lockFile === undefined) === (files.length === 0))
    throw new UsageError('give the release values files, or --lock FILE (not both)');
  let expected: Expected;
  if (lockFile !== undefined) {
    const lock = await readLockFile(lockFile);
    expected = { uri: lock.uri, md5: lock.md5, bytes: lock.bytes, sha256: lock.sha256, from: lockFile };
  } else {
    expected = await fromValues(files);
  }
  const { stored } = await verifyRelease(loadConfig(process.env).s3, expected.uri, expected);
  process.stderr.write(`verified: ${expected.uri} holds what ${expected.from} expects\n`);
  process.stdout.write(
    `${JSON.stringify({ verified: true, uri: expected.uri, bytes: stored.bytes, md5: stored.md5, sha256: stored.sha256 ?? null })}\n`,
  );
  return 0;
}

runCli('release:verify', USAGE, main, {
  usage: [LockError, ConfigError, ModelUriError],
  failure: [ReleaseMismatchError, SourceError],
  onFailure: (err) => process.stdout.write(`${JSON.stringify({ verified: false, error: err.message })}\n`),
});
