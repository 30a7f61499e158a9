// The path of a classification request from bytes to work: the body is read first, under its
// own deadline and outside admission (a slow client holds a socket, never a slot); then the
// request waits for an admission slot holding only its raw bytes (no parsed objects for the
// GC to walk); only inside the slot is it parsed and worked on.
import { admitted, type Admission } from './admission.js';
import { parseJsonBody, type BodyIntake } from './body.js';
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
    () => work(parseJsonBody(bytes), deadlineMs),
    bytes.length,
    (withdraw) => withdrawWhenGone(ctx.res, withdraw),
  );
}

/**
 * Withdraws a queued request from admission when its connection closes before it is answered:
 * nobody waits for that work any more (a client that timed out and retried would otherwise be
 * worked for twice). A 'close' after the answer was sent is the normal end: nothing to do.
 */
export function withdrawWhenGone(res: HttpContext['res'], withdraw: () => void): void {
  res.once('close', () => {
    if (!res.writableFinished) withdraw();
  });
}
