// contains / notContains: the value at a path must be a list holding `content` (deep-equal, or
// with `any: true` a map whose listed keys match), optionally exactly `count` times.
import { deepEqual, hasKey, isMap, toYamlText, type YamlMap, type YamlValue } from '../yaml-data.js';
import {
  errorInfo,
  failFormat,
  overDocuments,
  splitInfo,
  type ValidateContext,
  type Validator,
  type Verdict,
} from './common.js';
import { overPathValues } from './path-values.js';

/** Each top-level key of `subset` deep-equals the same key of `actual` (a missing key is null). */
export function isSubsetOf(actual: YamlMap, subset: YamlMap): boolean {
  return Object.keys(subset).every((key) => deepEqual(hasKey(actual, key) ? actual[key] : null, subset[key]));
}

export class ContainsValidator implements Validator {
  constructor(
    private readonly path: string,
    private readonly content: YamlValue,
    private readonly count: number | undefined,
    private readonly any: boolean,
  ) {}

  private info(actual: YamlValue, documentIndex: number, valueIndex: number, not: boolean): string[] {
    return splitInfo(
      failFormat(not, true, true, false, ' to contain'),
      documentIndex,
      valueIndex,
      this.path,
      toYamlText([this.content]),
      toYamlText(actual),
    );
  }

  private matches(list: readonly YamlValue[]): number {
    let found = 0;
    for (const element of list) {
      if (this.any && isMap(element) && isMap(this.content)) {
        if (isSubsetOf(element, this.content)) found += 1;
      } else if (deepEqual(element, this.content)) {
        found += 1;
      }
    }
    return found;
  }

  private single(list: YamlValue[], documentIndex: number, valueIndex: number, context: ValidateContext): Verdict {
    const found = this.matches(list);
    if (this.count === undefined) {
      if (found > 0 === context.negative)
        return { passed: false, info: this.info(list, documentIndex, valueIndex, context.negative) };
      return { passed: true, info: [] };
    }
    if ((found > 0 && found === this.count) === context.negative) {
      if (found === 0) return { passed: false, info: this.info(list, documentIndex, valueIndex, context.negative) };
      const message = `expect count ${this.count} in '${this.path}' to be in array, got ${found}:\n${toYamlText(list)}`;
      return { passed: false, info: errorInfo(message, documentIndex, valueIndex) };
    }
    return { passed: true, info: [] };
  }

  validate(context: ValidateContext): Verdict {
    return overDocuments(
      context,
      (doc, documentIndex) =>
        overPathValues(doc, documentIndex, this.path, context, (actual, valueIndex) => {
          if (Array.isArray(actual)) return this.single(actual, documentIndex, valueIndex, context);
          return {
            passed: false,
            info: errorInfo(
              `expect '${this.path}' to be an array, got:\n${toYamlText(actual)}`,
              documentIndex,
              valueIndex,
            ),
          };
        }),
      () => this.info('no manifest found', 0, -1, context.negative),
    );
  }
}
