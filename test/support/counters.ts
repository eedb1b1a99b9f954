import { getPool } from "../../shared/data/db";

/** The counters of these users that differ from a full recount of their copies. */
export async function miscounted(ids: number[]): Promise<unknown[]> {
  const { rows } = await getPool().query(
    `WITH actual AS (
         SELECT user_id, folder, count(*)::int AS total, count(*) FILTER (WHERE received AND NOT is_read)::int AS unread
           FROM message_copies WHERE user_id = ANY($1) GROUP BY user_id, folder
         UNION ALL
         SELECT user_id, 'starred', count(*)::int, count(*) FILTER (WHERE received AND NOT is_read)::int
           FROM message_copies WHERE user_id = ANY($1) AND is_starred AND folder <> 'trash' GROUP BY user_id)
       SELECT user_id, folder, a.total AS actual_total, c.total AS counted_total, a.unread AS actual_unread, c.unread AS counted_unread
         FROM actual a FULL JOIN (SELECT * FROM mailbox_counters WHERE user_id = ANY($1)) c USING (user_id, folder)
        WHERE (coalesce(a.total, 0), coalesce(a.unread, 0)) IS DISTINCT FROM (coalesce(c.total, 0), coalesce(c.unread, 0))`,
    [ids],
  );
  return rows;
}
