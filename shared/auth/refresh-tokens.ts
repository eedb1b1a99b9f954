/**
 * Refresh tokens: 32 random bytes, base64url, opaque to the client. Only their SHA-256 digest is
 * stored. A slow, salted hash (bcrypt) protects guessable secrets such as passwords; a token of 256
 * random bits cannot be guessed or found in a dictionary, so a plain digest is as safe against a
 * leaked table, and being deterministic it can be looked up by primary key in one statement.
 */
import { createHash, randomBytes } from "node:crypto";

export const REFRESH_TOKEN_BYTES = 32;
const TOKEN_TEXT = /^[A-Za-z0-9_-]{43}$/;

export interface RefreshToken {
  token: string;
  digest: Buffer;
}

export const digestOf = (token: string): Buffer => createHash("sha256").update(token, "utf8").digest();

export function newRefreshToken(): RefreshToken {
  const token = randomBytes(REFRESH_TOKEN_BYTES).toString("base64url");
  return { token, digest: digestOf(token) };
}

/** Whether the text could be a token we issued (anything else is refused without a query). */
export const looksLikeRefreshToken = (text: string): boolean => TOKEN_TEXT.test(text);
