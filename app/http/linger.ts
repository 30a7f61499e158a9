// Lingering close, as nginx and Apache do it. When an answer closes the connection while the
// client is still sending its body (413, 408, a refusal before `100 Continue`), Node ends the
// socket and destroys it as soon as the answer is written (net.Socket#destroySoon). Unread
// bytes in the kernel's receive buffer, or bytes arriving after that, make the kernel send a
// reset, and a client still writing its body then loses the answer it had not yet read
// (measured: 35 of 50 clients sending a 4 MiB body to a 1 MiB limit got no 413 at all).
// Node has no option for this, so the socket's destroySoon is replaced, per connection:
// while its request's body is unfinished, the answer is followed by a FIN and the rest of
// the body is read and discarded, within LINGER_MS and LINGER_BYTES, then the socket closes.
import type http from 'node:http';
import type { Socket } from 'node:net';

/** How long a closing connection keeps reading a body nobody will use. */
export const LINGER_MS = 2000;
/** How many more bytes it reads before it gives up and closes anyway. */
export const LINGER_BYTES = 16 * 1024 * 1024;

const latestRequest = new WeakMap<Socket, http.IncomingMessage>();

/** Remembers the connection's current request: the one whose body a close may cut off. */
export function trackRequest(req: http.IncomingMessage): void {
  latestRequest.set(req.socket, req);
}

/** Makes a connection's close after an answer linger while its request's body is still arriving. */
export function lingerOnClose(socket: Socket): void {
  // Typed, but not documented: were it gone, closes would only not linger.
  if (typeof socket.destroySoon !== 'function') return;
  const destroySoon = socket.destroySoon.bind(socket);
  socket.destroySoon = (): void => {
    const req = latestRequest.get(socket);
    if (req === undefined || req.complete || req.destroyed || !socket.readable) {
      destroySoon();
      return;
    }
    linger(socket, req);
  };
}

function linger(socket: Socket, req: http.IncomingMessage): void {
  const readBefore = socket.bytesRead;
  const close = (): void => {
    clearTimeout(timer);
    socket.off('data', onData);
    req.off('end', close);
    socket.off('end', close);
    socket.destroy();
  };
  // Counted on the socket: a dumped request emits no 'data' of its own. Node hands the
  // socket's bytes to its parser in JS once a 'data' listener is added, so both see them.
  const onData = (): void => {
    if (socket.bytesRead - readBefore > LINGER_BYTES) close();
  };
  const timer = setTimeout(close, LINGER_MS);
  // The answer goes out first; the FIN after it tells the client nothing more will be read.
  socket.end();
  socket.on('data', onData);
  req.once('end', close);
  socket.once('end', close);
  socket.once('close', close);
  req.resume();
  socket.resume();
}
