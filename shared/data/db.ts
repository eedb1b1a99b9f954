import { createHash } from "node:crypto";
import { Client, Pool, type PoolClient, type PoolConfig } from "pg";

import { getConfig, type DatabaseConfig } from "../config/config";
import { entraTokenProvider } from "./entra-token";

let pool: Pool | undefined;

/** Builds pool options: small, with short timeouts, so many instances cannot exhaust the server. */
export function poolConfig(config: DatabaseConfig): PoolConfig {
  const base: PoolConfig = {
    max: config.pool.max,
    connectionTimeoutMillis: config.pool.connectionTimeoutMs,
    idleTimeoutMillis: 30_000,
    statement_timeout: config.pool.statementTimeoutMs,
    query_timeout: config.pool.statementTimeoutMs + 1_000,
    application_name: "realtime-mail",
    keepAlive: true,
  };
  const db = config.database;
  if (db.kind === "url") return { ...base, connectionString: db.url };
  return {
    ...base,
    host: db.host,
    port: db.port,
    database: db.database,
    user: db.user,
    // The app's managed identity signs in with a short-lived Entra token, never a stored password.
    password: entraTokenProvider(config.azureClientId),
    ssl: db.ssl ? { rejectUnauthorized: true } : false,
  };
}

/**
 * A pool whose clients' faults cannot end the process: the instance's, the import's and the
 * benchmarks' pools are made with it.
 */
export function faultTolerantPool(config: PoolConfig): Pool {
  const created = new Pool(config);
  // An idle client that dies (server restart, network blip, its database dropped) is dropped
  // by the pool, which reports it here; unheard, the report would crash the worker.
  created.on("error", (error) => console.warn(`idle database client failed: ${error.message}`));
  // The pool listens to a client only while it is idle. One checked out (a transaction,
  // a pool.query in flight) whose backend is terminated emits 'error' with no listener,
  // which kills the process; so every client gets one listener for its whole life. The
  // query that fails hands the fault to its caller (a 503), and the pool drops the client.
  created.on("connect", (client) => client.on("error", ignoreClientError));
  return created;
}

/** The one pool of this instance. */
export function getPool(config: DatabaseConfig = getConfig()): Pool {
  pool ??= faultTolerantPool(poolConfig(config));
  return pool;
}

function ignoreClientError(): void {}

export async function closePool(): Promise<void> {
  const current = pool;
  pool = undefined;
  await current?.end();
}

export type Queryable = Pick<PoolClient, "query">;

/**
 * Runs `work` in one transaction: committed if it returns, rolled back if it throws. A client
 * whose connection failed meanwhile is destroyed on release, never handed out again.
 */
export async function inTransaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await getPool().connect();
  let fault: Error | undefined;
  const onFault = (error: Error) => (fault ??= error);
  client.on("error", onFault);
  try {
    await client.query("BEGIN");
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    if (!fault) {
      try {
        await client.query("ROLLBACK");
      } catch (rollbackError) {
        fault = rollbackError as Error;
      }
    }
    throw error;
  } finally {
    client.off("error", onFault);
    client.release(fault ?? false);
  }
}

/**
 * A name for a prepared statement, derived from its text: node-postgres prepares a name once per
 * connection and refuses a second text under it, and the same text always gets the same name.
 * Name only statements that may run on a generic plan (planned without the parameters' values).
 */
export function statementName(prefix: string, text: string): string {
  let names = statementNames.get(prefix);
  if (names === undefined) statementNames.set(prefix, (names = new Map()));
  let name = names.get(text);
  if (name === undefined) {
    name = `${prefix}-${createHash("sha256").update(text).digest("hex").slice(0, 16)}`;
    names.set(text, name);
  }
  return name;
}

// Only the statements that are named come here, a fixed set of texts: the maps stay small. Keyed
// by the text itself, not a new string joining it to its prefix: a text held in a constant is
// then hashed once, not on every request.
const statementNames = new Map<string, Map<string, string>>();

/** The query as a named (prepared) statement: see statementName. */
export const prepared = (prefix: string, text: string, values: unknown[]) => ({ name: statementName(prefix, text), text, values });

export async function databaseAnswers(): Promise<void> {
  await getPool().query("SELECT 1");
}

/** Runs `work` on a connection of its own to `url` (an administrator's or a tool's task), closed after. */
export async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * `build` made once per pool and settings: an instance of the app has one pool and reads its
 * settings once, while tests and the local host swap both (a new settings object rebuilds).
 */
export function perPool<S, T>(build: (pool: Pool, settings: S) => T): (pool: Pool, settings: S) => T {
  const built = new WeakMap<Pool, { settings: S; value: T }>();
  return (pool, settings) => {
    const cached = built.get(pool);
    if (cached?.settings === settings) return cached.value;
    const value = build(pool, settings);
    built.set(pool, { settings, value });
    return value;
  };
}
