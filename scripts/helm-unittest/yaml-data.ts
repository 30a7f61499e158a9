// YAML data as upstream helm-unittest sees it (Go yaml.v3 decoded into interface{}):
// integers stay integers (bigint here) and floats stay floats (number), so `1` never equals
// `1.0`; integer literals resolve the way Go's strconv.ParseInt(s, 0, 64) does (0755 is octal,
// 0x1f hex, 1_000 allowed); merge keys are honoured. Also: Go-like DeepEqual, Go type names
// (isType) and a YAML marshaller for failure messages.
import { parseAllDocuments, parseDocument, stringify, type Document, type ScalarTag, type Tags } from 'yaml';

export type YamlScalar = null | boolean | bigint | number | string;
export interface YamlMap {
  [key: string]: YamlValue;
}
export type YamlValue = YamlScalar | YamlValue[] | YamlMap;

const GO_INT = /^[-+]?(?:0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|0[0-7_]+|0|[1-9][0-9_]*)$/;

function parseGoInt(source: string): bigint {
  const negative = source.startsWith('-');
  let digits = source.replace(/^[-+]/, '').replaceAll('_', '');
  if (/^0[0-7]+$/.test(digits)) digits = `0o${digits.slice(1)}`;
  const value = BigInt(digits);
  return negative ? -value : value;
}

const goIntTag: ScalarTag = {
  identify: (value) => typeof value === 'bigint',
  default: true,
  tag: 'tag:yaml.org,2002:int',
  test: GO_INT,
  resolve: (source) => parseGoInt(source),
};

const PARSE_OPTIONS = {
  intAsBigInt: true,
  merge: true,
  customTags: (tags: Tags): Tags => [goIntTag, ...tags],
} as const;

export class YamlSyntaxError extends Error {
  override readonly name = 'YamlSyntaxError';
}

/** Every document of `text`, in order, as plain data. Empty documents come back as null. */
export function parseYamlDocuments(text: string): YamlValue[] {
  const docs = parseAllDocuments(text, PARSE_OPTIONS);
  const list = Array.isArray(docs) ? docs : [docs];
  const values: YamlValue[] = [];
  for (const doc of list) {
    const first = doc.errors[0];
    if (first !== undefined) throw new YamlSyntaxError(first.message);
    values.push(doc.toJS({ maxAliasCount: 1000 }) as YamlValue);
  }
  return values;
}

/** One document with its nodes kept (suite files need scalars' source text, as Go decodes them). */
export function parseYamlNodes(text: string): Document {
  const doc = parseDocument(text, PARSE_OPTIONS);
  const first = doc.errors[0];
  if (first !== undefined) throw new YamlSyntaxError(first.message);
  return doc;
}

/** The single document of `text` (null when empty). */
export function parseYaml(text: string): YamlValue {
  const docs = parseYamlDocuments(text);
  if (docs.length > 1) throw new YamlSyntaxError('expected a single YAML document');
  return docs[0] ?? null;
}

export function isMap(value: YamlValue | undefined): value is YamlMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function hasKey(map: YamlMap, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(map, key);
}

/** Go reflect.DeepEqual over decoded YAML: types must match exactly (int vs float, "80" vs 80). */
export function deepEqual(a: YamlValue | undefined, b: YamlValue | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (typeof a !== typeof b) return false;
  if (a === null || b === null) return a === b;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, i) => deepEqual(item, b[i]));
  }
  if (isMap(a) && isMap(b)) {
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every((key) => hasKey(b, key) && deepEqual(a[key], b[key]));
  }
  if (typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b)) return false;
  return a === b;
}

/** The name Go's reflect.TypeOf(x).String() gives a yaml.v3-decoded value ("" for null). */
export function goTypeName(value: YamlValue): string {
  if (value === null) return '';
  if (Array.isArray(value)) return '[]interface {}';
  switch (typeof value) {
    case 'bigint':
      return 'int';
    case 'number':
      return 'float64';
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    default:
      return 'map[string]interface {}';
  }
}

function withoutLeadingNewlines(value: YamlValue): YamlValue {
  if (typeof value === 'string') return value.replace(/^\n+/, '');
  if (Array.isArray(value)) return value.map(withoutLeadingNewlines);
  if (isMap(value)) {
    const out: YamlMap = {};
    for (const [key, item] of Object.entries(value)) out[key] = withoutLeadingNewlines(item);
    return out;
  }
  return value;
}

/** YAML text for failure messages, in the shape upstream prints (sorted keys, 2-space indent). */
export function toYamlText(value: YamlValue): string {
  return stringify(withoutLeadingNewlines(value), { indent: 2, sortMapEntries: true, lineWidth: 0 });
}

/** Go's fmt "%v" for a decoded YAML value, as used in a few upstream messages. */
export function goFormat(value: YamlValue): string {
  if (value === null) return '<nil>';
  if (Array.isArray(value)) return `[${value.map(goFormat).join(' ')}]`;
  if (isMap(value)) {
    const parts = Object.keys(value)
      .sort()
      .map((key) => `${key}:${goFormat(value[key] ?? null)}`);
    return `map[${parts.join(' ')}]`;
  }
  return String(value);
}

/** A scalar node's value as text (what String() gives for YAML's scalars); anything else as goFormat. */
export function scalarText(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'bigint':
    case 'boolean':
      return String(value);
    case 'undefined':
      return 'undefined';
    default:
      return goFormat(value as YamlValue);
  }
}
