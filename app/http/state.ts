// What the HTTP layer keeps on a request's context, typed once for every middleware and router.
import type { RouterContext } from '@koa/router';
import type { ParameterizedContext } from 'koa';

export interface RequestState {
  /** performance.now() when the request entered Koa: its deadline counts from here. */
  startedAt: number;
}

/** The context an app-level middleware sees: the router fills `_matchedRoute` when a route's path matched. */
export type HttpContext = ParameterizedContext<
  RequestState,
  Partial<Pick<RouterContext<RequestState>, '_matchedRoute'>>
>;
