// The cached model written while a fastText child reads it (review of the early engine, F1):
// the check before the spawn saw the verified file, the child then read changed bytes. Each
// child's load is now followed by an identity check before it takes a line, so the child is
// killed unused and the file fetched again. Real service, real binary, a model large enough
// (~150 MB) that its load leaves a window to write into; the write swaps the two labels' rows
// of the output matrix (the file's last bytes, read last), so a child that loaded it answers
// with the labels swapped.
import test from 'ava';
import { createHash } from 'node:crypto';
import {
  closeSync,
  copyFileSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseRawLine, rawPredict, synthesizeModel } from '../engine/helpers.js';
import { sleep } from '../helpers/fixtures.js';
import { postJson, startService } from '../helpers/service.js';

const TEXTS = ['WINNER!! You have won a free prize, call now to claim', 'Are we still on for lunch tomorrow?'];
const DIM = 64;

/** Pids of fastText children started with `k` on `modelPath`, from /proc. */
function childrenWithK(modelPath: string, k: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.includes(modelPath) && argv[argv.length - 2] === String(k)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Bytes a process has read so far, from /proc (its libraries included). */
function bytesRead(pid: number): number {
  return Number(/^rchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1] ?? Number.NaN);
}

/** Swaps the two rows (labels) of the output matrix in place: same size, other answers. */
function swapLabelRows(file: string): void {
  const row = DIM * 4;
  const fd = openSync(file, 'r+');
  try {
    const size = readFileSync(file).length;
    const rows = Buffer.alloc(2 * row);
    readSync(fd, rows, 0, rows.length, size - rows.length);
    writeSync(fd, Buffer.concat([rows.subarray(row), rows.subarray(0, row)]), 0, rows.length, size - rows.length);
  } finally {
    closeSync(fd);
  }
}

test("the cached file written while a k=2 child loads it: that child never answers; every answer given is the true model's", async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fte-written-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const source = await synthesizeModel(dir, 600_000, DIM);
  const md5 = createHash('md5').update(readFileSync(source)).digest('hex');
  const truth = (await rawPredict(TEXTS, 2, source)).map(parseRawLine);
  const tampered = path.join(dir, 'tampered.bin');
  copyFileSync(source, tampered);
  swapLabelRows(tampered);
  t.notDeepEqual((await rawPredict(TEXTS, 2, tampered)).map(parseRawLine), truth, 'the write changes the answers');
  const cacheDir = path.join(dir, 'cache');
  const cached = path.join(cacheDir, `${md5}.bin`);

  const svc = await startService({
    env: {
      MODEL_URI: `file://${source}`,
      MODEL_MD5: md5,
      MODEL_CANARIES: '[]',
      MODEL_CACHE_DIR: cacheDir,
      ENGINE_POOL_SIZE: '1',
      ENGINE_WARM_TIERS: 'false',
      ENGINE_RESTART_BASE_MS: '50',
    },
  });
  t.teardown(() => svc.stop());
  await svc.waitReady(60_000);
  t.deepEqual(childrenWithK(cached, 2), [], 'the k=2 tier starts on its first request');

  // The first k=2 request starts the tier; the file is written once its child is spawned.
  const first = postJson(`${svc.url}/v1/classify`, { texts: TEXTS, k: 2 });
  const deadline = Date.now() + 10_000;
  while (childrenWithK(cached, 2).length === 0 && Date.now() < deadline) await sleep(2);
  const [loading] = childrenWithK(cached, 2);
  if (loading === undefined) return t.fail('no k=2 child was spawned');
  // Held still while the file is written, so the write lands before it reads the file's end
  // however busy the machine (a stop of a few ms, far inside its load deadline).
  process.kill(loading, 'SIGSTOP');
  try {
    t.true(bytesRead(loading) < statSync(cached).size, 'the child had not read the whole file yet');
    swapLabelRows(cached);
  } finally {
    process.kill(loading, 'SIGCONT');
  }

  const answers: unknown[] = [];
  const firstAnswer = await first;
  if (firstAnswer.status === 200) answers.push((firstAnswer.body as { results: unknown }).results);
  for (const until = Date.now() + 30_000; answers.length < 10 && Date.now() < until;) {
    const res = await postJson(`${svc.url}/v1/classify`, { texts: TEXTS, k: 2 });
    if (res.status === 200) answers.push((res.body as { results: unknown }).results);
    else t.true([503, 504].includes(res.status), `status ${res.status}: ${JSON.stringify(res.body)}`);
    await sleep(20);
  }
  t.is(answers.length, 10, 'the service serves k=2 again');
  for (const answer of answers) t.deepEqual(answer, truth);
  t.truthy(
    svc.logs.find((l) => typeof l.reason === 'string' && l.reason.includes('changed while fastText loaded it')),
    'the child that read the write was killed unused',
  );
});
