// Each assertion type, positive and negated, against rendered documents (the render itself is
// covered by the conformance and end-to-end tests; here the documents are given).
import test from 'ava';
import { runAssertion, type Rendered } from '../../scripts/helm-unittest/assertion-run.js';
import { parseSuites } from '../../scripts/helm-unittest/suite-file.js';
import { parseYamlDocuments, type YamlMap } from '../../scripts/helm-unittest/yaml-data.js';

const TEMPLATE = 'c/templates/t.yaml';

const DOCS = parseYamlDocuments(`
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
  labels: {app: web, tier: front}
  annotations: {checksum: ""}
data:
  encoded: aGVsbG8=
  text: "line one   \\nline two"
  port: "80"
  empty.value:
spec:
  replicas: 3
  ratio: 1.5
  paused: false
  selector: {}
  ports: [80, 443]
  args: []
  containers:
    - {name: web, image: "nginx:1.25"}
    - {name: sidecar, image: "envoy:1"}
`) as YamlMap[];

function verdict(assertion: string, docs: readonly YamlMap[] = DOCS, rendered?: Partial<Rendered>): boolean {
  const text = `suite: s\ntemplates: [t.yaml]\ntests:\n  - it: x\n    asserts:\n      - ${assertion.replaceAll('\n', '\n        ')}\n`;
  const [suite] = parseSuites(text, '/tmp/s_test.yaml', {
    chartRoute: 'c',
    strict: true,
    valuesFiles: [],
    cwd: '/tmp',
  });
  const testSpec = suite?.tests[0];
  const spec = testSpec?.assertions[0];
  if (suite === undefined || testSpec === undefined || spec === undefined) throw new Error('suite did not parse');
  const base: Rendered = {
    manifests: new Map([[TEMPLATE, docs]]),
    outputKeys: [TEMPLATE],
    renderSucceed: true,
    renderError: undefined,
  };
  return runAssertion(spec, testSpec, suite, { ...base, ...rendered }, false).passed;
}

/** [assertion YAML, passes] */
const CASES: [string, boolean][] = [
  ['equal: {path: metadata.name, value: web}', true],
  ['equal: {path: metadata.name, value: api}', false],
  ['notEqual: {path: metadata.name, value: api}', true],
  ['notEqual: {path: metadata.name, value: web}', false],
  ['equal: {path: metadata.name, value: api}\nnot: true', true],
  ['equal: {path: spec.replicas, value: 3}', true],
  ['equal: {path: spec.replicas, value: 3.0}', false],
  ['equal: {path: spec.ratio, value: 1.5}', true],
  ['equal: {path: data.port, value: 80}', false],
  ['equal: {path: data.port, value: "80"}', true],
  ['equal: {path: data.text, value: "line one\\nline two"}', true],
  ['equal: {path: data.encoded, value: hello, decodeBase64: true}', true],
  ['equal: {path: metadata.missing, value: x}', false],
  ['notEqual: {path: metadata.missing, value: x}', true],
  ['equal: {path: metadata.labels, value: {app: web, tier: front}}', true],
  ['matchRegex: {path: metadata.name, pattern: ^w.b$}', true],
  ['matchRegex: {path: metadata.name, pattern: ^api}', false],
  ['notMatchRegex: {path: metadata.name, pattern: ^api}', true],
  ['notMatchRegex: {path: metadata.name, pattern: ^web}', false],
  ['matchRegex: {path: spec.replicas, pattern: "3"}', false],
  ['notMatchRegex: {path: spec.replicas, pattern: "4"}', false],
  ['matchRegex: {path: metadata.name, pattern: "(?i)WEB"}', true],
  ['contains: {path: spec.ports, content: 443}', true],
  ['contains: {path: spec.ports, content: 8080}', false],
  ['notContains: {path: spec.ports, content: 8080}', true],
  ['notContains: {path: spec.ports, content: 80}', false],
  ['contains: {path: spec.ports, content: 80, count: 1}', true],
  ['contains: {path: spec.ports, content: 80, count: 2}', false],
  ['contains: {path: spec.containers, content: {name: web}, any: true}', true],
  ['contains: {path: spec.containers, content: {name: web}}', false],
  ['contains: {path: metadata.name, content: web}', false],
  ['containsDocument: {kind: Deployment, apiVersion: apps/v1}', true],
  ['containsDocument: {kind: Deployment, apiVersion: apps/v1, name: web, namespace: prod}', true],
  ['containsDocument: {kind: Deployment, apiVersion: apps/v1, name: api}', false],
  ['containsDocument: {kind: Service, apiVersion: v1}', false],
  ['containsDocument: {kind: Service, apiVersion: v1}\nnot: true', true],
  ['exists: {path: metadata.labels.app}', true],
  ['exists:\n  path: data["empty.value"]', true],
  ['exists: {path: metadata.labels.nope}', false],
  ['notExists: {path: metadata.labels.nope}', true],
  ['notExists: {path: metadata.labels.app}', false],
  ['isNull: {path: metadata.labels.nope}', true],
  ['isNull:\n  path: data["empty.value"]', false],
  ['isNotNull:\n  path: data["empty.value"]', true],
  ['isNotNull: {path: metadata.labels.nope}', false],
  ['isEmpty: {path: spec.args}', true],
  ['isEmpty: {path: spec.selector}', true],
  ['isEmpty: {path: spec.paused}', true],
  ['isEmpty: {path: metadata.annotations.checksum}', true],
  ['isEmpty:\n  path: data["empty.value"]', true],
  ['isEmpty: {path: spec.ports}', false],
  ['isEmpty: {path: metadata.nope}', false],
  ['isNotEmpty: {path: spec.ports}', true],
  ['isNotEmpty: {path: spec.args}', false],
  ['isNotEmpty: {path: metadata.nope}', true],
  ['isNullOrEmpty: {path: spec.args}', true],
  ['isNullOrEmpty: {path: spec.replicas}', false],
  ['isNotNullOrEmpty: {path: spec.replicas}', true],
  ['isNotNullOrEmpty: {path: spec.args}', false],
  ['isKind: {of: Deployment}', true],
  ['isKind: {of: Service}', false],
  ['isKind: {of: Service}\nnot: true', true],
  ['isAPIVersion: {of: apps/v1}', true],
  ['isAPIVersion: {of: v1}', false],
  ['isAPIVersion: {of: v1}\nnot: true', true],
  ['isType: {path: spec.replicas, type: int}', true],
  ['isType: {path: spec.ratio, type: float64}', true],
  ['isType: {path: metadata.labels, type: "map[string]interface {}"}', true],
  ['isType: {path: spec.ports, type: "[]interface {}"}', true],
  ['isType: {path: spec.replicas, type: string}', false],
  ['isNotType: {path: spec.replicas, type: string}', true],
  ['isNotType: {path: spec.replicas, type: int}', false],
  ['isSubset: {path: metadata.labels, content: {app: web}}', true],
  ['isSubset: {path: metadata.labels, content: {app: api}}', false],
  ['isNotSubset: {path: metadata.labels, content: {app: api}}', true],
  ['isNotSubset: {path: metadata.labels, content: {app: web}}', false],
  ['isSubset: {path: metadata.name, content: {app: web}}', false],
  ['hasDocuments: {count: 1}', true],
  ['hasDocuments: {count: 2}', false],
  ['hasDocuments: {count: 2}\nnot: true', true],
  ['lengthEqual: {path: spec.ports, count: 2}', true],
  ['lengthEqual: {path: spec.ports, count: 3}', false],
  ['notLengthEqual: {path: spec.ports, count: 3}', true],
  ['notLengthEqual: {path: spec.ports, count: 2}', false],
  ['lengthEqual: {paths: [spec.ports, spec.containers]}', true],
  ['lengthEqual: {paths: [spec.ports, spec.args]}', false],
  ['lengthEqual: {path: spec.ports}', false],
  ['greaterOrEqual: {path: spec.replicas, value: 3}', true],
  ['greaterOrEqual: {path: spec.replicas, value: 4}', false],
  ['greaterOrEqual: {path: spec.ratio, value: 1.5}', true],
  ['greaterOrEqual: {path: spec.replicas, value: 2.0}', false],
  ['greaterOrEqual: {path: metadata.name, value: wea}', true],
  ['lessOrEqual: {path: spec.replicas, value: 3}', true],
  ['lessOrEqual: {path: spec.replicas, value: 2}', false],
  ['notLessOrEqual: {path: spec.replicas, value: 2}', true],
  ['notLessOrEqual: {path: spec.replicas, value: 3}', false],
  // Upstream's precedence quirk: notGreaterOrEqual passes whenever the types match.
  ['notGreaterOrEqual: {path: spec.replicas, value: 1}', true],
  ['notGreaterOrEqual: {path: spec.replicas, value: "1"}', false],
  ['notFailedTemplate: {}', true],
  ['failedTemplate: {}', false],
];

for (const [assertion, passes] of CASES) {
  test(`${passes ? 'passes' : 'fails'}: ${assertion.replaceAll('\n', ', ')}`, (t) => {
    t.is(verdict(assertion), passes);
  });
}

const NOTES: YamlMap[] = [{ raw: '\n  1. Get the URL   \n  http://example\n' }];

for (const [assertion, passes] of [
  ['equalRaw: {value: "  1. Get the URL\\n  http://example\\n"}', true],
  ['equalRaw: {value: "other"}', false],
  ['notEqualRaw: {value: "other"}', true],
  ['notEqualRaw: {value: "  1. Get the URL\\n  http://example\\n"}', false],
  ['matchRegexRaw: {pattern: "http://\\\\w+"}', true],
  ['matchRegexRaw: {pattern: "https"}', false],
  ['notMatchRegexRaw: {pattern: "https"}', true],
  ['notMatchRegexRaw: {pattern: "http"}', false],
] as const) {
  test(`raw text ${passes ? 'passes' : 'fails'}: ${assertion}`, (t) => {
    t.is(verdict(assertion, NOTES), passes);
  });
}

test('a template with no documents fails the positive form and passes the negated one', (t) => {
  t.false(verdict('exists: {path: metadata.name}', []));
  t.true(verdict('notExists: {path: metadata.name}', []));
  t.false(verdict('isKind: {of: Deployment}', []));
  t.true(verdict('hasDocuments: {count: 0}', []));
});

test('a template outside the render fails with "not exists"', (t) => {
  t.false(verdict('exists: {path: metadata.name}\ntemplate: other.yaml'));
  t.false(verdict('notExists: {path: metadata.name}\ntemplate: other.yaml'));
});

const FAILED: Partial<Rendered> = {
  manifests: new Map([[TEMPLATE, [{ raw: 'The `.Release.name`: must be <= 3 characters!' }]]]),
  renderSucceed: false,
};

test('failedTemplate matches the message of its template exactly, by pattern, or any', (t) => {
  t.true(verdict('failedTemplate: {errorMessage: "The `.Release.name`: must be <= 3 characters!"}', [], FAILED));
  t.false(verdict('failedTemplate: {errorMessage: "must be <= 3 characters!"}', [], FAILED));
  t.true(verdict('failedTemplate: {errorPattern: "must be <= 3"}', [], FAILED));
  t.true(verdict('failedTemplate: {errorPattern: "name`: must"}', [], FAILED));
  t.false(verdict('failedTemplate: {errorPattern: "^must"}', [], FAILED));
  t.true(verdict('failedTemplate: {}', [], FAILED));
  t.false(verdict('notFailedTemplate: {}', [], FAILED));
  t.false(verdict('failedTemplate: {errorMessage: a, errorPattern: b}', [], FAILED));
});

test('failedTemplate compares an error that names no template as a whole', (t) => {
  const schema: Partial<Rendered> = {
    manifests: new Map(),
    outputKeys: [],
    renderSucceed: false,
    renderError: "values don't meet the specifications: at '/value': got null, want string",
  };
  t.true(verdict('failedTemplate: {}', [], schema));
  t.true(verdict('failedTemplate: {errorPattern: "got null"}', [], schema));
  t.false(verdict('failedTemplate: {errorMessage: "got null"}', [], schema));
});

test('unknown, duplicate or missing assertion types make the suite invalid', (t) => {
  t.throws(() => verdict('equalz: {path: a, value: b}'), { message: /Assertion type `equalz` is invalid/ });
  t.throws(() => verdict('equal: {path: a, value: b}\nexists: {path: a}'), { message: /declared duplicately/ });
  t.throws(() => verdict('not: true'), { message: /no assertion type defined/ });
  t.throws(() => verdict('equal: {path: 3, value: b}'), { message: /'path' expected type 'string'/ });
});
