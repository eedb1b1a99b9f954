/**
 * Asking a signed-in user for their password again (a password change, an account deletion): the
 * check counts against the same login budgets as POST /token, so a stolen access token cannot be
 * used to guess the password faster than a login could.
 */
import { findAccount, type AccountRecord } from "../data/users";
import { ERRORS } from "../http/errors";
import { HttpError } from "../http/http";
import { unauthorized } from "./auth";
import { admitPasswordHashing, verifyPassword } from "./passwords";
import { getThrottle } from "./throttle";

/** The account when `password` is its password, null when it is not (counted as a failed login); 429/503 as a login. */
export async function confirmPassword(userId: number, password: string, address: string): Promise<AccountRecord | null> {
  await admitPasswordHashing(address);
  const account = await findAccount(userId);
  if (!account) throw unauthorized(ERRORS.badCredentials);
  const attempt = await getThrottle().beginLogin(address, account.username);
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
