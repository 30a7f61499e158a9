// Test suite files (`tests/*_test.yaml`) read into typed suites the way upstream decodes them:
// `---`-separated suites, Go-style decoding (a scalar read into a string field keeps its source
// text, e.g. `minorVersion: 20` is "20"), `--strict` rejecting unknown keys, suite defaults
// folded into each test (release, chart, capabilities, skip, values files), `skip.minimumVersion`
// compared with the upstream version this runner follows, and the checks that make a whole chart
// error ("no tests found", "no asserts found", a bad assertion).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isMap as isYamlMap, isScalar, isSeq, type Document, type Node, type YAMLMap } from 'yaml';
import { ASSERTION_KINDS, Params, type AssertionKind } from './validators/registry.js';
import type { Validator } from './validators/common.js';
import { isMap, parseYamlNodes, scalarText, type YamlMap, type YamlValue } from './yaml-data.js';

/** The upstream helm-unittest version whose behaviour this runner follows (for skip.minimumVersion). */
export const COMPATIBLE_VERSION = '1.1.0';

export class SuiteFileError extends Error {
  override readonly name = 'SuiteFileError';
}

export interface DocumentSelector {
  readonly path: string;
  /** undefined when the selector has no `value` (any document where the path exists). */
  readonly value: YamlValue | undefined;
  readonly matchMany: boolean;
  readonly skipEmptyTemplates: boolean;
}

export interface AssertionSpec {
  readonly index: number;
  readonly type: string;
  readonly kind: AssertionKind;
  readonly validator: Validator;
  readonly not: boolean;
  readonly template: string;
  /** -1 when not set. */
  readonly documentIndex: number;
  readonly documentSelector: DocumentSelector | undefined;
}

export interface ReleaseSpec {
  readonly name: string;
  readonly namespace: string;
  readonly revision: number;
  readonly upgrade: boolean;
}

export interface ChartSpec {
  readonly version: string;
  readonly appVersion: string;
}

export interface CapabilitiesSpec {
  readonly majorVersion: string;
  readonly minorVersion: string;
  readonly apiVersions: readonly string[];
}

export interface TestSpec {
  readonly name: string;
  readonly values: readonly string[];
  readonly set: YamlMap;
  readonly template: string;
  readonly templates: readonly string[];
  readonly documentIndex: number | undefined;
  readonly documentSelector: DocumentSelector | undefined;
  readonly release: ReleaseSpec;
  readonly chart: ChartSpec;
  readonly capabilities: CapabilitiesSpec;
  readonly skipReason: string;
  readonly assertions: readonly AssertionSpec[];
  /** Features present in the suite that this runner cannot honour (reported as an error). */
  readonly unsupported: readonly string[];
}

export interface SuiteSpec {
  readonly name: string;
  /** Absolute path of the suite file. */
  readonly file: string;
  /** The suite file relative to the working directory, as printed. */
  readonly definitionFile: string;
  readonly chartRoute: string;
  readonly set: YamlMap;
  readonly templates: readonly string[];
  readonly excludeTemplates: readonly string[];
  readonly includeCrds: boolean;
  readonly skipReason: string;
  readonly tests: readonly TestSpec[];
}

const SUITE_KEYS = [
  'suite',
  'values',
  'set',
  'templates',
  'excludeTemplates',
  'includeCrds',
  'release',
  'chart',
  'capabilities',
  'kubernetesProvider',
  'postRenderer',
  'tests',
  'snapshotId',
  'skip',
];
const TEST_KEYS = [
  'it',
  'values',
  'set',
  'template',
  'templates',
  'documentIndex',
  'documentindices',
  'documentSelector',
  'release',
  'chart',
  'capabilities',
  'asserts',
  'skip',
  'kubernetesProvider',
  'postRenderer',
];
const RELEASE_KEYS = ['name', 'namespace', 'revision', 'upgrade'];
const CHART_KEYS = ['version', 'appVersion'];
const CAPABILITY_KEYS = ['majorVersion', 'minorVersion', 'apiVersions'];
const SELECTOR_KEYS = ['path', 'value', 'matchMany', 'skipEmptyTemplates'];

/** Go-style reads from one YAML mapping node. */
class Fields {
  constructor(
    private readonly doc: Document,
    private readonly node: YAMLMap | undefined,
    private readonly where: string,
  ) {}

  static of(doc: Document, node: Node | null | undefined, where: string): Fields {
    if (node === null || node === undefined || (isScalar(node) && node.value === null))
      return new Fields(doc, undefined, where);
    if (!isYamlMap(node))
      throw new SuiteFileError(`yaml: unmarshal errors: cannot unmarshal ${kindOf(node)} into ${where}`);
    return new Fields(doc, node, where);
  }

  keys(): string[] {
    return (this.node?.items ?? []).map((pair) => (isScalar(pair.key) ? String(pair.key.value) : String(pair.key)));
  }

  strict(known: readonly string[], enabled: boolean): void {
    if (!enabled) return;
    for (const key of this.keys()) {
      if (!known.includes(key))
        throw new SuiteFileError(`yaml: unmarshal errors:\n  field ${key} not found in type ${this.where}`);
    }
  }

  has(key: string): boolean {
    return this.node?.has(key) ?? false;
  }

  raw(key: string): Node | null | undefined {
    const value: unknown = this.node?.get(key, true);
    return value === undefined ? undefined : (value as Node | null);
  }

  private fail(key: string, node: Node, want: string): never {
    throw new SuiteFileError(
      `yaml: unmarshal errors: cannot unmarshal ${kindOf(node)} into ${this.where}.${key} of type ${want}`,
    );
  }

  string(key: string): string {
    const node = this.raw(key);
    if (node === undefined || node === null) return '';
    if (!isScalar(node)) return this.fail(key, node, 'string');
    if (node.value === null) return '';
    if (typeof node.value === 'string') return node.value;
    return typeof node.source === 'string' ? node.source : scalarText(node.value);
  }

  int(key: string): number | undefined {
    const node = this.raw(key);
    if (node === undefined || node === null || (isScalar(node) && node.value === null)) return undefined;
    if (!isScalar(node) || typeof node.value !== 'bigint') return this.fail(key, node, 'int');
    return Number(node.value);
  }

  bool(key: string): boolean {
    const node = this.raw(key);
    if (node === undefined || node === null || (isScalar(node) && node.value === null)) return false;
    if (!isScalar(node) || typeof node.value !== 'boolean') return this.fail(key, node, 'bool');
    return node.value;
  }

  strings(key: string): string[] {
    const node = this.raw(key);
    if (node === undefined || node === null || (isScalar(node) && node.value === null)) return [];
    if (!isSeq(node)) return this.fail(key, node, '[]string');
    return node.items.map((item, i) => {
      if (!isScalar(item)) return this.fail(`${key}[${i}]`, item as Node, 'string');
      if (item.value === null) return '';
      return typeof item.value === 'string'
        ? item.value
        : typeof item.source === 'string'
          ? item.source
          : scalarText(item.value);
    });
  }

  value(key: string): YamlValue | undefined {
    const node = this.raw(key);
    if (node === undefined) return undefined;
    if (node === null) return null;
    return node.toJS(this.doc, { maxAliasCount: 1000 }) as YamlValue;
  }

  map(key: string): YamlMap {
    const value = this.value(key);
    if (value === undefined || value === null) return {};
    if (!isMap(value)) return this.fail(key, this.raw(key) as Node, 'map[string]interface {}');
    return value;
  }

  fields(key: string, where: string): Fields {
    return Fields.of(this.doc, this.raw(key), where);
  }

  items(key: string): (Node | null)[] {
    const node = this.raw(key);
    if (node === undefined || node === null || (isScalar(node) && node.value === null)) return [];
    if (!isSeq(node)) return this.fail(key, node, 'list');
    return node.items as (Node | null)[];
  }
}

function kindOf(node: Node): string {
  if (isYamlMap(node)) return '!!map';
  if (isSeq(node)) return '!!seq';
  if (isScalar(node)) {
    switch (typeof node.value) {
      case 'bigint':
        return `!!int \`${String(node.source ?? node.value)}\``;
      case 'number':
        return `!!float \`${String(node.source ?? node.value)}\``;
      case 'boolean':
        return `!!bool \`${String(node.value)}\``;
      default:
        return node.value === null ? '!!null' : `!!str \`${scalarText(node.value)}\``;
    }
  }
  return 'node';
}

function semver(text: string): [number, number, number, string] | undefined {
  const match = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(text.trim());
  if (match === null) return undefined;
  return [Number(match[1]), Number(match[2] ?? 0), Number(match[3] ?? 0), match[4] ?? ''];
}

/** Masterminds semver `current >= minimum`; an unparsable version never meets the minimum. */
export function versionMeetsMinimum(current: string, minimum: string): boolean {
  const a = semver(current);
  const b = semver(minimum);
  if (a === undefined || b === undefined) return false;
  for (let i = 0; i < 3; i += 1) {
    if (a[i] !== b[i]) return (a[i] as number) > (b[i] as number);
  }
  if (a[3] === b[3]) return true;
  if (a[3] === '') return true;
  if (b[3] === '') return false;
  return a[3] > b[3];
}

function parseSelector(fields: Fields, strict: boolean): DocumentSelector | undefined {
  if (fields.keys().length === 0) return undefined;
  fields.strict(SELECTOR_KEYS, strict);
  return {
    path: fields.string('path'),
    value: fields.has('value') ? (fields.value('value') ?? null) : undefined,
    matchMany: fields.bool('matchMany'),
    skipEmptyTemplates: fields.bool('skipEmptyTemplates'),
  };
}

function parseAssertion(doc: Document, node: Node | null, index: number): AssertionSpec {
  const fields = Fields.of(doc, node, 'assertion');
  let type: string | undefined;
  let kind: AssertionKind | undefined;
  for (const key of fields.keys()) {
    const found = ASSERTION_KINDS.get(key);
    if (found === undefined) continue;
    if (type !== undefined)
      throw new SuiteFileError(`assertion type \`${type}\` and \`${key}\` is declared duplicately`);
    type = key;
    kind = found;
  }
  if (type === undefined || kind === undefined) {
    for (const key of fields.keys()) {
      if (!['template', 'documentIndex', 'not', 'documentSelector'].includes(key))
        throw new SuiteFileError(`Assertion type \`${key}\` is invalid`);
    }
    throw new SuiteFileError('no assertion type defined');
  }
  let selector: DocumentSelector | undefined;
  const selectorValue = fields.value('documentSelector');
  if (isMap(selectorValue)) {
    if (typeof selectorValue.path !== 'string') throw new SuiteFileError("empty 'documentSelector.path' not supported");
    selector = {
      path: selectorValue.path,
      value: selectorValue.value,
      matchMany: selectorValue.matchMany === true,
      skipEmptyTemplates: selectorValue.skipEmptyTemplates === true,
    };
  }
  const documentIndex = fields.value('documentIndex');
  const not = fields.value('not');
  const template = fields.value('template');
  return {
    index,
    type,
    kind,
    validator: kind.create(new Params(type, fields.value(type) ?? null)),
    not: not === true,
    template: typeof template === 'string' ? template : '',
    documentIndex: typeof documentIndex === 'bigint' ? Number(documentIndex) : -1,
    documentSelector: selector,
  };
}

interface SuiteDefaults {
  readonly release: ReleaseSpec;
  readonly chart: ChartSpec;
  readonly capabilities: CapabilitiesSpec;
  readonly skipReason: string;
  readonly values: readonly string[];
  readonly unsupported: readonly string[];
}

function parseRelease(fields: Fields, strict: boolean): ReleaseSpec {
  fields.strict(RELEASE_KEYS, strict);
  return {
    name: fields.string('name'),
    namespace: fields.string('namespace'),
    revision: fields.int('revision') ?? 0,
    upgrade: fields.bool('upgrade'),
  };
}

function parseChart(fields: Fields, strict: boolean): ChartSpec {
  fields.strict(CHART_KEYS, strict);
  return { version: fields.string('version'), appVersion: fields.string('appVersion') };
}

/** A test's `capabilities`: a missing apiVersions keeps the suite's list, `apiVersions:` (null) drops it. */
function testCapabilities(fields: Fields, strict: boolean, suite: CapabilitiesSpec): CapabilitiesSpec {
  fields.strict(CAPABILITY_KEYS, strict);
  const version = (key: string): string => {
    const value = fields.value(key);
    if (typeof value === 'string') return value;
    if (typeof value === 'bigint') return value.toString();
    return '';
  };
  let apiVersions: string[] | null = [];
  if (fields.has('apiVersions')) {
    const value = fields.value('apiVersions');
    apiVersions = Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : null;
  }
  return {
    majorVersion: version('majorVersion') || suite.majorVersion,
    minorVersion: version('minorVersion') || suite.minorVersion,
    apiVersions:
      apiVersions === null ? [] : suite.apiVersions.length > 0 ? [...apiVersions, ...suite.apiVersions] : apiVersions,
  };
}

function unsupportedFeatures(fields: Fields): string[] {
  const found: string[] = [];
  const provider = fields.value('kubernetesProvider');
  if (isMap(provider) && Array.isArray(provider.objects) && provider.objects.length > 0)
    found.push('kubernetesProvider');
  const renderer = fields.value('postRenderer');
  if (isMap(renderer) && typeof renderer.cmd === 'string' && renderer.cmd !== '') found.push('postRenderer');
  return found;
}

function parseTest(doc: Document, node: Node | null, strict: boolean, defaults: SuiteDefaults): TestSpec {
  const fields = Fields.of(doc, node, 'unittest.TestJob');
  fields.strict(TEST_KEYS, strict);
  const release = parseRelease(fields.fields('release', 'unittest.TestJob.Release'), strict);
  const chart = parseChart(fields.fields('chart', 'unittest.TestJob.Chart'), strict);
  const skip = fields.fields('skip', 'unittest.TestJob.Skip');
  skip.strict(['reason'], strict);
  const assertions = fields.items('asserts').map((item, index) => parseAssertion(doc, item, index));
  return {
    name: fields.string('it'),
    values: [...defaults.values, ...fields.strings('values')],
    set: fields.map('set'),
    template: fields.string('template'),
    templates: fields.strings('templates'),
    documentIndex: fields.int('documentIndex'),
    documentSelector: parseSelector(fields.fields('documentSelector', 'valueutils.DocumentSelector'), strict),
    release: {
      name: release.name || defaults.release.name,
      namespace: release.namespace || defaults.release.namespace,
      revision: release.revision || defaults.release.revision,
      upgrade: release.upgrade || defaults.release.upgrade,
    },
    chart: {
      version: chart.version || defaults.chart.version,
      appVersion: chart.appVersion || defaults.chart.appVersion,
    },
    capabilities: testCapabilities(
      fields.fields('capabilities', 'unittest.TestJob.Capabilities'),
      strict,
      defaults.capabilities,
    ),
    skipReason: defaults.skipReason || skip.string('reason'),
    assertions,
    unsupported: [...defaults.unsupported, ...unsupportedFeatures(fields)],
  };
}

export interface SuiteFileOptions {
  readonly chartRoute: string;
  readonly strict: boolean;
  /** Absolute `-v` values files, applied after the suite's own. */
  readonly valuesFiles: readonly string[];
  readonly cwd: string;
}

function parseSuite(text: string, file: string, options: SuiteFileOptions): SuiteSpec | undefined {
  const doc = parseYamlNodes(text);
  if (doc.contents === null) return undefined;
  const fields = Fields.of(doc, doc.contents, 'unittest.TestSuite');
  fields.strict(SUITE_KEYS, options.strict);
  const capabilities = fields.fields('capabilities', 'unittest.TestSuite.Capabilities');
  capabilities.strict(CAPABILITY_KEYS, options.strict);
  const skip = fields.fields('skip', 'unittest.TestSuite.Skip');
  skip.strict(['reason', 'minimumVersion'], options.strict);
  let skipReason = skip.string('reason');
  const minimumVersion = skip.string('minimumVersion');
  const testNodes = fields.items('tests');
  if (testNodes.length === 0) throw new SuiteFileError('no tests found');
  if (minimumVersion !== '' && skipReason === '' && !versionMeetsMinimum(COMPATIBLE_VERSION, minimumVersion)) {
    skipReason = `Test suite requires minimum unittest plugin version ${minimumVersion}, but current version is ${COMPATIBLE_VERSION}`;
  }
  const defaults: SuiteDefaults = {
    release: parseRelease(fields.fields('release', 'unittest.TestSuite.Release'), options.strict),
    chart: parseChart(fields.fields('chart', 'unittest.TestSuite.Chart'), options.strict),
    capabilities: {
      majorVersion: capabilities.string('majorVersion'),
      minorVersion: capabilities.string('minorVersion'),
      apiVersions: capabilities.strings('apiVersions'),
    },
    skipReason,
    values: [...fields.strings('values'), ...options.valuesFiles],
    unsupported: unsupportedFeatures(fields),
  };
  const tests = testNodes.map((node) => parseTest(doc, node, options.strict, defaults));
  if (tests.some((test) => test.assertions.length === 0)) throw new SuiteFileError('no asserts found');
  return {
    name: fields.string('suite'),
    file,
    definitionFile: path.relative(options.cwd, file),
    chartRoute: options.chartRoute,
    set: fields.map('set'),
    templates: fields.strings('templates'),
    excludeTemplates: fields.strings('excludeTemplates'),
    includeCrds: fields.bool('includeCrds'),
    skipReason,
    tests,
  };
}

/** Upstream's suite separator (also Helm's manifest separator). */
export const SEPARATOR = /(?:^|\s*\n)---\s*/;

/** Every suite in one file, in order. */
export async function readSuiteFile(file: string, options: SuiteFileOptions): Promise<SuiteSpec[]> {
  return parseSuites(await readFile(file, 'utf8'), file, options);
}

/** Every suite in the text of a suite file at `file`. */
export function parseSuites(text: string, file: string, options: SuiteFileOptions): SuiteSpec[] {
  const suites: SuiteSpec[] = [];
  for (const part of text.split(SEPARATOR)) {
    if (part.trim() === '') continue;
    const suite = parseSuite(part, file, options);
    if (suite !== undefined) suites.push(suite);
  }
  return suites;
}
