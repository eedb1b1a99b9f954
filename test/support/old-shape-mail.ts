/**
 * Mail of the old shape (one row a message, both sides' state on it; the schema of migration 11,
 * before the mail model's copies), in bulk: what the mail model migration's test and benchmark
 * move. Every 10th message a reply in a thread, 60% read, some deleted by one side.
 */
import type { Queryable } from "../../shared/data/db";

export interface OldShapeMail {
  users: number;
  messages: number;
}

export async function seedOldShapeMail(db: Queryable, { users, messages }: OldShapeMail): Promise<void> {
  await db.query(`INSERT INTO users (username, hashed_password) SELECT 'old_user_' || g, 'x' FROM generate_series(1, $1) g`, [users]);
  await db.query(
    `INSERT INTO messages (sender_id, recipient_id, title, body, "timestamp", is_read, read_at, in_reply_to, thread_id,
                           sender_deleted_at, recipient_deleted_at)
     SELECT 1 + g % $2, 1 + (g * 7 + 1) % $2, 'Old message ' || g, repeat('Lorem ipsum dolor sit amet. ', 8) || g,
            now() - make_interval(secs => $1 - g), g % 5 < 3, CASE WHEN g % 5 < 3 THEN now() END,
            CASE WHEN g % 10 = 0 THEN g - 5 END, CASE WHEN g % 10 = 0 THEN g - 5 END,
            CASE WHEN g % 13 = 0 THEN now() END, CASE WHEN g % 17 = 0 THEN now() END
       FROM generate_series(1, $1) g`,
    [messages, users],
  );
  await db.query("VACUUM ANALYZE messages");
  await db.query("VACUUM ANALYZE users");
}
