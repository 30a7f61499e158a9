// The error codes the service can answer (ERROR_STATUS in app/http/errors.ts: ApiError takes
// no other code, and each with its own status, checked by the compiler) are all documented:
// in docs/openapi.yaml on the classification routes, at their status, and in the README's
// error table. A code added to the service and not to the documents fails here.
import test from 'ava';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { ERROR_STATUS, type ErrorCode } from '../../app/http/errors.js';
import { OPENAPI_FILE } from '../helpers/openapi.js';
import { ROOT } from '../helpers/service.js';

type Node = Record<string, unknown>;
const doc = parse(readFileSync(OPENAPI_FILE, 'utf8')) as Node;
const CODES = Object.keys(ERROR_STATUS) as ErrorCode[];
/** Answered only on the Open Inference Protocol routes (they name a model). */
const OIP_ONLY: readonly ErrorCode[] = ['model_not_found', 'model_version_not_found'];

const isNode = (v: unknown): v is Node => v !== null && typeof v === 'object' && !Array.isArray(v);

function resolve(node: unknown): Node {
  if (!isNode(node)) return {};
  const ref = node.$ref;
  if (typeof ref !== 'string') return node;
  let target: unknown = doc;
  for (const part of ref.replace(/^#\//, '').split('/')) target = isNode(target) ? target[part] : undefined;
  return resolve(target);
}

/** Codes a response's schemas admit: v1 `error.code` const/enum, OIP `error` pattern `^(a|b): `. */
export function codesOf(response: unknown): Set<string> {
  const codes = new Set<string>();
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!isNode(node)) return;
    const props = isNode(node.properties) ? node.properties : {};
    const code = isNode(props.code) ? props.code : {};
    if (typeof code.const === 'string') codes.add(code.const);
    if (Array.isArray(code.enum)) for (const c of code.enum) codes.add(String(c));
    const error = isNode(props.error) ? props.error : {};
    const pattern = typeof error.pattern === 'string' ? /^\^\(?([a-z_|]+)\)?: $/.exec(error.pattern) : null;
    if (pattern) for (const c of (pattern[1] as string).split('|')) codes.add(c);
    Object.values(node).forEach(walk);
  };
  walk(resolve(response).content);
  return codes;
}

/** Status -> codes documented for one operation. */
function documented(template: string, method: string): Map<number, Set<string>> {
  const paths = doc.paths as Record<string, Record<string, { responses?: Record<string, unknown> }>>;
  const responses = paths[template]?.[method]?.responses ?? {};
  return new Map(Object.entries(responses).map(([status, response]) => [Number(status), codesOf(response)]));
}

function missing(template: string, method: string, expected: readonly ErrorCode[]): string[] {
  const byStatus = documented(template, method);
  return expected.filter((c) => byStatus.get(ERROR_STATUS[c])?.has(c) !== true).map((c) => `${ERROR_STATUS[c]} ${c}`);
}

test('every code the document names is one the service answers, at the status it answers it with', (t) => {
  let seen = 0;
  for (const [template, item] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
    for (const method of Object.keys(item).filter((m) => ['get', 'post', 'put', 'delete', 'patch'].includes(m))) {
      for (const [status, codes] of documented(template, method)) {
        for (const code of codes) {
          seen += 1;
          t.true(code in ERROR_STATUS, `${method} ${template} ${status}: ${code} is no code of the service`);
          const answered: number = ERROR_STATUS[code as ErrorCode];
          t.is(answered, status, `${method} ${template}: ${code} documented at ${status}`);
        }
      }
    }
  }
  t.true(seen > 50, `${seen} documented (route, status, code) triples`);
});

test('POST /v1/classify documents every code the service can answer it, at its status', (t) => {
  // not_found: the route exists (a path not documented at all answers it, as the document says).
  t.deepEqual(
    missing(
      '/v1/classify',
      'post',
      CODES.filter((c) => !OIP_ONLY.includes(c) && c !== 'not_found'),
    ),
    [],
  );
});

for (const template of ['/v2/models/{name}/infer', '/v2/models/{name}/versions/{version}/infer']) {
  test(`POST ${template} documents every code the service can answer it, at its status`, (t) => {
    t.deepEqual(missing(template, 'post', CODES), []);
  });
}

test("the README's error table names every code at its status, and no other", (t) => {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const rows = [...readme.matchAll(/^\| (\d{3}) \| ([^|]+) \|/gm)];
  const table = new Map<string, number[]>();
  for (const [, status, cell] of rows)
    for (const m of (cell ?? '').matchAll(/`([a-z_]+)`/g))
      table.set(m[1] as string, [...(table.get(m[1] as string) ?? []), Number(status)]);
  for (const code of CODES) t.deepEqual(table.get(code), [ERROR_STATUS[code]], `README error table: ${code}`);
  for (const code of table.keys())
    t.true(code in ERROR_STATUS, `README error table names ${code}, which the service never answers`);
});

test('the code reader sees both error shapes (it is not a no-op)', (t) => {
  t.deepEqual(
    [
      ...codesOf({
        content: {
          'application/json': {
            schema: { allOf: [{}, { properties: { error: { properties: { code: { enum: ['a_b', 'c'] } } } } }] },
          },
        },
      }),
    ],
    ['a_b', 'c'],
  );
  t.deepEqual(
    [...codesOf({ content: { 'application/json': { schema: { properties: { error: { pattern: '^(x|y_z): ' } } } } } })],
    ['x', 'y_z'],
  );
  t.deepEqual([...codesOf({ $ref: '#/components/responses/V1GatewayTimeout' })], ['deadline_exceeded']);
});
