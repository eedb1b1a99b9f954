/**
 * Database faults under load, over real HTTP against a real PostgreSQL server that this file
 * owns: backends terminated mid-request, a server restart and a server crash. The process must live, every
 * answer must be a 200 or a 503 with a detail and Retry-After, service must come back by
 * itself within seconds, and the database must hold exactly the messages answered 200.
 */
import { Client } from "pg";
import { beforeAll, describe, expect, it } from "vitest";

import { ERRORS } from "../../shared/domain/errors";
import { registerOverHttp, TEST_PASSWORD, type HttpUser } from "../support/api";
import { startPostgresCluster, type PostgresCluster } from "../support/postgres-cluster";
import { settle } from "../support/sockets";
import { useLocalStack } from "../support/stack";

const APP_NAME = "realtime-mail"; // the pool's application_name (shared/data/db.ts)
const RECOVERY_BOUND_MS = 5_000;

type Kind = "send" | "login" | "inbox";
interface Outcome {
  kind: Kind;
  status: number; // 0: no HTTP answer at all
  at: number;
  ms: number;
  title?: string;
  id?: number;
  detail?: unknown;
  retryAfter?: string | null;
}

let cluster: PostgresCluster;
let base: string;
let alice: HttpUser;
let bob: HttpUser;
const crashes: unknown[] = [];
const recordCrash = (error: unknown) => crashes.push(error);

describe("database faults under load (own PostgreSQL cluster)", () => {
  // Crashes are recorded from before the cluster starts until after it is gone.
  const local = useLocalStack({
    database: async () => {
      process.on("uncaughtException", recordCrash);
      process.on("unhandledRejection", recordCrash);
      cluster = await startPostgresCluster();
      return {
        url: cluster.url,
        close: async () => {
          await cluster.destroy();
          process.off("uncaughtException", recordCrash);
          process.off("unhandledRejection", recordCrash);
        },
      };
    },
  });
  beforeAll(async () => {
    base = local.url;
    alice = await registerOverHttp(base, "fault_alice");
    bob = await registerOverHttp(base, "fault_bob");
  });

  async function attempt(kind: Kind, request: () => Promise<Response>, title?: string): Promise<Outcome> {
    const started = Date.now();
    try {
      const res = await request();
      const body = (await res.json().catch(() => undefined)) as { id?: number; detail?: unknown } | undefined;
      return {
        kind,
        status: res.status,
        at: Date.now(),
        ms: Date.now() - started,
        title,
        id: body?.id,
        detail: body?.detail,
        retryAfter: res.headers.get("retry-after"),
      };
    } catch {
      return { kind, status: 0, at: Date.now(), ms: Date.now() - started, title };
    }
  }

  let sequence = 0;
  const send = () => {
    const title = `fault ${++sequence}`;
    return attempt(
      "send",
      () =>
        fetch(`${base}/messages/`, {
          method: "POST",
          headers: { authorization: `Bearer ${alice.token}`, "content-type": "application/json" },
          body: JSON.stringify({ recipient_id: bob.id, title, body: `body of ${title}` }),
        }),
      title,
    );
  };
  const login = () =>
    attempt("login", () =>
      fetch(`${base}/token`, { method: "POST", body: new URLSearchParams({ username: bob.username, password: TEST_PASSWORD }) }),
    );
  const inbox = () =>
    attempt("inbox", () => fetch(`${base}/messages/inbox/?limit=5`, { headers: { authorization: `Bearer ${bob.token}` } }));

  /** Runs `loops` concurrent clients of each kind until stopped. */
  function load(loops: Record<Kind, number>) {
    const outcomes: Outcome[] = [];
    let running = true;
    const worker = async (next: () => Promise<Outcome>) => {
      while (running) {
        const outcome = await next();
        outcomes.push(outcome);
        // Refused requests come back at once; do not spin on them.
        if (outcome.status !== 200) await settle(20);
      }
    };
    const makers: Record<Kind, () => Promise<Outcome>> = { send, login, inbox };
    const workers = (Object.keys(loops) as Kind[]).flatMap((kind) => Array.from({ length: loops[kind] }, () => worker(makers[kind])));
    return {
      outcomes,
      async stop() {
        running = false;
        await Promise.all(workers);
        return outcomes;
      },
    };
  }

  /** Waits until a request of `kind` that started after `since` got a 200; returns when it did. */
  async function firstSuccessAfter(outcomes: Outcome[], kind: Kind, since: number): Promise<number> {
    const deadline = since + RECOVERY_BOUND_MS * 2;
    for (;;) {
      const hit = outcomes.find((o) => o.kind === kind && o.status === 200 && o.at - o.ms >= since);
      if (hit) return hit.at;
      if (Date.now() > deadline) throw new Error(`no ${kind} answered 200 within ${deadline - since} ms of the fault`);
      await settle(25);
    }
  }

  it("lives through terminated backends and a restart, answers 200 or 503, recovers, and stores exactly what it answered 200 for", async () => {
    const traffic = load({ send: 6, login: 2, inbox: 2 });
    await settle(500);

    // 1. An administrator (or a failover) ends every backend of the app, three times.
    let terminated = 0;
    for (let round = 0; round < 3; round++) {
      terminated += await cluster.terminateBackends(APP_NAME);
      await settle(300);
    }
    const afterTerminate = Date.now();
    for (const kind of ["send", "login", "inbox"] as const) await firstSuccessAfter(traffic.outcomes, kind, afterTerminate);

    // 2. The server restarts (fast shutdown: backends are told to end): down for a second, then back.
    await cluster.stop("fast");
    const down = Date.now();
    await settle(1_000);
    await cluster.start();
    const back = Date.now();
    const recovered: Record<Kind, number> = { send: 0, login: 0, inbox: 0 };
    for (const kind of ["send", "login", "inbox"] as const)
      recovered[kind] = (await firstSuccessAfter(traffic.outcomes, kind, back)) - back;
    await settle(300);

    // 3. The server crashes (immediate shutdown: backends killed, crash recovery on start).
    const crashAt = Date.now();
    await cluster.stop("immediate");
    const crashed = Date.now();
    await settle(500);
    await cluster.start();
    const backFromCrash = Date.now();
    const recoveredFromCrash = (await firstSuccessAfter(traffic.outcomes, "send", backFromCrash)) - backFromCrash;
    await settle(300);
    const outcomes = await traffic.stop();

    console.info(
      `db faults: ${outcomes.length} requests, ${terminated} backends terminated, ` +
        `${outcomes.filter((o) => o.status === 503).length} answered 503, recovery after restart (ms): ${JSON.stringify(recovered)}, ` +
        `after the crash: ${JSON.stringify({ send: recoveredFromCrash })}`,
    );

    expect(crashes).toEqual([]);
    expect(terminated).toBeGreaterThan(0);
    // Only 200s and 503s; every 503 says why and when to retry.
    expect(outcomes.filter((o) => o.status !== 200 && o.status !== 503)).toEqual([]);
    const refused = outcomes.filter((o) => o.status === 503);
    expect(refused.length).toBeGreaterThan(0); // the faults were felt
    for (const o of refused) {
      expect(o.detail).toBe(ERRORS.databaseUnavailable);
      expect(Number(o.retryAfter)).toBeGreaterThan(0);
    }
    // While the server was down, requests were refused quickly, not held.
    const duringOutage = outcomes.filter((o) => o.at - o.ms >= down && o.at <= back);
    for (const kind of ["send", "login", "inbox"] as const)
      expect(duringOutage.filter((o) => o.kind === kind && o.status === 503).length, kind).toBeGreaterThan(0);
    expect(Math.max(...duringOutage.map((o) => o.ms))).toBeLessThan(4_000);
    for (const kind of ["send", "login", "inbox"] as const) expect(recovered[kind]).toBeLessThan(RECOVERY_BOUND_MS);
    expect(recoveredFromCrash).toBeLessThan(RECOVERY_BOUND_MS);

    // One send is one transaction: every send answered 200 has its row, whole, and no row
    // exists for a send that was refused. The one exception is inherent to any database
    // client: a send in flight when the server was killed may have committed just before its
    // answer was lost, so it was answered 503 and has its row (Idempotency-Key makes the retry safe).
    const db = new Client({ connectionString: cluster.url });
    await db.connect();
    try {
      const { rows } = await db.query<{ id: number; title: string; body: string; recipient_id: number; is_read: boolean }>(
        "SELECT id, title, body, recipient_id, is_read FROM messages WHERE sender_id = $1",
        [alice.id],
      );
      const sends = new Map(outcomes.filter((o) => o.kind === "send").map((o) => [o.title as string, o]));
      const answered = outcomes.filter((o) => o.kind === "send" && o.status === 200);
      expect(answered.length).toBeGreaterThan(0);
      const byTitle = new Map(rows.map((r) => [r.title, r]));
      expect(byTitle.size).toBe(rows.length);
      for (const o of answered) expect(byTitle.get(o.title as string), o.title).toMatchObject({ id: o.id });
      for (const row of rows) {
        expect(row).toMatchObject({ body: `body of ${row.title}`, recipient_id: bob.id, is_read: false });
        const send = sends.get(row.title);
        expect(send, `row ${row.title} was never sent`).toBeDefined();
        if (send!.status === 200) continue;
        const inFlightAtCrash = send!.at - send!.ms <= crashed && send!.at >= crashAt;
        expect(inFlightAtCrash, `${row.title} was answered ${send!.status} yet stored`).toBe(true);
      }
      const count = await fetch(`${base}/messages/unread_count/`, { headers: { authorization: `Bearer ${bob.token}` } });
      expect(await count.json()).toEqual({ unread_count: rows.length });
    } finally {
      await db.end();
    }
  });
});
