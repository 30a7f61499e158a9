// Runs charts the way `helm unittest` does: for each chart, its suite files (and those of enabled
// subcharts), every test rendered with the real helm (several renders at once, identical ones
// shared), results printed suite by suite in file order, counted, and summarised.
import { readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import { ChartCopies } from './chart-copy.js';
import { allTemplates, loadChartFiles, type ChartFiles } from './chart-files.js';
import { glob } from './glob.js';
import { helmTemplate, type HelmTemplateRequest, type HelmTemplateResult } from './helm-template.js';
import { junitReport } from './junit.js';
import { Limiter } from './limiter.js';
import { emptyCounting, type Counting, type Printer } from './printer.js';
import type { SuiteResult, TestResult } from './results.js';
import { readSuiteFile, type SuiteSpec } from './suite-file.js';
import { runTest, type JobEnvironment } from './test-job.js';
import { mergeTables } from './values.js';
import { isMap, parseYaml, type YamlMap } from './yaml-data.js';

export const DEFAULT_TEST_FILES = 'tests/*_test.yaml';

export interface RunOptions {
  readonly charts: readonly string[];
  readonly testFiles: readonly string[];
  readonly valuesFiles: readonly string[];
  readonly strict: boolean;
  readonly failFast: boolean;
  readonly withSubcharts: boolean;
  readonly skipSchemaValidation: boolean;
  readonly helmBinary: string;
  readonly concurrency: number;
  readonly cwd: string;
  readonly printer: Printer;
  readonly outputFile: string | undefined;
  readonly outputType: string;
}

export interface RunSummary {
  readonly passed: boolean;
  readonly charts: Counting;
  readonly suites: Counting;
  readonly tests: Counting;
  readonly results: readonly SuiteResult[];
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

class SuiteLoadError extends Error {
  constructor(
    readonly file: string,
    cause: unknown,
  ) {
    super(message(cause));
  }
}

async function valuesForConditions(chart: ChartFiles, valuesFiles: readonly string[]): Promise<YamlMap> {
  let base: YamlMap = structuredClone(chart.values);
  for (const file of valuesFiles) {
    const parsed = parseYaml(await readFile(file, 'utf8'));
    if (isMap(parsed)) base = mergeTables(parsed, base);
  }
  return base;
}

function conditionHolds(condition: string, values: YamlMap): boolean {
  let current: YamlMap = values;
  const parts = condition.split('.');
  for (const [i, part] of parts.entries()) {
    if (!Object.prototype.hasOwnProperty.call(current, part)) return true;
    const next = current[part];
    if (i === parts.length - 1) return typeof next === 'boolean' ? next : true;
    if (!isMap(next)) return true;
    current = next;
  }
  return true;
}

function subchartEnabled(parent: ChartFiles, sub: ChartFiles, values: YamlMap): boolean {
  const dependency = parent.dependencies.find((dep) => (dep.alias ?? dep.name) === sub.name);
  if (dependency === undefined) return true;
  if (dependency.condition !== undefined) return conditionHolds(dependency.condition, values);
  if (dependency.tags.length > 0) {
    const tags = values.tags;
    if (!isMap(tags)) return true;
    return dependency.tags.some((tag) => tags[tag] === true);
  }
  return true;
}

export class Runner {
  private readonly charts = emptyCounting();
  private readonly suites = emptyCounting();
  private readonly tests = emptyCounting();
  private readonly results: SuiteResult[] = [];
  private readonly limiter: Limiter;
  private cancelled = false;

  constructor(private readonly options: RunOptions) {
    this.limiter = new Limiter(options.concurrency);
  }

  private async suiteFiles(chartDir: string): Promise<string[]> {
    const files: string[] = [];
    const patterns = this.options.testFiles.filter((p, i, all) => i === 0 || all[i - 1] !== p);
    for (const pattern of patterns) files.push(...(await glob(pattern, chartDir)));
    return files;
  }

  private async suitesOf(chartDir: string, route: string, valuesFiles: readonly string[]): Promise<SuiteSpec[]> {
    const suites: SuiteSpec[] = [];
    for (const file of await this.suiteFiles(chartDir)) {
      try {
        suites.push(
          ...(await readSuiteFile(file, {
            chartRoute: route,
            strict: this.options.strict,
            valuesFiles,
            cwd: this.options.cwd,
          })),
        );
      } catch (error) {
        throw new SuiteLoadError(file, error);
      }
    }
    return suites;
  }

  private async collectSuites(
    chart: ChartFiles,
    valuesFiles: readonly string[],
    values: YamlMap,
  ): Promise<SuiteSpec[]> {
    const suites = await this.suitesOf(chart.dir, chart.route, valuesFiles);
    if (!this.options.withSubcharts) return suites;
    for (const sub of chart.subcharts) {
      if (!subchartEnabled(chart, sub, values)) continue;
      try {
        suites.push(...(await this.collectSuites(sub, valuesFiles, values)));
      } catch (error) {
        process.stderr.write(`warning: skipping tests of subchart ${sub.name}: ${message(error)}\n`);
      }
    }
    return suites;
  }

  private countSuite(result: SuiteResult): void {
    if (result.skipped) this.suites.skipped += 1;
    else if (result.passed) this.suites.passed += 1;
    else {
      this.suites.failed += 1;
      if (result.execError !== undefined) this.suites.errored += 1;
    }
    for (const test of result.tests) {
      if (test.passed) this.tests.passed += 1;
      else if (test.skipped) this.tests.skipped += 1;
      else {
        this.tests.failed += 1;
        if (test.execError !== undefined) this.tests.errored += 1;
      }
    }
  }

  private report(result: SuiteResult): void {
    this.options.printer.suite(result);
    this.countSuite(result);
  }

  private environment(chart: ChartFiles, copies: ChartCopies, pending: Promise<unknown>[]): JobEnvironment {
    const cache = new Map<string, Promise<HelmTemplateResult>>();
    return {
      chartRoute: chart.route,
      templateKeys: allTemplates(chart).map((t) => t.key),
      copies,
      helmBinary: this.options.helmBinary,
      failFast: this.options.failFast,
      skipSchemaValidation: this.options.skipSchemaValidation,
      render: (request: HelmTemplateRequest) => {
        const key = JSON.stringify({ ...request, values: stringify(request.values) });
        let result = cache.get(key);
        if (result === undefined) {
          result = this.limiter.run(() =>
            this.cancelled
              ? Promise.resolve<HelmTemplateResult>({ ok: false, error: 'cancelled by --failfast' })
              : helmTemplate(request),
          );
          cache.set(key, result);
          pending.push(result.catch(() => undefined));
        }
        return result;
      },
    };
  }

  /** Runs one chart's suites; false when any suite failed. */
  private async runSuites(suites: readonly SuiteSpec[], env: JobEnvironment): Promise<boolean> {
    const started = suites.map((suite) => suite.tests.map((test) => runTest(suite, test, env)));
    let chartPassed = true;
    for (const [s, suite] of suites.entries()) {
      const tests: TestResult[] = [];
      let passed = false;
      let skippedCount = 0;
      let stoppedEarly = false;
      for (const [i, pendingTest] of (started[s] ?? []).entries()) {
        const result = await pendingTest;
        tests.push(result);
        if (suite.tests[i]?.skipReason !== '') {
          skippedCount += 1;
          if (i === 0) passed = true;
        } else {
          passed = i === 0 ? result.passed : passed && result.passed;
        }
        if (!passed && this.options.failFast) {
          stoppedEarly = true;
          break;
        }
      }
      const result: SuiteResult = {
        name: suite.name,
        definitionFile: suite.definitionFile,
        passed,
        skipped: skippedCount === suite.tests.length,
        execError: undefined,
        tests,
      };
      this.report(result);
      this.results.push(result);
      chartPassed = chartPassed && passed;
      if (!chartPassed && stoppedEarly) {
        this.cancelled = true;
        break;
      }
    }
    return chartPassed;
  }

  private async runChart(chartPath: string, valuesFiles: readonly string[]): Promise<boolean> {
    const printer = this.options.printer;
    const dir = path.resolve(this.options.cwd, chartPath);
    let chart: ChartFiles;
    let suites: SuiteSpec[];
    try {
      if (!(await stat(dir)).isDirectory())
        throw new Error(`${chartPath}: packaged charts are not supported by this runner; unpack it first`);
      chart = await loadChartFiles(dir);
      suites = await this.collectSuites(chart, valuesFiles, await valuesForConditions(chart, valuesFiles));
    } catch (error) {
      if (error instanceof SuiteLoadError) {
        this.report({
          name: '',
          definitionFile: path.relative(this.options.cwd, error.file),
          passed: false,
          skipped: false,
          execError: error.message,
          tests: [],
        });
      }
      printer.erroredChartHeader(message(error));
      this.charts.failed += 1;
      this.charts.errored += 1;
      return false;
    }
    printer.chartHeader(chart.name, chartPath);
    const copies = new ChartCopies(chart);
    const pending: Promise<unknown>[] = [];
    try {
      const passed = await this.runSuites(suites, this.environment(chart, copies, pending));
      if (passed) this.charts.passed += 1;
      else this.charts.failed += 1;
      return passed;
    } finally {
      await Promise.all(pending);
      await copies.cleanup();
    }
  }

  private async writeReport(): Promise<void> {
    const file = this.options.outputFile;
    if (file === undefined || file === '') return;
    if (this.options.outputType.toLowerCase() !== 'junit') {
      throw new Error(`output type ${this.options.outputType} is not supported by this runner; use -t JUnit`);
    }
    await mkdir(path.dirname(path.resolve(this.options.cwd, file)), { recursive: true });
    await writeFile(path.resolve(this.options.cwd, file), junitReport(this.results));
  }

  async run(): Promise<RunSummary> {
    const start = performance.now();
    const valuesFiles: string[] = [];
    for (const pattern of this.options.valuesFiles) {
      valuesFiles.push(
        ...(path.isAbsolute(pattern) ? [pattern] : (await glob(pattern, this.options.cwd)).map((f) => path.resolve(f))),
      );
    }
    let allPassed = true;
    for (const chartPath of this.options.charts) {
      const passed = await this.runChart(chartPath, valuesFiles);
      allPassed = allPassed && passed;
      if (!passed && this.options.failFast && this.cancelled) break;
    }
    try {
      await this.writeReport();
    } catch (error) {
      this.options.printer.erroredChartHeader(message(error));
      allPassed = false;
    }
    this.options.printer.summary(this.charts, this.suites, this.tests, performance.now() - start);
    return { passed: allPassed, charts: this.charts, suites: this.suites, tests: this.tests, results: this.results };
  }
}
