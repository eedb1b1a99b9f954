/**
 * The speed of mail with several recipients, folders and flags (the contract's "Speed"), against
 * floors measured in the same run on the same PostgreSQL server:
 *
 * - a send to 1 recipient, requests/s against the floor's (authenticate, look the user up,
 *   insert one row; bench/throughput/floor-server.ts), at BENCH_CONNECTIONS: one sender to one
 *   recipient, and 16 senders each to their own recipient;
 * - a send to 50 recipients against a send to 1, one client at a time (time per send);
 * - the inbox at BENCH_MAIL_MESSAGES messages, requests/s against the floor's;
 * - GET /messages/counts p50 at BENCH_MAIL_MESSAGES messages (the reader holds a fifth of them);
 * - each GET /messages/ filter's p50 at BENCH_MAIL_MESSAGES against at BENCH_MAIL_SMALL messages.
 *
 * Each filter or endpoint is one line of SCENARIOS below. One that is not served by the service
 * yet (404) is measured on the floor server instead, which runs the same SQL (shared/data), and
 * its line says so.
 *
 *   npm run bench:mail
 *   knobs: BENCH_MAIL_MESSAGES (1000000), BENCH_MAIL_SMALL (10000), BENCH_DURATION_S (5),
 *          BENCH_ROUNDS (3), BENCH_WARMUP_S (3: each side, before a row's rounds), BENCH_CONNECTIONS ("16"),
 *          BENCH_SAMPLES (300: requests per p50),
 *          BENCH_BCRYPT_COST (10); BENCH_DATABASE_URL to use your server.
 */
import { randomBytes } from "node:crypto";
import os from "node:os";

import { faultTolerantPool } from "../shared/data/db";
import { LIFTED_LIMITS } from "../test/support/lifted-limits";
import { withBenchDatabase } from "./database-server";
import { summary } from "./stats";
import { compare, intKnob, login, startServer, type Scenario, type Server } from "./throughput/harness";
import { createDatabase, dropDatabase, seed } from "./throughput/seed";

const BIG = intKnob("BENCH_MAIL_MESSAGES", 1_000_000);
const SMALL = intKnob("BENCH_MAIL_SMALL", 10_000);
const RUN = { rounds: intKnob("BENCH_ROUNDS", 3), seconds: intKnob("BENCH_DURATION_S", 5) };
const SAMPLES = intKnob("BENCH_SAMPLES", 300);
const BCRYPT_COST = intKnob("BENCH_BCRYPT_COST", 10);
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? "16").split(",").map(Number);

const SEND_GOAL = 0.8;
const FAN_OUT = 50;
const FAN_OUT_GOAL = 3;
const INBOX_GOAL = 0.9;
const COUNTS_GOAL_MS = 2;
const FILTER_GOAL = 2;
const PAGE = 50;

const READER = "bench_user_1";
const SENDER = "bench_user_3";

/**
 * The reader's mailbox (the ids of its received copies are the multiples of 5): a tenth starred,
 * a seventh archived, one in 155 in trash, one in 20 with attachments. The same shares at any
 * size, so a filter served by an index costs the same at 10k as at 1M.
 */
async function decorate(url: string): Promise<void> {
  const pool = faultTolerantPool({ connectionString: url, max: 1 });
  try {
    await pool.query("UPDATE message_copies SET is_starred = true WHERE user_id = 1 AND message_id % 50 = 0");
    await pool.query("UPDATE message_copies SET folder = 'archive' WHERE user_id = 1 AND message_id % 35 = 0");
    await pool.query(
      "UPDATE message_copies SET folder = 'trash', trashed_at = now() WHERE user_id = 1 AND message_id % 155 = 0 AND folder = 'inbox'",
    );
    await pool.query("UPDATE message_copies SET has_attachments = true WHERE user_id = 1 AND message_id % 100 = 0");
    await pool.query("VACUUM ANALYZE message_copies");
  } finally {
    await pool.end();
  }
}

/** The `timestamp` of the message at this fraction of the ids, as ISO 8601 (the since/until filters). */
async function instantAt(url: string, fraction: number): Promise<string> {
  const pool = faultTolerantPool({ connectionString: url, max: 1 });
  try {
    const { rows } = await pool.query<{ t: Date }>(
      `SELECT "timestamp" AS t FROM messages WHERE id >= (SELECT $1::float8 * max(id) FROM messages) ORDER BY id LIMIT 1`,
      [fraction],
    );
    return rows[0].t.toISOString();
  } finally {
    await pool.end();
  }
}

/** Milliseconds per request, one request at a time on one kept-alive connection. */
async function latencies(url: string, scenario: Scenario, n: number): Promise<number[]> {
  const init: RequestInit = {
    method: scenario.method,
    headers: { authorization: `Bearer ${scenario.token}`, "content-type": "application/json" },
    body: scenario.body,
  };
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    const res = await fetch(url + scenario.path, init);
    await res.arrayBuffer();
    times.push(performance.now() - started);
    if (res.status !== 200) throw new Error(`${scenario.method} ${scenario.path}: ${res.status}`);
  }
  return times;
}

/** p50s of a and b, sampled in interleaved halves after a warm-up, so load drifts move both alike. */
async function p50s(a: [string, Scenario], b: [string, Scenario]): Promise<[number, number]> {
  await latencies(...a, 10);
  await latencies(...b, 10);
  const as: number[] = [];
  const bs: number[] = [];
  for (let half = 0; half < 2; half++) {
    as.push(...(await latencies(...a, SAMPLES / 2)));
    bs.push(...(await latencies(...b, SAMPLES / 2)));
  }
  return [summary(as).p50, summary(bs).p50];
}

async function served(url: string, scenario: Scenario): Promise<boolean> {
  const res = await fetch(url + scenario.path, { headers: { authorization: `Bearer ${scenario.token}` } });
  await res.arrayBuffer();
  return res.status === 200;
}

const load = () =>
  os
    .loadavg()
    .map((n) => n.toFixed(1))
    .join(" ");
const ms = (n: number) => n.toFixed(2).padStart(7);
const verdict = (met: boolean) => (met ? "ok" : "MISSED");

async function main(adminUrl: string): Promise<void> {
  const names = [`bench_mail_${BIG}`, `bench_mail_${SMALL}`];
  const servers: Server[] = [];
  try {
    let started = Date.now();
    const [bigUrl, smallUrl] = await Promise.all(names.map((name) => createDatabase(adminUrl, name)));
    for (const [url, n] of [
      [bigUrl, BIG],
      [smallUrl, SMALL],
    ] as const) {
      await seed(url, n, BCRYPT_COST);
      await decorate(url);
    }
    console.log(`seeded ${BIG} and ${SMALL} messages in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    const common = {
      ...process.env,
      SECRET_KEY: randomBytes(32).toString("hex"),
      BCRYPT_COST: String(BCRYPT_COST),
      NODE_ENV: "production",
      WEBPUBSUB_CONNECTION_STRING: "",
      ...LIFTED_LIMITS,
    };
    started = Date.now();
    const [ours, floor, oursSmall, floorSmall] = await Promise.all([
      startServer("ours", "our-server.ts", { ...common, DATABASE_URL: bigUrl }),
      startServer("floor", "floor-server.ts", { ...common, DATABASE_URL: bigUrl }),
      startServer(`ours at ${SMALL}`, "our-server.ts", { ...common, DATABASE_URL: smallUrl }),
      startServer(`floor at ${SMALL}`, "floor-server.ts", { ...common, DATABASE_URL: smallUrl }),
    ]);
    servers.push(ours, floor, oursSmall, floorSmall);
    // A token names its session, which lives in the database it logged in to.
    const reader = await login(ours.url, READER);
    const readerSmall = await login(oursSmall.url, READER);
    const sender = await login(ours.url, SENDER);
    console.log(`\nmail, ${BIG} messages (and ${SMALL}) on one PostgreSQL server; load average ${load()}`);

    // A send to 1 and the inbox: requests/s, ours against the floor.
    const text = { title: "Benchmark", body: "A message sent by the mail benchmark." };
    const one = JSON.stringify({ to: [4], ...text });
    const sendToOne: Scenario = { name: "send to 1", method: "POST", path: "/messages/", token: sender, body: one };
    const inbox: Scenario = { name: `inbox ?limit=${PAGE}`, method: "GET", path: `/messages/inbox/?limit=${PAGE}`, token: reader };
    // ours, its goal, and the floor's request when it differs (the floor knows only recipient_id).
    // The same, from 16 senders to 16 recipients in turn: no two requests in flight share a sender's
    // or a recipient's counters, which a send holds locked until it commits.
    // One login at a time: the service sheds concurrent sign-ins beyond its hashing budget.
    const pairs: { token: string; to: number }[] = [];
    for (let i = 0; i < 16; i++) pairs.push({ token: await login(ours.url, `bench_user_${30 + i}`), to: 100 + i });
    const manySenders: Scenario = {
      ...sendToOne,
      name: "send to 1, 16 senders",
      clients: pairs.map((p) => ({ token: p.token, body: JSON.stringify({ to: [p.to], ...text }) })),
    };
    const manySendersAtFloor: Scenario = {
      ...manySenders,
      clients: pairs.map((p) => ({ token: p.token, body: JSON.stringify({ recipient_id: p.to, ...text }) })),
    };
    const throughputRows: [Scenario, number, Scenario][] = [
      [sendToOne, SEND_GOAL, { ...sendToOne, body: JSON.stringify({ recipient_id: 4, ...text }) }],
      [manySenders, SEND_GOAL, manySendersAtFloor],
      [inbox, INBOX_GOAL, inbox],
    ];
    console.log(`\n${"endpoint".padEnd(20)} conns   ours r/s  floor r/s  ratio  goal`);
    for (const [scenario, goal, atFloor] of throughputRows) {
      for (const connections of CONNECTIONS) {
        const [a, b] = await compare(ours.url, floor.url, scenario, connections, RUN, atFloor);
        const ratio = a.rps / b.rps;
        const failed = a.failures + b.failures ? `  (${a.failures} failed ours, ${b.failures} floor)` : "";
        console.log(
          `${scenario.name.padEnd(20)} ${String(connections).padStart(5)} ${a.rps.toFixed(0).padStart(10)} ${b.rps.toFixed(0).padStart(10)} ${ratio.toFixed(2).padStart(6)}  >= ${goal}x ${verdict(ratio >= goal && !a.failures)}${failed}`,
        );
      }
    }

    // A send to 50 against a send to 1: one client, time per send.
    const fifty = JSON.stringify({ to: Array.from({ length: FAN_OUT }, (_, i) => 4 + i), ...text });
    const send = (body: string): [string, Scenario] => [
      ours.url,
      { name: "send", method: "POST", path: "/messages/", token: sender, body },
    ];
    const [to50, to1] = await p50s(send(fifty), send(one));
    console.log(
      `\nsend to ${FAN_OUT} recipients p50 ${ms(to50)} ms, to 1 ${ms(to1)} ms: ${(to50 / to1).toFixed(2)}x (goal <= ${FAN_OUT_GOAL}x: ${verdict(to50 / to1 <= FAN_OUT_GOAL)})`,
    );

    // Counts, and every filter at BIG against SMALL: one client, p50 of SAMPLES requests each.
    const since = await instantAt(bigUrl, 0.9);
    const sinceSmall = await instantAt(smallUrl, 0.9);
    const until = await instantAt(bigUrl, 0.5);
    const untilSmall = await instantAt(smallUrl, 0.5);
    const list = (query: string) => `/messages/?limit=${PAGE}&${query}`;
    // One line per filter: its name, and its path at BIG and at SMALL.
    const filters: [string, string, string][] = [
      ["no filter (not trash)", list(""), list("")],
      ["folder=archive", list("folder=archive"), list("folder=archive")],
      ["folder=trash", list("folder=trash"), list("folder=trash")],
      ["starred", list("starred=true"), list("starred=true")],
      ["unread", list("unread=true"), list("unread=true")],
      ["from", list("from=3"), list("from=3")],
      ["to (the reader)", list("to=1"), list("to=1")],
      ["since (newest 10%)", list(`since=${encodeURIComponent(since)}`), list(`since=${encodeURIComponent(sinceSmall)}`)],
      ["until (oldest half)", list(`until=${encodeURIComponent(until)}`), list(`until=${encodeURIComponent(untilSmall)}`)],
      ["q", list("q=lorem"), list("q=lorem")],
      ["has_attachments", list("has_attachments=true"), list("has_attachments=true")],
      ["unread + from", list("unread=true&from=3"), list("unread=true&from=3")],
    ];

    const countsPath = "/messages/counts";
    const countsScenario: Scenario = { name: "counts", method: "GET", path: countsPath, token: reader };
    const countsOurs = await served(ours.url, countsScenario);
    const [counts, countsFloor] = await p50s([countsOurs ? ours.url : floor.url, countsScenario], [floor.url, countsScenario]);
    console.log(
      `\nGET ${countsPath} p50 at ${BIG} messages: ${ms(counts)} ms${countsOurs ? "" : " (floor server: not served yet)"}, floor ${ms(countsFloor)} ms (goal < ${COUNTS_GOAL_MS} ms: ${verdict(counts < COUNTS_GOAL_MS)})`,
    );

    const get = (url: string, path: string, token: string): [string, Scenario] => [url, { name: path, method: "GET", path, token }];
    const listOurs = await served(ours.url, get(ours.url, list(""), reader)[1]);
    console.log(
      `\nGET /messages/?limit=${PAGE} p50, ${BIG} against ${SMALL} messages${listOurs ? "" : " (floor servers: GET /messages/ not served yet)"}`,
    );
    console.log(`${"filter".padEnd(24)} ${"at big".padStart(9)} ${"at small".padStart(9)}   ratio  goal <= ${FILTER_GOAL}x`);
    const misses: string[] = [];
    for (const [name, bigPath, smallPath] of filters) {
      const [a, b] = await p50s(
        get(listOurs ? ours.url : floor.url, bigPath, reader),
        get(listOurs ? oursSmall.url : floorSmall.url, smallPath, readerSmall),
      );
      if (a / b > FILTER_GOAL) misses.push(name);
      console.log(`${name.padEnd(24)} ${ms(a)} ms ${ms(b)} ms ${(a / b).toFixed(2).padStart(7)}  ${verdict(a / b <= FILTER_GOAL)}`);
    }
    console.log(`\nload average ${load()}${misses.length ? `; filters above ${FILTER_GOAL}x: ${misses.join(", ")}` : ""}`);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.process.once("exit", resolve).kill("SIGTERM"))));
    for (const name of names) await dropDatabase(adminUrl, name).catch(() => {});
  }
}

withBenchDatabase(main).catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exitCode = 1;
});
