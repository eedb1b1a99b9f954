import type { HttpRequest } from "@azure/functions";
import { ERRORS } from "../http/errors";
import { HttpError } from "../http/http";
import { verifyAccessToken, type AccessClaims } from "./tokens";
import { findUserById, findUserByUsername } from "../data/users";
import type { UserPublicT } from "../http/schemas";

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

/** Resolves the signed-in user, or throws the contract's 401s. */
export async function authenticate(request: HttpRequest, options: { allowQuery?: boolean } = {}): Promise<CurrentUser> {
  const token = bearerToken(request, options);
  if (token === undefined) throw unauthorized(ERRORS.notAuthenticated);
  const claims = token ? verifyAccessToken(token) : null;
  const user = claims ? await userOf(claims) : null;
  if (!claims || !user) throw unauthorized(ERRORS.badCredentials);
  return { ...user, tokenExpiresAt: new Date(claims.exp * 1000) };
}

// Tokens of the original service carry only `sub`; ours also carry `uid`, and must still
// name the same user (a re-created username gets a new id and must not inherit old tokens).
async function userOf(claims: AccessClaims): Promise<UserPublicT | null> {
  if (claims.uid === undefined) return findUserByUsername(claims.sub);
  const user = await findUserById(claims.uid);
  return user && user.username.toLowerCase() === claims.sub.toLowerCase() ? user : null;
}
