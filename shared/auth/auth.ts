import type { HttpRequest } from "@azure/functions";

import { findUserById, findUserByUsername } from "../data/users";
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
  return { ...user, tokenExpiresAt: new Date(claims.exp * 1000) };
}

/**
 * Users whose tokens were accepted a moment ago, so a client's burst of requests costs one user
 * lookup, not one round trip to the database each (about 15% of a busy instance's time). The
 * bound: a deleted user's token is refused at most USER_CACHE_TTL_MS after the deletion (users
 * are removed only by an administrator, and a token lives ACCESS_TOKEN_EXPIRE_MINUTES anyway);
 * at most USER_CACHE_MAX users are kept, the oldest dropped first; a user not found is never
 * kept, so a refusal always asks the database again.
 */
export const USER_CACHE_TTL_MS = 5_000;
const USER_CACHE_MAX = 10_000;
const recentUsers = new Map<string, { user: UserPublicT; until: number }>();

async function userOf(claims: AccessClaims): Promise<UserPublicT | null> {
  const key = `${claims.uid ?? ""}:${claims.sub.toLowerCase()}`;
  const now = Date.now();
  const cached = recentUsers.get(key);
  if (cached && cached.until > now) return cached.user;
  recentUsers.delete(key);
  const user = await lookUpUser(claims);
  if (user) {
    if (recentUsers.size >= USER_CACHE_MAX) recentUsers.delete(recentUsers.keys().next().value as string);
    recentUsers.set(key, { user, until: now + USER_CACHE_TTL_MS });
  }
  return user;
}

// Tokens of the original service carry only `sub`; ours also carry `uid`, and must still
// name the same user (a re-created username gets a new id and must not inherit old tokens).
async function lookUpUser(claims: AccessClaims): Promise<UserPublicT | null> {
  if (claims.uid === undefined) return findUserByUsername(claims.sub);
  const user = await findUserById(claims.uid);
  return user && user.username.toLowerCase() === claims.sub.toLowerCase() ? user : null;
}
