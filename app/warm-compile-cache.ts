// Image build step (Dockerfile): loads every module the service can load, without starting
// it, and writes Node's compile cache, so a container's first start finds it warm. Run as the
// user the service runs as: Node keeps one cache per user id.
//   node dist/app/warm-compile-cache.js [directory]   (default: the service's, compile-cache.ts)
import nodeModule from 'node:module';
import { enableCompileCache } from './compile-cache.js';

enableCompileCache(process.argv[2]);
// The service, and what it imports on demand: the HTTP stack, the S3 client, the OpenAPI parser.
await Promise.all([import('./service.js'), import('./http/app.js'), import('./model/s3.js'), import('yaml')]);
const cache = nodeModule as Partial<Pick<typeof nodeModule, 'flushCompileCache' | 'getCompileCacheDir'>>;
cache.flushCompileCache?.();
process.stdout.write(`compile cache: ${cache.getCompileCacheDir?.() ?? 'not supported by this Node'}\n`);
