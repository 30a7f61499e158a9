// Validates a response against docs/openapi.yaml with ajv (JSON Schema 2020-12, which OpenAPI
// 3.1 uses), so the document cannot drift from what the service answers. Any HTTP test can
// call assertMatchesOpenApi(method, path, status, body) on each response it gets: the path is
// the concrete one (`/v2/models/lid176/infer`), matched against the document's templates.
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './service.js';

export const OPENAPI_FILE = path.join(ROOT, 'docs', 'openapi.yaml');

interface MediaType {
  readonly schema?: unknown;
}
interface ResponseObject {
  readonly $ref?: string;
  readonly content?: Record<string, MediaType>;
}
interface Operation {
  readonly responses?: Record<string, ResponseObject>;
}
interface Document {
  readonly paths: Record<string, Record<string, unknown>>;
  readonly components?: { readonly responses?: Record<string, ResponseObject> };
}

// ajv-formats is CommonJS: its default export is the module object under NodeNext.
const addFormats = addFormatsModule as unknown as { default: (ajv: Ajv2020) => Ajv2020 };

let loaded:
  { doc: Document; ajv: Ajv2020; templates: Array<{ template: string; regex: RegExp; literal: number }> } | undefined;
const validators = new Map<string, ValidateFunction>();

function load(): NonNullable<typeof loaded> {
  if (loaded) return loaded;
  const doc = parse(readFileSync(OPENAPI_FILE, 'utf8')) as Document;
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  ajv.addSchema(doc, 'openapi');
  const templates = Object.keys(doc.paths).map((template) => {
    const pattern = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+');
    return { template, regex: new RegExp(`^${pattern}$`), literal: template.replace(/\{[^}]+\}/g, '').length };
  });
  // The most literal template wins when two match.
  templates.sort((a, b) => b.literal - a.literal);
  loaded = { doc, ajv, templates };
  return loaded;
}

const pointer = (...parts: string[]): string => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

/** The document's path template for a concrete path (query string and a trailing slash ignored). */
export function matchPath(concrete: string): string | undefined {
  const { templates } = load();
  let p = concrete.split('?', 1)[0] ?? '';
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  return templates.find((t) => t.regex.test(p))?.template;
}

/**
 * Throws unless `body` is what the document says `method path` answers with `status`.
 * `contentType` picks the media type (default application/json; text/plain for /metrics).
 */
export function assertMatchesOpenApi(
  method: string,
  concretePath: string,
  status: number,
  body: unknown,
  contentType = 'application/json',
): void {
  const { doc, ajv } = load();
  const template = matchPath(concretePath);
  const verb = method.toLowerCase();
  const operation = template === undefined ? undefined : (doc.paths[template]?.[verb] as Operation | undefined);
  const key = String(status);
  let response: ResponseObject | undefined;
  let location: string;
  if (operation?.responses) {
    response = operation.responses[key];
    location = pointer('paths', template as string, verb, 'responses', key);
    if (!response)
      throw new Error(
        `openapi: ${method} ${template} does not document status ${status} (documented: ${Object.keys(operation.responses).join(', ')})`,
      );
  } else {
    // What the document's description states for the undocumented: an unknown path is a 404
    // `not_found`, another method on a known path a 405 (404 on the probes), in the error shape
    // of its API (OIP under /v2).
    const known =
      template === undefined
        ? 'NotFound'
        : status === 405
          ? 'MethodNotAllowed'
          : status === 404
            ? 'NotFound'
            : undefined;
    const name = `${/^\/v2(\/|$)/.test(concretePath) ? 'Oip' : 'V1'}${known ?? ''}`;
    if (!known || (template === undefined && status !== 404))
      throw new Error(`openapi: ${method} ${concretePath} is not documented (answered ${status})`);
    response = { $ref: `#/components/responses/${name}` };
    location = '';
  }
  if (response.$ref) {
    const name = response.$ref.replace('#/components/responses/', '');
    response = doc.components?.responses?.[name];
    location = pointer('components', 'responses', name);
    if (!response) throw new Error(`openapi: dangling reference to response ${name}`);
  }
  const media = response.content?.[contentType];
  if (!media?.schema) {
    throw new Error(
      `openapi: ${method} ${template} ${status} has no ${contentType} body (documented: ${Object.keys(response.content ?? {}).join(', ') || 'none'})`,
    );
  }
  const ref = `openapi#/${location}/content/${pointer(contentType)}/schema`;
  let validate = validators.get(ref);
  if (!validate) {
    validate = ajv.compile({ $ref: ref });
    validators.set(ref, validate);
  }
  if (!validate(body)) {
    throw new Error(
      `openapi: ${method} ${concretePath} ${status} does not match ${template}: ${ajv.errorsText(validate.errors)}\nbody: ${JSON.stringify(body)?.slice(0, 500)}`,
    );
  }
}
