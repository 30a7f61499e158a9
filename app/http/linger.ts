// Lingering close, as nginx and Apache do it. When an answer closes the connection while the
// client is still sending its body (413, 408, a refusal before `100 Continue`), Node ends the
// socket and destroys it as soon as the answer is written (net.Socket#destroySoon). Unread
// bytes in the kernel's receive buffer, or bytes arriving after that, make the kernel send a
// reset, and a client still writing its body then loses the answer it had not yet read
// (measured: 35 of 50 clients sending a 4 MiB body to a 1 MiB limit got no 413 at all).
// Node has no option for this, so the socket's destroySoon is replaced, per connection:
// while its request's body is unfinished, the answer is followed by a FIN and the rest of
// the body is read and discarded, within LINGER_MS and LINGER_BYTES, then the socket closes.
// The reading is Node's own: the unread request is dumped (resumed, bytes dropped by the
// parser), which restarts a socket the parser had stopped. A 'data' listener on the socket
// would take the bytes from the parser and leave such a socket stopped (a review measured
// every socket held 2 s and then reset); the byte bound is polled on socket.bytesRead.
import type http from 'node:http';
import type { Socket } from 'node:net';
import { connectionOf, type Connection } from './connection.js';

/** How long a closing connection keeps reading a body nobody will use. */
export const LINGER_MS = 2000;
/**
 * The most a closing connection reads. A body declared larger is not waited for at all (its
 * client is closed on at once, as without lingering): reading it cost as much as serving, and
 * a flood of 1 GiB declarations cost 15 s of CPU in 12 s against 8.4 s without lingering (a
 * review). A chunked body is cut here (checked every CHECK_EVERY_MS, so it may read more).
 */
export const LINGER_BYTES = 16 * 1024 * 1024;
/**
 * A lingering connection that receives nothing for this long is closed: its client has
 * stopped sending (an `Expect: 100-continue` client that read its refusal). Held 2 s each,
 * 20 such connections a second kept every lingering place taken (a review measured it).
 */
export const LINGER_IDLE_MS = 250;
/**
 * Connections lingering at once; past it a close is immediate, as without lingering. A flood
 * of oversized uploads then costs what it cost before (a review measured 18 s of CPU against
 * 9.6 s for 300 connections flooding 12 s, unbounded).
 */
export const MAX_LINGERING = 32;
const CHECK_EVERY_MS = 25;

let lingering = 0;

/** Makes a connection's close after an answer linger while its request's body is still arriving. */
export function lingerOnClose(socket: Socket): void {
  // Typed, but not documented: were it gone, closes would only not linger.
  if (typeof socket.destroySoon !== 'function') return;
  const destroySoon = socket.destroySoon.bind(socket);
  socket.destroySoon = (): void => {
    const state = connectionOf(socket);
    const req = state?.req;
    if (
      state === undefined ||
      req === undefined ||
      req.complete ||
      req.destroyed ||
      !socket.readable ||
      lingering >= MAX_LINGERING ||
      Number(req.headers['content-length'] ?? 0) > LINGER_BYTES
    ) {
      destroySoon();
      return;
    }
    linger(socket, state, req);
  };
}

function linger(socket: Socket, state: Connection, req: http.IncomingMessage): void {
  state.lingering = true;
  lingering += 1;
  const readBefore = socket.bytesRead;
  const started = performance.now();
  let lastRead = readBefore;
  let lastReadAt = started;
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    lingering -= 1;
    clearInterval(check);
    req.off('end', close);
    socket.off('end', close);
    socket.off('close', close);
    socket.destroy();
  };
  const check = setInterval(() => {
    const now = performance.now();
    if (socket.bytesRead !== lastRead) {
      lastRead = socket.bytesRead;
      lastReadAt = now;
    }
    if (lastRead - readBefore > LINGER_BYTES || now - started >= LINGER_MS || now - lastReadAt >= LINGER_IDLE_MS)
      close();
  }, CHECK_EVERY_MS);
  // The answer goes out first; the FIN after it tells the client nothing more will be read.
  socket.end();
  req.once('end', close);
  socket.once('end', close);
  socket.once('close', close);
  // Node dumps a request nobody read when its answer finishes; one read in part is resumed.
  req.resume();
}
