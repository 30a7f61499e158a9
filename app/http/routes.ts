// Which requests are classifications, recognised from the raw request line alone (before Koa),
// for every spelling the router accepts: any letter case, one trailing slash, a query string,
// an absolute-form target (`POST http://host/v1/classify`), and the OIP infer routes with or
// without a version. test/unit/overload-gate.test.ts checks this against the real router.

export type ClassifyRoute = '/v1/classify' | '/v2/models/:name/infer' | '/v2/models/:name/versions/:version/infer';

/** The path of a request target as Koa sees it: no query or fragment, origin-form. */
function targetPath(url: string): string {
  let start = 0;
  if (!url.startsWith('/')) {
    const scheme = url.indexOf('://');
    if (scheme < 0) return url;
    const slash = url.indexOf('/', scheme + 3);
    if (slash < 0) return '/';
    start = slash;
  }
  let end = url.length;
  const query = url.indexOf('?', start);
  if (query >= 0) end = query;
  const hash = url.indexOf('#', start);
  if (hash >= 0 && hash < end) end = hash;
  return url.slice(start, end);
}

const V2_INFER = /^\/v2\/models\/[^/]+(\/versions\/[^/]+)?\/infer\/?$/i;

/** The route label of a classification request, or undefined for anything else. */
export function classifyRoute(method: string | undefined, url: string | undefined): ClassifyRoute | undefined {
  if (method !== 'POST' || url === undefined) return undefined;
  const path = targetPath(url);
  const length = path.endsWith('/') ? path.length - 1 : path.length;
  if (length === 12 && path.slice(0, 12).toLowerCase() === '/v1/classify') return '/v1/classify';
  const infer = V2_INFER.exec(path);
  if (infer) return infer[1] === undefined ? '/v2/models/:name/infer' : '/v2/models/:name/versions/:version/infer';
  return undefined;
}
