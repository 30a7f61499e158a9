// The overload gate in front of Koa. When admission would refuse (every slot busy, and the
// predicted queue wait past its target or the queue at its bound), a classification request
// is refused here, from the request line alone: before Koa, before its body is read or
// parsed. Under a 10x surge this is what keeps a refusal cheap (measured by the resilience
// suite: a 503 after parsing a 100-text body cost 270 us of main-thread CPU, enough to
// saturate the core and leave connections unanswered for seconds); the body is discarded
// unparsed and the connection stays usable.
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
 * Refusals may be held for `holdMs` before they are sent (SHED_HOLD_MS, default 0 = at once).
 * A closed-loop client that retries at once on a 503 turns each refusal into another request;
 * a hold limits each such connection to 1000/holdMs refusals a second, at the cost of a timer
 * slot, not CPU. With count-based admission this mattered (25,000 503/s once left 10% of
 * capacity for real work); with the queue delay target a closed loop is refused only past
 * target x throughput, while an open-loop client only hears later. Measured in the resilience
 * overload scenario (10x open loop, prod chart): at 0 ms 102% of capacity as goodput, 503 p99
 * 318 ms; at 50 ms 89%, 560 ms.
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
    const declared = Number(req.headers['content-length']);
    if (!admission.full(Number.isSafeInteger(declared) && declared >= 0 ? declared : undefined)) return false;
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
