/**
 * The send's statement on the generic plan each connection keeps: PostgreSQL cannot see how many
 * recipients its arrays hold, and estimates each CTE over them at a row or so. A join of two such
 * CTEs then runs as a nested loop comparing every pair, which for a send to 50 is 2,500
 * comparisons, twice. Each recipient's event finds its row by its place instead (sourceRowOf).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { getPool } from "../../shared/data/db";
import { sendMessage } from "../../shared/data/messages";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { explainExecute, nodesOf } from "../support/plans";
import { withStatements, type SentStatement } from "../support/statements";
import { newUser, type TestUser } from "../support/users";

const RECIPIENTS = 50;

let db: TestDatabase;
let sender: TestUser;
let recipients: TestUser[];
beforeAll(async () => {
  db = await useTestDatabase();
  sender = await newUser("plan-sender");
  recipients = [];
  for (let i = 0; i < RECIPIENTS; i++) recipients.push(await newUser("plan-recipient"));
});
afterAll(async () => {
  await db.close();
});

/** The send statement's text and values, as sendMessage sends it. */
async function sendStatement(to: number[]): Promise<SentStatement> {
  const { result, sent } = await withStatements(() => sendMessage(sender.id, { title: "Plan", body: "A send to many.", to }));
  expect(result.kind).toBe("sent");
  const statement = sent.find((s) => s.name === "send-message");
  if (!statement) throw new Error("the send did not send its statement");
  return statement;
}

describe("a send's statement on its generic plan", () => {
  it(`compares no pairs of rows in a join, for a send to ${RECIPIENTS}`, async () => {
    const { text, values } = await sendStatement(recipients.map((r) => r.id));
    const client = await getPool().connect();
    try {
      await client.query("SET plan_cache_mode = force_generic_plan");
      await client.query({ name: "send-plan", text, values });
      await client.query("BEGIN");
      const plan = await explainExecute(client, "send-plan", values);
      await client.query("ROLLBACK");
      const removed = nodesOf(plan).reduce((n, node) => n + (node["Rows Removed by Join Filter"] ?? 0), 0);
      expect(removed).toBe(0);
    } finally {
      await client.query("ROLLBACK").catch(() => {});
      await client.query("RESET plan_cache_mode");
      await client.query('DEALLOCATE "send-plan"');
      client.release();
    }
  });
});
