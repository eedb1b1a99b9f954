import { timingSafeEqual } from "node:crypto";

/**
 * Whether a presented secret (key, signature, token) equals the expected one, in time that does
 * not depend on where they differ, so an attacker cannot learn it a character at a time. Their
 * lengths may differ quickly: a length is no secret.
 */
export function sameSecret(given: string, expected: string): boolean {
  const left = Buffer.from(given);
  const right = Buffer.from(expected);
  return left.length === right.length && timingSafeEqual(left, right);
}
