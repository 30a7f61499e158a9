// Conformance with the published Open Inference Protocol: every /v2 response body the service
// gives on a tour of all its /v2 routes (successes and errors) is validated with ajv against
// the official OpenAPI components (test/fixtures/oip/open_inference_rest.yaml, copied unchanged
// with its license) and, for the health bodies the YAML leaves out, against the objects the
// spec's markdown defines. Binary-data responses are out of the YAML's reach (it requires
// `data`); their JSON header is checked here with `data` waived, and in full by the
// OpenAPI-document checks of the other tests.
import test from 'ava';
import { Ajv, type ValidateFunction } from 'ajv';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { assertMatchesOpenApi } from '../helpers/openapi.js';
import { ROOT, startService, type RunningService } from '../helpers/service.js';
import { bytesElements, call, decode, withTail, type RawResponse } from './oip-support.js';

const spec = parse(readFileSync(path.join(ROOT, 'test', 'fixtures', 'oip', 'open_inference_rest.yaml'), 'utf8')) as {
  components: { schemas: Record<string, object> };
};
const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addSchema({ components: spec.components }, 'oip');
const official = (name: string): ValidateFunction => ajv.compile({ $ref: `oip#/components/schemas/${name}` });

// From inference_rest.md ("Health/Readiness/Liveness Probes" and "Model Ready").
const fromMarkdown = {
  live_server_response: ajv.compile({ type: 'object', required: ['live'], properties: { live: { type: 'boolean' } } }),
  ready_server_response: ajv.compile({
    type: 'object',
    required: ['ready'],
    properties: { ready: { type: 'boolean' } },
  }),
  ready_model_response: ajv.compile({
    type: 'object',
    required: ['name', 'ready'],
    properties: { name: { type: 'string' }, ready: { type: 'boolean' } },
  }),
};
// Every error object of the spec: "The HTTP body must contain ... { "error": $string }".
const errorResponse = ajv.compile({
  allOf: [
    { $ref: 'oip#/components/schemas/inference_error_response' },
    { required: ['error'], properties: { error: { type: 'string' } } },
  ],
});
// A binary-data response header: the inference response, its binary outputs without `data`
// (every other field as the official schema has it).
const responseField = (schema: string, field: string) => ({
  $ref: `oip#/components/schemas/${schema}/properties/${field}`,
});
const binaryHeader = ajv.compile({
  type: 'object',
  required: ['model_name', 'outputs'],
  properties: {
    model_name: responseField('inference_response', 'model_name'),
    model_version: responseField('inference_response', 'model_version'),
    id: responseField('inference_response', 'id'),
    outputs: {
      type: 'array',
      items: {
        anyOf: [
          { $ref: 'oip#/components/schemas/response_output' },
          {
            type: 'object',
            required: ['name', 'shape', 'datatype', 'parameters'],
            properties: {
              name: responseField('response_output', 'name'),
              shape: responseField('response_output', 'shape'),
              datatype: responseField('response_output', 'datatype'),
              parameters: {
                allOf: [
                  responseField('response_output', 'parameters'),
                  { required: ['binary_data_size'], properties: { binary_data_size: { type: 'integer', minimum: 0 } } },
                ],
              },
            },
          },
        ],
      },
    },
  },
});

let svc: RunningService;
let cacheDir: string;
const MODEL = 'lid176';

test.before(async () => {
  cacheDir = mkdtempSync(path.join(os.tmpdir(), 'fte-oipconf-'));
  svc = await startService({ env: { MODEL_CACHE_DIR: cacheDir } });
  await svc.waitReady(20_000);
});

test.after.always(async () => {
  await svc?.stop();
  rmSync(cacheDir, { recursive: true, force: true });
});

interface Visit {
  readonly what: string;
  readonly method: string;
  readonly path: string;
  readonly body?: Buffer | string;
  readonly headers?: Record<string, string>;
  readonly status: number;
  readonly schema: ValidateFunction;
}

function validateVisit(t: import('ava').ExecutionContext, visit: Visit, res: RawResponse): void {
  t.is(res.status, visit.status, `${visit.what}: ${res.raw.toString('utf8').slice(0, 300)}`);
  const { json } = decode(res);
  t.notThrows(() => assertMatchesOpenApi(visit.method, visit.path, res.status, json), visit.what);
  const ok = visit.schema(json);
  t.true(ok, `${visit.what}: ${ajv.errorsText(visit.schema.errors)} in ${JSON.stringify(json).slice(0, 300)}`);
}

test('every /v2 response body validates against the official OIP schemas', async (t) => {
  const version =
    ((await call(svc.url, 'GET', `/v2/models/${MODEL}`)).raw.toString('utf8').match(/"versions":\["([0-9a-f]+)"/) ??
      [])[1] ?? '';
  t.regex(version, /^[0-9a-f]{32}$/);
  const texts = ['Hallo Welt, wie geht es dir heute?', 'Hello world, how are you today?'];
  const inferJson = JSON.stringify({
    id: 'c1',
    inputs: [{ name: 'text', datatype: 'BYTES', shape: [2, 1], data: texts }],
    parameters: { k: 2 },
  });
  const tail = bytesElements(texts);
  const binary = withTail(
    {
      inputs: [{ name: 'text', datatype: 'BYTES', shape: [2], parameters: { binary_data_size: tail.length } }],
      outputs: [{ name: 'label', parameters: { binary_data: true } }, { name: 'score' }],
    },
    tail,
  );
  const visits: Visit[] = [
    { what: 'server metadata', method: 'GET', path: '/v2', status: 200, schema: official('metadata_server_response') },
    {
      what: 'server metadata, trailing slash',
      method: 'GET',
      path: '/v2/',
      status: 200,
      schema: official('metadata_server_response'),
    },
    {
      what: 'server live',
      method: 'GET',
      path: '/v2/health/live',
      status: 200,
      schema: fromMarkdown.live_server_response,
    },
    {
      what: 'server ready',
      method: 'GET',
      path: '/v2/health/ready',
      status: 200,
      schema: fromMarkdown.ready_server_response,
    },
    {
      what: 'model metadata',
      method: 'GET',
      path: `/v2/models/${MODEL}`,
      status: 200,
      schema: official('metadata_model_response'),
    },
    {
      what: 'model metadata, versioned',
      method: 'GET',
      path: `/v2/models/${MODEL}/versions/${version}`,
      status: 200,
      schema: official('metadata_model_response'),
    },
    {
      what: 'model ready',
      method: 'GET',
      path: `/v2/models/${MODEL}/ready`,
      status: 200,
      schema: fromMarkdown.ready_model_response,
    },
    {
      what: 'model ready, versioned',
      method: 'GET',
      path: `/v2/models/${MODEL}/versions/${version}/ready`,
      status: 200,
      schema: fromMarkdown.ready_model_response,
    },
    {
      what: 'infer',
      method: 'POST',
      path: `/v2/models/${MODEL}/infer`,
      body: inferJson,
      status: 200,
      schema: official('inference_response'),
    },
    {
      what: 'infer, versioned',
      method: 'POST',
      path: `/v2/models/${MODEL}/versions/${version}/infer`,
      body: inferJson,
      status: 200,
      schema: official('inference_response'),
    },
    {
      what: 'infer, gzip both ways',
      method: 'POST',
      path: `/v2/models/${MODEL}/infer`,
      body: (await import('node:zlib')).gzipSync(inferJson),
      headers: { 'Content-Encoding': 'gzip', 'Accept-Encoding': 'gzip' },
      status: 200,
      schema: official('inference_response'),
    },
    {
      what: 'infer, binary',
      method: 'POST',
      path: `/v2/models/${MODEL}/infer`,
      body: binary.body,
      headers: { 'Inference-Header-Content-Length': binary.headerLength },
      status: 200,
      schema: binaryHeader,
    },
    {
      what: 'metadata of an unknown model',
      method: 'GET',
      path: '/v2/models/nope',
      status: 404,
      schema: official('metadata_model_error_response'),
    },
    {
      what: 'metadata of an unknown version',
      method: 'GET',
      path: `/v2/models/${MODEL}/versions/7`,
      status: 404,
      schema: official('metadata_model_error_response'),
    },
    {
      what: 'ready of an unknown model',
      method: 'GET',
      path: '/v2/models/nope/ready',
      status: 404,
      schema: errorResponse,
    },
    {
      what: 'infer on an unknown model',
      method: 'POST',
      path: '/v2/models/nope/infer',
      body: inferJson,
      status: 404,
      schema: errorResponse,
    },
    {
      what: 'infer, unknown output',
      method: 'POST',
      path: `/v2/models/${MODEL}/infer`,
      body: JSON.stringify({
        inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: ['x'] }],
        outputs: [{ name: 'nope' }],
      }),
      status: 400,
      schema: errorResponse,
    },
    {
      what: 'infer, not JSON',
      method: 'POST',
      path: `/v2/models/${MODEL}/infer`,
      body: 'inputs=1',
      status: 400,
      schema: errorResponse,
    },
    {
      what: 'infer, too large',
      method: 'POST',
      path: `/v2/models/${MODEL}/infer`,
      body: 'x'.repeat(1_048_577),
      status: 413,
      schema: errorResponse,
    },
    {
      what: 'infer, unknown encoding',
      method: 'POST',
      path: `/v2/models/${MODEL}/infer`,
      body: inferJson,
      headers: { 'Content-Encoding': 'compress' },
      status: 415,
      schema: errorResponse,
    },
    {
      what: 'infer, over a limit',
      method: 'POST',
      path: `/v2/models/${MODEL}/infer`,
      body: JSON.stringify({
        inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: ['x'] }],
        parameters: { k: 10_000 },
      }),
      status: 422,
      schema: errorResponse,
    },
    {
      what: 'POST on server metadata',
      method: 'POST',
      path: '/v2',
      body: '{}',
      status: 405,
      schema: official('metadata_server_error_response'),
    },
    { what: 'GET on infer', method: 'GET', path: `/v2/models/${MODEL}/infer`, status: 405, schema: errorResponse },
    { what: 'an unknown /v2 route', method: 'GET', path: '/v2/models', status: 404, schema: errorResponse },
  ];
  for (const visit of visits)
    validateVisit(t, visit, await call(svc.url, visit.method, visit.path, visit.body, visit.headers ?? {}));
});
