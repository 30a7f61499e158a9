// Open Inference Protocol (KServe v2) routes over the same classifier: server and model
// metadata, model readiness and inference, each model route unversioned and versioned (the one
// version is the model's MD5, as `versions` lists and `model_version` answers). Inference
// takes one BYTES input `text` ([N] or [N, 1], JSON or binary tensor data, any Content-Type,
// gzip/deflate bodies) with parameters k and threshold, and answers the requested outputs among
// `label` (BYTES) and `score` (FP32), both [N, k]. docs/oip.md describes the choices.
import Router from '@koa/router';
import type { Context } from 'koa';
import { admitted } from './admission.js';
import { parseJsonBody } from './body.js';
import { whileConnected } from './intake.js';
import type { ClassifyDeps } from './classify.js';
import { ApiError } from './errors.js';
import { BINARY_EXTENSION, HEADER_LENGTH, splitBody } from './oip/binary.js';
import { compressResponse } from './oip/compress.js';
import { INPUT_NAME, readInferRequest } from './oip/infer-request.js';
import { inferReply } from './oip/infer-response.js';
import { readBodyBytes } from './oip/read-body.js';
import type { RequestState } from './state.js';

const PLATFORM = 'fasttext';
const SERVER_NAME = 'fasttext-edge';

export function oipRouter(deps: ClassifyDeps, version: string): Router<RequestState> {
  const router = new Router<RequestState>();
  const { lifecycle, limits } = deps;
  const model = { name: lifecycle.name, version: lifecycle.md5 };

  /** Checks the path's model name and, on a versioned route, its version. */
  function requireModel(ctx: Context): void {
    const params = ctx.params as { name?: string; version?: string };
    if (params.name !== model.name) {
      throw new ApiError(
        404,
        'model_not_found',
        `no model named ${JSON.stringify(params.name)}; this server serves ${JSON.stringify(model.name)}`,
      );
    }
    if (params.version !== undefined && params.version !== model.version) {
      throw new ApiError(
        404,
        'model_version_not_found',
        `model ${JSON.stringify(model.name)} has no version ${JSON.stringify(params.version)}; its one version is ${JSON.stringify(model.version)}`,
      );
    }
  }

  router.use(compressResponse);

  router.get('/v2', (ctx) => {
    ctx.body = { name: SERVER_NAME, version, extensions: [BINARY_EXTENSION] };
  });

  const metadata = (ctx: Context): void => {
    requireModel(ctx);
    ctx.body = {
      name: model.name,
      versions: [model.version],
      platform: PLATFORM,
      inputs: [{ name: INPUT_NAME, datatype: 'BYTES', shape: [-1] }],
      outputs: [
        { name: 'label', datatype: 'BYTES', shape: [-1, -1] },
        { name: 'score', datatype: 'FP32', shape: [-1, -1] },
      ],
    };
  };

  const ready = (ctx: Context): void => {
    requireModel(ctx);
    const readiness = lifecycle.readiness();
    ctx.status = readiness.ready ? 200 : 503;
    ctx.body = readiness.ready
      ? { name: model.name, ready: true }
      : {
          name: model.name,
          ready: false,
          error: `not_ready: the model is not ready (${readiness.reason ?? readiness.state})`,
        };
  };

  const infer = async (ctx: Context): Promise<void> => {
    requireModel(ctx);
    const startedAt = (ctx.state as RequestState).startedAt;
    const deadlineMs = startedAt + deps.requestTimeoutMs;
    // As on /v1/classify (intake.ts): the body is read before admission, as a bounded body
    // reader under BODY_TIMEOUT_MS, and queued as raw bytes; parsed only inside the slot.
    const leave = deps.admission.arrive(ctx.request.length);
    const raw = await deps.bodies
      .guard(
        startedAt,
        deadlineMs,
        () => ctx.set('Connection', 'close'),
        (bodyDeadlineMs, allowedMs) => readBodyBytes(ctx, limits.maxBodyBytes, bodyDeadlineMs, allowedMs),
      )
      .finally(leave);
    const work = async (): Promise<void> => {
      const { json, tail } = splitBody(raw, ctx.req.headers[HEADER_LENGTH.toLowerCase()]);
      deps.bodies.checkShape(json);
      // As v1: bytes that are not UTF-8 are refused, never decoded to U+FFFD and classified.
      const body = parseJsonBody(json);
      const plan = readInferRequest(body, tail, limits);
      const results = await lifecycle.classify(plan.texts, plan.k, plan.threshold, deadlineMs);
      const reply = inferReply(plan, results, model);
      if (reply.kind === 'json') {
        ctx.body = reply.body;
        return;
      }
      ctx.set(HEADER_LENGTH, String(reply.headerLength));
      ctx.type = 'application/octet-stream';
      ctx.body = reply.body;
    };
    await admitted(deps.admission, deadlineMs, whileConnected(deps.admission, ctx, work), raw.length);
  };

  for (const prefix of ['/v2/models/:name', '/v2/models/:name/versions/:version']) {
    router.get(prefix, metadata);
    router.get(`${prefix}/ready`, ready);
    router.post(`${prefix}/infer`, infer);
  }

  return router;
}
