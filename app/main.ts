// Entry point: turns on Node's on-disk compile cache, then loads and starts the service. It
// imports nothing of the service statically, so every module of it compiles with the cache on.
import { enableCompileCache } from './compile-cache.js';

const compileCache = enableCompileCache();
const { main } = await import('./service.js');
await main({ compileCache });
