// The path of a classification request from bytes to work: the body is read first, under its
// own deadline and outside admission (a slow client holds a socket, never a slot); then the
// request waits for an admission slot holding only its raw bytes (no parsed objects for the
// GC to walk); only inside the slot is it parsed and worked on.
import { admitted, type Admission } from './admission.js';
import { parseJsonBody, type BodyIntake } from './body.js';
import { ApiError } from './errors.js';
import type { HttpContext } from './state.js';

export interface IntakeDeps {
  readonly admission: Admission;
  readonly bodies: BodyIntake;
  readonly requestTimeoutMs: number;
}

/** Reads the JSON body, then runs `work` on it inside an admission slot, by the request's deadline. */
export async function admittedJson(
  deps: IntakeDeps,
  ctx: HttpContext,
  work: (body: unknown, deadlineMs: number) => Promise<void>,
): Promise<void> {
  const startedAt = ctx.state.startedAt;
  const deadlineMs = startedAt + deps.requestTimeoutMs;
  const leave = deps.admission.arrive(ctx.request.length);
  let bytes: Buffer;
  try {
    bytes = await deps.bodies.read(ctx.req, startedAt, deadlineMs, () => ctx.set('Connection', 'close'));
  } finally {
    leave();
  }
  await admitted(
    deps.admission,
    deadlineMs,
    whileConnected(deps.admission, ctx, () => work(parseJsonBody(bytes), deadlineMs)),
    bytes.length,
  );
}

/**
 * `work`, run only if the connection is still open when the slot is granted: a request whose
 * client closed it while it waited does no work, since nobody waits for it (a client that timed
 * out and retried would otherwise be worked for twice); it is counted (shed reason client_gone)
 * and answered 503, which nobody reads. Checked at the grant rather than by a 'close' listener
 * on every queued response, which cost the 1000-connection surge a few percent of its CPU per
 * request; the place in the queue is then held until its turn, which costs no work.
 */
export function whileConnected<T>(admission: Admission, ctx: HttpContext, work: () => Promise<T>): () => Promise<T> {
  return () => {
    if (!ctx.req.socket.destroyed) return work();
    admission.countClientGone();
    return Promise.reject(new ApiError(503, 'overloaded', 'the client closed the connection while the request waited'));
  };
}
