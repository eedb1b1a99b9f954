/**
 * What every floor server shares: authentication as a request makes it, a JSON answer, and a
 * node:http server on a free port that prints its URL for the harness and stops on SIGTERM.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

import { verifyAccessTokenAgain } from "../../shared/auth/tokens";
import { getPool } from "../../shared/data/db";
import { findUserById, findUserInSession } from "../../shared/data/users";

export function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) }).end(text);
}

/**
 * The token verified in full on every request, as a server that authenticates each request on its
 * own does: the service keeps tokens it has verified (shared/auth/tokens.ts), a saving the floors
 * leave out so that the ratios show it.
 */
export async function currentUser(req: IncomingMessage): Promise<{ id: number; username: string } | null> {
  const claims = verifyAccessTokenAgain((req.headers.authorization ?? "").slice("Bearer ".length));
  if (claims?.uid === undefined) return null;
  return claims.sid === undefined ? findUserById(claims.uid) : findUserInSession(claims.uid, claims.sid);
}

export function serveFloor(handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>): void {
  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => reply(res, 500, { detail: String(error) }));
  });
  server.keepAliveTimeout = 60_000;
  getPool();
  server.listen(0, "127.0.0.1", () => {
    console.log(JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
  });
  process.on("SIGTERM", () => process.exit(0));
}
