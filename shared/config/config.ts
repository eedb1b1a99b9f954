import { z } from "zod";
import { SETTINGS, type SettingName } from "./settings";
import { azureSettingProblems, runsInAzure } from "./azure";

/** Default Web PubSub hub: the one place the hub name is spelled. */
export const DEFAULT_HUB = "notifications";

const WEAK_SECRETS = new Set([
  "secret",
  "changeme",
  "change-me",
  "uma_chave_secreta_segura_aqui",
  "your-secret-key",
  "your_secret_key",
]);

export const MIN_SECRET_LENGTH = 32;

const intSetting = (min: number, max: number, fallback: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

const optionalText = z
  .string()
  .trim()
  .transform((v) => (v === "" ? undefined : v))
  .optional();

const booleanSetting = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0", ""])
    .optional()
    .transform((v) => (v === undefined || v === "" ? fallback : v === "true" || v === "1"));

export const MAX_HASH_THREADS = 16;
/**
 * How long a login may wait for a hashing thread before it is refused with 503 + Retry-After: a
 * couple of seconds, so that with the hash itself a login under overload still answers within
 * about 3 s, far inside any client's timeout (browsers' fetch has none, common HTTP clients 30 s
 * and more, Azure's front end 230 s), and a queue of clients who gave up stays short.
 */
export const DEFAULT_HASH_MAX_WAIT_MS = 2_000;
const WEEK_SECONDS = 7 * 24 * 3600;

/**
 * Production send limits. A send pushes one frame to each of the recipient's sockets; Free_F1
 * allows 20 000 frames a day for everyone. At 60 an hour one account sends 1 440 a day, so even a
 * self-send loop to a dozen open sockets of its own leaves the day's quota to the others; a burst
 * of 20 in a minute covers a person replying to a backlog. A recipient takes 200 an hour from all
 * senders together, which bounds a mailbox flood run from many accounts.
 */
export const SEND_LIMITS = { burst: 20, burstSeconds: 60, perHour: 60, perRecipientPerHour: 200 } as const;

// "auto" (the default) or a whole number of hashing threads; 0 hashes on the request thread.
const hashThreadsSetting = z
  .string()
  .optional()
  .transform((raw, ctx): number | "auto" => {
    const value = (raw ?? "").trim();
    if (value === "" || value === "auto") return "auto";
    const threads = Number(value);
    if (Number.isInteger(threads) && threads >= 0 && threads <= MAX_HASH_THREADS) return threads;
    ctx.addIssue({ code: "custom", message: `must be auto or a whole number from 0 to ${MAX_HASH_THREADS}` });
    return z.NEVER;
  });

const databaseFields = {
  [SETTINGS.databaseUrl]: optionalText,
  [SETTINGS.postgresHost]: optionalText,
  [SETTINGS.postgresPort]: intSetting(1, 65535, 5432),
  [SETTINGS.postgresDatabase]: optionalText,
  [SETTINGS.postgresUser]: optionalText,
  [SETTINGS.postgresSsl]: booleanSetting(true),
  [SETTINGS.dbPoolMax]: intSetting(1, 100, 5),
  [SETTINGS.dbConnectionTimeoutMs]: intSetting(100, 60_000, 5_000),
  [SETTINGS.dbStatementTimeoutMs]: intSetting(100, 300_000, 15_000),
  [SETTINGS.dbMigrateOnStart]: booleanSetting(false),
  [SETTINGS.azureClientId]: optionalText,
};

type DatabaseFields = z.infer<z.ZodObject<typeof databaseFields>>;

function requireDatabase(s: DatabaseFields, ctx: z.RefinementCtx): void {
  if (!s[SETTINGS.databaseUrl] && !(s[SETTINGS.postgresHost] && s[SETTINGS.postgresDatabase] && s[SETTINGS.postgresUser])) {
    ctx.addIssue({
      code: "custom",
      path: [SETTINGS.databaseUrl],
      message: `is required (or set ${SETTINGS.postgresHost}, ${SETTINGS.postgresDatabase} and ${SETTINGS.postgresUser} for Microsoft Entra authentication)`,
    });
  }
}

const databaseSchema = z.object(databaseFields).superRefine(requireDatabase);

const schema = z
  .object({
    ...databaseFields,
    [SETTINGS.secretKey]: z
      .string({ error: "is required" })
      .min(MIN_SECRET_LENGTH, { error: `must be at least ${MIN_SECRET_LENGTH} characters`, abort: true })
      .refine((v) => !WEAK_SECRETS.has(v.toLowerCase()) && new Set(v).size >= 8, "is too weak (use a long random value)"),
    [SETTINGS.accessTokenExpireMinutes]: intSetting(1, 60 * 24 * 30, 30),
    [SETTINGS.bcryptCost]: intSetting(4, 15, 12),
    [SETTINGS.passwordHashThreads]: hashThreadsSetting,
    [SETTINGS.passwordHashQueueMax]: intSetting(1, 10_000, 100),
    [SETTINGS.passwordHashMaxWaitMs]: intSetting(0, 60_000, DEFAULT_HASH_MAX_WAIT_MS),
    [SETTINGS.loginFailuresPerUserAddress]: intSetting(1, 1_000_000, 10),
    [SETTINGS.loginFailuresPerAddress]: intSetting(1, 1_000_000, 100),
    [SETTINGS.loginFailureWindowSeconds]: intSetting(1, WEEK_SECONDS, 3600),
    [SETTINGS.loginBlockSeconds]: intSetting(1, WEEK_SECONDS, 900),
    [SETTINGS.loginAttemptsPerAccount]: intSetting(1, 1_000_000, 30),
    [SETTINGS.loginAttemptsPerAddress]: intSetting(1, 1_000_000, 300),
    [SETTINGS.loginAttemptWindowSeconds]: intSetting(1, WEEK_SECONDS, 900),
    [SETTINGS.sendLimitBurst]: intSetting(1, 1_000_000, SEND_LIMITS.burst),
    [SETTINGS.sendLimitPerHour]: intSetting(1, 1_000_000, SEND_LIMITS.perHour),
    [SETTINGS.sendLimitPerRecipientPerHour]: intSetting(1, 1_000_000, SEND_LIMITS.perRecipientPerHour),
    [SETTINGS.listMaxBytes]: intSetting(1024, 64 * 1024 * 1024, 1024 * 1024),
    [SETTINGS.registrationsPerAddress]: intSetting(1, 1_000_000, 20),
    [SETTINGS.registrationWindowSeconds]: intSetting(1, WEEK_SECONDS, 3600),
    [SETTINGS.webPubSubConnectionString]: optionalText,
    [SETTINGS.webPubSubEndpoint]: optionalText.pipe(z.url({ protocol: /^https?$/ }).optional()),
    [SETTINGS.webPubSubHub]: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_]{0,127}$/, "must start with a letter and hold only letters, digits and _")
      .default(DEFAULT_HUB),
    [SETTINGS.webPubSubEventHandlerKey]: optionalText,
    [SETTINGS.webPubSubPushTimeoutMs]: intSetting(50, 30_000, 2_000),
    [SETTINGS.requestMaxBytes]: intSetting(1024, 10 * 1024 * 1024, 1024 * 1024),
    [SETTINGS.eventRetentionDays]: intSetting(1, 3650, 7),
    // Sized so that one account cannot take a Free_F1 hub's 20 connections.
    [SETTINGS.wsMaxConnectionsPerUser]: intSetting(1, 1000, 5),
    [SETTINGS.wsNegotiatePerMinute]: intSetting(1, 100_000, 10),
  })
  .superRefine(requireDatabase);

export type DatabaseSettings =
  | { kind: "url"; url: string }
  | { kind: "entra"; host: string; port: number; database: string; user: string; ssl: boolean };

export type WebPubSubSettings =
  | { kind: "connectionString"; connectionString: string }
  | { kind: "identity"; endpoint: string }
  | { kind: "none" };

export interface DatabaseConfig {
  database: DatabaseSettings;
  pool: { max: number; connectionTimeoutMs: number; statementTimeoutMs: number };
  migrateOnStart: boolean;
  azureClientId?: string;
}

/** Attempts allowed per window; past them the counter answers 429 until the block (or window) ends. */
export interface ThrottleSettings {
  login: { failuresPerUserAddress: number; failuresPerAddress: number; windowSeconds: number; blockSeconds: number };
  registration: { perAddress: number; windowSeconds: number };
  /** Every login attempt, right or wrong (a correct password costs a hash too). */
  attempts: { perAccount: number; perAddress: number; windowSeconds: number };
}

/** Messages a sender may send (in a burst, and per hour) and a recipient may receive per hour. */
export interface SendLimitSettings {
  burst: number;
  burstSeconds: number;
  perHour: number;
  perRecipientPerHour: number;
}

/** How long the event log keeps events, and what one user may hold of Web PubSub. */
export interface RealtimeLimits {
  eventRetentionDays: number;
  maxConnectionsPerUser: number;
  negotiationsPerMinute: number;
}

export interface PasswordHashingSettings {
  threads: number | "auto";
  queueMax: number;
  maxWaitMs: number;
}

export interface Config extends DatabaseConfig {
  secretKey: string;
  accessTokenExpireMinutes: number;
  bcryptCost: number;
  passwordHashing: PasswordHashingSettings;
  throttle: ThrottleSettings;
  sendLimits: SendLimitSettings;
  /** Bytes of JSON a list answer holds at most (it always holds one item, so paging progresses). */
  listMaxBytes: number;
  webPubSub: WebPubSubSettings;
  hub: string;
  eventHandlerKey?: string;
  pushTimeoutMs: number;
  requestMaxBytes: number;
  realtimeLimits: RealtimeLimits;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

const KEY_VAULT_REFERENCE = /^\s*@Microsoft\.KeyVault\(/i;

/**
 * Settings Azure fills from Key Vault hold the literal `@Microsoft.KeyVault(...)` when the app
 * cannot read the vault. Checked for every setting, not a list: a reference that slips through
 * would become a guessable secret or an endpoint that fails much later.
 */
function unresolvedKeyVaultReferences(env: NodeJS.ProcessEnv): string[] {
  return Object.values(SETTINGS).filter((name) => KEY_VAULT_REFERENCE.test(env[name] ?? ""));
}

/** Whether `value` is what the app uses for `name` when the setting is absent (so copying it changes nothing). */
function isProductionDefault(name: SettingName, value: string): boolean {
  const field = (schema.shape as Record<string, z.ZodType>)[name];
  if (!field) return false;
  const [given, absent] = [field.safeParse(value), field.safeParse(undefined)];
  return given.success && absent.success && given.data !== undefined && given.data === absent.data;
}

/** Every problem, each setting named once: an unresolved reference hides its other complaints. */
function check<T>(env: NodeJS.ProcessEnv, result: z.ZodSafeParseResult<T>, options: { azure?: boolean } = {}): T {
  const unresolved = unresolvedKeyVaultReferences(env);
  const issues = result.success ? [] : result.error.issues.filter((i) => !unresolved.includes(String(i.path[0]) as SettingName));
  const problems = [
    ...unresolved.map((name) => `${name} is an unresolved Key Vault reference (check the app's access to the vault)`),
    ...issues.map((i) => `${String(i.path[0] ?? "settings")} ${i.message}`),
    // In Azure, example and local-only values are refused too (shared/config/azure.ts).
    ...(options.azure && runsInAzure(env) ? azureSettingProblems(env, isProductionDefault).filter((p) => !unresolved.some((name) => p.startsWith(`${name} `))) : []),
  ];
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return result.data;
}

function toDatabaseConfig(s: DatabaseFields): DatabaseConfig {
  const databaseUrl = s[SETTINGS.databaseUrl];
  const database: DatabaseSettings = databaseUrl
    ? { kind: "url", url: databaseUrl }
    : {
        kind: "entra",
        host: s[SETTINGS.postgresHost] as string,
        port: s[SETTINGS.postgresPort],
        database: s[SETTINGS.postgresDatabase] as string,
        user: s[SETTINGS.postgresUser] as string,
        ssl: s[SETTINGS.postgresSsl],
      };
  return {
    database,
    pool: {
      max: s[SETTINGS.dbPoolMax],
      connectionTimeoutMs: s[SETTINGS.dbConnectionTimeoutMs],
      statementTimeoutMs: s[SETTINGS.dbStatementTimeoutMs],
    },
    migrateOnStart: s[SETTINGS.dbMigrateOnStart],
    azureClientId: s[SETTINGS.azureClientId],
  };
}

/** Only the database settings: what `npm run migrate` needs, without the app's secrets. */
export function parseDatabaseConfig(env: NodeJS.ProcessEnv): DatabaseConfig {
  return toDatabaseConfig(check(env, databaseSchema.safeParse(env)));
}

/** Parses and validates every setting; throws a ConfigError naming each bad one. */
export function parseConfig(env: NodeJS.ProcessEnv): Config {
  const s = check(env, schema.safeParse(env), { azure: true });
  const connectionString = s[SETTINGS.webPubSubConnectionString];
  const endpoint = s[SETTINGS.webPubSubEndpoint];
  const webPubSub: WebPubSubSettings = connectionString
    ? { kind: "connectionString", connectionString }
    : endpoint
      ? { kind: "identity", endpoint }
      : { kind: "none" };
  return {
    ...toDatabaseConfig(s),
    secretKey: s[SETTINGS.secretKey],
    accessTokenExpireMinutes: s[SETTINGS.accessTokenExpireMinutes],
    bcryptCost: s[SETTINGS.bcryptCost],
    passwordHashing: {
      threads: s[SETTINGS.passwordHashThreads],
      queueMax: s[SETTINGS.passwordHashQueueMax],
      maxWaitMs: s[SETTINGS.passwordHashMaxWaitMs],
    },
    throttle: {
      login: {
        failuresPerUserAddress: s[SETTINGS.loginFailuresPerUserAddress],
        failuresPerAddress: s[SETTINGS.loginFailuresPerAddress],
        windowSeconds: s[SETTINGS.loginFailureWindowSeconds],
        blockSeconds: s[SETTINGS.loginBlockSeconds],
      },
      registration: { perAddress: s[SETTINGS.registrationsPerAddress], windowSeconds: s[SETTINGS.registrationWindowSeconds] },
      attempts: {
        perAccount: s[SETTINGS.loginAttemptsPerAccount],
        perAddress: s[SETTINGS.loginAttemptsPerAddress],
        windowSeconds: s[SETTINGS.loginAttemptWindowSeconds],
      },
    },
    sendLimits: {
      burst: s[SETTINGS.sendLimitBurst],
      burstSeconds: SEND_LIMITS.burstSeconds,
      perHour: s[SETTINGS.sendLimitPerHour],
      perRecipientPerHour: s[SETTINGS.sendLimitPerRecipientPerHour],
    },
    listMaxBytes: s[SETTINGS.listMaxBytes],
    webPubSub,
    hub: s[SETTINGS.webPubSubHub],
    eventHandlerKey: s[SETTINGS.webPubSubEventHandlerKey],
    pushTimeoutMs: s[SETTINGS.webPubSubPushTimeoutMs],
    requestMaxBytes: s[SETTINGS.requestMaxBytes],
    realtimeLimits: {
      eventRetentionDays: s[SETTINGS.eventRetentionDays],
      maxConnectionsPerUser: s[SETTINGS.wsMaxConnectionsPerUser],
      negotiationsPerMinute: s[SETTINGS.wsNegotiatePerMinute],
    },
  };
}

let cached: Config | undefined;

/** The validated configuration of this instance, read from the environment once. */
export function getConfig(): Config {
  cached ??= parseConfig(process.env);
  return cached;
}

/** For tests and the local host, which change the environment between runs. */
export function resetConfig(): void {
  cached = undefined;
}
