import { createSecretKey, type KeyObject } from "node:crypto";
import jwt from "jsonwebtoken";

import { getConfig } from "../config/config";
import { ID_MAX } from "../domain/schemas";
import { isStorableText } from "../domain/text";

const ALGORITHM = "HS256";

export interface AccessClaims {
  sub: string;
  uid?: number;
  exp: number;
  iat?: number;
}

// jsonwebtoken turns a string secret into a KeyObject on every call (about 300 µs each,
// half the CPU of a busy instance); made once per secret, a verify costs a few µs.
let signingKey: { secret: string; key: KeyObject } | undefined;

function keyFor(secret: string): KeyObject {
  if (signingKey?.secret !== secret) signingKey = { secret, key: createSecretKey(Buffer.from(secret, "utf8")) };
  return signingKey.key;
}

export function issueAccessToken(user: { id: number; username: string }, now = Date.now()): string {
  const config = getConfig();
  const iat = Math.floor(now / 1000);
  return jwt.sign({ sub: user.username, uid: user.id, iat, exp: iat + config.accessTokenExpireMinutes * 60 }, keyFor(config.secretKey), {
    algorithm: ALGORITHM,
  });
}

/** Verifies signature (HS256 only) and expiry; `null` for anything not a valid token of ours. */
export function verifyAccessToken(token: string): AccessClaims | null {
  try {
    const claims = jwt.verify(token, keyFor(getConfig().secretKey), { algorithms: [ALGORITHM] });
    if (typeof claims !== "object" || typeof claims.sub !== "string" || typeof claims.exp !== "number") return null;
    // Validly signed yet naming no possible user (we never issue such a token): refused before any query sees it.
    if (!isStorableText(claims.sub)) return null;
    const uid = (claims as { uid?: unknown }).uid;
    if (typeof uid === "number" && !(Number.isSafeInteger(uid) && uid >= 1 && uid <= ID_MAX)) return null;
    return { sub: claims.sub, exp: claims.exp, iat: claims.iat, uid: typeof uid === "number" ? uid : undefined };
  } catch {
    return null;
  }
}
