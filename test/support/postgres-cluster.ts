/**
 * A throwaway PostgreSQL server that a test owns: it may terminate its backends, stop and
 * restart it at will, which the run's shared server must never suffer. The same embedded
 * binaries as every other server here (local/postgres/).
 */
import { rmSync } from "node:fs";
import path from "node:path";
import { Client } from "pg";

import { startPostgresServer, temporaryDataDir, type StopMode } from "../../local/postgres/server";

export type { StopMode };

export interface PostgresCluster {
  url: string;
  port: number;
  /** Ends every backend of the app (application_name), as an administrator would. Returns how many. */
  terminateBackends(applicationName: string): Promise<number>;
  stop(mode: StopMode): Promise<void>;
  /** Starts the stopped server and returns once it accepts connections. */
  start(): Promise<void>;
  /** Stops the server for good and deletes its files. */
  destroy(): Promise<void>;
}

export async function startPostgresCluster(): Promise<PostgresCluster> {
  const dataDir = temporaryDataDir("pg-cluster-");
  const folder = path.dirname(dataDir);
  // Durability is not what this cluster is for: fsync off keeps restarts quick on a busy machine.
  const server = await startPostgresServer({ dataDir, throwaway: true, maxConnections: 50 }).catch((error: unknown) => {
    rmSync(folder, { recursive: true, force: true });
    throw error;
  });
  const url = server.url;

  return {
    url,
    port: server.port,
    async terminateBackends(applicationName) {
      const admin = new Client({ connectionString: url, application_name: "cluster-admin" });
      await admin.connect();
      try {
        const { rows } = await admin.query<{ n: number }>(
          "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1",
          [applicationName],
        );
        return rows[0].n;
      } finally {
        await admin.end();
      }
    },
    stop: (mode) => server.stop(mode),
    start: () => server.start(),
    async destroy() {
      await server.stop("immediate");
      rmSync(folder, { recursive: true, force: true });
    },
  };
}
