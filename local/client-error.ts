/**
 * Answers what Node's HTTP layer refuses before any request handler sees it (a malformed
 * request line or header, an oversized head, a CONNECT, an Expect it cannot meet): a 4xx
 * with a JSON body, and never an exception that could stop the server.
 */
import http from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";

import { ERRORS } from "../shared/domain/errors";

/** The JSON body for a status and a sentence: `{detail}` for the API, the service's error shape for the stand-in. */
export type ErrorBody = (status: number, message: string) => unknown;

const LINGER_MS = 2_000;

function statusFor(error: Error & { code?: string }): [number, string] {
  if (error.code === "HPE_HEADER_OVERFLOW") return [431, ERRORS.headersTooLarge];
  if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") return [408, ERRORS.requestTimeout];
  return [400, ERRORS.malformedRequest];
}

/**
 * Writes a complete response and closes, giving the client a moment to read it before the socket
 * goes. The answer to a HEAD carries no body: a client reads none, so the bytes would be taken for
 * the start of another response, and a client that got both in one packet failed the whole request.
 */
export function writeRawResponse(socket: Duplex, status: number, body: unknown, head = false): void {
  const payload = JSON.stringify(body);
  const lines = [
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? "Error"}`,
    "Content-Type: application/json",
    `Content-Length: ${Buffer.byteLength(payload)}`,
    "Cache-Control: no-store",
    "Connection: close",
  ].join("\r\n");
  socket.end(`${lines}\r\n\r\n${head ? "" : payload}`);
  // Closing at once could reset the connection while unread request bytes are still queued, losing the answer.
  (socket as Socket).setTimeout?.(LINGER_MS, () => socket.destroy());
}

/**
 * Whether the request Node could not parse is a HEAD. Its request line may be what failed (raw
 * bytes in the target), so the method is read from the bytes received, as they begin.
 */
function isHeadRequest(error: Error & { rawPacket?: unknown }): boolean {
  return Buffer.isBuffer(error.rawPacket) && error.rawPacket.subarray(0, 5).toString("latin1") === "HEAD ";
}

/** Handles the server's `clientError`, `checkExpectation` and `connect` events. */
export function guardHttpServer(server: http.Server, errorBody: ErrorBody): void {
  server.on("clientError", (error: Error & { code?: string }, socket: Duplex) => {
    // A response already under way on this socket cannot be followed by another one.
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (error.code === "ECONNRESET" || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const [status, message] = statusFor(error);
    writeRawResponse(socket, status, errorBody(status, message), isHeadRequest(error));
  });
  // Without a listener Node answers an Expect other than 100-continue with a bare 417.
  server.on("checkExpectation", (_req: http.IncomingMessage, res: http.ServerResponse) => {
    const payload = JSON.stringify(errorBody(417, ERRORS.expectationFailed));
    res
      .writeHead(417, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(payload), Connection: "close" })
      .end(payload);
  });
  // Without a listener Node closes a CONNECT without a word.
  server.on("connect", (_req: http.IncomingMessage, socket: Duplex) => {
    socket.on("error", () => socket.destroy());
    writeRawResponse(socket, 405, errorBody(405, ERRORS.methodNotAllowed));
  });
}
