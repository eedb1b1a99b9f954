/**
 * `--from-files`: an export of the original's SQL Server tables as bcp writes it (JSON Lines from
 * FOR JSON), in UTF-8 (bcp -c -C 65001), UTF-16LE (bcp -w) and Windows-1252 (bcp -c on a Windows
 * client without -C), generated here; text SQL Server could hold and PostgreSQL cannot is fixed.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { withClient } from "../../shared/data/db";
import { migrate } from "../../shared/data/migrate";
import type { ImportReport } from "../../tools/import/report";
import { createTestDatabase, type TestDatabase } from "../support/database";
import { INBOX_UNREAD, runImportCli } from "../support/original";

const HASH = "$2b$04$abcdefghijklmnopqrstuu2Ivs0yuZyvPrjAZ9RQDTdTqMj3YCSZ6"; // any bcrypt-shaped hash

const USERS = [
  { id: 1, username: "joão", password_hash: HASH },
  { id: 2, username: "ze\u0000", password_hash: HASH },
];
const MESSAGES = [
  // FOR JSON writes datetime2 with seven fractional digits and NULLs with INCLUDE_NULL_VALUES.
  {
    id: 1,
    sender_id: 1,
    recipient_id: 2,
    title: "Não lida €",
    body: 'Olá,\r\nlinha 2\tcom vírgula, e "aspas"',
    timestamp: "2024-04-27T12:34:56.1234567",
    is_read: null,
  },
  { id: 2, sender_id: 2, recipient_id: 1, title: "nul\u0000title", body: "x\u0000y", timestamp: "2024-04-27T12:00:00", is_read: true },
  { id: 3, sender_id: 2, recipient_id: 1, title: "t".repeat(300), body: "b", timestamp: "2024-04-27T12:00:00", is_read: false },
];
const LONE_SURROGATE_LINE =
  '{"id":4,"sender_id":1,"recipient_id":2,"title":"half \\ud800 pair","body":"ok","timestamp":null,"is_read":false}';

const jsonl = (rows: object[], extra: string[] = []) => [...rows.map((r) => JSON.stringify(r)), ...extra].join("\r\n") + "\r\n";

/** Windows-1252: Latin-1 plus a few letters in 0x80-0x9f, such as the euro sign. */
function windows1252(text: string): Buffer {
  const special: Record<string, number> = { "€": 0x80 };
  return Buffer.from([...text].map((c) => special[c] ?? (c.codePointAt(0) as number)));
}

let work: string;
const targets: TestDatabase[] = [];

async function exportDir(name: string, encode: (text: string) => Buffer, extra: string[] = []): Promise<string> {
  const dir = path.join(work, name);
  await mkdir(dir);
  await writeFile(path.join(dir, "users.jsonl"), encode(jsonl(USERS)));
  await writeFile(path.join(dir, "messages.jsonl"), encode(jsonl(MESSAGES, extra)));
  return dir;
}

async function freshTarget(): Promise<string> {
  const db = await createTestDatabase();
  targets.push(db);
  const pool = new Pool({ connectionString: db.url, max: 1 });
  await migrate(pool);
  await pool.end();
  return db.url;
}

const messagesIn = (url: string) =>
  withClient(
    url,
    async (c) =>
      (
        await c.query<{ id: number; title: string; body: string; ts: string; is_read: boolean }>(
          `SELECT id, title, body, to_char("timestamp" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') AS ts, is_read FROM messages ORDER BY id`,
        )
      ).rows,
  );

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), "import-files-"));
});
afterAll(async () => {
  for (const db of targets) await db.close();
  await rm(work, { recursive: true, force: true });
});

describe("npm run import-original -- --from-files", () => {
  it("reads a UTF-8 export (with a byte-order mark) and fixes NUL, unpaired surrogates and over-long titles", async () => {
    const dir = await exportDir("utf8", (t) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(t, "utf8")]), [
      LONE_SURROGATE_LINE,
    ]);
    const url = await freshTarget();
    const reportFile = path.join(work, "utf8.json");
    const run = await runImportCli(url, ["--from-files", dir, "--report", reportFile]);
    expect(run.code, run.stderr).toBe(0);
    const rows = await messagesIn(url);
    expect(rows[0]).toEqual({ id: 1, title: "Não lida €", body: MESSAGES[0].body, ts: "2024-04-27T12:34:56.123457", is_read: false });
    expect(rows[1]).toMatchObject({ title: "nultitle", body: "xy", is_read: true });
    expect([...rows[2].title]).toHaveLength(255);
    expect(rows[2].title.endsWith("…")).toBe(true);
    expect(rows[3].title).toBe("half \uFFFD pair");
    const report = JSON.parse(await readFile(reportFile, "utf8")) as ImportReport;
    expect(report.users).toEqual([
      { original_id: 2, original_username: "ze\u2400", user_id: 2, username: "ze", actions: ["username_forbidden_characters_removed"] },
    ]);
    expect(report.messages.map((m) => [m.original_id, m.actions])).toEqual([
      [2, ["title_unstorable_removed", "body_unstorable_removed"]],
      [3, ["title_shortened"]],
      [4, ["title_unstorable_removed", "timestamp_missing"]],
    ]);
  }, 60_000);

  it("reads a UTF-16LE export (bcp -w) by itself", async () => {
    const dir = await exportDir("utf16", (t) => Buffer.from(t, "utf16le"));
    const url = await freshTarget();
    const run = await runImportCli(url, ["--from-files", dir, "--report", path.join(work, "utf16.json")]);
    expect(run.code, run.stderr).toBe(0);
    expect((await messagesIn(url)).map((m) => m.title.slice(0, 10))).toEqual(["Não lida €", "nultitle", "tttttttttt"]);
  }, 60_000);

  it("reads a Windows-1252 export with --encoding windows-1252, and refuses it without, changing nothing", async () => {
    const dir = await exportDir("cp1252", windows1252);
    const url = await freshTarget();
    const refused = await runImportCli(url, ["--from-files", dir, "--report", path.join(work, "cp1252.json")]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/users\.jsonl: not valid utf-8 .*--encoding/);
    expect(await withClient(url, async (c) => (await c.query("SELECT 1 FROM users")).rowCount)).toBe(0);

    const run = await runImportCli(url, ["--from-files", dir, "--encoding", "windows-1252", "--report", path.join(work, "cp1252.json")]);
    expect(run.code, run.stderr).toBe(0);
    const rows = await messagesIn(url);
    expect(rows[0].title).toBe("Não lida €");
    expect(rows[0].body).toBe(MESSAGES[0].body);
    expect(await withClient(url, async (c) => (await c.query("SELECT username FROM users ORDER BY id")).rows)).toEqual([
      { username: "joão" },
      { username: "ze" },
    ]);
  }, 60_000);

  it("gives a user exported after the messages that name them the placeholder account made meanwhile", async () => {
    const write = async (name: string, users: object[], messages: object[]) => {
      const dir = path.join(work, name);
      await mkdir(dir);
      await writeFile(path.join(dir, "users.jsonl"), jsonl(users));
      await writeFile(path.join(dir, "messages.jsonl"), jsonl(messages));
      return dir;
    };
    const toZe = { id: 1, sender_id: 1, recipient_id: 2, title: "for ze", body: "b", timestamp: "2024-01-01T00:00:00", is_read: false };
    const fromZe = { id: 2, sender_id: 2, recipient_id: 1, title: "from ze", body: "b", timestamp: "2024-01-02T00:00:00", is_read: false };
    const early = await write("early", [USERS[0]], [toZe]);
    const late = await write("late", [USERS[0], { id: 2, username: "ze", password_hash: HASH }], [toZe, fromZe]);
    const url = await freshTarget();
    const reportFile = path.join(work, "late.json");
    for (const dir of [early, late]) {
      const run = await runImportCli(url, ["--from-files", dir, "--report", reportFile]);
      expect(run.code, run.stderr).toBe(0);
    }
    const users = await withClient(
      url,
      async (c) => (await c.query(`SELECT id, username, hashed_password, ${INBOX_UNREAD} AS unread_count FROM users u ORDER BY id`)).rows,
    );
    expect(users).toEqual([
      { id: 1, username: "joão", hashed_password: HASH, unread_count: 1 },
      { id: 2, username: "ze", hashed_password: HASH, unread_count: 1 },
    ]);
    expect((await messagesIn(url)).map((m) => m.id)).toEqual([1, 2]);
    const report = JSON.parse(await readFile(reportFile, "utf8")) as ImportReport;
    expect(report.users).toEqual([
      {
        original_id: 2,
        original_username: "ze",
        user_id: 2,
        username: "ze",
        actions: ["placeholder_for_missing_user", "placeholder_filled"],
      },
    ]);
    expect(report.imported).toMatchObject({ users: 2, placeholders: 0, messages: 2 });
  }, 60_000);

  it("answers a usage error with exit code 2 and what to do", async () => {
    const run = await runImportCli("postgresql://unused.invalid/x", ["--from-files", work, "--from", "postgresql://x/y"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("give exactly one of --from <postgresql-url> and --from-files <dir>");
    expect(run.stderr).toContain("usage: npm run import-original");
    const bad = await runImportCli("postgresql://unused.invalid/x", ["--from-files", work, "--encoding", "klingon"]);
    expect(bad.code).not.toBe(0);
    // A dry run changes nothing, migrations included: an unmigrated target is refused.
    const unmigrated = await createTestDatabase();
    targets.push(unmigrated);
    const dry = await runImportCli(unmigrated.url, ["--from-files", work, "--dry-run"]);
    expect(dry.code).toBe(2);
    expect(dry.stderr).toMatch(/the target database is at schema version 0, not \d+: run npm run migrate/);
    expect(
      await withClient(unmigrated.url, async (c) => (await c.query("SELECT to_regclass('schema_migrations') AS t")).rows[0].t),
    ).toBeNull();
  }, 60_000);
});
