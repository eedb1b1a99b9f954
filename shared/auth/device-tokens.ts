/**
 * Device tokens, after OWASP's "Slow Brute Force" device-cookie scheme: a login that succeeds is
 * answered with a token bound to the account it logged in to, signed with a key derived from
 * SECRET_KEY (so it can never pass as an access token, and rotating the secret forgets every
 * device). A client that presents it on a later login to that account is a known device: it is
 * counted by a budget of its own instead of the account's, so failures from other clients never
 * lock it out. It names the account by id and holds a random device id; nothing else.
 */
import { createHmac, hkdfSync, randomBytes } from "node:crypto";
import type { HttpRequest } from "@azure/functions";

import { getConfig } from "../config/config";
import { sameSecret } from "../domain/secrets";

const VERSION = "d1";
/** How long a device stays known without logging in again (each login renews the token). */
export const DEVICE_TOKEN_MAX_AGE_SECONDS = 365 * 24 * 3600;
/** The cookie a browser keeps it in (scoped to the login path); other clients send the form field. */
export const DEVICE_COOKIE = "device";
export const DEVICE_FORM_FIELD = "device_token";

let derived: { secret: string; key: Buffer } | undefined;
function macKey(): Buffer {
  const secret = getConfig().secretKey;
  if (derived?.secret !== secret) derived = { secret, key: Buffer.from(hkdfSync("sha256", secret, "", "device-token", 32)) };
  return derived.key;
}

const mac = (payload: string) => createHmac("sha256", macKey()).update(payload).digest("base64url");

/** A new device token for `userId`, or the device's own renewed when it already has one. */
export function issueDeviceToken(userId: number, deviceId: string = randomBytes(16).toString("base64url"), now = Date.now()): string {
  const payload = `${VERSION}.${userId}.${Math.floor(now / 1000)}.${deviceId}`;
  return `${payload}.${mac(payload)}`;
}

/** The device id of a token issued for `userId` and not yet expired; null for anything else. */
export function knownDevice(token: string | undefined, userId: number, now = Date.now()): string | null {
  if (!token || token.length > 200) return null;
  const parts = token.split(".");
  if (parts.length !== 5 || parts[0] !== VERSION) return null;
  const [, uid, issuedAt, deviceId, signature] = parts;
  if (!sameSecret(signature, mac(parts.slice(0, 4).join(".")))) return null;
  if (uid !== String(userId) || !/^[\w-]{1,64}$/.test(deviceId)) return null;
  if (Number(issuedAt) * 1000 + DEVICE_TOKEN_MAX_AGE_SECONDS * 1000 < now) return null;
  return deviceId;
}

/** The device token a login carries: the form field, else the cookie. */
export function presentedDeviceToken(request: HttpRequest, formField: string | undefined): string | undefined {
  if (formField) return formField;
  for (const part of (request.headers.get("cookie") ?? "").split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === DEVICE_COOKIE) return value.join("=");
  }
  return undefined;
}

/** The Set-Cookie value that keeps the token in a browser, sent back only to the login path. */
export function deviceCookie(token: string, secure: boolean): string {
  return `${DEVICE_COOKIE}=${token}; Path=/token; Max-Age=${DEVICE_TOKEN_MAX_AGE_SECONDS}; HttpOnly; SameSite=Strict${secure ? "; Secure" : ""}`;
}
