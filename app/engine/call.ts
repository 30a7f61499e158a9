// One predict() call: makes each text one input line, collects one answer line per line
// sent (from one or several children, in any order across children) and settles exactly
// once: answered, failed, or expired. A text without tokens is not sent: its answer is [].
import type { LineSink } from './child.js';
import { EngineError, type Prediction } from './classifier.js';
import { hasTokens, parsePredictions, toInputLine, type InputLine } from './framing.js';

export class Call implements LineSink {
  settled = false;
  /** Set once its lines have been re-sent after a child died with them: never twice. */
  retried = false;
  /** What the children are sent: the texts with tokens, as input lines. */
  readonly lines: readonly InputLine[];
  /** lines[j] is the line of texts[textOf[j]]. */
  private readonly textOf: readonly number[];
  private readonly results: Prediction[][];
  private remaining: number;

  constructor(
    texts: readonly string[],
    /** At most the k of the children serving it. */
    readonly k: number,
    readonly threshold: number,
    /** Absolute performance.now() time; only ever moved earlier (limitDeadline). */
    public deadline: number,
    private readonly resolve: (results: Prediction[][]) => void,
    private readonly reject: (err: EngineError) => void,
    private readonly onSettled: (call: Call) => void,
  ) {
    this.results = new Array<Prediction[]>(texts.length);
    const lines: InputLine[] = [];
    const textOf: number[] = [];
    texts.forEach((text, i) => {
      const line = toInputLine(text);
      if (hasTokens(line)) {
        lines.push(line);
        textOf.push(i);
      } else {
        this.results[i] = [];
      }
    });
    this.lines = lines;
    this.textOf = textOf;
    this.remaining = lines.length;
  }

  accept(index: number, buf: Buffer, start: number, end: number): void {
    this.results[this.textOf[index] ?? index] = parsePredictions(buf, start, end, this.k, this.threshold);
    if (--this.remaining === 0) this.succeed();
  }

  /** Brings the deadline forward to `at` if that is earlier (the answer clock at hand-over). */
  limitDeadline(at: number): void {
    if (at < this.deadline) this.deadline = at;
  }

  /** Resolves a call with no line to send (every text without tokens). */
  answerWithoutChildren(): void {
    if (this.remaining === 0 && !this.settled) this.succeed();
  }

  private succeed(): void {
    this.settled = true;
    this.onSettled(this);
    this.resolve(this.results);
  }

  fail(err: EngineError): void {
    if (this.settled) return;
    this.settled = true;
    this.onSettled(this);
    this.reject(err);
  }
}
