/**
 * Password hashing with bcrypt (bcryptjs), run by shared/password-hasher off the request thread.
 *
 * Cost (BCRYPT_COST, default 12): OWASP's Password Storage Cheat Sheet asks bcrypt for a work
 * factor of at least 10, and as high as the verifying server allows. Measured for the default
 * (bench/login-contention.ts, bcryptjs on one core of the 2-core development machine): cost 10
 * about 0.08 s, 11 about 0.15 s, 12 about 0.28 s per hash. 12 keeps a login under a third of a
 * second while costing an offline attacker four times what OWASP's minimum does; since hashing
 * no longer holds the request thread, the price is login latency and logins per second per
 * instance, not everyone else's latency. Stored hashes carry their own cost, so raising it later
 * only affects new passwords.
 */
import { getConfig, type PasswordHashingSettings } from "./config";
import { createPasswordHasher, type PasswordHasher } from "./password-hasher";

let current: { settings: PasswordHashingSettings; hasher: PasswordHasher } | undefined;

/** The hasher of this instance, rebuilt (and the old one stopped) when the settings change. */
export function getPasswordHasher(settings: PasswordHashingSettings = getConfig().passwordHashing): PasswordHasher {
  if (current?.settings !== settings) {
    void current?.hasher.close();
    current = { settings, hasher: createPasswordHasher(settings) };
  }
  return current.hasher;
}

/** Stops the hashing threads (tests and benchmarks that switch settings). */
export async function closePasswordHasher(): Promise<void> {
  const closing = current;
  current = undefined;
  await closing?.hasher.close();
}

export function hashPassword(password: string): Promise<string> {
  return getPasswordHasher().hash(password, getConfig().bcryptCost);
}

// A hash of nothing anyone can type, checked when the user does not exist so that an
// unknown username costs the same time as a wrong password.
let decoy: { cost: number; hash: Promise<string> } | undefined;

function decoyHash(): Promise<string> {
  const cost = getConfig().bcryptCost;
  if (decoy?.cost !== cost) {
    const hash = getPasswordHasher().hash("\u0000decoy\u0000", cost);
    decoy = { cost, hash };
    hash.catch(() => {
      if (decoy?.hash === hash) decoy = undefined;
    }); // a busy or failed hasher must not poison every later login
  }
  return decoy.hash;
}

/** Verifies a password against a `$2a$`/`$2b$`/`$2y$` bcrypt hash; `null` hash = unknown user. */
export async function verifyPassword(password: string, hash: string | null): Promise<boolean> {
  if (hash === null) {
    await getPasswordHasher().compare(password, await decoyHash());
    return false;
  }
  return getPasswordHasher().compare(password, hash);
}
