// What a chart directory holds, as helm-unittest needs it: the chart's name (its route),
// every template file under `templates/` of the chart and of its unpacked subcharts in
// `charts/`, keyed the way Helm names them in `# Source:` lines (`parent/charts/sub/templates/x`),
// and the subcharts with the condition and tags the parent declares for them.
import { readdir, readFile } from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import path from 'node:path';
import { isMap, parseYaml, type YamlMap } from './yaml-data.js';

export interface TemplateFile {
  /** `<route>/templates/<relative path>` with forward slashes. */
  readonly key: string;
  /** Absolute path on disk. */
  readonly file: string;
}

export interface ChartDependency {
  readonly name: string;
  readonly alias: string | undefined;
  readonly condition: string | undefined;
  readonly tags: readonly string[];
}

export interface ChartFiles {
  readonly dir: string;
  readonly name: string;
  readonly route: string;
  readonly metadata: YamlMap;
  readonly values: YamlMap;
  readonly templates: readonly TemplateFile[];
  /** Unpacked subcharts (directories under charts/ holding a Chart.yaml). */
  readonly subcharts: readonly ChartFiles[];
  readonly dependencies: readonly ChartDependency[];
}

export class ChartLoadError extends Error {
  override readonly name = 'ChartLoadError';
}

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) out.push(...(await listFiles(path.join(dir, entry.name), rel)));
    else out.push(rel);
  }
  return out;
}

async function readMap(file: string): Promise<YamlMap | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  const parsed = parseYaml(text);
  return isMap(parsed) ? parsed : {};
}

function dependencies(metadata: YamlMap): ChartDependency[] {
  const list = metadata.dependencies;
  if (!Array.isArray(list)) return [];
  return list.filter(isMap).map((dep) => ({
    name: typeof dep.name === 'string' ? dep.name : '',
    alias: typeof dep.alias === 'string' && dep.alias !== '' ? dep.alias : undefined,
    condition: typeof dep.condition === 'string' && dep.condition !== '' ? dep.condition : undefined,
    tags: Array.isArray(dep.tags) ? dep.tags.filter((tag): tag is string => typeof tag === 'string') : [],
  }));
}

export async function loadChartFiles(dir: string, parentRoute?: string): Promise<ChartFiles> {
  const metadata = await readMap(path.join(dir, 'Chart.yaml'));
  if (metadata === undefined) throw new ChartLoadError(`Chart.yaml file is missing in ${dir}`);
  const name = typeof metadata.name === 'string' ? metadata.name : '';
  if (name === '') throw new ChartLoadError(`validation: chart.metadata.name is required (${dir})`);
  const route = parentRoute === undefined ? name : `${parentRoute}/charts/${name}`;
  const templates = (await listFiles(path.join(dir, 'templates'))).map((rel) => ({
    key: `${route}/templates/${rel}`,
    file: path.join(dir, 'templates', ...rel.split('/')),
  }));
  const subcharts: ChartFiles[] = [];
  let chartEntries: Dirent[];
  try {
    chartEntries = await readdir(path.join(dir, 'charts'), { withFileTypes: true });
  } catch {
    chartEntries = [];
  }
  for (const entry of chartEntries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (!entry.isDirectory()) continue;
    const subdir = path.join(dir, 'charts', entry.name);
    if ((await readMap(path.join(subdir, 'Chart.yaml'))) === undefined) continue;
    subcharts.push(await loadChartFiles(subdir, route));
  }
  return {
    dir,
    name,
    route,
    metadata,
    values: (await readMap(path.join(dir, 'values.yaml'))) ?? {},
    templates,
    subcharts,
    dependencies: dependencies(metadata),
  };
}

/** Every template of the chart and its subcharts, parents first. */
export function allTemplates(chart: ChartFiles): TemplateFile[] {
  return [...chart.templates, ...chart.subcharts.flatMap(allTemplates)];
}
