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
  const leave = deps.admission.arrive();
  let bytes: Buffer;
  try {
    bytes = await deps.bodies.read(ctx.req, startedAt, deadlineMs, () => ctx.set('Connection', 'close'));
  } finally {
    leave();
  }
  await admitted(
    deps.admission,
    deadlineMs,
    () => (clientGone(deps.admission, ctx) ? Promise.reject(goneError()) : work(parseJsonBody(bytes), deadlineMs)),
    bytes.length,
  );
}

/**
 * True (and counted) when the connection closed while the request waited for its slot: the
 * work is skipped, since nobody waits for it (a client that timed out and retried would
 * otherwise be worked for twice). Checked when the slot is granted rather than by a 'close'
 * listener on every queued response, which cost the 1000-connection surge a few percent of its
 * CPU per request; the place in the queue is then held until its turn, which costs no work.
 */
export function goneError(): ApiError {
  // Nobody reads this answer; the shed metric's reason (client_gone) says why it was given.
  return new ApiError(503, 'overloaded', 'the client closed the connection while the request waited');
}

export function clientGone(admission: Admission, ctx: HttpContext): boolean {
  if (!ctx.req.socket.destroyed) return false;
  admission.countClientGone();
  return true;
}
