import { z } from "zod";

import { azureSettingProblems, runsInAzure } from "./azure";
import { SETTINGS, type SettingName } from "./settings";

/** Default Web PubSub hub: the one place the hub name is spelled. */
export const DEFAULT_HUB = "notifications";

const WEAK_SECRETS = new Set(["secret", "changeme", "change-me", "uma_chave_secreta_segura_aqui", "your-secret-key", "your_secret_key"]);

export const MIN_SECRET_LENGTH = 32;

const intSetting = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);

/**
 * Whole minutes in Azure (the template's parameter is an int); locally a fraction down to 0.05 (3 s)
 * lets a developer or a test watch clients renew their tokens. Under a minute, no socket can be
 * negotiated (Web PubSub tokens last whole minutes, never longer than the app token).
 */
const tokenMinutesSetting = z.coerce
  .number()
  .min(0.05)
  .max(60 * 24 * 30)
  .refine((v) => Number.isInteger(v) || !runsInAzure(process.env), "must be a whole number of minutes in Azure")
  .default(30);

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
/** Short enough that a shed login still answers within a few seconds, far inside clients' timeouts (docs/settings.md). */
export const DEFAULT_HASH_MAX_WAIT_MS = 2_000;
const WEEK_SECONDS = 7 * 24 * 3600;

/** Production send limits, sized against Free_F1's daily frame quota (docs/settings.md). */
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

const secretKeySetting = z
  .string({ error: "is required" })
  .min(MIN_SECRET_LENGTH, { error: `must be at least ${MIN_SECRET_LENGTH} characters`, abort: true })
  .refine((v) => !WEAK_SECRETS.has(v.toLowerCase()) && new Set(v).size >= 8, "is too weak (use a long random value)");

export const DEFAULT_CONTAINER = "attachments";

/** Blob Storage's rule for a container name. */
const containerSetting = z
  .string()
  .regex(/^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/, "must be 3 to 63 lowercase letters, digits and single hyphens")
  .default(DEFAULT_CONTAINER);

/** A file, and all the files of one message together: 25 MiB. */
export const ATTACHMENT_LIMITS = { maxBytes: 25 * 1024 * 1024, perMessage: 10 } as const;

const hubSetting = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_]{0,127}$/, "must start with a letter and hold only letters, digits and _")
  .default(DEFAULT_HUB);

/**
 * Each setting is named once, where it sits in the configuration: the tree gives both the
 * environment's schema (flat, by setting name) and the shape of Config.
 */
interface Setting<T extends z.ZodType = z.ZodType> {
  name: SettingName;
  type: T;
}
const setting = <T extends z.ZodType>(name: SettingName, type: T): Setting<T> => ({ name, type });
type SettingTree = { [key: string]: Setting | SettingTree };
type Read<T> = T extends Setting<infer Z> ? z.output<Z> : { -readonly [K in keyof T]: Read<T[K]> };

const isSetting = (node: Setting | SettingTree): node is Setting => node.type instanceof z.ZodType;
const leaves = (tree: SettingTree): Setting[] => Object.values(tree).flatMap((node) => (isSetting(node) ? [node] : leaves(node)));
const schemaOf = (tree: SettingTree) => z.object(Object.fromEntries(leaves(tree).map((leaf) => [leaf.name, leaf.type])));

function read<T extends SettingTree>(tree: T, values: Record<string, unknown>): Read<T> {
  const entries = Object.entries(tree).map(([key, node]) => [key, isSetting(node) ? values[node.name] : read(node, values)]);
  return Object.fromEntries(entries) as Read<T>;
}

const DATABASE = {
  connection: {
    url: setting(SETTINGS.databaseUrl, optionalText),
    host: setting(SETTINGS.postgresHost, optionalText),
    port: setting(SETTINGS.postgresPort, intSetting(1, 65535, 5432)),
    database: setting(SETTINGS.postgresDatabase, optionalText),
    user: setting(SETTINGS.postgresUser, optionalText),
    ssl: setting(SETTINGS.postgresSsl, booleanSetting(true)),
  },
  pool: {
    max: setting(SETTINGS.dbPoolMax, intSetting(1, 100, 5)),
    connectionTimeoutMs: setting(SETTINGS.dbConnectionTimeoutMs, intSetting(100, 60_000, 5_000)),
    statementTimeoutMs: setting(SETTINGS.dbStatementTimeoutMs, intSetting(100, 300_000, 15_000)),
  },
  migrateOnStart: setting(SETTINGS.dbMigrateOnStart, booleanSetting(false)),
  azureClientId: setting(SETTINGS.azureClientId, optionalText),
};

const APP = {
  secretKey: setting(SETTINGS.secretKey, secretKeySetting),
  accessTokenExpireMinutes: setting(SETTINGS.accessTokenExpireMinutes, tokenMinutesSetting),
  /** A session not refreshed for this long ends (its refresh token is refused, the sweep deletes it). */
  sessionIdleDays: setting(SETTINGS.sessionIdleDays, intSetting(1, 3650, 30)),
  bcryptCost: setting(SETTINGS.bcryptCost, intSetting(4, 15, 12)),
  passwordHashing: {
    threads: setting(SETTINGS.passwordHashThreads, hashThreadsSetting),
    queueMax: setting(SETTINGS.passwordHashQueueMax, intSetting(1, 10_000, 100)),
    maxWaitMs: setting(SETTINGS.passwordHashMaxWaitMs, intSetting(0, 60_000, DEFAULT_HASH_MAX_WAIT_MS)),
  },
  /** Attempts allowed per window; past them the counter answers 429 until the block (or window) ends. */
  throttle: {
    login: {
      failuresPerUserAddress: setting(SETTINGS.loginFailuresPerUserAddress, intSetting(1, 1_000_000, 10)),
      failuresPerAddress: setting(SETTINGS.loginFailuresPerAddress, intSetting(1, 1_000_000, 100)),
      windowSeconds: setting(SETTINGS.loginFailureWindowSeconds, intSetting(1, WEEK_SECONDS, 3600)),
      blockSeconds: setting(SETTINGS.loginBlockSeconds, intSetting(1, WEEK_SECONDS, 900)),
    },
    registration: {
      perAddress: setting(SETTINGS.registrationsPerAddress, intSetting(1, 1_000_000, 20)),
      windowSeconds: setting(SETTINGS.registrationWindowSeconds, intSetting(1, WEEK_SECONDS, 3600)),
    },
    /** Every login attempt, right or wrong (a correct password costs a hash too). */
    attempts: {
      perAccount: setting(SETTINGS.loginAttemptsPerAccount, intSetting(1, 1_000_000, 30)),
      perAddress: setting(SETTINGS.loginAttemptsPerAddress, intSetting(1, 1_000_000, 300)),
      windowSeconds: setting(SETTINGS.loginAttemptWindowSeconds, intSetting(1, WEEK_SECONDS, 900)),
    },
  },
  /** Messages a sender may send (in a burst, and per hour) and a recipient may receive per hour. */
  sendLimits: {
    burst: setting(SETTINGS.sendLimitBurst, intSetting(1, 1_000_000, SEND_LIMITS.burst)),
    perHour: setting(SETTINGS.sendLimitPerHour, intSetting(1, 1_000_000, SEND_LIMITS.perHour)),
    perRecipientPerHour: setting(SETTINGS.sendLimitPerRecipientPerHour, intSetting(1, 1_000_000, SEND_LIMITS.perRecipientPerHour)),
  },
  /** Changes of a user's messages that push frames (read, unread, delete...): a burst a minute, and per hour. */
  stateChangeLimits: {
    burst: setting(SETTINGS.stateChangeLimitBurst, intSetting(1, 1_000_000, 30)),
    perHour: setting(SETTINGS.stateChangeLimitPerHour, intSetting(1, 1_000_000, 120)),
  },
  /** Bytes of JSON a list answer holds at most (it always holds one item, so paging progresses). */
  listMaxBytes: setting(SETTINGS.listMaxBytes, intSetting(1024, 64 * 1024 * 1024, 1024 * 1024)),
  webPubSub: {
    connectionString: setting(SETTINGS.webPubSubConnectionString, optionalText),
    endpoint: setting(SETTINGS.webPubSubEndpoint, optionalText.pipe(z.url({ protocol: /^https?$/ }).optional())),
  },
  hub: setting(SETTINGS.webPubSubHub, hubSetting),
  eventHandlerKey: setting(SETTINGS.webPubSubEventHandlerKey, optionalText),
  pushTimeoutMs: setting(SETTINGS.webPubSubPushTimeoutMs, intSetting(50, 30_000, 2_000)),
  requestMaxBytes: setting(SETTINGS.requestMaxBytes, intSetting(1024, 10 * 1024 * 1024, 1024 * 1024)),
  /** Distinct recipients of one message (to, cc and bcc together). */
  maxRecipients: setting(SETTINGS.maxRecipients, intSetting(1, 10_000, 50)),
  /** How long a copy stays in trash before the sweep erases it. */
  trashRetentionDays: setting(SETTINGS.trashRetentionDays, intSetting(1, 3650, 30)),
  /** Files in Blob Storage (shared/storage): where, and what one user and one message may hold. */
  attachments: {
    blobEndpoint: setting(SETTINGS.attachmentBlobEndpoint, optionalText.pipe(z.url({ protocol: /^https?$/ }).optional())),
    connectionString: setting(SETTINGS.attachmentStorageConnectionString, optionalText),
    container: setting(SETTINGS.attachmentContainer, containerSetting),
    malwareScanning: setting(SETTINGS.attachmentMalwareScanning, booleanSetting(false)),
    maxBytes: setting(SETTINGS.attachmentMaxBytes, intSetting(1, 5 * 1024 ** 3, ATTACHMENT_LIMITS.maxBytes)),
    uploadMinutes: setting(SETTINGS.attachmentUploadMinutes, intSetting(1, 24 * 60, 15)),
    downloadMinutes: setting(SETTINGS.attachmentDownloadMinutes, intSetting(1, 24 * 60, 5)),
    pendingMax: setting(SETTINGS.attachmentPendingMax, intSetting(1, 100_000, 20)),
    pendingMaxBytes: setting(SETTINGS.attachmentPendingMaxBytes, intSetting(1, 1024 ** 4, 4 * ATTACHMENT_LIMITS.maxBytes)),
    timeoutMs: setting(SETTINGS.attachmentStorageTimeoutMs, intSetting(100, 60_000, 5_000)),
  },
  /** How long the event log keeps events, and what one user may hold of Web PubSub. */
  realtimeLimits: {
    eventRetentionDays: setting(SETTINGS.eventRetentionDays, intSetting(1, 3650, 7)),
    // Sized so that one account cannot take a Free_F1 hub's 20 connections.
    maxConnectionsPerUser: setting(SETTINGS.wsMaxConnectionsPerUser, intSetting(1, 1000, 5)),
    negotiationsPerMinute: setting(SETTINGS.wsNegotiatePerMinute, intSetting(1, 100_000, 10)),
  },
};

type DatabaseFields = Read<typeof DATABASE>;

function requireDatabase(s: Record<string, unknown>, ctx: z.RefinementCtx): void {
  if (!s[SETTINGS.databaseUrl] && !(s[SETTINGS.postgresHost] && s[SETTINGS.postgresDatabase] && s[SETTINGS.postgresUser])) {
    ctx.addIssue({
      code: "custom",
      path: [SETTINGS.databaseUrl],
      message: `is required (or set ${SETTINGS.postgresHost}, ${SETTINGS.postgresDatabase} and ${SETTINGS.postgresUser} for Microsoft Entra authentication)`,
    });
  }
}

const databaseSchema = schemaOf(DATABASE).superRefine(requireDatabase);
const appSchema = schemaOf({ ...DATABASE, ...APP });
const schema = appSchema.superRefine(requireDatabase);

export type DatabaseSettings =
  { kind: "url"; url: string } | { kind: "entra"; host: string; port: number; database: string; user: string; ssl: boolean };

/** Where attachments live: signed with the managed identity (Azure), or with an account key (azurite under `npm start`). */
export type BlobStorageSettings =
  { kind: "identity"; endpoint: string } | { kind: "connectionString"; connectionString: string } | { kind: "none" };

export type WebPubSubSettings =
  { kind: "connectionString"; connectionString: string } | { kind: "identity"; endpoint: string } | { kind: "none" };

export interface DatabaseConfig extends Omit<DatabaseFields, "connection"> {
  database: DatabaseSettings;
}

type AppFields = Read<typeof APP>;
export type ThrottleSettings = AppFields["throttle"];
export type SendLimitSettings = AppFields["sendLimits"] & { burstSeconds: number };
export type RealtimeLimits = AppFields["realtimeLimits"];
export type StateChangeLimitSettings = AppFields["stateChangeLimits"];
export type PasswordHashingSettings = AppFields["passwordHashing"];

type AttachmentFields = AppFields["attachments"];
export interface AttachmentSettings extends Omit<AttachmentFields, "blobEndpoint" | "connectionString"> {
  storage: BlobStorageSettings;
}

export interface Config extends DatabaseConfig, Omit<AppFields, "webPubSub" | "sendLimits" | "attachments"> {
  webPubSub: WebPubSubSettings;
  attachments: AttachmentSettings;
  sendLimits: SendLimitSettings;
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
  const field = (appSchema.shape as Record<string, z.ZodType>)[name];
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
    ...(options.azure && runsInAzure(env)
      ? azureSettingProblems(env, isProductionDefault).filter((p) => !unresolved.some((name) => p.startsWith(`${name} `)))
      : []),
  ];
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  return result.data;
}

function toDatabaseConfig({ connection: c, ...rest }: DatabaseFields): DatabaseConfig {
  const database: DatabaseSettings = c.url
    ? { kind: "url", url: c.url }
    : { kind: "entra", host: c.host as string, port: c.port, database: c.database as string, user: c.user as string, ssl: c.ssl };
  return { database, ...rest };
}

/** Only the database settings: what `npm run migrate` needs, without the app's secrets. */
export function parseDatabaseConfig(env: NodeJS.ProcessEnv): DatabaseConfig {
  return toDatabaseConfig(read(DATABASE, check(env, databaseSchema.safeParse(env))));
}

/** Parses and validates every setting; throws a ConfigError naming each bad one. */
export function parseConfig(env: NodeJS.ProcessEnv): Config {
  const values = check(env, schema.safeParse(env), { azure: true });
  const { webPubSub: w, sendLimits, attachments: a, ...app } = read(APP, values);
  const { blobEndpoint, connectionString, ...attachmentLimits } = a;
  // The account key is the local switch: it wins, so `npm start` never needs an identity.
  const storage: BlobStorageSettings = connectionString
    ? { kind: "connectionString", connectionString }
    : blobEndpoint
      ? { kind: "identity", endpoint: blobEndpoint }
      : { kind: "none" };
  const webPubSub: WebPubSubSettings = w.connectionString
    ? { kind: "connectionString", connectionString: w.connectionString }
    : w.endpoint
      ? { kind: "identity", endpoint: w.endpoint }
      : { kind: "none" };
  return {
    ...toDatabaseConfig(read(DATABASE, values)),
    ...app,
    webPubSub,
    attachments: { ...attachmentLimits, storage },
    sendLimits: { ...sendLimits, burstSeconds: SEND_LIMITS.burstSeconds },
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
