// Metric names a PromQL expression reads, from Prometheus' own grammar (@prometheus-io/lezer-promql):
// the identifiers of its vector selectors. Grafana's variables are replaced by plain values first.
import { parser } from '@prometheus-io/lezer-promql';

/** Replaces Grafana template variables ($__rate_interval, $pod, ${x}) so the query parses. */
export function withoutGrafanaVariables(query: string): string {
  return query
    .replace(/\$__(rate_)?interval|\$\{__(rate_)?interval\}/g, '5m')
    .replace(/\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/g, 'x');
}

/** The metric names of every vector selector; throws on a parse error, naming the query. */
export function metricNames(query: string): string[] {
  const tree = parser.parse(query);
  const names = new Set<string>();
  const cursor = tree.cursor();
  do {
    if (cursor.type.isError) throw new Error(`PromQL parse error at ${cursor.from} in: ${query}`);
    if (cursor.name === 'Identifier' && cursor.node.parent?.name === 'VectorSelector')
      names.add(query.slice(cursor.from, cursor.to));
  } while (cursor.next());
  return [...names];
}

/** `foo_bucket`, `foo_sum`, `foo_count` of histogram/summary `foo`, as /metrics names them. */
export function exposedName(name: string, families: ReadonlyMap<string, string>): string | undefined {
  if (families.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, '');
  const type = families.get(base);
  return type === 'histogram' || type === 'summary' ? base : undefined;
}

/** Metric families (name -> type) from the `# TYPE` lines of a Prometheus text exposition. */
export function exposedFamilies(exposition: string): Map<string, string> {
  const families = new Map<string, string>();
  for (const match of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm))
    families.set(match[1] as string, match[2] as string);
  return families;
}
