// Assertions about what sits at a path: exists / notExists (isNotNull / isNull test for the key,
// not for null), isNullOrEmpty / isEmpty and their negations, isType, isSubset / isNotSubset.
import { goTypeName, isMap, toYamlText, type YamlValue } from '../yaml-data.js';
import {
  errorInfo,
  failFormat,
  overDocuments,
  splitInfo,
  type ValidateContext,
  type Validator,
  type Verdict,
} from './common.js';
import { isSubsetOf } from './contains.js';
import { lookup, overPathValues } from './path-values.js';

export class ExistsValidator implements Validator {
  constructor(private readonly path: string) {}

  private info(documentIndex: number, not: boolean): string[] {
    return splitInfo(`Path:%s expected to ${not ? 'NOT ' : ''}exists`, documentIndex, -1, this.path);
  }

  validate(context: ValidateContext): Verdict {
    return overDocuments(
      context,
      (doc, index) => {
        const found = lookup(doc, this.path, index);
        if (!found.ok) return found.verdict;
        if (found.values.length > 0 === context.negative)
          return { passed: false, info: this.info(index, context.negative) };
        return { passed: true, info: [] };
      },
      () => this.info(-1, context.negative),
    );
  }
}

export function isEmptyValue(value: YamlValue): boolean {
  if (value === null) return true;
  if (Array.isArray(value)) return value.length === 0;
  if (isMap(value)) return Object.keys(value).length === 0;
  return value === '' || value === false || value === 0n || value === 0;
}

export class NullOrEmptyValidator implements Validator {
  constructor(private readonly path: string) {}

  private info(actual: YamlValue, documentIndex: number, valueIndex: number, not: boolean): string[] {
    return splitInfo(
      failFormat(not, true, false, false, ' to be null or empty, got'),
      documentIndex,
      valueIndex,
      this.path,
      toYamlText(actual),
    );
  }

  validate(context: ValidateContext): Verdict {
    return overDocuments(
      context,
      (doc, index) =>
        overPathValues(doc, index, this.path, context, (actual, valueIndex) => {
          if (isEmptyValue(actual) === context.negative)
            return { passed: false, info: this.info(actual, index, valueIndex, context.negative) };
          return { passed: true, info: [] };
        }),
      () => this.info('no manifest found', -1, -1, context.negative),
    );
  }
}

export class IsTypeValidator implements Validator {
  constructor(
    private readonly path: string,
    private readonly type: string,
  ) {}

  private info(actualType: string, documentIndex: number, valueIndex: number, not: boolean): string[] {
    return splitInfo(
      failFormat(not, true, true, false, ' to be of type'),
      documentIndex,
      valueIndex,
      this.path,
      this.type,
      actualType,
    );
  }

  validate(context: ValidateContext): Verdict {
    return overDocuments(
      context,
      (doc, index) =>
        overPathValues(doc, index, this.path, context, (actual, valueIndex) => {
          const actualType = goTypeName(actual);
          if ((actualType === this.type) === context.negative)
            return { passed: false, info: this.info(actualType, index, valueIndex, context.negative) };
          return { passed: true, info: [] };
        }),
      () => this.info('no manifest found', -1, -1, context.negative),
    );
  }
}

export class IsSubsetValidator implements Validator {
  constructor(
    private readonly path: string,
    private readonly content: YamlValue,
  ) {}

  private info(actual: YamlValue, documentIndex: number, valueIndex: number, not: boolean): string[] {
    return splitInfo(
      failFormat(not, true, true, false, ' to contain'),
      documentIndex,
      valueIndex,
      this.path,
      toYamlText(this.content),
      toYamlText(actual),
    );
  }

  validate(context: ValidateContext): Verdict {
    return overDocuments(
      context,
      (doc, index) =>
        overPathValues(doc, index, this.path, context, (actual, valueIndex) => {
          if (isMap(actual) && isMap(this.content)) {
            const found = isSubsetOf(actual, this.content);
            if (found === context.negative)
              return { passed: false, info: this.info(actual, index, valueIndex, context.negative) };
            return { passed: true, info: [] };
          }
          return {
            passed: false,
            info: errorInfo(`expect '${this.path}' to be an object, got:\n${toYamlText(actual)}`, index, valueIndex),
          };
        }),
      () => this.info('no manifest found', -1, -1, context.negative),
    );
  }
}
