// POST /v1/classify and GET /v1/model.
import Router from '@koa/router';
import type { Lifecycle } from '../lifecycle.js';
import { ApiError } from './errors.js';
import { admittedJson, type IntakeDeps } from './intake.js';
import type { RequestState } from './state.js';
import { checkTexts, isRecord, parseParams, type Limits } from './validate.js';

export interface ClassifyDeps extends IntakeDeps {
  readonly lifecycle: Lifecycle;
  readonly limits: Limits;
}

export function classifyRouter(deps: ClassifyDeps): Router<RequestState> {
  const router = new Router<RequestState>();
  const { lifecycle, limits } = deps;
  const model = { name: lifecycle.name, md5: lifecycle.md5 };

  router.post('/v1/classify', (ctx) =>
    admittedJson(deps, ctx, async (body, deadlineMs) => {
      if (!isRecord(body)) throw new ApiError(400, 'invalid_request', 'the body must be a JSON object');
      const { text, texts } = body;
      if (text !== undefined && texts !== undefined)
        throw new ApiError(400, 'invalid_request', 'send either `text` or `texts`, not both');
      const { k, threshold } = parseParams(body.k, body.threshold, limits);
      if (texts !== undefined) {
        if (!Array.isArray(texts)) throw new ApiError(400, 'invalid_request', '`texts` must be an array of strings');
        const checked = checkTexts(texts, 'texts', limits);
        ctx.body = { model, results: await lifecycle.classify(checked, k, threshold, deadlineMs) };
        return;
      }
      if (typeof text !== 'string')
        throw new ApiError(400, 'invalid_request', '`text` must be a string (or send `texts`, an array)');
      checkTexts([text], 'text', limits);
      const [predictions] = await lifecycle.classify([text], k, threshold, deadlineMs);
      ctx.body = { model, predictions };
    }),
  );

  router.get('/v1/model', (ctx) => {
    ctx.body = lifecycle.modelInfo();
  });

  return router;
}
