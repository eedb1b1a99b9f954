/**
 * The settings Azure gives the app (the identity stack's), with the tests' bcrypt cost
 * (test/support/env.ts). Hashing is not what the identity tests check, and at the production cost
 * every registration and login in a spawned app spends seconds of CPU, enough on a loaded machine
 * to push a test past its timeout.
 */
import type { AzureIdentityStack } from "../../local/azure-identity/stack";
import { SETTINGS } from "../../shared/config/settings";

export function identityAppSettings(stack: AzureIdentityStack, overrides: Record<string, string> = {}): Record<string, string> {
  const cost = process.env[SETTINGS.bcryptCost];
  return { ...stack.appSettings(), ...(cost ? { [SETTINGS.bcryptCost]: cost } : {}), ...overrides };
}
