// Every assertion type a suite may use: which validator checks it, whether it is the negated
// (antonym) form, and whether it needs a successful render. Parameters are read the way
// upstream decodes them (mapstructure: keys case-insensitive, no type coercion).
import { goFormat, isMap, type YamlValue } from '../yaml-data.js';
import type { Validator } from './common.js';
import { ContainsValidator } from './contains.js';
import { CompareValidator, LengthEqualValidator } from './counting.js';
import { ContainsDocumentValidator, FieldIsValidator, HasDocumentsValidator } from './documents.js';
import { EqualRawValidator, EqualValidator } from './equality.js';
import { FailedTemplateValidator } from './failed-template.js';
import { MatchRegexRawValidator, MatchRegexValidator } from './regex.js';
import { ExistsValidator, IsSubsetValidator, IsTypeValidator, NullOrEmptyValidator } from './shape.js';

export class AssertionParamsError extends Error {
  override readonly name = 'AssertionParamsError';
}

const GO_TYPE: Record<string, string> = { bigint: 'int', number: 'float64', string: 'string', boolean: 'bool' };

function goTypeOf(value: YamlValue): string {
  if (value === null) return '<nil>';
  if (Array.isArray(value)) return '[]interface {}';
  return GO_TYPE[typeof value] ?? 'map[string]interface {}';
}

/** Case-insensitive, type-checked access to an assertion's parameters. */
export class Params {
  private readonly byLowerKey = new Map<string, YamlValue>();

  constructor(type: string, raw: YamlValue) {
    if (raw === null) return;
    if (!isMap(raw)) throw new AssertionParamsError(`'' expected a map, got '${goTypeOf(raw)}' (assertion ${type})`);
    for (const [key, value] of Object.entries(raw)) this.byLowerKey.set(key.toLowerCase(), value);
  }

  private wrong(name: string, want: string, value: YamlValue): never {
    throw new AssertionParamsError(
      `'${name}' expected type '${want}', got unconvertible type '${goTypeOf(value)}', value: '${goFormat(value)}'`,
    );
  }

  any(name: string): YamlValue {
    return this.byLowerKey.get(name.toLowerCase()) ?? null;
  }

  string(name: string): string {
    const value = this.byLowerKey.get(name.toLowerCase());
    if (value === undefined || value === null) return '';
    if (typeof value !== 'string') return this.wrong(name, 'string', value);
    return value;
  }

  bool(name: string): boolean {
    const value = this.byLowerKey.get(name.toLowerCase());
    if (value === undefined || value === null) return false;
    if (typeof value !== 'boolean') return this.wrong(name, 'bool', value);
    return value;
  }

  int(name: string): number | undefined {
    const value = this.byLowerKey.get(name.toLowerCase());
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'bigint') return this.wrong(name, 'int', value);
    return Number(value);
  }

  strings(name: string): string[] {
    const value = this.byLowerKey.get(name.toLowerCase());
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) return this.wrong(name, '[]string', value);
    return value.map((item) => (typeof item === 'string' ? item : this.wrong(name, 'string', item)));
  }
}

export interface AssertionKind {
  readonly antonym: boolean;
  readonly requireRenderSuccess: boolean;
  /** False for the snapshot assertions, which this runner reports as unsupported. */
  readonly supported: boolean;
  create(params: Params): Validator;
}

function kind(create: (params: Params) => Validator, antonym = false, requireRenderSuccess = true): AssertionKind {
  return { antonym, requireRenderSuccess, supported: true, create };
}

const unsupported: AssertionKind = {
  antonym: false,
  requireRenderSuccess: true,
  supported: false,
  create: () => ({
    validate: () => ({ passed: false, info: ['Error:', '\tsnapshot assertions are not supported by this runner'] }),
  }),
};

const equal = (p: Params): Validator => new EqualValidator(p.string('path'), p.any('value'), p.bool('decodeBase64'));
const greater = (p: Params): Validator => new CompareValidator(p.string('path'), p.any('value'), 'greater');
const less = (p: Params): Validator => new CompareValidator(p.string('path'), p.any('value'), 'less');
const equalRaw = (p: Params): Validator => new EqualRawValidator(p.string('value'));
const exists = (p: Params): Validator => new ExistsValidator(p.string('path'));
const matchRegex = (p: Params): Validator =>
  new MatchRegexValidator(p.string('path'), p.string('pattern'), p.bool('decodeBase64'));
const matchRegexRaw = (p: Params): Validator => new MatchRegexRawValidator(p.string('pattern'));
const contains = (p: Params): Validator =>
  new ContainsValidator(p.string('path'), p.any('content'), p.int('count'), p.bool('any'));
const nullOrEmpty = (p: Params): Validator => new NullOrEmptyValidator(p.string('path'));
const subset = (p: Params): Validator => new IsSubsetValidator(p.string('path'), p.any('content'));
const failed = (p: Params): Validator =>
  new FailedTemplateValidator(p.string('errorMessage'), p.string('errorPattern'));
const lengthEqual = (p: Params): Validator =>
  new LengthEqualValidator(p.string('path'), p.strings('paths'), p.int('count'));
const isType = (p: Params): Validator => new IsTypeValidator(p.string('path'), p.string('type'));

export const ASSERTION_KINDS: ReadonlyMap<string, AssertionKind> = new Map<string, AssertionKind>([
  ['matchSnapshot', unsupported],
  ['matchSnapshotRaw', unsupported],
  ['equal', kind(equal)],
  ['notEqual', kind(equal, true)],
  ['greaterOrEqual', kind(greater)],
  ['notGreaterOrEqual', kind(greater, true)],
  ['lessOrEqual', kind(less)],
  ['notLessOrEqual', kind(less, true)],
  ['equalRaw', kind(equalRaw)],
  ['notEqualRaw', kind(equalRaw, true)],
  ['exists', kind(exists)],
  ['notExists', kind(exists, true)],
  ['isNotNull', kind(exists)],
  ['isNull', kind(exists, true)],
  ['matchRegex', kind(matchRegex)],
  ['notMatchRegex', kind(matchRegex, true)],
  ['matchRegexRaw', kind(matchRegexRaw)],
  ['notMatchRegexRaw', kind(matchRegexRaw, true)],
  ['contains', kind(contains)],
  ['notContains', kind(contains, true)],
  ['isKind', kind((p) => new FieldIsValidator('kind', p.string('of')))],
  ['isAPIVersion', kind((p) => new FieldIsValidator('apiVersion', p.string('of')))],
  ['hasDocuments', kind((p) => new HasDocumentsValidator(p.int('count') ?? 0, p.bool('filterAware')))],
  ['isSubset', kind(subset)],
  ['isNotSubset', kind(subset, true)],
  ['isNullOrEmpty', kind(nullOrEmpty)],
  ['isNotNullOrEmpty', kind(nullOrEmpty, true)],
  ['isEmpty', kind(nullOrEmpty)],
  ['isNotEmpty', kind(nullOrEmpty, true)],
  ['failedTemplate', kind(failed, false, false)],
  ['notFailedTemplate', kind(failed, true)],
  [
    'containsDocument',
    kind(
      (p) =>
        new ContainsDocumentValidator({
          kind: p.string('kind'),
          apiVersion: p.string('apiVersion'),
          name: p.string('name'),
          namespace: p.string('namespace'),
          any: p.bool('any'),
        }),
    ),
  ],
  ['lengthEqual', kind(lengthEqual)],
  ['notLengthEqual', kind(lengthEqual, true)],
  ['isType', kind(isType)],
  ['isNotType', kind(isType, true)],
]);
