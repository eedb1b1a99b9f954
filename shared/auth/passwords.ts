/**
 * Password hashing with bcrypt (bcryptjs), run by shared/auth/password-hasher off the request thread.
 *
 * Cost (BCRYPT_COST, default 12): OWASP's Password Storage Cheat Sheet asks bcrypt for a work
 * factor of at least 10, and as high as the verifying server allows. Measured with bcryptjs on
 * the 2-core development machine (bench/login-contention.ts prints it): one hash at cost 12 took
 * 0.27-0.31 s when the machine was quiet (cost 10: 0.08-0.14 s), up to 0.9 s under heavy load.
 * 12 keeps a login well under a second while costing an offline attacker four times OWASP's
 * minimum; since hashing no longer holds the request thread, the price is login latency and
 * logins per second per instance, not everyone else's latency. Stored hashes carry their own
 * cost, so raising it later only affects new passwords.
 */
import { getConfig, type PasswordHashingSettings } from "../config/config";
import { UNKNOWN_ADDRESS } from "./client-address";
import { createPasswordHasher, type HashingClient, type PasswordHasher } from "./password-hasher";

/** The hasher shares its threads fairly between client addresses; an unknown address is nobody's queue but its own. */
const hashingClient = (address: string | undefined): HashingClient => (address === UNKNOWN_ADDRESS ? undefined : address);

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

/** Rejects with the 503 (with Retry-After) that a password hash or check asked for now would get. */
export function admitPasswordHashing(address?: string): Promise<void> {
  return getPasswordHasher().admit(hashingClient(address));
}

export function hashPassword(password: string, address?: string): Promise<string> {
  return getPasswordHasher().hash(password, getConfig().bcryptCost, hashingClient(address));
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
export async function verifyPassword(password: string, hash: string | null, address?: string): Promise<boolean> {
  if (hash === null) {
    await getPasswordHasher().compare(password, await decoyHash(), hashingClient(address));
    return false;
  }
  return getPasswordHasher().compare(password, hash, hashingClient(address));
}
