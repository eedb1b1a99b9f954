/**
 * The import's report: every original row a rule changed or skipped, with what was done, read
 * back from the rows the import recorded (so a rerun reports the whole import, not only itself).
 */
import type { Queryable } from "../../shared/data/db";
import type { SourceTotals } from "./original";
import { RULES, type RuleCode } from "./rules";

export interface RunCounts {
  users: { written: number; alreadyDone: number };
  messages: { written: number; skipped: number; alreadyDone: number };
}

export interface ImportReport {
  source: string;
  dryRun: boolean;
  startedAt: string;
  finishedAt: string;
  sourceRows: { users: number; messages: number };
  thisRun: RunCounts;
  /** Everything imported so far, this run and earlier ones. */
  imported: { users: number; placeholders: number; messages: number; skippedMessages: number };
  rules: Partial<Record<RuleCode, { description: string; rows: number }>>;
  users: { original_id: number; original_username: string | null; user_id: number; username: string; actions: RuleCode[] }[];
  messages: { original_id: number; message_id: number | null; actions: RuleCode[] }[];
}

export async function buildReport(
  db: Queryable,
  run: { source: string; dryRun: boolean; startedAt: Date; totals: SourceTotals; counts: RunCounts },
): Promise<ImportReport> {
  const users = (
    await db.query<ImportReport["users"][number]>(
      `SELECT i.original_id, i.original_username, i.user_id, u.username, i.actions
         FROM import_original_users i JOIN users u ON u.id = i.user_id
        WHERE cardinality(i.actions) > 0 ORDER BY i.original_id`,
    )
  ).rows;
  const messages = (
    await db.query<ImportReport["messages"][number]>(
      "SELECT original_id, message_id, actions FROM import_original_messages WHERE cardinality(actions) > 0 ORDER BY original_id",
    )
  ).rows;
  const { rows } = await db.query<{ users: number; placeholders: number; messages: number; skipped: number }>(
    `SELECT (SELECT count(*)::int FROM import_original_users WHERE original_username IS NOT NULL) AS users,
            (SELECT count(*)::int FROM import_original_users WHERE original_username IS NULL) AS placeholders,
            (SELECT count(*)::int FROM import_original_messages WHERE message_id IS NOT NULL) AS messages,
            (SELECT count(*)::int FROM import_original_messages WHERE message_id IS NULL) AS skipped`,
  );
  const rules: ImportReport["rules"] = {};
  for (const row of [...users, ...messages]) {
    for (const code of row.actions) (rules[code] ??= { description: RULES[code], rows: 0 }).rows++;
  }
  return {
    source: run.source,
    dryRun: run.dryRun,
    startedAt: run.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    sourceRows: { users: run.totals.users, messages: run.totals.messages },
    thisRun: run.counts,
    imported: { users: rows[0].users, placeholders: rows[0].placeholders, messages: rows[0].messages, skippedMessages: rows[0].skipped },
    rules,
    users,
    messages,
  };
}

/** A few lines for the terminal; the file holds every row. */
export function summarize(report: ImportReport, reportPath: string): string {
  const would = report.dryRun ? "would import" : "imported";
  const lines = [
    `${report.dryRun ? "DRY RUN (nothing was changed): " : ""}from ${report.source}`,
    `source: ${report.sourceRows.users} users, ${report.sourceRows.messages} messages`,
    `this run ${would} ${report.thisRun.users.written} users and ${report.thisRun.messages.written - report.thisRun.messages.skipped} messages` +
      ` (skipped ${report.thisRun.messages.skipped}; ${report.thisRun.users.alreadyDone} users and ${report.thisRun.messages.alreadyDone} messages were imported before)`,
    `in total: ${report.imported.users} users, ${report.imported.placeholders} placeholder accounts, ${report.imported.messages} messages, ${report.imported.skippedMessages} messages skipped`,
  ];
  const applied = Object.entries(report.rules);
  if (applied.length) {
    lines.push("rules applied (rows):");
    for (const [code, { description, rows }] of applied) lines.push(`  ${code} (${rows}): ${description}`);
  }
  lines.push(`report with every changed or skipped row: ${reportPath}`);
  return lines.join("\n");
}
