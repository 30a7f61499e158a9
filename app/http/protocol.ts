// Answers Node's HTTP layer gives on its own, in the API's JSON error shape: malformed requests
// (the server's 'clientError' event: bad request line, headers too large, request timeout),
// `Expect` headers ('checkContinue', 'checkExpectation'), a missing Host, and a declared
// body over the limit, which is refused before any `100 Continue` and before Koa.
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { ApiError, ERROR_STATUS, errorBody, errorHeaders, writeError, type ErrorCode } from './errors.js';

/** Node's parser errors (err.code) mapped to the answer a client gets; anything else is a 400. */
const CLIENT_ERRORS: Readonly<Record<string, { code: ErrorCode; message: string }>> = {
  HPE_HEADER_OVERFLOW: { code: 'headers_too_large', message: 'the request line and headers exceed 16 KiB' },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { code: 'payload_too_large', message: 'chunk extensions too large' },
  ERR_HTTP_REQUEST_TIMEOUT: { code: 'request_timeout', message: 'the request did not arrive in time' },
};

const REASONS: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  413: 'Payload Too Large',
  431: 'Request Header Fields Too Large',
};

/** The 'clientError' handler: a JSON answer when the socket can still take one, then close. */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  // A response already under way on this socket cannot be followed by another one.
  const inFlight = (socket as Duplex & { _httpMessage?: http.ServerResponse })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent === true) {
    socket.destroy();
    return;
  }
  const known = CLIENT_ERRORS[error.code ?? ''];
  const e: ApiError = known
    ? new ApiError(ERROR_STATUS[known.code], known.code, known.message)
    : new ApiError(400, 'bad_request', 'the request is not valid HTTP/1.1');
  const body = JSON.stringify(errorBody('/', e.code, e.message));
  const head = Object.entries(errorHeaders(body, e, true))
    .map(([name, value]) => `${name}: ${String(value)}\r\n`)
    .join('');
  socket.end(`HTTP/1.1 ${e.status} ${REASONS[e.status] ?? 'Error'}\r\n${head}\r\n${body}`);
}

/** A request refused before Koa: a declared body over the limit (413), or HTTP/1.1 without Host (400). */
export function refuseBeforeKoa(req: http.IncomingMessage, res: http.ServerResponse, maxBodyBytes: number): boolean {
  const path = req.url ?? '/';
  if (req.httpVersion === '1.1' && req.headers.host === undefined) {
    writeError(res, path, new ApiError(400, 'bad_request', 'an HTTP/1.1 request needs a Host header'), true);
    req.resume();
    return true;
  }
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBodyBytes) {
    // The connection closes after the answer: the unread body must not be taken for the next request.
    writeError(
      res,
      path,
      new ApiError(413, 'payload_too_large', `the body is larger than ${maxBodyBytes} bytes`),
      true,
    );
    return true;
  }
  return false;
}

/** An `Expect` other than 100-continue. */
export function answerExpectation(req: http.IncomingMessage, res: http.ServerResponse): void {
  writeError(
    res,
    req.url ?? '/',
    new ApiError(
      417,
      'expectation_failed',
      `Expect: ${String(req.headers.expect)} is not supported; only 100-continue is`,
    ),
    true,
  );
}
