// Hash at disk speed: verifying a cached model costs what md5sum (or sha256sum, for a lock
// with a SHA-256) costs on the same file in the same run, and the event loop keeps turning
// while it runs. CPU time is compared (user + system) rather than wall time: on a shared
// 2-core machine wall time measures the neighbours. The bound here is generous (2x); the measured ratio is in digests.ts.
import { execFile } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { promisify } from 'node:util';
import test from 'ava';
import { hashFile } from '../../app/model/cache-file.js';
import { tempDir } from './fixtures.js';

const run = promisify(execFile);
const SIZE = 200 * 1024 * 1024;

async function generate(file: string): Promise<void> {
  const chunk = randomFillSync(Buffer.alloc(8 * 1024 * 1024));
  const handle = await open(file, 'w');
  try {
    for (let done = 0; done < SIZE; done += chunk.length)
      await handle.write(chunk, 0, Math.min(chunk.length, SIZE - done), done);
  } finally {
    await handle.close();
  }
}

/** md5sum's or sha256sum's digest and CPU seconds (user + system), from bash's `time`. */
async function coreutilsSum(
  algorithm: 'md5' | 'sha256',
  file: string,
): Promise<{ digest: string; cpuSeconds: number }> {
  const { stdout, stderr } = await run('bash', ['-c', `TIMEFORMAT='%U %S'; time ${algorithm}sum "$0"`, file]);
  const [user, system] = stderr.trim().split(/\s+/).map(Number);
  return { digest: stdout.split(' ')[0] ?? '', cpuSeconds: (user ?? NaN) + (system ?? NaN) };
}

for (const algorithm of ['md5', 'sha256'] as const)
  test.serial(
    `a 200 MB file hashes (${algorithm}) within 2x ${algorithm}sum CPU time, with the event loop turning`,
    async (t) => {
      const file = path.join(await tempDir('hash-speed'), 'model.bin');
      t.teardown(() => rm(path.dirname(file), { recursive: true, force: true }));
      await generate(file);
      const reference = await coreutilsSum(algorithm, file); // also warms the page cache for both
      const again = await coreutilsSum(algorithm, file);
      const sumCpu = Math.min(reference.cpuSeconds, again.cpuSeconds);

      const delay = monitorEventLoopDelay({ resolution: 5 });
      delay.enable();
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      const hashed = await hashFile(file, algorithm);
      const wallMs = performance.now() - started;
      const cpu = process.cpuUsage(cpuBefore);
      delay.disable();
      const ourCpu = (cpu.user + cpu.system) / 1e6;

      t.is(hashed?.digest, reference.digest);
      t.is(hashed?.bytes, SIZE);
      const ratio = ourCpu / sumCpu;
      const maxDelayMs = delay.max / 1e6;
      t.log(
        `${algorithm}sum ${sumCpu.toFixed(2)} s CPU; service ${ourCpu.toFixed(2)} s CPU (${ratio.toFixed(2)}x), ${(wallMs / 1000).toFixed(2)} s wall; event-loop delay p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms, max ${maxDelayMs.toFixed(1)} ms`,
      );
      t.true(ratio < 2, `hashing costs ${ratio.toFixed(2)}x ${algorithm}sum`);
      // One blocking hash of the whole file would hold the loop for about its whole duration.
      t.true(maxDelayMs < wallMs / 2, `the event loop was held ${maxDelayMs.toFixed(0)} ms of ${wallMs.toFixed(0)} ms`);
    },
  );
