/**
 * Asking a signed-in user for their password again (a password change, an account deletion): the
 * check counts against the same login budgets as POST /token, so a stolen access token cannot be
 * used to guess the password faster than a login could.
 */
import type { HttpRequest } from "@azure/functions";

import { findAccount, type AccountRecord } from "../data/users";
import { ERRORS, HttpError } from "../domain/errors";
import { unauthorized } from "./auth";
import { clientAddress } from "./client-address";
import { knownDevice, presentedDeviceToken } from "./device-tokens";
import { admitPasswordHashing, verifyPassword } from "./passwords";
import { getThrottle, loginAccountKey } from "./throttle";

/**
 * The account when `password` is its password, null when it is not (counted as a failed login);
 * 429/503 as a login. A device the account logged in from before keeps its own budget, as at login.
 */
export async function confirmPassword(request: HttpRequest, userId: number, password: string): Promise<AccountRecord | null> {
  const address = clientAddress(request);
  await admitPasswordHashing(address);
  const account = await findAccount(userId);
  if (!account) throw unauthorized(ERRORS.badCredentials);
  const device = knownDevice(presentedDeviceToken(request, undefined), account.id);
  const attempt = await getThrottle().beginLogin({ address, account: loginAccountKey(account.id, account.username), device });
  const valid = await verifyPassword(password, account.hashed_password, address).catch(async (error: unknown) => {
    if (error instanceof HttpError && error.status === 503) await attempt.abandoned();
    throw error;
  });
  if (!valid) {
    await attempt.failed();
    return null;
  }
  await attempt.succeeded();
  return account;
}
