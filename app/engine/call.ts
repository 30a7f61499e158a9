// One predict() call: collects one answer line per text (from one or several children, in
// any order across children) and settles exactly once: answered, failed, or expired.
import type { LineSink } from './child.js';
import { EngineError, type Prediction } from './classifier.js';
import { parsePredictions } from './framing.js';

export class Call implements LineSink {
  settled = false;
  /** Set once its lines have been re-sent after a child died with them: never twice. */
  retried = false;
  private readonly results: Prediction[][];
  private remaining: number;

  constructor(
    readonly texts: readonly string[],
    /** At most the k of the children serving it. */
    readonly k: number,
    readonly threshold: number,
    /** Absolute performance.now() time. */
    readonly deadline: number,
    private readonly resolve: (results: Prediction[][]) => void,
    private readonly reject: (err: EngineError) => void,
    private readonly onSettled: (call: Call) => void,
  ) {
    this.results = new Array<Prediction[]>(texts.length);
    this.remaining = texts.length;
  }

  accept(index: number, buf: Buffer, start: number, end: number): void {
    this.results[index] = parsePredictions(buf, start, end, this.k, this.threshold);
    if (--this.remaining === 0) {
      this.settled = true;
      this.onSettled(this);
      this.resolve(this.results);
    }
  }

  fail(err: EngineError): void {
    if (this.settled) return;
    this.settled = true;
    this.onSettled(this);
    this.reject(err);
  }
}
