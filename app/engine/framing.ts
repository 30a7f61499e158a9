// The line protocol of `fasttext predict-prob <model> - <k>`: one input line in, one output
// line out, `__label__xx 0.97 __label__yy 0.01` (best first) or an empty line when nothing
// is predicted. Hand-written rather than a line-splitting library because the hot path
// parses stdout Buffers in place: no per-line string for the line, no split(), no regex,
// no parseFloat for the usual score shapes (the Node main thread is the bottleneck).
import type { Prediction } from './classifier.js';

const NL = 10;
const CR = 13;
const SPACE = 32;
const LABEL_PREFIX = Buffer.from('__label__', 'latin1');
const PREFIX_LEN = LABEL_PREFIX.length;

/** A text made into one input line by toInputLine: the only thing a child is ever sent. */
export type InputLine = string & { readonly inputLine: unique symbol };

/** fastText's end-of-sentence word: its reader ends a line there, as at a newline. */
const EOS = '</s>';
/** A `</s>` that is a whole token: bounded by fastText's separators or the line's ends. */
const EOS_TOKEN = /(?<=^|[ \t\v\f\0])<\/s>(?=$|[ \t\v\f\0])/g;

/**
 * One input line for the child, which fastText reads as exactly one line, with the same
 * tokens as the text except `</s>` (docs/engine.md, "Framing"). fastText's reader splits
 * words at the bytes space, \t, \n, \v, \f, \r and \0, and ends a line at a \n or at a
 * token that is exactly `</s>`. So: \n and \r become a space (separators on either side of
 * a word, as before), and each `</s>` token becomes a space too, which drops it from the
 * prediction without joining its neighbours. Nothing else can end a line: every other
 * byte of the UTF-8 encoding (multi-byte sequences are all >= 0x80; a lone surrogate is
 * encoded as U+FFFD) is part of a word.
 */
export function toInputLine(text: string): InputLine {
  let line = text;
  if (line.indexOf('\n') !== -1 || line.indexOf('\r') !== -1) line = line.replace(/[\r\n]/g, ' ');
  if (line.indexOf(EOS) !== -1) line = line.replace(EOS_TOKEN, ' ');
  return line as InputLine;
}

const isSeparator = (c: number): boolean => c === 32 || c === 9 || c === 11 || c === 12 || c === 0;
const LABEL_WORD = '__label__';

/**
 * Whether fastText reads at least one word in the line: a token (bytes between its
 * separators) that is not a label, since its reader takes a `__label__` token as a label of
 * the line, not as input. A line without one would be answered with the model's prior for
 * an empty line.
 */
export function hasTokens(line: InputLine): boolean {
  for (let i = 0; i < line.length; i++) {
    if (isSeparator(line.charCodeAt(i))) continue;
    if (!line.startsWith(LABEL_WORD, i)) return true;
    while (i < line.length && !isSeparator(line.charCodeAt(i))) i++;
  }
  return false;
}

/**
 * Reassembles stdout chunks into lines. A line may arrive split across chunks and one chunk
 * may hold many lines; lines are handed out as (buffer, start, end) views, end exclusive and
 * without the `\n`, valid only during the callback.
 */
export class LineFramer {
  private partial: Buffer | undefined;

  push(chunk: Buffer, onLine: (buf: Buffer, start: number, end: number) => void): void {
    const buf = chunk;
    let pos = 0;
    if (this.partial !== undefined) {
      // Join only the split line, not the whole chunk behind it.
      const first = buf.indexOf(NL);
      if (first === -1) {
        this.partial = Buffer.concat([this.partial, buf]);
        return;
      }
      const line = Buffer.concat([this.partial, buf.subarray(0, first)]);
      this.partial = undefined;
      onLine(line, 0, line.length);
      pos = first + 1;
    }
    let nl = buf.indexOf(NL, pos);
    while (nl !== -1) {
      onLine(buf, pos, nl);
      pos = nl + 1;
      nl = buf.indexOf(NL, pos);
    }
    // The stream hands us a fresh Buffer per read, so keeping a view of its tail is safe.
    if (pos < buf.length) this.partial = buf.subarray(pos);
  }

  /** Bytes of an unfinished line held back (for diagnostics). */
  get bufferedBytes(): number {
    return this.partial?.length ?? 0;
  }
}

const POW10: readonly number[] = Array.from({ length: 23 }, (_, i) => 10 ** i);

/**
 * A decimal as C++ iostreams print a float (`0.878464`, `1.00001`, `1e-05`, `3.2e-05`).
 * Up to 15 significant digits and |exponent| <= 22 it is an exact integer divided or
 * multiplied by an exact power of ten, which IEEE rounds correctly, i.e. the same double
 * parseFloat returns; anything else falls back to parseFloat.
 */
export function parseDecimal(buf: Buffer, start: number, end: number): number {
  let i = start;
  let mantissa = 0;
  let digits = 0;
  let fraction = 0;
  let dot = false;
  for (; i < end; i++) {
    const c = buf[i] as number;
    if (c >= 48 && c <= 57) {
      mantissa = mantissa * 10 + (c - 48);
      digits++;
      if (dot) fraction++;
    } else if (c === 46 && !dot) {
      dot = true;
    } else {
      break;
    }
  }
  let exponent = 0;
  if (i < end && (buf[i] === 101 || buf[i] === 69)) {
    i++;
    let negative = false;
    if (buf[i] === 45) {
      negative = true;
      i++;
    } else if (buf[i] === 43) {
      i++;
    }
    let expDigits = 0;
    for (; i < end; i++) {
      const c = buf[i] as number;
      if (c < 48 || c > 57) break;
      exponent = exponent * 10 + (c - 48);
      expDigits++;
    }
    if (expDigits === 0) i = -1;
    if (negative) exponent = -exponent;
  }
  const power = exponent - fraction;
  if (i === end && digits > 0 && digits <= 15 && power >= -22 && power <= 22) {
    return power < 0 ? mantissa / (POW10[-power] as number) : mantissa * (POW10[power] as number);
  }
  return Number.parseFloat(buf.toString('latin1', start, end));
}

function hasLabelPrefix(buf: Buffer, start: number, end: number): boolean {
  if (end - start <= PREFIX_LEN) return false;
  for (let j = 0; j < PREFIX_LEN; j++) {
    if (buf[start + j] !== LABEL_PREFIX[j]) return false;
  }
  return true;
}

/** fastText prints exp(log p) and sometimes says 1.00001; NaN (never seen) reads as 0. */
function clampScore(x: number): number {
  if (!(x > 0)) return 0;
  return x > 1 ? 1 : x;
}

/**
 * The first `k` predictions of one output line with score >= threshold. fastText prints
 * them best first, so parsing stops at the first score under the threshold and the rest of
 * a wide line is never looked at.
 */
export function parsePredictions(buf: Buffer, start: number, end: number, k: number, threshold: number): Prediction[] {
  const out: Prediction[] = [];
  let p = start;
  while (p < end && out.length < k) {
    let sp = p;
    while (sp < end && buf[sp] !== SPACE) sp++;
    if (sp >= end) break; // a label without a score: not fastText's output, keep what we have
    let q = sp + 1;
    while (q < end && buf[q] !== SPACE && buf[q] !== CR) q++;
    const score = clampScore(parseDecimal(buf, sp + 1, q));
    if (score < threshold) break;
    const labelStart = hasLabelPrefix(buf, p, sp) ? p + PREFIX_LEN : p;
    out.push({ label: buf.toString('utf8', labelStart, sp), score });
    p = q + 1;
  }
  return out;
}

/** `__label__en` -> `en`; a label without the prefix is kept whole. */
export function stripLabelPrefix(label: string): string {
  return label.startsWith('__label__') ? label.slice(PREFIX_LEN) : label;
}
