// Run by `npm run build` (node dist/scripts/openapi-json.js): converts docs/openapi.yaml to
// dist/app/http/openapi.json, next to the module that serves it, so GET /openapi.json reads a
// ready JSON file on its first request instead of parsing YAML in the serving process. The
// image carries dist/app, hence the document. A YAML that does not parse fails the build.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const source = path.join(root, 'docs', 'openapi.yaml');
const target = path.join(root, 'dist', 'app', 'http', 'openapi.json');

const doc: unknown = parse(await readFile(source, 'utf8'));
if (typeof doc !== 'object' || doc === null || !('openapi' in doc))
  throw new Error(`${source} is not an OpenAPI document`);
await mkdir(path.dirname(target), { recursive: true });
await writeFile(target, JSON.stringify(doc));
