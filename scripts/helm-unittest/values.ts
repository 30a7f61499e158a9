// The user values of one test, merged in upstream's order: suite values files, `-v` files,
// test values files, suite `set`, test `set`; each layer goes through Helm's MergeTables
// (maps merge deeply, the newer layer wins, lists are replaced whole, nulls are kept so Helm
// can delete a chart default with them). Chart defaults are left to `helm template` itself.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { buildSetValue } from './set-path.js';
import { isMap, parseYaml, type YamlMap, type YamlValue } from './yaml-data.js';

/** Helm's chartutil.MergeTables(dst, src): dst wins; maps present on both sides merge. */
export function mergeTables(dst: YamlMap, src: YamlMap): YamlMap {
  for (const [key, srcValue] of Object.entries(src)) {
    if (!Object.prototype.hasOwnProperty.call(dst, key)) {
      dst[key] = srcValue;
      continue;
    }
    const dstValue = dst[key];
    if (isMap(srcValue) && isMap(dstValue)) mergeTables(dstValue, srcValue);
  }
  return dst;
}

/** Values written for a subchart suite live under the subchart's name (`global` stays global). */
export function scopeToChartRoute(route: string, values: YamlMap): YamlMap {
  const parts = route.split('/');
  const names: string[] = [];
  for (let i = 2; i < parts.length; i += 2) names.push(parts[i] ?? '');
  let scoped = values;
  for (const name of names.reverse()) {
    const wrapped: YamlMap = { [name]: scoped };
    if (Object.prototype.hasOwnProperty.call(values, 'global')) wrapped.global = values.global ?? null;
    scoped = wrapped;
  }
  return scoped;
}

export interface ValueSources {
  /** Values files, absolute or relative to `suiteDir`, in merge order (suite, -v, test). */
  readonly files: readonly string[];
  /** Set maps in merge order (suite, test); keys are set paths. */
  readonly sets: readonly YamlMap[];
  readonly suiteDir: string;
  readonly chartRoute: string;
}

function cloneValue<T extends YamlValue>(value: T): T {
  return structuredClone(value);
}

export async function userValues(sources: ValueSources): Promise<YamlMap> {
  let base: YamlMap = {};
  for (const file of sources.files) {
    const resolved = path.isAbsolute(file) ? file : path.join(sources.suiteDir, file);
    const text = await readFile(resolved, 'utf8');
    let parsed: YamlValue;
    try {
      parsed = parseYaml(text);
    } catch (error) {
      throw new Error(`failed to parse ${file}: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      });
    }
    if (parsed !== null && !isMap(parsed)) throw new Error(`failed to parse ${file}: not a map of values`);
    base = mergeTables(scopeToChartRoute(sources.chartRoute, parsed ?? {}), base);
  }
  for (const set of sources.sets) {
    for (const [key, value] of Object.entries(set)) {
      base = mergeTables(scopeToChartRoute(sources.chartRoute, buildSetValue(key, cloneValue(value))), base);
    }
  }
  return base;
}
