// equal / notEqual and equalRaw / notEqualRaw: Go DeepEqual of the value at a path (strings
// normalised and optionally base64-decoded first), or of a template's whole raw text.
import { deepEqual, toYamlText, type YamlValue } from '../yaml-data.js';
import {
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
import { overPathValues } from './path-values.js';
import { unifiedDiff } from './unified-diff.js';

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function decodeBase64(text: string): string | undefined {
  if (!STRICT_BASE64.test(text)) return undefined;
  return Buffer.from(text, 'base64').toString('utf8');
}

function equalityInfo(
  path: string | undefined,
  expected: YamlValue,
  actual: YamlValue,
  documentIndex: number,
  valueIndex: number,
  not: boolean,
): string[] {
  const expectedYaml = toYamlText(expected);
  const withPath = path !== undefined;
  const head = withPath ? [path] : [];
  if (not)
    return splitInfo(
      failFormat(not, withPath, false, false, ' to equal'),
      documentIndex,
      valueIndex,
      ...head,
      expectedYaml,
    );
  const actualYaml = toYamlText(actual);
  return splitInfo(
    failFormat(not, withPath, true, true, ' to equal'),
    documentIndex,
    valueIndex,
    ...head,
    expectedYaml,
    actualYaml,
    unifiedDiff(expectedYaml, actualYaml),
  );
}

export class EqualValidator implements Validator {
  constructor(
    private readonly path: string,
    private readonly value: YamlValue,
    private readonly base64: boolean,
  ) {}

  private single(actual: YamlValue, documentIndex: number, valueIndex: number, context: ValidateContext): Verdict {
    let compared = actual;
    if (typeof actual === 'string') {
      let text = actual;
      if (this.base64) {
        const decoded = decodeBase64(text);
        if (decoded === undefined)
          return {
            passed: false,
            info: errorInfo(`unable to decode base64 expected content ${actual}`, documentIndex, valueIndex),
          };
        text = decoded;
      }
      compared = uniformContent(text);
    }
    if (deepEqual(this.value, compared) === context.negative) {
      return {
        passed: false,
        info: equalityInfo(this.path, this.value, compared, documentIndex, valueIndex, context.negative),
      };
    }
    return { passed: true, info: [] };
  }

  validate(context: ValidateContext): Verdict {
    return overDocuments(
      context,
      (doc, index) =>
        overPathValues(doc, index, this.path, context, (actual, valueIndex) =>
          this.single(actual, index, valueIndex, context),
        ),
      () => equalityInfo(this.path, this.value, 'no manifest found', -1, -1, context.negative),
    );
  }
}

export class EqualRawValidator implements Validator {
  constructor(private readonly value: string) {}

  validate(context: ValidateContext): Verdict {
    return overDocuments(
      context,
      (doc) => {
        const actual = uniformContent(rawOf(doc));
        if ((this.value === actual) === context.negative) {
          return { passed: false, info: equalityInfo(undefined, this.value, actual, -1, -1, context.negative) };
        }
        return { passed: true, info: [] };
      },
      () => equalityInfo(undefined, this.value, 'no manifest found', -1, -1, context.negative),
    );
  }
}
