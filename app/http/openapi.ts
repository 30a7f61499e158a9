// GET /openapi.json: the OpenAPI document of this API (docs/openapi.yaml), converted to JSON
// with the `yaml` package on the first request and kept: nothing is read, parsed or even
// imported at start, so cold start does not pay for a route most processes never serve.
import Router from '@koa/router';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiError } from './errors.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// app/http/ when run from source, dist/app/http/ when built: the document sits in docs/ at the
// project (or image) root.
const CANDIDATES = [path.resolve(here, '..', '..', 'docs', 'openapi.yaml'), path.resolve(here, '..', '..', '..', 'docs', 'openapi.yaml')];

let cached: Promise<string> | undefined;

async function load(): Promise<string> {
  for (const file of CANDIDATES) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue;
    }
    const { parse } = await import('yaml');
    return JSON.stringify(parse(text));
  }
  throw new Error(`docs/openapi.yaml not found (looked at ${CANDIDATES.join(', ')})`);
}

export function openApiRouter(): Router {
  const router = new Router();
  router.get('/openapi.json', async (ctx) => {
    cached ??= load();
    let json: string;
    try {
      json = await cached;
    } catch (error) {
      cached = undefined; // a later request may find it (and the failure is not cached)
      throw new ApiError(500, 'internal', (error as Error).message);
    }
    ctx.type = 'application/json';
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = json;
  });
  return router;
}
