/** A failing database gives a quick 503 with a plain detail: never a hang, a 500 or a leak. */
import net, { type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { attachmentsCreate } from "../../functions/attachments-create";
import { health } from "../../functions/health";
import { tokenCreate } from "../../functions/token-create";
import { usersCreate } from "../../functions/users-create";
import { issueAccessToken } from "../../shared/auth/tokens";
import { resetConfig } from "../../shared/config/config";
import { closePool } from "../../shared/data/db";
import { useKeySignedStorage } from "../support/attachments";
import { call } from "../support/http";

let silent: net.Server;
const sockets = new Set<net.Socket>();

beforeAll(async () => {
  // Accepts connections and never answers: a database that hangs.
  silent = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
});
afterAll(async () => {
  await closePool();
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => silent.close(resolve));
});

async function pointDatabaseAt(url: string, timeoutMs: number): Promise<void> {
  await closePool();
  process.env.DATABASE_URL = url;
  process.env.DB_CONNECTION_TIMEOUT_MS = String(timeoutMs);
  resetConfig();
}

const register = () => call(usersCreate, { method: "POST", json: { username: "fault", password: "correct horse battery" } });

describe("with the database down", () => {
  it("refused connections give 503 with a detail and nothing internal", async () => {
    await pointDatabaseAt("postgresql://postgres:hunter2secret@127.0.0.1:1/none", 1_000);
    const res = await register();
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ detail: "The database is unavailable; try again shortly" });
    expect(res.text).not.toMatch(/hunter2|ECONNREFUSED|127\.0\.0\.1|at /);
    const login = await call(tokenCreate, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "username=a&password=b",
    });
    expect(login.status).toBe(503); // the login throttle cannot count the attempt: refused, never let through
    expect(login.body).toEqual({ detail: "The database is unavailable; try again shortly" });
    const probe = await call(health);
    expect(probe.status).toBe(503);
    expect(probe.body).toEqual({ detail: expect.any(String) });
  });

  it("a database that never answers gives 503 after the connection timeout, not a hang", async () => {
    const { port } = silent.address() as AddressInfo;
    await pointDatabaseAt(`postgresql://postgres@127.0.0.1:${port}/none`, 500);
    const started = Date.now();
    const res = await register();
    expect(res.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("upload slots asked for at once of a database that never answers each get a 503 after one connection timeout, not one after another", async () => {
    const restoreStorage = useKeySignedStorage();
    try {
      const { port } = silent.address() as AddressInfo;
      await pointDatabaseAt(`postgresql://postgres@127.0.0.1:${port}/none`, 1_000);
      // More than one batch's worth (shared/data/batched-rides.ts): those waiting fail with the batch in flight.
      const tokens = Array.from({ length: 200 }, (_, i) => issueAccessToken({ id: i + 1, username: `slot${i + 1}` }));
      const json = { filename: "a.pdf", content_type: "application/pdf", size: 1 };
      const started = Date.now();
      const answers = await Promise.all(tokens.map((token) => call(attachmentsCreate, { method: "POST", token, json })));
      expect(answers.map((res) => res.status)).toEqual(tokens.map(() => 503));
      expect(answers[199].body).toEqual({ detail: "The database is unavailable; try again shortly" });
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      restoreStorage();
    }
  });
});
