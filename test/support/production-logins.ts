/**
 * For the tests of the login budgets at their production values: the login and registration limits
 * test/support/env.ts lifts are put back to the code's defaults (shared/config/config.ts) for the
 * file, on a database of its own, and logins and registrations go through the handlers from a chosen
 * client address, as Azure's front end reports it.
 */
import { afterAll, beforeAll, expect } from "vitest";

import { tokenCreate } from "../../functions/token-create";
import { usersCreate } from "../../functions/users-create";
import { parseConfig, resetConfig } from "../../shared/config/config";
import { SETTINGS } from "../../shared/config/settings";
import { ERRORS } from "../../shared/domain/errors";
import { useTestDatabase, type TestDatabase } from "./database";
import { call, type CallResult } from "./http";

export const PASSWORD = "correct horse battery";

const LOGIN_LIMITS = [
  SETTINGS.loginAttemptsPerAccount,
  SETTINGS.loginAttemptsPerAddress,
  SETTINGS.loginFailuresPerAddress,
  SETTINGS.loginFailuresPerUserAddress,
  SETTINGS.registrationsPerAddress,
];

/** Registers the hooks: the production limits and a fresh database for the file. */
export function useProductionLoginLimits(): void {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    for (const name of LOGIN_LIMITS) delete process.env[name];
    resetConfig();
    db = await useTestDatabase();
  });
  afterAll(async () => {
    await db?.close();
  });
}

/** Headers as Azure's front end sends them for this address; none at all for an unknown one. */
const from = (address?: string): Record<string, string> => (address ? { "x-forwarded-for": `${address}:40000` } : {});

export const register = (username: string, address?: string): Promise<CallResult> =>
  call(usersCreate, { method: "POST", headers: from(address), json: { username, password: PASSWORD } });

export interface LoginOptions {
  deviceToken?: string;
  cookie?: string;
}

export const login = (username: string, password: string, address?: string, options: LoginOptions = {}): Promise<CallResult> =>
  call(tokenCreate, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      ...from(address),
      ...(options.cookie ? { cookie: options.cookie } : {}),
    },
    body: new URLSearchParams({ username, password, ...(options.deviceToken ? { device_token: options.deviceToken } : {}) }).toString(),
  });

let setupAddress = 0;
/** Registers from an address of its own, so setup spends no tested counter; returns the account's id. */
export async function newAccount(username: string): Promise<number> {
  const res = await register(username, `192.0.2.${++setupAddress}`);
  expect(res.status, res.text).toBe(200);
  return (res.body as { id: number }).id;
}

const { login: loginLimits, attempts } = parseConfig({
  SECRET_KEY: process.env.SECRET_KEY,
  DATABASE_URL: process.env.DATABASE_URL,
}).throttle;
const LONGEST_WAIT_SECONDS = Math.max(loginLimits.windowSeconds, loginLimits.blockSeconds, attempts.windowSeconds);

/** A login refused for its budget: 429, the detail, and a Retry-After no longer than any budget's window. */
export function expectTooManyLogins(res: CallResult): void {
  expect(res.status, res.text).toBe(429);
  expect(res.body).toEqual({ detail: ERRORS.tooManyLogins });
  const retryAfter = Number(res.headers.get("retry-after"));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(LONGEST_WAIT_SECONDS);
}
