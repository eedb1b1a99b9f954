import { Pool, type PoolClient, type PoolConfig } from "pg";
import { getConfig, type DatabaseConfig } from "./config";
import { entraTokenProvider } from "./identity";

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

/** The one pool of this instance. */
export function getPool(config: DatabaseConfig = getConfig()): Pool {
  if (!pool) {
    pool = new Pool(poolConfig(config));
    // An idle client that dies (server restart, network blip) must not crash the worker.
    pool.on("error", (error) => console.warn(`idle database client failed: ${error.message}`));
  }
  return pool;
}

export async function closePool(): Promise<void> {
  const current = pool;
  pool = undefined;
  await current?.end();
}

export type Queryable = Pick<PoolClient, "query">;

/** Runs `work` in one transaction: committed if it returns, rolled back if it throws. */
export async function inTransaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await getPool().connect();
  let broken = false;
  try {
    await client.query("BEGIN");
    const result = await work(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    try {
      await client.query("ROLLBACK");
    } catch {
      broken = true;
    }
    throw error;
  } finally {
    client.release(broken);
  }
}

export async function databaseAnswers(): Promise<void> {
  await getPool().query("SELECT 1");
}
