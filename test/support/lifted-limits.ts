/**
 * The abuse limits lifted, for test suites and benchmarks that exercise something else: they
 * register, log in, send and reconnect far more often than one person would. The tests of each
 * limit set their own values; the production defaults live in shared/config/config.ts.
 */
import { SETTINGS } from "../../shared/config/settings";

const MANY = "1000000";

export const LIFTED_LIMITS: Readonly<Record<string, string>> = {
  [SETTINGS.registrationsPerAddress]: MANY,
  [SETTINGS.loginFailuresPerAddress]: MANY,
  [SETTINGS.loginFailuresPerUserAddress]: MANY,
  [SETTINGS.loginAttemptsPerAccount]: MANY,
  [SETTINGS.loginAttemptsPerAddress]: MANY,
  [SETTINGS.sendLimitBurst]: MANY,
  [SETTINGS.sendLimitPerHour]: MANY,
  [SETTINGS.sendLimitPerRecipientPerHour]: MANY,
  [SETTINGS.stateChangeLimitBurst]: MANY,
  [SETTINGS.stateChangeLimitPerHour]: MANY,
  [SETTINGS.wsMaxConnectionsPerUser]: "1000",
  [SETTINGS.wsNegotiatePerMinute]: "100000",
};

/** Lifts every limit named (all by default) not already set in env (a test or a run may still set its own). */
export function liftLimits(env: NodeJS.ProcessEnv = process.env, names: readonly string[] = Object.keys(LIFTED_LIMITS)): NodeJS.ProcessEnv {
  for (const name of names) env[name] ??= LIFTED_LIMITS[name];
  return env;
}
