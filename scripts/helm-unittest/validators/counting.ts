// lengthEqual / notLengthEqual (list lengths at one path against `count`, or several paths
// against each other) and greaterOrEqual / lessOrEqual with their negations. The comparison
// keeps upstream's operator-precedence quirk, so `notGreaterOrEqual` passes whenever the types
// match (basic/tests/deployment_test relies on it); `notLessOrEqual` means "greater than".
import { goFormat, goTypeName, type YamlMap, type YamlValue } from '../yaml-data.js';
import {
  andSoFar,
  errorInfo,
  failFormat,
  overDocuments,
  splitInfo,
  type ValidateContext,
  type Validator,
  type Verdict,
} from './common.js';
import { lookup } from './path-values.js';

export class LengthEqualValidator implements Validator {
  constructor(
    private readonly path: string,
    private readonly paths: readonly string[],
    private readonly count: number | undefined,
  ) {}

  private info(path: string, count: string, actual: string, documentIndex: number, not: boolean): string[] {
    return splitInfo(failFormat(not, true, true, false, ' to match count'), documentIndex, -1, path, count, actual);
  }

  private lengths(
    doc: YamlMap,
    path: string,
    documentIndex: number,
    context: ValidateContext,
  ): { passed: boolean; info: string[]; length: number } {
    const found = lookup(doc, path, documentIndex);
    if (!found.ok) return { passed: false, info: [...found.verdict.info], length: 0 };
    let passed = found.values.length === 0 && context.negative;
    const info: string[] = [];
    let length = 0;
    for (const [valueIndex, actual] of found.values.entries()) {
      if (!Array.isArray(actual) && this.count === undefined) {
        info.push(...errorInfo(`${path} is not array`, documentIndex, valueIndex));
        continue;
      }
      length = Array.isArray(actual) ? actual.length : 0;
      let ok = true;
      if (this.count !== undefined && (length === this.count) === context.negative) {
        ok = false;
        info.push(...this.info(path, String(this.count), String(length), documentIndex, context.negative));
      }
      passed = andSoFar(valueIndex, passed, ok);
      if (!passed && context.failFast) break;
    }
    return { passed, info, length };
  }

  private several(doc: YamlMap, documentIndex: number, context: ValidateContext): Verdict {
    const info: string[] = [];
    const counts = new Map<string, number>();
    let allPassed = true;
    for (const path of this.paths) {
      const result = this.lengths(doc, path, documentIndex, context);
      counts.set(path, result.length);
      if (!result.passed) {
        info.push(...result.info);
        allPassed = false;
      }
    }
    if (!allPassed) return { passed: false, info };
    let baseline = -1;
    for (const path of [...counts.keys()].sort()) {
      const length = counts.get(path) ?? 0;
      if (baseline === -1) baseline = length;
      else if ((baseline === length) === context.negative) {
        return {
          passed: false,
          info: [...info, ...this.info(path, '-1', String(length), documentIndex, context.negative)],
        };
      }
    }
    return { passed: baseline !== -1, info };
  }

  validate(context: ValidateContext): Verdict {
    if (this.path !== '' && (this.count === undefined || this.count < 0)) {
      return { passed: false, info: errorInfo("'count' field must be set if 'path' is used") };
    }
    if (this.path !== '' && this.paths.length > 0)
      return { passed: false, info: errorInfo("'paths' couldn't be used with 'path'") };
    return overDocuments(
      context,
      (doc, index) =>
        this.path !== '' ? this.lengths(doc, this.path, index, context) : this.several(doc, index, context),
      () => this.info('', '', 'no manifest found', -1, context.negative),
    );
  }
}

type Comparison = 'greater' | 'less';

function ordered(actual: YamlValue, expected: YamlValue): number | undefined {
  if (typeof actual === 'bigint' && typeof expected === 'bigint')
    return actual < expected ? -1 : actual > expected ? 1 : 0;
  if (typeof actual === 'number' && typeof expected === 'number')
    return actual < expected ? -1 : actual > expected ? 1 : 0;
  if (typeof actual === 'string' && typeof expected === 'string')
    return actual < expected ? -1 : actual > expected ? 1 : 0;
  return undefined;
}

export class CompareValidator implements Validator {
  constructor(
    private readonly path: string,
    private readonly value: YamlValue,
    private readonly comparison: Comparison,
  ) {}

  private info(message: string, documentIndex: number, valueIndex: number, not: boolean): string[] {
    return splitInfo(
      failFormat(not, true, false, false, ` to be ${this.comparison} then or equal to, got`),
      documentIndex,
      valueIndex,
      this.path,
      message,
    );
  }

  /** Upstream's `(greater && a >= e) || (less && a <= e) == flag` with flag = !negative. */
  private compare(actual: YamlValue, negative: boolean): { passed: boolean; message: string } {
    const order = ordered(actual, this.value);
    if (order === undefined)
      return { passed: false, message: `unsupported type '${goTypeName(this.value) || '<nil>'}'` };
    const flag = !negative;
    const passed = (this.comparison === 'greater' && order >= 0) || (this.comparison === 'less' && order <= 0) === flag;
    const message = `the actual '${goFormat(actual)}' is not ${this.comparison} or equal to the expected '${goFormat(this.value)}'`;
    return { passed, message };
  }

  validate(context: ValidateContext): Verdict {
    return overDocuments(
      context,
      (doc, documentIndex) => {
        const found = lookup(doc, this.path, documentIndex);
        if (!found.ok) return found.verdict;
        if (found.values.length === 0 && !context.negative)
          return { passed: false, info: errorInfo(`unknown path '${this.path}'`, documentIndex) };
        let passed = found.values.length === 0 && context.negative;
        const info: string[] = [];
        for (const [valueIndex, actual] of found.values.entries()) {
          if (goTypeName(actual) !== goTypeName(this.value)) {
            const message = `actual '${goTypeName(actual) || '<nil>'}' and expected '${goTypeName(this.value) || '<nil>'}' types do not match`;
            info.push(...errorInfo(message, documentIndex, valueIndex));
            continue;
          }
          const result = this.compare(actual, context.negative);
          if (!result.passed) info.push(...this.info(result.message, documentIndex, valueIndex, context.negative));
          passed = andSoFar(valueIndex, passed, result.passed);
          if (!passed && context.failFast) break;
        }
        return { passed, info };
      },
      () => this.info('no manifests found', -1, -1, context.negative),
    );
  }
}
