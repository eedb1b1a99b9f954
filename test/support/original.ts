/**
 * The original service's database as SQLAlchemy 1.4 creates it on PostgreSQL (ORIGINAL.md), and
 * a runner for `npm run import-original` as a child process.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

import { withClient } from "../../shared/data/db";
import { createTestDatabase, type TestDatabase } from "./database";

/** What Base.metadata.create_all(engine) emits for the original models on PostgreSQL. */
export const ORIGINAL_SCHEMA = `
CREATE TABLE "Users" (
	id SERIAL NOT NULL,
	username VARCHAR(255) NOT NULL,
	password_hash VARCHAR(255) NOT NULL,
	PRIMARY KEY (id)
);
CREATE INDEX "ix_Users_id" ON "Users" (id);
CREATE UNIQUE INDEX "ix_Users_username" ON "Users" (username);
CREATE TABLE "Messages" (
	id SERIAL NOT NULL,
	sender_id INTEGER NOT NULL,
	recipient_id INTEGER NOT NULL,
	title VARCHAR(255) NOT NULL,
	body VARCHAR NOT NULL,
	timestamp TIMESTAMP WITHOUT TIME ZONE,
	is_read BOOLEAN,
	PRIMARY KEY (id),
	FOREIGN KEY(sender_id) REFERENCES "Users" (id),
	FOREIGN KEY(recipient_id) REFERENCES "Users" (id)
);
CREATE INDEX "ix_Messages_id" ON "Messages" (id);
`;

export async function createOriginalDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  await withClient(db.url, (c) => c.query(ORIGINAL_SCHEMA));
  return db;
}

const ROOT = path.resolve(__dirname, "../..");
const CLI = path.join(ROOT, "tools/import/cli.ts");

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the import CLI against `targetUrl`; `onStderr` may kill the child (it is node itself, not a wrapper). */
export function runImportCli(targetUrl: string, args: string[], onStderr?: (text: string, child: ChildProcess) => void): Promise<CliRun> {
  const env = { ...process.env, DATABASE_URL: targetUrl };
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
    onStderr?.(stderr, child);
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** A user's inbox unread counter (alias u for users), as SQL: the count the service answers. */
export const INBOX_UNREAD = "coalesce((SELECT mc.unread FROM mailbox_counters mc WHERE mc.user_id = u.id AND mc.folder = 'inbox'), 0)";
