import test from 'ava';
import {
  COMPATIBLE_VERSION,
  parseSuites,
  versionMeetsMinimum,
  type SuiteSpec,
} from '../../scripts/helm-unittest/suite-file.js';
import {
  hasWildcard,
  selectTemplates,
  templateKey,
  templatePattern,
} from '../../scripts/helm-unittest/template-names.js';

function parse(text: string, strict = false): SuiteSpec[] {
  return parseSuites(text, '/charts/c/tests/x_test.yaml', {
    chartRoute: 'c',
    strict,
    valuesFiles: ['/abs/cli.yaml'],
    cwd: '/charts',
  });
}

const ASSERT = 'asserts: [{exists: {path: a}}]';

test('several suites per file, separated by ---; the second may have no name', (t) => {
  const suites = parse(`suite: one\ntests:\n  - it: a\n    ${ASSERT}\n---\ntests:\n  - it: b\n    ${ASSERT}\n`);
  t.deepEqual(
    suites.map((s) => [s.name, s.definitionFile]),
    [
      ['one', 'c/tests/x_test.yaml'],
      ['', 'c/tests/x_test.yaml'],
    ],
  );
});

test('scalars read into string fields keep their source text, as Go decodes them', (t) => {
  const [suite] = parse(
    `chart: {appVersion: 2.0, version: 1.10.0}\ncapabilities: {minorVersion: 20}\ntests:\n  - it: a\n    ${ASSERT}\n`,
  );
  t.deepEqual(suite?.tests[0]?.chart, { version: '1.10.0', appVersion: '2.0' });
  t.is(suite?.tests[0]?.capabilities.minorVersion, '20');
});

test('tests inherit release, chart and capabilities field by field; values files are suite, -v, then test', (t) => {
  const [suite] = parse(
    [
      'values: [s.yaml]',
      'release: {name: rel, namespace: ns, upgrade: true}',
      'chart: {version: 1.0.0}',
      'capabilities: {majorVersion: 1, minorVersion: 10, apiVersions: [x/v1]}',
      'tests:',
      `  - it: inherits\n    values: [t.yaml]\n    ${ASSERT}`,
      `  - it: overrides\n    release: {name: other, upgrade: false}\n    chart: {appVersion: "9"}\n    capabilities: {minorVersion: 12, apiVersions: [y/v1]}\n    ${ASSERT}`,
      `  - it: drops the suite api versions\n    capabilities: {apiVersions: }\n    ${ASSERT}`,
      `  - it: keeps them with an empty list\n    capabilities: {apiVersions: []}\n    ${ASSERT}`,
    ].join('\n'),
  );
  const [inherits, overrides, drops, keeps] = suite?.tests ?? [];
  t.deepEqual(inherits?.values, ['s.yaml', '/abs/cli.yaml', 't.yaml']);
  t.deepEqual(inherits?.release, { name: 'rel', namespace: 'ns', revision: 0, upgrade: true });
  t.deepEqual(inherits?.capabilities, { majorVersion: '1', minorVersion: '10', apiVersions: ['x/v1'] });
  t.deepEqual(
    overrides?.release,
    { name: 'other', namespace: 'ns', revision: 0, upgrade: true },
    'upgrade cannot be turned back off',
  );
  t.deepEqual(overrides?.chart, { version: '1.0.0', appVersion: '9' });
  t.deepEqual(overrides?.capabilities, { majorVersion: '1', minorVersion: '12', apiVersions: ['y/v1', 'x/v1'] });
  t.deepEqual(drops?.capabilities.apiVersions, []);
  t.deepEqual(keeps?.capabilities.apiVersions, ['x/v1']);
});

test('skip: a suite reason skips every test; minimumVersion compares with the upstream version followed', (t) => {
  t.is(COMPATIBLE_VERSION, '1.1.0');
  const [reason] = parse(`skip: {reason: later, minimumVersion: 0.0.1}\ntests:\n  - it: a\n    ${ASSERT}\n`);
  t.is(reason?.tests[0]?.skipReason, 'later');
  const [high] = parse(`skip: {minimumVersion: 99.99.99}\ntests:\n  - it: a\n    ${ASSERT}\n`);
  t.regex(high?.tests[0]?.skipReason ?? '', /requires minimum unittest plugin version 99\.99\.99/);
  const [low] = parse(`skip: {minimumVersion: 0.0.1}\ntests:\n  - it: a\n    ${ASSERT}\n`);
  t.is(low?.tests[0]?.skipReason, '');
  t.true(versionMeetsMinimum('1.1.0', '1.1.0'));
  t.false(versionMeetsMinimum('1.1.0', '1.2'));
  t.false(versionMeetsMinimum('1.1.0', 'not-a-version'));
});

test('a suite without tests, or a test without asserts, is an error; --strict rejects unknown keys', (t) => {
  t.throws(() => parse('suite: empty\n'), { message: 'no tests found' });
  t.throws(() => parse('tests:\n  - it: a\n'), { message: 'no asserts found' });
  t.notThrows(() => parse(`templatez: [x]\ntests:\n  - it: a\n    ${ASSERT}\n`));
  t.throws(() => parse(`templatez: [x]\ntests:\n  - it: a\n    ${ASSERT}\n`, true), {
    message: /field templatez not found/,
  });
  t.throws(() => parse(`tests:\n  - it: a\n    sett: {}\n    ${ASSERT}\n`, true), { message: /field sett not found/ });
});

test('template names: templates/ is implied, wildcards cross directories, partials always render', (t) => {
  t.is(templateKey('c', 'service.yaml'), 'c/templates/service.yaml');
  t.is(templateKey('c', 'templates/a/b.yaml'), 'c/templates/a/b.yaml');
  t.is(templateKey('c/charts/sub', 'x.yaml'), 'c/charts/sub/templates/x.yaml');
  t.true(templatePattern('c', '*.yaml').test('c/templates/sub/dir.yaml'));
  t.false(templatePattern('c', 'templates/*.yaml').test('c/templates/NOTES.txt'));
  t.true(hasWildcard(['a.yaml', 'templates/*']));
  const keys = [
    'c/templates/_helpers.tpl',
    'c/templates/a.yaml',
    'c/templates/crd_x.yaml',
    'c/templates/NOTES.txt',
    'c/charts/s/templates/b.yaml',
    'c/charts/s/templates/_s.tpl',
  ];
  t.deepEqual(selectTemplates(keys, 'c', ['a.yaml'], []), [
    'c/templates/_helpers.tpl',
    'c/templates/a.yaml',
    'c/charts/s/templates/_s.tpl',
  ]);
  t.deepEqual(selectTemplates(keys, 'c', ['templates/*.yaml'], ['crd_*']), [
    'c/templates/_helpers.tpl',
    'c/templates/a.yaml',
    'c/charts/s/templates/_s.tpl',
  ]);
  t.deepEqual(selectTemplates(keys, 'c', [], []), keys, 'no templates renders everything');
});
