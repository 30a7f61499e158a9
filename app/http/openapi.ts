// GET /openapi.json: the OpenAPI document of this API (docs/openapi.yaml). `npm run build`
// converts it to JSON next to this module (scripts/openapi-json.ts), and the first request
// reads that file and keeps it: nothing is read at start, so cold start does not pay for a
// route most processes never serve, and no YAML is parsed in the serving process. Run from
// source (no build), the YAML is parsed instead, with `yaml` imported only then.
import Router from '@koa/router';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiError } from './errors.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const BUILT = path.join(here, 'openapi.json');
const SOURCE = path.resolve(here, '..', '..', 'docs', 'openapi.yaml');

let cached: Promise<string> | undefined;

async function load(): Promise<string> {
  try {
    return await readFile(BUILT, 'utf8');
  } catch {
    // not built: running from source
  }
  let text: string;
  try {
    text = await readFile(SOURCE, 'utf8');
  } catch {
    throw new Error(`the OpenAPI document is missing (neither ${BUILT} nor ${SOURCE})`);
  }
  const { parse } = await import('yaml');
  return JSON.stringify(parse(text));
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
