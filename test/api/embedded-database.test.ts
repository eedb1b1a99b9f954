/**
 * The embedded database (PGlite) serves every connection from one session: without the query
 * gate (local/pglite-serial.ts) another connection's Parse replaces this one's unnamed statement
 * between Parse and Bind, and a query returns another's rows.
 */
import { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startEmbeddedDatabase, type EmbeddedDatabase } from "../../local/database";

let db: EmbeddedDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await startEmbeddedDatabase({ port: 0 });
  pool = new Pool({ connectionString: db.url, max: 10 });
});
afterAll(async () => {
  await pool?.end();
  await db?.close();
});

describe("the embedded database under concurrent connections", () => {
  it("answers each parameterised query with its own statement's rows", async () => {
    const shapes = [
      (n: number) => pool.query<{ v: string }>("SELECT $1::text AS v", [`text-${n}`]).then((r) => [r.rows[0]?.v, `text-${n}`]),
      (n: number) => pool.query<{ v: string }>("SELECT ($1::int * 2)::text AS v", [n]).then((r) => [r.rows[0]?.v, String(n * 2)]),
      (n: number) =>
        pool
          .query<{ v: string }>("SELECT v FROM (VALUES ('a'), ('b')) t(v) WHERE $1::int >= 0 LIMIT 1", [n])
          .then((r) => [r.rows[0]?.v, "a"]),
    ];
    const answers = await Promise.all(Array.from({ length: 600 }, (_, n) => shapes[n % shapes.length](n)));
    expect(answers.filter(([got, want]) => got !== want)).toEqual([]);
  });

  it("keeps a transaction's statements to its own connection while others query", async () => {
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("CREATE TEMP TABLE gate_probe (n int) ON COMMIT DROP");
      const others = Promise.all(Array.from({ length: 50 }, (_, n) => pool.query<{ n: number }>("SELECT $1::int AS n", [n])));
      await client.query("INSERT INTO gate_probe SELECT generate_series(1, $1::int)", [5]);
      const { rows } = await client.query<{ c: string }>("SELECT count(*) AS c FROM gate_probe");
      await client.query("COMMIT");
      expect(rows[0].c).toBe("5");
      expect((await others).map((r) => r.rows[0].n)).toEqual(Array.from({ length: 50 }, (_, n) => n));
    } finally {
      client.release();
    }
  });
});
