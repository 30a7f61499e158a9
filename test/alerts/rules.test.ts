// The chart's PrometheusRule as Prometheus and the Operator see it: promtool accepts the rule
// groups, the promtool unit tests (rule-tests.yaml) pass and cover every alert both ways, the
// object validates against the Operator's schema, and every runbook link lands on a section
// of chart/README.md.
import test from 'ava';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { copyFile, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { CHART } from '../chart/chart-helm.js';
import { promtool, renderPrometheusRule, ruleGroups, writeRuleFile, type Rule } from './prom-tools.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const UNIT_TESTS = path.join(HERE, 'rule-tests.yaml');

const alerts = (rules: readonly Rule[]): Rule[] => rules.filter((r) => r.alert !== undefined);

/** GitHub's anchor of a Markdown heading: lower case, punctuation dropped, spaces to dashes. */
const anchorOf = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

test('promtool check rules accepts the default rules and reports each group', async (t) => {
  const file = await writeRuleFile(ruleGroups(await renderPrometheusRule()));
  t.teardown(() => rm(path.dirname(file), { recursive: true, force: true }));
  const run = await promtool(['check', 'rules', file], path.dirname(file));
  t.is(run.code, 0, run.output);
  t.regex(run.output, /SUCCESS: \d+ rules found/);
});

test('promtool check rules rejects a broken additionalRules group (the check can fail)', async (t) => {
  const prometheusRule = await renderPrometheusRule([
    '--set-json',
    'metrics.prometheusRule.additionalRules=[{"name":"mine","rules":[{"alert":"Broken","expr":"sum(rate(x[5m]"}]}]',
  ]);
  const groups = ruleGroups(prometheusRule);
  t.deepEqual(
    groups.map((g) => g.name),
    ['fasttext-edge.recording', 'fasttext-edge.alerts', 'mine'],
  );
  const file = await writeRuleFile(groups);
  t.teardown(() => rm(path.dirname(file), { recursive: true, force: true }));
  const run = await promtool(['check', 'rules', file], path.dirname(file));
  t.not(run.code, 0);
  t.regex(run.output, /Broken|parse error/i);
});

test('promtool test rules: every alert fires on its scenario and stays quiet on its near miss', async (t) => {
  const file = await writeRuleFile(ruleGroups(await renderPrometheusRule()));
  const dir = path.dirname(file);
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await copyFile(UNIT_TESTS, path.join(dir, 'rule-tests.yaml'));
  const run = await promtool(['test', 'rules', 'rule-tests.yaml'], dir);
  t.is(run.code, 0, run.output);
  t.regex(run.output, /SUCCESS/);
});

test('the unit tests cover every alert with a firing and a quiet evaluation', async (t) => {
  const names = alerts(ruleGroups(await renderPrometheusRule()).flatMap((g) => g.rules)).map((r) => r.alert as string);
  t.true(names.length >= 9, names.join(', '));
  interface AlertTest {
    alertname: string;
    exp_alerts?: unknown[];
  }
  const doc = parse(await readFile(UNIT_TESTS, 'utf8')) as { tests: { alert_rule_test?: AlertTest[] }[] };
  const evaluations = doc.tests.flatMap((x) => x.alert_rule_test ?? []);
  for (const name of names) {
    const mine = evaluations.filter((e) => e.alertname === name);
    t.true(
      mine.some((e) => (e.exp_alerts ?? []).length > 0),
      `${name}: no evaluation where it fires`,
    );
    t.true(
      mine.some((e) => (e.exp_alerts ?? []).length === 0),
      `${name}: no evaluation where it stays quiet`,
    );
  }
});

test('the PrometheusRule validates against the Prometheus Operator schema, custom values too', async (t) => {
  const variants: string[][] = [
    [],
    [
      '--set',
      'metrics.prometheusRule.namespace=monitoring',
      '--set',
      'metrics.prometheusRule.labels.release=kps',
      '--set',
      'metrics.prometheusRule.additionalLabels.team=search',
      '--set-json',
      'metrics.prometheusRule.additionalRules=[{"name":"mine","rules":[{"alert":"Mine","expr":"up == 0","for":"1m"}]}]',
    ],
  ];
  for (const args of variants) {
    const doc = await renderPrometheusRule(args);
    t.notThrows(() => new PrometheusRule(doc as never).validate(), args.join(' '));
  }
  const custom = await renderPrometheusRule(variants[1]);
  t.is((custom.metadata as { namespace: string }).namespace, 'monitoring');
  t.is((custom.metadata as { labels: Record<string, string> }).labels.release, 'kps');
  for (const rule of alerts(ruleGroups(custom).flatMap((g) => g.rules)).filter((r) => r.alert !== 'Mine'))
    t.is(rule.labels?.team, 'search', rule.alert);
  // The check can fail: a rule without expr is refused by the schema.
  const broken = { ...custom, spec: { groups: [{ name: 'x', rules: [{ alert: 'NoExpr' }] }] } };
  t.throws(() => new PrometheusRule(broken as never).validate());
});

test('every alert has summary, description and a runbook_url whose anchor is a chart README section', async (t) => {
  const readme = await readFile(path.join(CHART, 'README.md'), 'utf8');
  const anchors = new Set([...readme.matchAll(/^#{2,4} (.+)$/gm)].map((m) => anchorOf(m[1] as string)));
  const base = 'https://git.example/chart/README.md';
  const rules = alerts(
    ruleGroups(await renderPrometheusRule(['--set', `metrics.prometheusRule.runbookBaseUrl=${base}`])).flatMap(
      (g) => g.rules,
    ),
  );
  for (const rule of rules) {
    const { summary, description, runbook_url: url } = rule.annotations ?? {};
    t.truthy(summary, `${rule.alert} summary`);
    t.truthy(description, `${rule.alert} description`);
    t.true(url?.startsWith(`${base}#`), `${rule.alert}: ${String(url)}`);
    const anchor = url?.slice(base.length + 1) ?? '';
    t.is(anchor, (rule.alert as string).toLowerCase(), 'the anchor is the alert name, so links stay stable');
    t.true(anchors.has(anchor), `chart/README.md has no section "${rule.alert as string}" (#${anchor})`);
  }
});

test('per-alert switches and thresholds reach the rules', async (t) => {
  const rules = alerts(
    ruleGroups(
      await renderPrometheusRule([
        '--set',
        'metrics.prometheusRule.alerts.memoryNearLimit.enabled=false',
        '--set',
        'metrics.prometheusRule.alerts.podRestarting.enabled=false',
        '--set-json',
        'metrics.prometheusRule.alerts.latencyP99.sloSeconds=0.2',
        '--set',
        'metrics.prometheusRule.alerts.engineRestarts.for=30s',
        '--set',
        'metrics.prometheusRule.alerts.modelNotReady.windowSeconds=60',
      ]),
    ).flatMap((g) => g.rules),
  );
  const byName = new Map(rules.map((r) => [r.alert, r]));
  t.false(byName.has('FasttextMemoryNearLimit'));
  t.false(byName.has('FasttextPodRestarting'));
  t.regex(byName.get('FasttextLatencyP99High')?.expr ?? '', /> 0\.2$/);
  t.is(byName.get('FasttextEngineRestarts')?.for, '30s');
  t.regex(byName.get('FasttextModelNotReady')?.expr ?? '', /\[60s\]/);
});
