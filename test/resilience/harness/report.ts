// Scenario outcomes: each scenario collects named checks, asserts them, and appends one row
// to a JSON-lines file that `npm run test:resilience` prints as a table after ava exits
// (ava runs each scenario file in its own process, so the rows meet in a file).
import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface Row {
  readonly scenario: string;
  readonly injected: string;
  readonly restarts: number;
  readonly sent: number;
  readonly failed: number;
  /** Client-side p99 latency, ms (0 when there was no traffic). */
  readonly p99Ms: number;
  readonly verdict: 'pass' | 'FAIL';
  readonly seconds: number;
  readonly checks: readonly Check[];
  readonly notes: readonly string[];
}

export function resultsFile(env: NodeJS.ProcessEnv = process.env): string {
  return env.RESILIENCE_RESULTS ?? path.join(os.tmpdir(), 'fasttext-edge-resilience', 'results.jsonl');
}

export class ScenarioReport {
  private readonly checks: Check[] = [];
  private readonly notes: string[] = [];
  private readonly startedAt = Date.now();

  constructor(
    private readonly t: ExecutionContext,
    private readonly scenario: string,
    private readonly injected: string,
  ) {}

  /** A named check, kept for the table and asserted by finish() (ava stops a test at its first failed assertion, and every check should reach the table). */
  check(name: string, ok: boolean, detail: string): boolean {
    this.checks.push({ name, ok, detail });
    this.t.log(`${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
    return ok;
  }

  note(text: string): void {
    this.notes.push(text);
    this.t.log(text);
  }

  /**
   * Appends the row, then asserts every check. Call it once, last, in a finally block: a
   * thrown error still leaves a FAIL row (and propagates; the checks are not asserted then).
   */
  finish(
    traffic: { readonly restarts: number; readonly sent: number; readonly failed: number; readonly p99Ms: number },
    error?: unknown,
  ): Row {
    if (error !== undefined)
      this.checks.push({
        name: 'completed',
        ok: false,
        detail: error instanceof Error ? (error.message.split('\n')[0] ?? '') : JSON.stringify(error),
      });
    const row: Row = {
      scenario: this.scenario,
      injected: this.injected,
      ...traffic,
      verdict: this.checks.length > 0 && this.checks.every((c) => c.ok) ? 'pass' : 'FAIL',
      seconds: Math.round((Date.now() - this.startedAt) / 100) / 10,
      checks: this.checks,
      notes: this.notes,
    };
    const file = resultsFile();
    mkdirSync(path.dirname(file), { recursive: true });
    appendFileSync(file, `${JSON.stringify(row)}\n`);
    if (error === undefined) {
      const failed = this.checks.filter((c) => !c.ok);
      this.t.true(this.checks.length > 0, 'a scenario without checks proves nothing');
      this.t.deepEqual(
        failed.map((c) => `${c.name}: ${c.detail}`),
        [],
        'every check holds',
      );
    }
    return row;
  }
}

export function readRows(file: string): Row[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Row);
}

/** A plain-text table (also valid Markdown). */
export function formatTable(rows: readonly Row[]): string {
  const header = ['scenario', 'injected', 'restarts', 'requests sent', 'failed', 'p99', 'verdict', 'time'];
  const body = rows.map((r) => [
    r.scenario,
    r.injected,
    String(r.restarts),
    String(r.sent),
    String(r.failed),
    r.sent > 0 ? `${r.p99Ms} ms` : '-',
    r.verdict,
    `${r.seconds} s`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

/** The checks of every row, for the lines under the table. */
export function formatChecks(rows: readonly Row[]): string {
  return rows
    .map((r) =>
      [
        `${r.scenario} (${r.verdict}):`,
        ...r.checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`),
        ...r.notes.map((n) => `  note: ${n}`),
      ].join('\n'),
    )
    .join('\n');
}
