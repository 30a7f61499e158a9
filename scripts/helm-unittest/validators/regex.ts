// matchRegex / notMatchRegex on the string at a path (a non-string is an error even when
// negated) and matchRegexRaw / notMatchRegexRaw on a template's raw text. Patterns are Go RE2,
// searched unanchored.
import { goRegExp } from '../go-regexp.js';
import { toYamlText } from '../yaml-data.js';
import {
  andSoFar,
  errorInfo,
  failFormat,
  overDocuments,
  rawOf,
  splitInfo,
  uniformContent,
  type ValidateContext,
  type Validator,
  type Verdict,
} from './common.js';
import { decodeBase64 } from './equality.js';
import { lookup } from './path-values.js';

function compile(pattern: string): RegExp | string {
  try {
    return goRegExp(pattern);
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

const PATTERN_REQUIRED = "expected field 'pattern' to be filled";

export class MatchRegexValidator implements Validator {
  constructor(
    private readonly path: string,
    private readonly pattern: string,
    private readonly base64: boolean,
  ) {}

  private info(actual: string, documentIndex: number, valueIndex: number, not: boolean): string[] {
    return splitInfo(
      failFormat(not, true, true, false, ' to match'),
      documentIndex,
      valueIndex,
      this.path,
      this.pattern,
      actual,
    );
  }

  validate(context: ValidateContext): Verdict {
    if (this.pattern === '') return { passed: false, info: errorInfo(PATTERN_REQUIRED) };
    return overDocuments(
      context,
      (doc, documentIndex) => {
        const found = lookup(doc, this.path, documentIndex);
        if (!found.ok) return found.verdict;
        const regex = compile(this.pattern);
        if (typeof regex === 'string') return { passed: false, info: errorInfo(regex) };
        if (found.values.length === 0 && !context.negative)
          return { passed: false, info: errorInfo(`unknown path ${this.path}`, documentIndex) };
        let passed = found.values.length === 0 && context.negative;
        const info: string[] = [];
        for (const [valueIndex, actual] of found.values.entries()) {
          let ok: boolean;
          if (typeof actual === 'string') {
            const text = this.base64 ? decodeBase64(actual) : actual;
            if (text === undefined) {
              ok = false;
              info.push(...errorInfo(`unable to decode base64 expected content ${actual}`, documentIndex, valueIndex));
            } else {
              ok = regex.test(text) !== context.negative;
              if (!ok) info.push(...this.info(text, documentIndex, valueIndex, context.negative));
            }
          } else {
            ok = false;
            info.push(
              ...errorInfo(
                `expect '${this.path}' to be a string, got:\n${toYamlText(actual)}`,
                documentIndex,
                valueIndex,
              ),
            );
          }
          passed = andSoFar(valueIndex, passed, ok);
          if (!passed && context.failFast) break;
        }
        return { passed, info };
      },
      () => this.info('no manifest found', -1, -1, context.negative),
    );
  }
}

export class MatchRegexRawValidator implements Validator {
  constructor(private readonly pattern: string) {}

  private info(actual: string, not: boolean): string[] {
    return splitInfo(failFormat(not, false, true, false, ' to match'), -1, -1, this.pattern, actual);
  }

  validate(context: ValidateContext): Verdict {
    if (this.pattern === '') return { passed: false, info: errorInfo(PATTERN_REQUIRED) };
    const regex = compile(this.pattern);
    if (typeof regex === 'string' && context.selected.length > 0) return { passed: false, info: errorInfo(regex) };
    return overDocuments(
      context,
      (doc) => {
        if (typeof regex === 'string') return { passed: false, info: errorInfo(regex) };
        const actual = uniformContent(rawOf(doc));
        if (regex.test(actual) === context.negative)
          return { passed: false, info: this.info(actual, context.negative) };
        return { passed: true, info: [] };
      },
      () => this.info('no manifest found', context.negative),
    );
  }
}
