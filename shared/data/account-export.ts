/**
 * The account's data as one JSON document (GDPR articles 15 and 20): the account, then every copy
 * in its mailbox, every folder, each as the account sees it, with its attachments listed. Read in
 * keyset pages and yielded as text, so memory holds one page whatever the mailbox's size, and no
 * connection is held between pages (a slow download holds none of the pool).
 */
import { getPool } from "./db";
import { FROM_COPIES, MESSAGE_COLUMNS, toMessage, type MessageRow } from "./message-view";
import type { AccountRecord } from "./users";

export const EXPORT_PAGE = 500;

// A copy is (user_id, message_id, received): the page after ($2, $3) in that order.
const PAGE_SQL = `SELECT ${MESSAGE_COLUMNS}, c.received AS export_received
  ${FROM_COPIES}
  WHERE c.user_id = $1 AND (c.message_id, c.received) > ($2::int, $3::boolean)
  ORDER BY c.message_id, c.received LIMIT $4`;

// The message object carries its attachments (shared/data/message-view.ts).
interface ExportRow extends MessageRow {
  export_received: boolean;
}

const page = async (userId: number, after: readonly [number, boolean]): Promise<ExportRow[]> =>
  (await getPool().query<ExportRow>(PAGE_SQL, [userId, after[0], after[1], EXPORT_PAGE])).rows;

/**
 * The export, as chunks of JSON text. The first page is read before this resolves, so a database
 * that cannot answer is a 503 before anything is sent, not a download cut short.
 */
export async function openExport(account: Pick<AccountRecord, "id" | "username" | "created_at">): Promise<AsyncGenerator<string>> {
  const firstPage = await page(account.id, [0, false]);
  const head = {
    exported_at: new Date().toISOString(),
    account: { id: account.id, username: account.username, created_at: account.created_at?.toISOString() ?? null },
  };
  return (async function* () {
    yield `${JSON.stringify(head).slice(0, -1)},"messages":[`;
    let rows = firstPage;
    let separator = "";
    while (rows.length > 0) {
      yield separator + rows.map(({ export_received: _, ...row }) => JSON.stringify(toMessage(row))).join(",");
      separator = ",";
      if (rows.length < EXPORT_PAGE) break;
      const last = rows[rows.length - 1];
      rows = await page(account.id, [last.id, last.export_received]);
    }
    yield "]}";
  })();
}
