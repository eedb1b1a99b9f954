/**
 * GET /users/me/export streams: at 100,000 messages the server's memory stays flat. The service
 * runs as a child process (the local host, what `npm start` serves) and its resident set is
 * sampled from /proc while the export downloads. It runs with a V8 heap smaller than the document
 * (which, held whole as a string, takes twice its UTF-8 size), so a buffered answer cannot succeed.
 */
import { readFileSync } from "node:fs";
import { Pool } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startServer, type Server } from "../../bench/throughput/harness";
import { registerOverHttp, type HttpUser } from "../support/api";
import { createMigratedDatabase, type TestDatabase } from "../support/database";
import { LIFTED_LIMITS } from "../support/lifted-limits";

const MESSAGES = Number(process.env.EXPORT_MESSAGES ?? 100_000);
const MB = 1024 * 1024;
const HEAP_MB = 64;

const rssOf = (pid: number): number => {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"));
  return Number(/(\d+)/.exec(line ?? "")?.[1] ?? 0) * 1024;
};

describe.runIf(process.platform === "linux")(`GET /users/me/export at ${MESSAGES} messages`, () => {
  let db: TestDatabase;
  let server: Server;
  let sender: HttpUser;
  let reader: HttpUser;

  beforeAll(async () => {
    db = await createMigratedDatabase();
    server = await startServer("ours", "our-server.ts", {
      ...process.env,
      ...LIFTED_LIMITS,
      DATABASE_URL: db.url,
      NODE_ENV: "production",
      // Less heap than the document would take held whole (UTF-16: twice its bytes): a buffered export dies here.
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --max-old-space-size=${HEAP_MB}`,
    });
    sender = await registerOverHttp(server.url, "export_sender");
    reader = await registerOverHttp(server.url, "export_reader");
    const pool = new Pool({ connectionString: db.url, max: 1 });
    try {
      // Messages of the original shape; the mail model's triggers give each its two copies.
      await pool.query(
        `INSERT INTO messages (sender_id, recipient_id, title, body)
         SELECT $1, $2, 'Message ' || g, repeat('A line of the body. ', 20) FROM generate_series(1, $3) g`,
        [sender.id, reader.id, MESSAGES],
      );
    } finally {
      await pool.end();
    }
  }, 300_000);
  afterAll(async () => {
    if (server) await new Promise((resolve) => server.process.once("exit", resolve).kill("SIGTERM"));
    await db?.close();
  });

  it("streams every copy while the server's resident memory grows by a small fraction of the download", async () => {
    const pid = server.process.pid!;
    // Warm the path (code loaded, pool open) before the baseline.
    const warm = await fetch(`${server.url}/users/me`, { headers: { authorization: `Bearer ${reader.token}` } });
    expect(warm.status).toBe(200);
    const baseline = rssOf(pid);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 25);
    let bytes = 0;
    const chunks: Buffer[] = [];
    try {
      const res = await fetch(`${server.url}/users/me/export`, { headers: { authorization: `Bearer ${reader.token}` } });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-length")).toBeNull(); // streamed, not measured first
      for await (const chunk of res.body!) {
        bytes += chunk.length;
        chunks.push(Buffer.from(chunk));
      }
    } finally {
      clearInterval(sampler);
    }
    const document = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { messages: { folder: string }[] };
    expect(document.messages).toHaveLength(MESSAGES);
    expect(document.messages.every((m) => m.folder === "inbox")).toBe(true);
    const growth = peak - baseline;
    console.log(
      `export of ${MESSAGES} messages: ${(bytes / MB).toFixed(1)} MB streamed; server RSS ${(baseline / MB).toFixed(0)} MB before, peak ${(peak / MB).toFixed(0)} MB (+${(growth / MB).toFixed(1)} MB)`,
    );
    expect(bytes).toBeGreaterThan(40 * MB);
    // The heap cap is the proof (a buffered answer cannot fit); the resident set, which also counts
    // garbage not yet collected and the young generation, stays well under the download's size.
    expect(growth).toBeLessThan(bytes * 0.75);
  }, 300_000);
});
