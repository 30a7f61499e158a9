// What the server keeps per connection, made once when the connection opens: its latest
// request and answer (whether a pipelined request may still be dispatched, and what a closing
// answer lingers for) and the requests counted open on it (settled when it closes, since an
// answer queued behind one that never went out emits no 'close' of its own).
import type http from 'node:http';
import type { Socket } from 'node:net';

export interface Connection {
  /** The connection's latest request and its answer. */
  req: http.IncomingMessage | undefined;
  res: http.ServerResponse | undefined;
  /** Reading the rest of a body after a closing answer (linger.ts). */
  lingering: boolean;
  /** The completion of each request counted open on this connection. */
  readonly open: Set<() => void>;
}

const connections = new WeakMap<Socket, Connection>();

/** The state of a new connection; its open requests settle when it closes. */
export function openConnection(socket: Socket): Connection {
  const connection: Connection = { req: undefined, res: undefined, lingering: false, open: new Set() };
  connections.set(socket, connection);
  socket.once('close', () => {
    for (const done of [...connection.open]) done();
  });
  return connection;
}

export function connectionOf(socket: Socket): Connection | undefined {
  return connections.get(socket);
}

/**
 * Records a request as its connection's latest, and returns the connection. Undefined when the
 * connection's previous answer closes it: a request pipelined behind a refused body is not
 * dispatched, since its answer could never be sent.
 */
export function trackRequest(req: http.IncomingMessage, res: http.ServerResponse): Connection | undefined {
  const connection = connections.get(req.socket) ?? openConnection(req.socket);
  const previous = connection.res;
  if (connection.lingering || (previous !== undefined && closesConnection(previous))) return undefined;
  connection.req = req;
  connection.res = res;
  return connection;
}

function closesConnection(res: http.ServerResponse): boolean {
  return res.headersSent && String(res.getHeader('connection')).toLowerCase() === 'close';
}
