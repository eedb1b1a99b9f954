/**
 * A pool's clients may lose their backend at any time: the server restarts, or a benchmark drops
 * its database WITH (FORCE) while the pool's last clients are still closing (CI saw that end a
 * benchmark's process with an unhandled 'error' event). The app's, the import's and the
 * benchmarks' pools are made by faultTolerantPool, whose clients' faults are reported or handed to
 * the query that meets them, never thrown at the process.
 */
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

import { faultTolerantPool } from "../../shared/data/db";
import { createTestDatabase, type TestDatabase } from "../support/database";

let db: TestDatabase;
let admin: Client;

beforeAll(async () => {
  db = await createTestDatabase();
  admin = new Client({ connectionString: db.url });
  await admin.connect();
});
afterAll(async () => {
  await admin.end();
  await db.close();
});

const backendOf = async (client: { query: Client["query"] }): Promise<number> =>
  (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0].pid;

const terminate = (pid: number) => admin.query("SELECT pg_terminate_backend($1)", [pid]);

describe("faultTolerantPool", () => {
  it("reports an idle client whose backend is terminated, and serves the next query with a new one", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const pool = faultTolerantPool({ connectionString: db.url, max: 1 });
    try {
      const client = await pool.connect();
      const pid = await backendOf(client);
      client.release();
      await terminate(pid);
      await vi.waitFor(() => expect(warn).toHaveBeenCalledWith(expect.stringMatching(/^idle database client failed: /)), {
        timeout: 5_000,
      });
      expect(await backendOf(pool)).not.toBe(pid);
    } finally {
      warn.mockRestore();
      await pool.end();
    }
  });

  it("hands a checked-out client's lost backend to its query, and the pool goes on", async () => {
    const pool = faultTolerantPool({ connectionString: db.url, max: 1 });
    try {
      const client = await pool.connect();
      const pid = await backendOf(client);
      await terminate(pid);
      // The termination reaches the client before its next query, or as that query's error.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const failed = await client.query("SELECT 1").then(
        () => null,
        (error: unknown) => error,
      );
      expect(failed).toBeInstanceOf(Error);
      client.release(failed as Error);
      expect(await backendOf(pool)).not.toBe(pid);
    } finally {
      await pool.end();
    }
  });
});
