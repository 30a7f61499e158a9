// The model's label list, read once through the binary's own parser: `fasttext dump <model>
// dict` prints a count line, then `<entry> <count> <word|label>` per dictionary entry (words
// first, labels last). Measured on lid.176.ftz: 7,412 lines, 176 labels, ~30 ms. It loads
// the whole model, so it gets the same deadline as a child's load; a model the binary
// cannot parse makes it abort (status 134, "wrong file format" on stderr) or, for a
// truncated file, spin allocating memory, hence the SIGKILL at the deadline.
import { spawn } from 'node:child_process';
import { LineFramer, stripLabelPrefix } from './framing.js';

const LABEL_SUFFIX = Buffer.from(' label', 'latin1');
const STDERR_KEEP = 2048;

export class LabelReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LabelReadError';
  }
}

function endsWithLabelType(buf: Buffer, start: number, end: number): boolean {
  const n = LABEL_SUFFIX.length;
  if (end - start <= n) return false;
  for (let j = 0; j < n; j++) {
    if (buf[end - n + j] !== LABEL_SUFFIX[j]) return false;
  }
  return true;
}

export function readLabels(binary: string, modelPath: string, timeoutMs: number, signal?: AbortSignal): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const labels: string[] = [];
    const framer = new LineFramer();
    let stderr = '';
    let settled = false;
    let timedOut = false;

    const child = spawn(binary, ['dump', modelPath, 'dict'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const abort = (): void => {
      child.kill('SIGKILL');
    };
    signal?.addEventListener('abort', abort, { once: true });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);

    const finish = (err: Error | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
      if (err) reject(err);
      else resolve(labels);
    };

    child.stdout.on('data', (chunk: Buffer) => {
      framer.push(chunk, (buf, start, end) => {
        if (!endsWithLabelType(buf, start, end)) return;
        // `<label> <count> label`: the label is the first field (labels hold no spaces).
        const sp = buf.indexOf(32, start);
        if (sp > start && sp < end) labels.push(stripLabelPrefix(buf.toString('utf8', start, sp)));
      });
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_KEEP);
    });
    child.on('error', (err) => {
      // A spawn failure has no 'close' to wait for; a failed kill() is followed by one.
      if (child.pid === undefined) finish(new LabelReadError(`cannot run ${binary} dump: ${err.message}`));
    });
    child.on('close', (code, exitSignal) => {
      if (signal?.aborted) {
        finish(new LabelReadError('label read aborted'));
      } else if (timedOut) {
        finish(new LabelReadError(`${binary} dump ${modelPath} dict did not finish within ${timeoutMs} ms`));
      } else if (code !== 0) {
        const why = stderr.trim().split('\n').pop() ?? '';
        finish(new LabelReadError(`${binary} dump ${modelPath} dict failed (${exitSignal ?? `status ${code}`}): ${why}`));
      } else if (labels.length === 0) {
        finish(new LabelReadError(`${modelPath} has no labels: not a supervised fastText model`));
      } else {
        finish(undefined);
      }
    });
  });
}
