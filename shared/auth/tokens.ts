import { createSecretKey, type KeyObject } from "node:crypto";
import jwt from "jsonwebtoken";
import { LRUCache } from "lru-cache";

import { getConfig } from "../config/config";
import { canBeId } from "../domain/schemas";
import { isStorableText } from "../domain/text";

const ALGORITHM = "HS256";

export interface AccessClaims {
  sub: string;
  uid?: number;
  /** The session the token belongs to; absent from tokens issued before sessions existed. */
  sid?: string;
  exp: number;
  iat?: number;
}

const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const isSessionId = (text: string): boolean => SESSION_ID.test(text);

/** Seconds an access token lives (`expires_in` of the token answer). */
export const accessTokenSeconds = (): number => Math.max(1, Math.round(getConfig().accessTokenExpireMinutes * 60));

/** Tokens kept verified: the users an instance serves at once, each token a few hundred bytes. */
const VERIFIED_TOKENS_KEPT = 10_000;

// jsonwebtoken turns a string secret into a KeyObject on every call (about 300 µs each,
// half the CPU of a busy instance); made once per secret, a verify costs a few µs.
let signingKey: { secret: string; key: KeyObject } | undefined;

/**
 * The claims of access tokens already verified under the current key. A client sends the same
 * token with every request of its lifetime, and verifying it again (a base64 decode, two JSON
 * parses, an HMAC) is a large share of what authenticating a request costs the app. Only tokens
 * that pass verification enter, so forged ones cannot crowd out real ones; a kept token is still
 * refused from its expiry on, and the session it names is still looked up on every request (a
 * revoked session ends it at once). Cleared when the key changes.
 */
const verifiedTokens = new LRUCache<string, AccessClaims>({ max: VERIFIED_TOKENS_KEPT });

function keyFor(secret: string): KeyObject {
  if (signingKey?.secret !== secret) {
    signingKey = { secret, key: createSecretKey(Buffer.from(secret, "utf8")) };
    verifiedTokens.clear();
  }
  return signingKey.key;
}

/** Expired as jsonwebtoken decides: from the second `exp` names on. */
const hasExpired = (claims: AccessClaims, now = Date.now()) => Math.floor(now / 1000) >= claims.exp;

export function issueAccessToken(user: { id: number; username: string }, now = Date.now(), sessionId?: string): string {
  const config = getConfig();
  const iat = Math.floor(now / 1000);
  const claims = { sub: user.username, uid: user.id, ...(sessionId ? { sid: sessionId } : {}), iat, exp: iat + accessTokenSeconds() };
  return jwt.sign(claims, keyFor(config.secretKey), { algorithm: ALGORITHM });
}

/**
 * The user id of a token we signed, expired or not: a refresh may come with the access token it
 * replaces, which must then name the same user as the refresh token.
 */
export function signedUserId(token: string): number | null {
  try {
    const claims = jwt.verify(token, keyFor(getConfig().secretKey), { algorithms: [ALGORITHM], ignoreExpiration: true });
    const uid = typeof claims === "object" ? (claims as { uid?: unknown }).uid : undefined;
    return typeof uid === "number" && Number.isSafeInteger(uid) ? uid : null;
  } catch {
    return null;
  }
}

/** Verifies signature (HS256 only) and expiry; `null` for anything not a valid token of ours. */
export function verifyAccessToken(token: string): AccessClaims | null {
  const key = keyFor(getConfig().secretKey);
  const known = verifiedTokens.get(token);
  if (known) return hasExpired(known) ? null : known;
  const claims = verifiedClaims(token, key);
  if (claims) verifiedTokens.set(token, claims);
  return claims;
}

/** verifyAccessToken without the tokens kept: the whole verification every time (the benchmarks' floors). */
export const verifyAccessTokenAgain = (token: string): AccessClaims | null => verifiedClaims(token, keyFor(getConfig().secretKey));

function verifiedClaims(token: string, key: KeyObject): AccessClaims | null {
  try {
    const claims = jwt.verify(token, key, { algorithms: [ALGORITHM] });
    if (typeof claims !== "object" || typeof claims.sub !== "string" || typeof claims.exp !== "number") return null;
    // Validly signed yet naming no possible user (we never issue such a token): refused before any query sees it.
    if (!isStorableText(claims.sub)) return null;
    const uid = (claims as { uid?: unknown }).uid;
    if (typeof uid === "number" && !canBeId(uid)) return null;
    const sid = (claims as { sid?: unknown }).sid;
    if (sid !== undefined && !(typeof sid === "string" && isSessionId(sid) && typeof uid === "number")) return null;
    // Frozen: the one object answers every later request with this token.
    return Object.freeze({ sub: claims.sub, exp: claims.exp, iat: claims.iat, uid: typeof uid === "number" ? uid : undefined, sid });
  } catch {
    return null;
  }
}
