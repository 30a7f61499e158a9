// How upstream names and selects templates: a name without a `templates/`, `charts/`, `crds/`
// or `**` prefix gets `templates/`; names are matched as unanchored regular expressions against
// `<chart route>/<file>`, where `**` is `[0-9a-zA-Z_\-/.]+` and `*` is `[0-9a-zA-Z_\-/.]*`
// (both cross `/`), and other metacharacters are literal.
import path from 'node:path';

const PREFIXES = ['templates', 'charts', 'crds', '**'];

export function templateFileName(name: string): string {
  if (PREFIXES.some((prefix) => name.startsWith(prefix))) return name;
  return path.posix.join('templates', name.replaceAll('\\', '/'));
}

/** The full output key of a template named in a suite, e.g. `basic/templates/service.yaml`. */
export function templateKey(chartRoute: string, name: string): string {
  return path.posix.join(chartRoute, templateFileName(name));
}

export function templatePattern(chartRoute: string, name: string): RegExp {
  let pattern = templateKey(chartRoute, name);
  pattern = pattern.replaceAll('.', '\\.').replaceAll('+', '\\+').replaceAll('[', '\\[').replaceAll(']', '\\]');
  pattern = pattern.replaceAll('**', '[0-9a-zA-Z_\\-/\\.]+').replaceAll('*', '[0-9a-zA-Z_\\-_/\\.]*');
  for (const ch of ['?', '(', ')', '|', '{', '}', '^', '$']) pattern = pattern.replaceAll(ch, `\\${ch}`);
  return new RegExp(pattern);
}

/** True when a suite entry expands to "every rendered file" (it holds a wildcard). */
export function hasWildcard(names: readonly string[]): boolean {
  return names.some((name) => name.includes('*'));
}

/**
 * The chart's template files (`<route>/templates/...` keys) that a suite renders: those matching
 * `include` minus those matching `exclude`, plus every `_*` partial. No `include` means all.
 */
export function selectTemplates(
  allKeys: readonly string[],
  chartRoute: string,
  include: readonly string[],
  exclude: readonly string[],
): string[] {
  const includes = (include.length === 0 ? ['**'] : include).map((name) => templatePattern(chartRoute, name));
  const excludes = exclude.map((name) => templatePattern(chartRoute, name));
  const selected = new Set<string>();
  for (const key of allKeys) {
    if (path.posix.basename(key).startsWith('_')) {
      selected.add(key);
      continue;
    }
    if (includes.some((re) => re.test(key)) && !excludes.some((re) => re.test(key))) selected.add(key);
  }
  return allKeys.filter((key) => selected.has(key));
}
