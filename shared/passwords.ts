import bcrypt from "bcryptjs";
import { getConfig } from "./config";

export function hashPassword(password: string): Promise<string> {
  return bcrypt.hash(password, getConfig().bcryptCost);
}

// A hash of nothing anyone can type, checked when the user does not exist so that an
// unknown username costs the same time as a wrong password.
let decoyHash: Promise<string> | undefined;

/** Verifies a password against a `$2a$`/`$2b$`/`$2y$` bcrypt hash; `null` hash = unknown user. */
export async function verifyPassword(password: string, hash: string | null): Promise<boolean> {
  if (hash === null) {
    decoyHash ??= bcrypt.hash("\u0000decoy\u0000", getConfig().bcryptCost);
    await bcrypt.compare(password, await decoyHash);
    return false;
  }
  try {
    return await bcrypt.compare(password, hash);
  } catch {
    return false; // a malformed stored hash can never match
  }
}
