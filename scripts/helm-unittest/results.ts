// What a run produces, per assertion, test and suite (upstream's result model).
export interface AssertionResult {
  readonly index: number;
  readonly type: string;
  readonly not: boolean;
  readonly passed: boolean;
  readonly skipped: boolean;
  readonly failInfo: readonly string[];
}

export interface TestResult {
  readonly name: string;
  readonly passed: boolean;
  readonly skipped: boolean;
  readonly execError: string | undefined;
  readonly assertions: readonly AssertionResult[];
  readonly durationMs: number;
}

export interface SuiteResult {
  readonly name: string;
  /** Path of the suite file relative to the working directory ("" when unknown). */
  readonly definitionFile: string;
  readonly passed: boolean;
  readonly skipped: boolean;
  readonly execError: string | undefined;
  readonly tests: readonly TestResult[];
}
