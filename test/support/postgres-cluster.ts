/**
 * A throwaway PostgreSQL cluster that a test owns: it may terminate its backends, stop and
 * restart it at will, which the shared test server must never suffer. Built with the
 * server's own binaries (initdb, pg_ctl); the server refuses to run as root, so as root
 * every command runs as the `postgres` user.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chown, mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { Client } from "pg";

const run = promisify(execFile);

const CANDIDATE_BIN_DIRS = [process.env.PG_BIN, "/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin"];

/** The folder holding initdb and pg_ctl, or null when PostgreSQL is not installed here. */
export function postgresBinaries(): string | null {
  for (const dir of CANDIDATE_BIN_DIRS) {
    if (dir && existsSync(path.join(dir, "initdb")) && existsSync(path.join(dir, "pg_ctl"))) return dir;
  }
  return null;
}

export type StopMode = "smart" | "fast" | "immediate";

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

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function startPostgresCluster(binDir: string): Promise<PostgresCluster> {
  const asRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(path.join(os.tmpdir(), "pg-cluster-"));
  const dataDir = path.join(dir, "data");
  const logFile = path.join(dir, "server.log");
  if (asRoot) {
    const { stdout } = await run("id", ["-u", "postgres"]);
    const { stdout: gid } = await run("id", ["-g", "postgres"]);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const pg = (tool: string, args: string[]) => {
    const command = path.join(binDir, tool);
    return asRoot ? run("runuser", ["-u", "postgres", "--", command, ...args]) : run(command, args);
  };
  const port = await freePort();
  // Durability is not what this cluster is for: fsync off keeps restarts quick on a busy machine.
  const serverOptions = [
    `-p ${port}`,
    "-c listen_addresses=127.0.0.1",
    `-c unix_socket_directories=${dir}`,
    "-c fsync=off",
    "-c max_connections=50",
  ].join(" ");
  const start = () => pg("pg_ctl", ["-D", dataDir, "-l", logFile, "-o", serverOptions, "-w", "-t", "30", "start"]);
  const stop = (mode: StopMode) => pg("pg_ctl", ["-D", dataDir, "-m", mode, "-w", "-t", "30", "stop"]);
  let running = false;

  try {
    await pg("initdb", ["-D", dataDir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"]);
    await start();
    running = true;
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;

  return {
    url,
    port,
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
    async stop(mode) {
      await stop(mode);
      running = false;
    },
    async start() {
      await start();
      running = true;
    },
    async destroy() {
      if (running) await stop("immediate").catch(() => {});
      running = false;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
