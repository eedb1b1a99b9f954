import type { HttpRequest } from "@azure/functions";

import {
  findUserById,
  findUserByIdWith,
  findUserByUsername,
  findUserInSession,
  findUserInSessionWith,
  type Ride,
  type SignedInUserWith,
} from "../data/users";
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
  return (await authenticateWith(request, options, null)).user;
}

/**
 * The ride for the user a verified token names (its id: what the ride may spend or limit in that
 * user's name), or null for none.
 */
export type RideFor<R> = (userId: number) => Ride<R> | null;

/**
 * authenticate, and the ride's row read in the same statement as the user (null: no row). The
 * ride is read only for a token that holds, so a refused caller learns nothing of what it names.
 */
export async function authenticateWith<R>(
  request: HttpRequest,
  options: { allowQuery?: boolean; log?: SecurityLogger },
  ride: RideFor<R> | null,
): Promise<{ user: CurrentUser; found: R | null }> {
  const token = bearerToken(request, options);
  if (token === undefined) throw unauthorized(ERRORS.notAuthenticated);
  const claims = token ? verifyAccessToken(token) : null;
  const user = claims ? await userOf(claims, ride) : null;
  if (!claims || !user) {
    if (options.log) securityLog.tokenRejected(options.log, { userId: claims?.uid ?? null, address: clientAddress(request) });
    throw unauthorized(ERRORS.badCredentials);
  }
  return {
    user: {
      id: user.id,
      username: user.username,
      tokenExpiresAt: new Date(claims.exp * 1000),
      sessionId: claims.sid ?? null,
      createdAt: user.created_at,
    },
    found: user.ridden,
  };
}

/**
 * One query per request, never cached: a token whose session has ended (or whose user is gone) is
 * refused on the very next request, on every instance. A session's check, and a ride, ride on the
 * same query; only a token of the original service (`sub` alone) reads a ride in a second one.
 */
async function userOf<R>(claims: AccessClaims, rideFor: RideFor<R> | null): Promise<SignedInUserWith<R> | null> {
  if (claims.uid === undefined) {
    const named = await findUserByUsername(claims.sub);
    const ride = named && rideFor?.(named.id);
    if (!named || !ride) return named && { ...named, ridden: null };
    // Found by the name the token gives (or its NFKC form): the ride holds it to the name found.
    return findUserByIdWith(named.id, named.username, ride);
  }
  const user = await lookUp(claims.uid, claims.sid, claims.sub, rideFor?.(claims.uid) ?? null);
  // Tokens of the original service carry only `sub`; ours also carry `uid`, and must still name
  // the same user (a re-created username gets a new id and must not inherit old tokens). A ride's
  // statement checks it too, before it writes anything.
  return user && user.username.toLowerCase() === claims.sub.toLowerCase() ? user : null;
}

async function lookUp<R>(
  id: number,
  sessionId: string | undefined,
  username: string,
  ride: Ride<R> | null,
): Promise<SignedInUserWith<R> | null> {
  if (ride) return sessionId === undefined ? findUserByIdWith(id, username, ride) : findUserInSessionWith(id, sessionId, username, ride);
  const user = sessionId === undefined ? await findUserById(id) : await findUserInSession(id, sessionId);
  return user && { ...user, ridden: null };
}
