// The CLI end to end on a chart written for these tests, rendered by the real helm binaries:
// what a user sees (summary, PASS/FAIL lines, failure details, exit status, JUnit file) for the
// features the conformance corpus does not reach.
import test from 'ava';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli, summaryCounts } from './run-cli.js';

const CHART: Record<string, string> = {
  'Chart.yaml': 'apiVersion: v2\nname: demo\nversion: 1.2.3\nappVersion: "4.5"\n',
  'values.yaml':
    'replicas: 2\nimage: {repository: nginx, tag: stable}\nlabels: {team: core, tier: web}\nhosts: [a.example]\nfailMe: false\n',
  'templates/_helpers.tpl': '{{- define "demo.name" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end -}}\n',
  'templates/deployment.yaml': [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    '  name: {{ include "demo.name" . }}',
    '  namespace: {{ .Release.Namespace }}',
    '  labels:',
    '    chart: "{{ .Chart.Name }}-{{ .Chart.Version }}"',
    '    app-version: {{ .Chart.AppVersion | quote }}',
    '    {{- toYaml .Values.labels | nindent 4 }}',
    '  annotations:',
    '    upgrade: {{ .Release.IsUpgrade | quote }}',
    '    kube-minor: {{ .Capabilities.KubeVersion.Minor | quote }}',
    '    has-monitoring: {{ .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" | quote }}',
    'spec:',
    '  replicas: {{ .Values.replicas }}',
    '  template:',
    '    spec:',
    '      containers:',
    '        - name: app',
    '          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"',
    '      hosts: {{ toJson .Values.hosts }}',
    '',
  ].join('\n'),
  'templates/service.yaml':
    'apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ include "demo.name" . }}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {{ include "demo.name" . }}-headless\n',
  'templates/guard.yaml':
    '{{- if .Values.failMe }}{{ fail "failMe must stay false" }}{{- end }}\nkind: ConfigMap\napiVersion: v1\nmetadata: {name: guard}\n',
  'templates/NOTES.txt': 'Release {{ .Release.Name }} installed   \nin {{ .Release.Namespace }}.\n',
};

const PASSING_SUITE = `
suite: everything that should pass
templates: [deployment.yaml, NOTES.txt]
values: [values/extra.yaml]
set:
  labels.tier: suite-set
tests:
  - it: renders with upstream's defaults
    template: deployment.yaml
    asserts:
      - equal: {path: metadata.name, value: RELEASE-NAME-demo}
      - equal: {path: metadata.namespace, value: NAMESPACE}
      - equal: {path: spec.replicas, value: 5}
      - equal: {path: metadata.labels.chart, value: demo-1.2.3}
      - equal: {path: metadata.annotations.upgrade, value: "false"}
      - equal: {path: metadata.annotations.kube-minor, value: "20"}
      - equal: {path: metadata.annotations.has-monitoring, value: "false"}
  - it: merges values files, then suite set, then test set; null deletes a chart default
    template: deployment.yaml
    set:
      labels.team: null
      image.tag: "1.25"
      hosts[1]: b.example
    asserts:
      - equal: {path: metadata.labels.tier, value: suite-set}
      - notExists: {path: metadata.labels.team}
      - equal:
          path: spec.template.spec.containers[0].image
          value: "nginx:1.25"
      - equal: {path: spec.template.spec.hosts, value: [null, b.example]}
  - it: takes release, chart and capabilities from the test
    template: deployment.yaml
    release: {name: prod, namespace: shop, upgrade: true}
    chart: {version: 9.9.9, appVersion: "10.0"}
    capabilities: {minorVersion: 29, apiVersions: [monitoring.coreos.com/v1]}
    asserts:
      - equal: {path: metadata.name, value: prod-demo}
      - equal: {path: metadata.labels.chart, value: demo-9.9.9}
      - equal: {path: metadata.labels.app-version, value: "10.0"}
      - equal: {path: metadata.annotations.upgrade, value: "true"}
      - equal: {path: metadata.annotations.kube-minor, value: "29"}
      - equal: {path: metadata.annotations.has-monitoring, value: "true"}
  - it: renders NOTES.txt as raw text
    template: NOTES.txt
    asserts:
      - equalRaw: {value: "Release RELEASE-NAME installed\\nin NAMESPACE.\\n"}
      - matchRegexRaw: {pattern: "installed"}
  - it: is skipped
    skip: {reason: not yet}
    asserts:
      - exists: {path: nothing}
---
suite: documents per template
templates: [service.yaml]
tests:
  - it: counts and indexes documents of one template
    asserts:
      - hasDocuments: {count: 2}
      - equal: {path: metadata.name, value: RELEASE-NAME-demo-headless}
        documentIndex: 1
---
suite: guard
templates: [guard.yaml]
tests:
  - it: fails the guard template with its message
    set: {failMe: true}
    asserts:
      - failedTemplate: {errorMessage: failMe must stay false}
  - it: renders when allowed
    asserts:
      - notFailedTemplate: {}
      - isKind: {of: ConfigMap}
`;

const FAILING_SUITE = `
suite: failures
templates: [deployment.yaml]
tests:
  - it: has the wrong replica count
    asserts:
      - equal: {path: spec.replicas, value: 3}
  - it: is never reached with --failfast
    asserts:
      - exists: {path: spec.replicas}
`;

async function writeChart(dir: string): Promise<void> {
  for (const [file, content] of Object.entries(CHART)) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), content);
  }
  await mkdir(path.join(dir, 'tests', 'values'), { recursive: true });
  await writeFile(path.join(dir, 'tests', 'values', 'extra.yaml'), 'replicas: 5\nlabels: {tier: from-file}\n');
  await writeFile(path.join(dir, 'tests', 'pass_test.yaml'), PASSING_SUITE);
  await mkdir(path.join(dir, 'more', 'deep'), { recursive: true });
  await writeFile(path.join(dir, 'more', 'deep', 'failing_test.yaml'), FAILING_SUITE);
  await writeFile(
    path.join(dir, 'more', 'snapshot_test.yaml'),
    'suite: snapshots\ntests:\n  - it: snaps\n    asserts:\n      - matchSnapshot: {}\n',
  );
  await writeFile(
    path.join(dir, 'more', 'strict_test.yaml'),
    'suite: typo\ntemplatez: [x]\ntests:\n  - it: t\n    asserts:\n      - exists: {path: a}\n',
  );
}

let work = '';
test.before(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'hu-e2e-'));
  await writeChart(path.join(work, 'demo'));
});
test.after.always(async () => {
  if (work !== '') await rm(work, { recursive: true, force: true });
});

for (const helmMajor of [3, 4] as const) {
  test.serial(`helm ${helmMajor}: a passing suite file prints PASS lines, the summary and exits 0`, async (t) => {
    const run = await runCli(['demo'], { cwd: work, helmMajor });
    t.is(run.code, 0, run.stdout + run.stderr);
    t.true(run.stdout.includes('### Chart [ demo ] demo'));
    t.true(run.stdout.includes(' PASS  everything that should pass\tdemo/tests/pass_test.yaml'), run.stdout);
    t.true(run.stdout.includes("\t- SKIPPED 'is skipped'"));
    t.deepEqual(summaryCounts(run.stdout, 'Test Suites'), { passed: 3, failed: 0, skipped: 0, total: 3 });
    t.deepEqual(summaryCounts(run.stdout, 'Tests'), { passed: 7, failed: 0, skipped: 1, total: 8 });
  });
}

test.serial('a failing test shows the template, document, path, expected and actual, and exits 1', async (t) => {
  const run = await runCli(['-f', 'more/**/failing_test.yaml', 'demo'], { cwd: work, helmMajor: 4 });
  t.is(run.code, 1);
  const expected = [
    ' FAIL  failures\tdemo/more/deep/failing_test.yaml',
    '\t- has the wrong replica count',
    '',
    '\t\t- asserts[0] `equal` fail',
    '\t\t\tTemplate:\tdemo/templates/deployment.yaml',
    '\t\t\tDocumentIndex:\t0',
    '\t\t\tValuesIndex:\t0',
    '\t\t\tPath:\tspec.replicas',
    '\t\t\tExpected to equal:',
    '\t\t\t\t3',
    '\t\t\tActual:',
    '\t\t\t\t2',
  ].join('\n');
  t.true(run.stdout.includes(expected), run.stdout);
  t.deepEqual(summaryCounts(run.stdout, 'Tests'), { passed: 1, failed: 1, skipped: 0, total: 2 });
  t.true(run.stdout.includes('Charts:      1 failed, 0 passed, 1 total'));
});

test.serial('--failfast stops at the first failing test', async (t) => {
  const run = await runCli(['-q', '-f', 'more/**/failing_test.yaml', 'demo'], { cwd: work, helmMajor: 4 });
  t.is(run.code, 1);
  t.deepEqual(summaryCounts(run.stdout, 'Tests'), { passed: 0, failed: 1, skipped: 0, total: 1 });
});

test.serial('-t JUnit -o writes a JUnit report of the run', async (t) => {
  const report = path.join(work, 'reports', 'junit.xml');
  const run = await runCli(['-f', 'more/deep/*_test.yaml', '-t', 'JUnit', '-o', report, 'demo'], {
    cwd: work,
    helmMajor: 4,
  });
  t.is(run.code, 1);
  const xml = await readFile(report, 'utf8');
  t.regex(xml, /<testsuite id="0" tests="2" failures="1" errors="0"[^>]* name="failures"/);
  t.regex(
    xml,
    /<testcase classname="failures" name="has the wrong replica count" time="[\d.]+">\s*<failure message="Failed" type="">/,
  );
  t.regex(xml, /<testcase classname="failures" name="is never reached with --failfast" time="[\d.]+"><\/testcase>/);
});

test.serial('matchSnapshot is reported as unsupported and counted as errored', async (t) => {
  const run = await runCli(['-f', 'more/snapshot_test.yaml', 'demo'], { cwd: work, helmMajor: 4 });
  t.is(run.code, 1);
  t.true(run.stdout.includes('Error: matchSnapshot is not supported by this runner'), run.stdout);
  t.true(run.stdout.includes('Tests:       1 failed, 1 errored, 0 passed, 1 total'), run.stdout);
});

test.serial('--strict makes an unknown suite key a chart error', async (t) => {
  const loose = await runCli(['-f', 'more/strict_test.yaml', 'demo'], { cwd: work, helmMajor: 4 });
  t.true(
    loose.stdout.includes('Charts:      1 failed'),
    'without --strict the unknown key is ignored, the assertion fails on its own',
  );
  const strict = await runCli(['--strict', '-f', 'more/strict_test.yaml', 'demo'], { cwd: work, helmMajor: 4 });
  t.is(strict.code, 1);
  t.true(strict.stdout.includes('field templatez not found'), strict.stdout);
  t.true(strict.stdout.includes('Charts:      1 failed, 1 errored, 0 passed, 1 total'), strict.stdout);
});

test.serial('no chart argument is a usage error with exit status 1', async (t) => {
  const run = await runCli([], { cwd: work, helmMajor: 4 });
  t.is(run.code, 1);
  t.true(run.stderr.includes('requires at least 1 arg(s)'));
});
