/**
 * The embedded PostgreSQL for `npm start` and for tests on a machine with only Node:
 * PGlite (Postgres compiled to WASM) served over the wire protocol, so the app talks to it
 * with the same `pg` driver and SQL it uses against a real server.
 */
import { mkdirSync } from "node:fs";
import type { AddressInfo } from "node:net";

import { startQueryGate } from "./pglite-serial";

export interface EmbeddedDatabase {
  url: string;
  close(): Promise<void>;
}

export interface EmbeddedDatabaseOptions {
  /** A folder to persist to, or undefined for an in-memory database. */
  dataDir?: string;
  host?: string;
  port: number;
  maxConnections?: number;
}

export async function startEmbeddedDatabase(options: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
  const { PGlite } = await import("@electric-sql/pglite");
  const { PGLiteSocketServer } = await import("@electric-sql/pglite-socket");
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const db = await PGlite.create(options.dataDir);
  const host = options.host ?? "127.0.0.1";
  const server = new PGLiteSocketServer({ db, host, port: 0, maxConnections: options.maxConnections ?? 20 });
  await server.start();
  const socketPort = (server as unknown as { server?: { address(): AddressInfo } }).server?.address().port;
  if (!socketPort) throw new Error("PGlite's socket server did not report its port");
  // Clients reach PGlite through the gate only: it keeps each query whole (see pglite-serial.ts).
  const gate = await startQueryGate(host, options.port, socketPort);
  return {
    url: `postgresql://postgres:postgres@${host}:${gate.port}/postgres`,
    close: async () => {
      await gate.close();
      await server.stop();
      await db.close();
    },
  };
}
