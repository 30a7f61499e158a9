// One test of a suite: its values and render request (sharing a chart copy and, for identical
// requests, the `helm template` run itself), the outcome of that render, and its assertions.
import path from 'node:path';
import { runAssertion } from './assertion-run.js';
import type { ChartCopies } from './chart-copy.js';
import { DEFAULT_RELEASE_NAME, type HelmTemplateRequest, type HelmTemplateResult } from './helm-template.js';
import { outcomeOf, type Outcome } from './render-output.js';
import type { AssertionResult, TestResult } from './results.js';
import type { SuiteSpec, TestSpec } from './suite-file.js';
import { selectTemplates } from './template-names.js';
import { userValues } from './values.js';

/** Upstream's defaults: Kubernetes 1.20 (the Helm 3 library's), namespace `NAMESPACE`. */
export const DEFAULT_KUBE_MAJOR = '1';
export const DEFAULT_KUBE_MINOR = '20';
export const DEFAULT_NAMESPACE = 'NAMESPACE';

export interface JobEnvironment {
  readonly chartRoute: string;
  readonly templateKeys: readonly string[];
  readonly copies: ChartCopies;
  readonly helmBinary: string;
  render(request: HelmTemplateRequest): Promise<HelmTemplateResult>;
  readonly failFast: boolean;
  readonly skipSchemaValidation: boolean;
}

function skippedResult(test: TestSpec): TestResult {
  return { name: test.name, passed: false, skipped: true, execError: undefined, assertions: [], durationMs: 0 };
}

function erroredResult(test: TestSpec, message: string, started: number): TestResult {
  return {
    name: test.name,
    passed: false,
    skipped: false,
    execError: message,
    assertions: [],
    durationMs: performance.now() - started,
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function unsupportedReason(test: TestSpec): string | undefined {
  const snapshot = test.assertions.find((a) => !a.kind.supported);
  if (snapshot !== undefined)
    return `${snapshot.type} is not supported by this runner (no snapshot files); use upstream helm unittest for snapshot suites`;
  const feature = test.unsupported[0];
  if (feature !== undefined) return `${feature} is not supported by this runner (it renders with the helm binary)`;
  return undefined;
}

async function renderTest(
  suite: SuiteSpec,
  test: TestSpec,
  env: JobEnvironment,
  requireRenderSuccess: boolean,
): Promise<Outcome> {
  const values = await userValues({
    files: test.values,
    sets: [suite.set, test.set],
    suiteDir: path.dirname(suite.file),
    chartRoute: suite.chartRoute,
  });
  const keep = selectTemplates(env.templateKeys, suite.chartRoute, suite.templates, suite.excludeTemplates);
  const chartDir = await env.copies.get({
    keep,
    override: { version: test.chart.version || undefined, appVersion: test.chart.appVersion || undefined },
  });
  const major = test.capabilities.majorVersion || DEFAULT_KUBE_MAJOR;
  const minor = test.capabilities.minorVersion || DEFAULT_KUBE_MINOR;
  const result = await env.render({
    binary: env.helmBinary,
    chartDir,
    releaseName: test.release.name || DEFAULT_RELEASE_NAME,
    namespace: test.release.namespace || DEFAULT_NAMESPACE,
    isUpgrade: test.release.upgrade,
    kubeVersion: `v${major}.${minor}.0`,
    apiVersions: test.capabilities.apiVersions,
    values,
    includeCrds: suite.includeCrds,
    skipSchemaValidation: env.skipSchemaValidation,
  });
  return outcomeOf(result, {
    chartRoute: env.chartRoute,
    suiteRoute: suite.chartRoute,
    suiteTemplates: suite.templates,
    renderedTemplates: keep.filter((key) => !path.posix.basename(key).startsWith('_')),
    requireRenderSuccess,
  });
}

export async function runTest(suite: SuiteSpec, test: TestSpec, env: JobEnvironment): Promise<TestResult> {
  if (test.skipReason !== '') return skippedResult(test);
  const started = performance.now();
  const unsupported = unsupportedReason(test);
  if (unsupported !== undefined) return erroredResult(test, unsupported, started);
  const requireRenderSuccess = test.assertions.every((a) => a.kind.requireRenderSuccess);
  let outcome: Outcome;
  try {
    outcome = await renderTest(suite, test, env, requireRenderSuccess);
  } catch (error) {
    return erroredResult(test, errorText(error), started);
  }
  let passed = false;
  const assertions: AssertionResult[] = [];
  for (const [i, assertion] of test.assertions.entries()) {
    const result = runAssertion(assertion, test, suite, outcome.rendered, env.failFast);
    assertions.push(result);
    passed = i === 0 ? result.passed : passed && result.passed;
    if (!passed && env.failFast) break;
  }
  const skipped = assertions.length > 0 && assertions.every((a) => a.skipped);
  return {
    name: test.name,
    passed,
    skipped,
    execError: outcome.execError,
    assertions,
    durationMs: performance.now() - started,
  };
}
