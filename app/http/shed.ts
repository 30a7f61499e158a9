// The overload gate in front of Koa. When admission is already full (every slot busy, the
// queue at its bound), a classification request is refused here, from the request line
// alone: before Koa, before its body is read or parsed. Under a 10x surge this is what keeps
// a refusal cheap (measured by the resilience suite: a 503 after parsing a 100-text body
// cost 270 us of main-thread CPU, enough to saturate the core and leave connections
// unanswered for seconds); the body is discarded unparsed and the connection stays usable.
import type http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Metrics } from '../metrics.js';
import type { PreHandler } from '../server.js';
import type { Admission } from './admission.js';
import { ApiError, writeError } from './errors.js';
import { recordRequest } from './metrics.js';
import { classifyRoute } from './routes.js';

/** Held refusals beyond this are sent at once: the hold must never become a memory problem. */
const MAX_HELD = 20_000;

interface HeldRefusal {
  readonly res: http.ServerResponse;
  readonly route: string;
  readonly started: number;
  readonly due: number;
}

/**
 * Refusals are held for `holdMs` before they are sent (0 = at once). Clients that retry at
 * once on a 503 (most HTTP clients, and every closed-loop load generator) otherwise turn a
 * surge into a storm of refusals that takes the whole core: measured by the bench, 25,000
 * 503/s left 10% of capacity for real work. A held refusal costs a timer slot, not CPU, and
 * holds its connection, so each client connection retries at most 1000/holdMs times a second:
 * refusals/s are about (connections - admission slots) / hold. Each still costs a parsed
 * request line and a written response, which the hold does not save: at 10x with 1000 closed-loop connections
 * (bench), 200 ms left 67% of capacity as goodput, 500 ms all of it. The default stays 200:
 * the hold also keeps the client's socket, and an open-loop surge from a client with a capped
 * socket pool (resilience suite) then still had 5% refused 2 s after the surge at 500 ms.
 */
export function overloadGate(
  admission: Admission,
  metrics: Metrics,
  retryAfterSeconds: number,
  holdMs = 0,
): PreHandler {
  const overloaded = new ApiError(503, 'overloaded', 'the service is at capacity; retry later', retryAfterSeconds);
  const held: HeldRefusal[] = [];
  let head = 0;
  let timer: NodeJS.Timeout | undefined;

  const send = (r: HeldRefusal): void => {
    writeError(r.res, r.route, overloaded); // the route label picks the v1 or OIP error shape
    recordRequest(metrics, r.route, 'POST', 503, r.started);
  };

  const flushDue = (): void => {
    const now = performance.now();
    while (head < held.length && (held[head] as HeldRefusal).due <= now) send(held[head++] as HeldRefusal);
    if (head === held.length) {
      held.length = 0;
      head = 0;
      clearInterval(timer);
      timer = undefined;
    } else if (head > 4096) {
      held.splice(0, head);
      head = 0;
    }
  };

  return (req, res) => {
    if (!admission.full()) return false;
    const route = classifyRoute(req.method, req.url);
    if (route === undefined) return false;
    const started = performance.now();
    admission.countShed();
    // Discard the body without buffering it, so the keep-alive connection can carry the next request.
    req.resume();
    const refusal: HeldRefusal = { res, route, started, due: started + holdMs };
    if (holdMs <= 0 || held.length - head >= MAX_HELD) {
      send(refusal);
      return true;
    }
    held.push(refusal);
    timer ??= setInterval(flushDue, Math.max(5, Math.min(50, holdMs / 4)));
    return true;
  };
}
