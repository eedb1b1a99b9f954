/**
 * Passwords too common to accept for a new account: the 49,000 most common leaked passwords of
 * zxcvbn-ts's common dictionary (@zxcvbn-ts/language-common), compared ignoring case. Chosen because
 * it is maintained with zxcvbn-ts (the password strength estimator most apps use), ships the list
 * as data with no network or service behind it, and is compressed in the package. The list loads
 * on the first registration, never at start-up: logins and every other function never pay for it.
 */
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
