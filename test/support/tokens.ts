/** Tokens made by hand, and what a request refused for its token looks like. */
import jwt from "jsonwebtoken";
import { expect } from "vitest";

import { ERRORS } from "../../shared/domain/errors";
import type { CallResult } from "./http";

/** A token with these claims, signed as the service signs its own (any claims: old shapes, other users, past expiries). */
export const signToken = (claims: object): string => jwt.sign(claims, process.env.SECRET_KEY as string, { algorithm: "HS256" });

/** The one 401 authentication gives for any token it refuses, logged once as a security event. */
export function expectTokenRefused(res: CallResult): void {
  expect(res.status, res.text).toBe(401);
  expect(res.body).toEqual({ detail: ERRORS.badCredentials });
  expect(res.headers.get("www-authenticate")).toBe("Bearer");
  expect(res.logs.filter((line) => line.includes('"security_event":"token_rejected"'))).toHaveLength(1);
}

/** The session a token of ours names. */
export const sessionIdOf = (token: string): string => (jwt.decode(token) as { sid: string }).sid;
