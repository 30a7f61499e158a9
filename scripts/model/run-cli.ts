// The exit-code contract the model and release CLIs share: 2 when the tool was called wrongly
// (bad arguments, an unusable lock or config; the usage is printed for argument errors), 1 when
// what it checked or did failed, and 1 with the stack for anything unforeseen (a bug).

/** A mistake in the command line: exit 2 with the usage text. */
export class UsageError extends Error {}

type ErrorClass = abstract new (...args: never[]) => Error;

export interface CliErrors {
  /** Besides UsageError: errors that mean the tool was called wrongly (exit 2, no usage text). */
  readonly usage: readonly ErrorClass[];
  /** Errors that mean the work failed (exit 1, message only). */
  readonly failure: readonly ErrorClass[];
  /** Called for a failure before exit, e.g. to print a machine-readable verdict on stdout. */
  readonly onFailure?: (err: Error) => void;
}

function isOneOf(err: unknown, classes: readonly ErrorClass[]): err is Error {
  return classes.some((c) => err instanceof c);
}

/** Runs `main` and maps its outcome onto process.exitCode (never calls process.exit: output is flushed). */
export function runCli(name: string, usage: string, main: () => Promise<number>, errors: CliErrors): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      if (err instanceof UsageError || isOneOf(err, errors.usage)) {
        process.stderr.write(`${name}: ${err.message}\n${err instanceof UsageError ? `\n${usage}\n` : ''}`);
        process.exitCode = 2;
      } else if (isOneOf(err, errors.failure)) {
        process.stderr.write(`${name}: ${err.message}\n`);
        errors.onFailure?.(err);
        process.exitCode = 1;
      } else {
        process.stderr.write(`${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
        process.exitCode = 1;
      }
    },
  );
}
