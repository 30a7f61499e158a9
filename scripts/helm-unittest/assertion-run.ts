// One assertion against one test's render, as upstream's Assertion.Assert: pick the templates
// (the assertion's `template`, else the test's `templates`/`template`, else the suite's, where a
// wildcard or no list means every rendered file), pick their documents, then validate each
// template and AND the verdicts. A template that is not in the render fails with "not exists".
import { selectDocuments } from './document-selection.js';
import type { AssertionResult } from './results.js';
import type { AssertionSpec, SuiteSpec, TestSpec } from './suite-file.js';
import { hasWildcard, templateKey } from './template-names.js';
import type { YamlMap } from './yaml-data.js';

export interface Rendered {
  /** Parsed documents per template key; a key that is absent was not rendered or not selected. */
  readonly manifests: ReadonlyMap<string, readonly YamlMap[]>;
  /** Every file the render produced (the set a wildcard suite asserts on). */
  readonly outputKeys: readonly string[];
  readonly renderSucceed: boolean;
  /** A render error not tied to a template (compared whole by failedTemplate). */
  readonly renderError: string | undefined;
}

export function templatesToAssert(
  assertion: AssertionSpec,
  test: TestSpec,
  suite: SuiteSpec,
  rendered: Rendered,
): string[] {
  const route = suite.chartRoute;
  if (assertion.template !== '') return [templateKey(route, assertion.template)];
  if (test.templates.length > 0) return test.templates.map((name) => templateKey(route, name));
  if (test.template !== '') return [templateKey(route, test.template)];
  if (suite.templates.length === 0 || hasWildcard(suite.templates)) return [...rendered.outputKeys];
  return suite.templates.map((name) => templateKey(route, name));
}

function fail(assertion: AssertionSpec, failInfo: string[]): AssertionResult {
  return { index: assertion.index, type: assertion.type, not: assertion.not, passed: false, skipped: false, failInfo };
}

export function runAssertion(
  assertion: AssertionSpec,
  test: TestSpec,
  suite: SuiteSpec,
  rendered: Rendered,
  failFast: boolean,
): AssertionResult {
  const wanted = templatesToAssert(assertion, test, suite, rendered);
  const templates = new Map<string, readonly YamlMap[]>(wanted.map((key) => [key, rendered.manifests.get(key) ?? []]));
  const selector = assertion.documentSelector ?? test.documentSelector;
  const documentIndex = test.documentIndex ?? assertion.documentIndex;
  const selection = selectDocuments(templates, selector, documentIndex);
  if (!selection.ok) return fail(assertion, ['Error:', selection.error]);

  const negative = assertion.not !== assertion.kind.antonym;
  const requireSuccess = assertion.kind.requireRenderSuccess;
  const selected = [...selection.byTemplate.keys()].sort();
  if (selected.length === 0) {
    if (test.documentSelector?.skipEmptyTemplates === true) {
      return {
        index: assertion.index,
        type: assertion.type,
        not: assertion.not,
        passed: true,
        skipped: true,
        failInfo: [],
      };
    }
    if (requireSuccess !== rendered.renderSucceed) return fail(assertion, ['Error: rendered manifest is empty']);
    const verdict = assertion.validator.validate({
      docs: [],
      selected: [],
      negative,
      renderError: rendered.renderError,
      failFast,
    });
    return { ...fail(assertion, [...verdict.info]), passed: verdict.passed };
  }

  let passed = false;
  const failInfo: string[] = [];
  for (const [i, template] of selected.entries()) {
    const docs = rendered.manifests.get(template);
    let ok: boolean;
    if (docs === undefined && requireSuccess) {
      ok = false;
      failInfo.push('Error:', `\ttemplate "${template}" not exists or not selected in test suite`);
    } else if (requireSuccess !== rendered.renderSucceed) {
      ok = false;
      const raw = docs?.[0]?.raw;
      failInfo.push(
        `Template:\t${template}`,
        docs !== undefined && docs.length > 0
          ? `Error: Invalid rendering: ${typeof raw === 'string' ? raw : '<nil>'}`
          : 'Error: rendered manifest is empty',
      );
    } else {
      const verdict = assertion.validator.validate({
        docs: docs ?? [],
        selected: selection.byTemplate.get(template) ?? [],
        negative,
        renderError: rendered.renderError,
        failFast,
      });
      ok = verdict.passed;
      if (!ok) failInfo.push(`Template:\t${template}`, ...verdict.info);
    }
    passed = i === 0 ? ok : passed && ok;
  }
  return { index: assertion.index, type: assertion.type, not: assertion.not, passed, skipped: false, failInfo };
}
