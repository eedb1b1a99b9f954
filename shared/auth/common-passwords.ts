/**
 * Passwords too common to accept as a new one (registration, password change): the 49,000 most common leaked passwords of
 * zxcvbn-ts's common dictionary (@zxcvbn-ts/language-common), compared ignoring case. Chosen because
 * it is maintained with zxcvbn-ts (the password strength estimator most apps use), ships the list
 * as data with no network or service behind it, and is compressed in the package. The list loads
 * on the first new password, never at start-up: logins and every other function never pay for it.
 */
import { COMMON_PASSWORD_ISSUE, validationError } from "../domain/errors";

let common: Promise<ReadonlySet<string>> | undefined;

function commonPasswords(): Promise<ReadonlySet<string>> {
  common ??= import("@zxcvbn-ts/language-common").then(
    ({ dictionary }) => new Set(dictionary["passwords-common"].map((p) => p.toLowerCase())),
  );
  // A failed load is tried again by the next registration.
  common.catch(() => (common = undefined));
  return common;
}

export async function isCommonPassword(password: string): Promise<boolean> {
  return (await commonPasswords()).has(password.toLowerCase());
}

/** A new password in the body's `field` found on the list: the 422 naming that field, before anything is counted, hashed or written. */
export async function refuseCommonPassword(password: string, field: string): Promise<void> {
  if (await isCommonPassword(password)) throw validationError([{ ...COMMON_PASSWORD_ISSUE, loc: ["body", field] }]);
}
