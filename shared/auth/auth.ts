import type { HttpRequest } from "@azure/functions";

import { findUserById, findUserByUsername, findUserInSession, type SignedInUser } from "../data/users";
import { ERRORS, HttpError } from "../domain/errors";
import type { UserPublicT } from "../domain/schemas";
import { clientAddress } from "./client-address";
import { securityLog, type SecurityLogger } from "./security-log";
import { verifyAccessToken, type AccessClaims } from "./tokens";

const CHALLENGE = { "WWW-Authenticate": "Bearer" };

/** A 401 with the bearer challenge every authentication failure carries. */
export const unauthorized = (detail: string): HttpError => new HttpError(401, detail, CHALLENGE);

export interface CurrentUser extends UserPublicT {
  tokenExpiresAt: Date;
  /** The session of the token; null for a token issued before sessions existed. */
  sessionId: string | null;
  /** When the account was made (null for accounts the original service made before it kept that). */
  createdAt: Date | null;
}

/**
 * The bearer token of the request (the Authorization header, or `?token=` where allowed);
 * `undefined` when none is offered, as FastAPI's OAuth2PasswordBearer sees it.
 */
export function bearerToken(request: HttpRequest, options: { allowQuery?: boolean } = {}): string | undefined {
  const header = request.headers.get("authorization");
  if (header) {
    const match = /^bearer(?:\s+(.*))?$/i.exec(header.trim());
    if (match) return (match[1] ?? "").trim();
  }
  return (options.allowQuery && request.query.get("token")) || undefined;
}

/** Resolves the signed-in user, or throws the contract's 401s; a token offered and refused is a security event. */
export async function authenticate(
  request: HttpRequest,
  options: { allowQuery?: boolean; log?: SecurityLogger } = {},
): Promise<CurrentUser> {
  const token = bearerToken(request, options);
  if (token === undefined) throw unauthorized(ERRORS.notAuthenticated);
  const claims = token ? verifyAccessToken(token) : null;
  const user = claims ? await userOf(claims) : null;
  if (!claims || !user) {
    if (options.log) securityLog.tokenRejected(options.log, { userId: claims?.uid ?? null, address: clientAddress(request) });
    throw unauthorized(ERRORS.badCredentials);
  }
  return {
    id: user.id,
    username: user.username,
    tokenExpiresAt: new Date(claims.exp * 1000),
    sessionId: claims.sid ?? null,
    createdAt: user.created_at,
  };
}

/**
 * One query per request, never cached: a token whose session has ended (or whose user is gone) is
 * refused on the very next request, on every instance. A session's check rides on the same query.
 */
async function userOf(claims: AccessClaims): Promise<SignedInUser | null> {
  if (claims.uid === undefined) return findUserByUsername(claims.sub);
  const user = claims.sid === undefined ? await findUserById(claims.uid) : await findUserInSession(claims.uid, claims.sid);
  // Tokens of the original service carry only `sub`; ours also carry `uid`, and must still name
  // the same user (a re-created username gets a new id and must not inherit old tokens).
  return user && user.username.toLowerCase() === claims.sub.toLowerCase() ? user : null;
}
