/** Reads the original's tables ("Users", "Messages") from its PostgreSQL database, in id order. */
import { Client } from "pg";

import type { OriginalMessage, OriginalSource, OriginalUser, SourceTotals } from "./original";

/** The URL without its password, for the report and the log. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparseable URL)";
  }
}

// The timestamp is naive UTC: read as text, so no time zone of this machine or session shifts it.
const MESSAGE_COLUMNS = `id, sender_id, recipient_id, title, body,
  to_char("timestamp", 'YYYY-MM-DD"T"HH24:MI:SS.US') AS "timestamp", is_read`;

export async function openPostgresSource(url: string): Promise<OriginalSource> {
  const client = new Client({ connectionString: url, application_name: "realtime-mail-import" });
  await client.connect();
  // One snapshot for every read, so a row written to the original meanwhile is either in all of them or none.
  await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");

  async function* keyset<T extends { id: number }>(sql: string, batchSize: number): AsyncIterable<T[]> {
    for (let after = 0; ;) {
      const { rows } = await client.query<T>(sql, [after, batchSize]);
      if (rows.length === 0) return;
      yield rows;
      after = rows[rows.length - 1].id;
    }
  }

  return {
    description: redactUrl(url),
    async totals(): Promise<SourceTotals> {
      const { rows } = await client.query<{ users: number; messages: number; max_user: number; max_message: number }>(
        `SELECT (SELECT count(*)::int FROM "Users") AS users, (SELECT count(*)::int FROM "Messages") AS messages,
                (SELECT coalesce(max(id), 0) FROM "Users") AS max_user, (SELECT coalesce(max(id), 0) FROM "Messages") AS max_message`,
      );
      const r = rows[0];
      return { users: r.users, messages: r.messages, maxUserId: r.max_user, maxMessageId: r.max_message };
    },
    users: (batchSize) =>
      keyset<OriginalUser>(`SELECT id, username, password_hash FROM "Users" WHERE id > $1 ORDER BY id LIMIT $2`, batchSize),
    messages: (batchSize) =>
      keyset<OriginalMessage>(`SELECT ${MESSAGE_COLUMNS} FROM "Messages" WHERE id > $1 ORDER BY id LIMIT $2`, batchSize),
    async close() {
      await client.query("COMMIT").catch(() => {});
      await client.end();
    },
  };
}
