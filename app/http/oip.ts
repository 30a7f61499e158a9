// Open Inference Protocol (KServe v2) routes over the same classifier. The infer route takes
// one BYTES input of N texts (parameters k, threshold) and answers two [N, k] outputs,
// `label` (BYTES) and `score` (FP32); rows with fewer than k results over the threshold are
// padded with "" and 0 because OIP tensors are rectangular.
import Router from '@koa/router';
import type { ClassifyDeps } from './classify.js';
import { ApiError } from './errors.js';
import { admittedJson } from './intake.js';
import type { RequestState } from './state.js';
import { checkTexts, isRecord, parseParams } from './validate.js';

const PLATFORM = 'fasttext';

export function oipRouter(deps: ClassifyDeps, version: string): Router<RequestState> {
  const router = new Router<RequestState>();
  const { lifecycle, limits } = deps;

  function requireModel(ctx: { params: Record<string, string | undefined> }): void {
    const name = ctx.params.name;
    if (name !== lifecycle.name) throw new ApiError(404, 'model_not_found', `no model named ${JSON.stringify(name)}; this server serves ${JSON.stringify(lifecycle.name)}`);
  }

  router.get('/v2', (ctx) => {
    ctx.body = { name: 'fasttext-edge', version, extensions: [] };
  });

  router.get('/v2/models/:name', (ctx) => {
    requireModel(ctx);
    ctx.body = {
      name: lifecycle.name,
      versions: [lifecycle.md5],
      platform: PLATFORM,
      inputs: [{ name: 'text', datatype: 'BYTES', shape: [-1] }],
      outputs: [
        { name: 'label', datatype: 'BYTES', shape: [-1, -1] },
        { name: 'score', datatype: 'FP32', shape: [-1, -1] },
      ],
    };
  });

  router.get('/v2/models/:name/ready', (ctx) => {
    requireModel(ctx);
    const readiness = lifecycle.readiness();
    ctx.status = readiness.ready ? 200 : 503;
    ctx.body = { name: lifecycle.name, ready: readiness.ready };
  });

  router.post('/v2/models/:name/infer', async (ctx) => {
    requireModel(ctx);
    await admittedJson(deps, ctx, async (body, deadlineMs) => {
      if (!isRecord(body)) throw new ApiError(400, 'invalid_request', 'the body must be a JSON object');
      const inputs = body.inputs;
      if (!Array.isArray(inputs) || inputs.length !== 1 || !isRecord(inputs[0])) {
        throw new ApiError(400, 'invalid_request', '`inputs` must hold exactly one tensor');
      }
      const input = inputs[0];
      if (input.datatype !== 'BYTES') throw new ApiError(400, 'invalid_request', 'the input tensor must have datatype BYTES');
      if (!Array.isArray(input.data)) throw new ApiError(400, 'invalid_request', 'the input tensor needs `data`, an array of strings');
      const shape = input.shape;
      if (!Array.isArray(shape) || shape.length !== 1 || shape[0] !== input.data.length) {
        throw new ApiError(400, 'invalid_request', `the input tensor's shape must be [${input.data.length}]`);
      }
      const params = isRecord(body.parameters) ? body.parameters : {};
      const { k, threshold } = parseParams(params.k, params.threshold, limits);
      const texts = checkTexts(input.data, 'inputs[0].data', limits);
      const results = await lifecycle.classify(texts, k, threshold, deadlineMs);
      const labels: string[] = [];
      const scores: number[] = [];
      for (const row of results) {
        for (let i = 0; i < k; i++) {
          const p = row[i];
          labels.push(p ? p.label : '');
          scores.push(p ? p.score : 0);
        }
      }
      const response: Record<string, unknown> = {
        model_name: lifecycle.name,
        model_version: lifecycle.md5,
        outputs: [
          { name: 'label', datatype: 'BYTES', shape: [texts.length, k], data: labels },
          { name: 'score', datatype: 'FP32', shape: [texts.length, k], data: scores },
        ],
      };
      if (typeof body.id === 'string') response.id = body.id;
      ctx.body = response;
    });
  });

  return router;
}
