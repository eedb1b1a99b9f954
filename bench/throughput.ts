/**
 * Throughput of the hot endpoints, against a floor measured in the same run.
 *
 * Ours is the local Functions host serving every function (what `npm start` runs); the floor
 * (bench/throughput/floor-server.ts) is a bare node:http server running the same SQL, the
 * same per-request user lookup and the same JSON. Both run as child processes against one
 * real PostgreSQL database seeded with BENCH_SEED_MESSAGES messages; autocannon drives them
 * in turn (interleaved rounds, order alternating) and the ratio ours/floor is printed per
 * endpoint and connection count. A second database of BENCH_SMALL_MESSAGES messages gives the
 * inbox latency at 1M against 10k.
 *
 *   BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npm run bench:throughput
 *   knobs: BENCH_SEED_MESSAGES (1000000), BENCH_SMALL_MESSAGES (10000), BENCH_DURATION_S (5),
 *          BENCH_ROUNDS (3), BENCH_WARMUP_S (3: each side, before a row's rounds), BENCH_CONNECTIONS ("16,64"),
 *          BENCH_BCRYPT_COST (10),
 *          BENCH_ENDPOINTS (all; e.g. "login" or "inbox,send": rows whose name starts with one;
 *          "session check": ours with a session's token against a token naming none)
 */
import { randomBytes } from "node:crypto";
import jwt from "jsonwebtoken";

import { startWebPubSubStandIn } from "../local/webpubsub";
import { LIFTED_LIMITS } from "../test/support/lifted-limits";
import { withBenchDatabase } from "./database-server";
import { compare as compareRounds, intKnob, login, startServer, type Scenario, type Server } from "./throughput/harness";
import { BENCH_PASSWORD, createDatabase, dropDatabase, seed } from "./throughput/seed";

const env = process.env;
const SEED = intKnob("BENCH_SEED_MESSAGES", 1_000_000);
const SMALL = intKnob("BENCH_SMALL_MESSAGES", 10_000);
const DURATION = intKnob("BENCH_DURATION_S", 5);
const ROUNDS = intKnob("BENCH_ROUNDS", 3);
const BCRYPT_COST = intKnob("BENCH_BCRYPT_COST", 10);
const CONNECTIONS = (env.BENCH_CONNECTIONS ?? "16,64").split(",").map(Number);
const ENDPOINTS = (env.BENCH_ENDPOINTS ?? "")
  .split(",")
  .map((name) => name.trim())
  .filter(Boolean);
const selected = (name: string) => ENDPOINTS.length === 0 || ENDPOINTS.some((prefix) => name.startsWith(prefix));
const GOAL = 0.8;
const LATENCY_GOAL = 1.2;

/** Interleaved rounds of `a` and `b` (this run's rounds and duration). */
const compare = (a: string, b: string, scenario: Scenario, connections: number, scenarioB = scenario) =>
  compareRounds(a, b, scenario, connections, { rounds: ROUNDS, seconds: DURATION }, scenarioB);

const fmt = (n: number, width = 8, digits = 0) => n.toFixed(digits).padStart(width);

/** The same token without its session id, as tokens were issued before sessions: its user is looked up alone. */
function withoutSession(token: string, secret: string): string {
  const { sid: _sid, ...claims } = jwt.decode(token) as Record<string, unknown>;
  return jwt.sign(claims, secret, { algorithm: "HS256" });
}

async function main(ADMIN_URL: string): Promise<void> {
  const big = `bench_throughput_${SEED}`;
  const small = `bench_throughput_${SMALL}`;
  const servers: Server[] = [];
  const standIn = await startWebPubSubStandIn({ port: 0, accessKey: randomBytes(32).toString("hex") });
  try {
    let started = Date.now();
    const bigUrl = await createDatabase(ADMIN_URL, big);
    await seed(bigUrl, SEED, BCRYPT_COST);
    const smallUrl = await createDatabase(ADMIN_URL, small);
    await seed(smallUrl, SMALL, BCRYPT_COST);
    console.log(`seeded ${SEED} and ${SMALL} messages in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    // Every login here comes from one address for one user: the throttle's limits are lifted so
    // the login rows measure logging in (its counters are still read and written), not 429s.
    const common = {
      ...env,
      SECRET_KEY: randomBytes(32).toString("hex"),
      BCRYPT_COST: String(BCRYPT_COST),
      NODE_ENV: "production",
      ...LIFTED_LIMITS,
    };
    const variant = (databaseUrl: string, push: boolean) => ({
      ...common,
      DATABASE_URL: databaseUrl,
      WEBPUBSUB_CONNECTION_STRING: push ? standIn.connectionString : "",
    });
    started = Date.now();
    const [ours, oursPush, floor, floorPush, oursSmall] = await Promise.all([
      startServer("ours", "our-server.ts", variant(bigUrl, false)),
      startServer("ours (pushing)", "our-server.ts", variant(bigUrl, true)),
      startServer("floor", "floor-server.ts", variant(bigUrl, false)),
      startServer("floor (pushing)", "floor-server.ts", variant(bigUrl, true)),
      startServer(`ours at ${SMALL}`, "our-server.ts", variant(smallUrl, false)),
    ]);
    servers.push(ours, oursPush, floor, floorPush, oursSmall);

    const reader = await login(ours.url, "bench_user_1");
    const writer = await login(ours.url, "bench_user_2");
    const sender = await login(ours.url, "bench_user_3");
    const send = JSON.stringify({ recipient_id: 4, title: "Benchmark", body: "A message sent by the throughput benchmark." });
    const scenarios: Scenario[] = [
      { name: "inbox ?limit=50", method: "GET", path: "/messages/inbox/?limit=50", token: reader },
      { name: "inbox default page", method: "GET", path: "/messages/inbox/", token: reader },
      { name: "outbox ?limit=50", method: "GET", path: "/messages/outbox/?limit=50", token: writer },
      { name: "unread count", method: "GET", path: "/messages/unread_count/", token: reader },
      { name: "send", method: "POST", path: "/messages/", token: sender, body: send },
      { name: "send + push", method: "POST", path: "/messages/", token: sender, body: send, push: true },
      {
        name: "login",
        method: "POST",
        path: "/token",
        body: new URLSearchParams({ username: "bench_user_5", password: BENCH_PASSWORD }).toString(),
        form: true,
      },
    ];

    console.log(
      `\nthroughput, ${SEED} messages on a PostgreSQL server, ${ROUNDS} interleaved rounds of ${DURATION} s (median), bcrypt cost ${BCRYPT_COST}`,
    );
    console.log("r/s: successful (2xx) requests per second; a 503 that sheds load on purpose is counted apart");
    console.log(`${"endpoint".padEnd(20)} conns   ours r/s  floor r/s  ratio   ours p50/p99 ms   floor p50/p99 ms  goal`);
    const misses: string[] = [];
    for (const scenario of scenarios.filter((s) => selected(s.name))) {
      for (const connections of CONNECTIONS) {
        const [a, b] = await compare(
          scenario.push ? oursPush.url : ours.url,
          scenario.push ? floorPush.url : floor.url,
          scenario,
          connections,
        );
        const ratio = a.rps / b.rps;
        const met = ratio >= GOAL && a.failures === 0;
        if (!met) misses.push(`${scenario.name} @${connections}`);
        console.log(
          `${scenario.name.padEnd(20)} ${fmt(connections, 5)} ${fmt(a.rps, 10, a.rps < 100 ? 1 : 0)} ${fmt(b.rps, 10, b.rps < 100 ? 1 : 0)} ${fmt(ratio, 6, 2)} ${fmt(a.p50, 8)}/${fmt(a.p99, -1)}`.padEnd(
            80,
          ) +
            `${fmt(b.p50, 8)}/${fmt(b.p99, -1)}`.padEnd(19) +
            `${met ? "ok" : "MISSED"}${a.failures + b.failures ? `  (${a.failures} failed ours, ${b.failures} floor)` : ""}${a.shed + b.shed ? `  (503 shed: ${a.shed} ours, ${b.shed} floor)` : ""}`,
        );
      }
    }

    // The session check alone, on one server: the lightest read with a token naming its session
    // (the user lookup joins it) against the same user's token naming none (the user alone).
    if (selected("session check")) {
      const unread = scenarios.find((s) => s.name === "unread count")!;
      const sessionless = { ...unread, token: withoutSession(reader, common.SECRET_KEY) };
      for (const connections of CONNECTIONS) {
        const [a, b] = await compare(ours.url, ours.url, unread, connections, sessionless);
        console.log(
          `session check, unread count at ${connections} connections: ${fmt(a.rps, 0)} r/s with a session, ${fmt(b.rps, 0)} without: ${fmt(a.rps / b.rps, 0, 2)}x`,
        );
      }
    }

    // Latency as the mailbox grows: one client at a time, so queueing does not hide it.
    if (selected(scenarios[0].name)) {
      const inbox = scenarios[0];
      // A token names its session, which lives in the database it logged in to.
      const atSmallDatabase = { ...inbox, token: await login(oursSmall.url, "bench_user_1") };
      const [atBig, atSmall] = await compare(ours.url, oursSmall.url, inbox, 1, atSmallDatabase);
      // autocannon reports percentiles in whole milliseconds, too coarse here; with one connection
      // the mean latency is exactly 1 / throughput, so that is what is compared.
      const [bigMs, smallMs] = [1000 / atBig.rps, 1000 / atSmall.rps];
      const growth = bigMs / smallMs;
      console.log(
        `\ninbox ?limit=50, one connection: mean ${bigMs.toFixed(2)} ms at ${SEED} messages, ${smallMs.toFixed(2)} ms at ${SMALL} (p50 ${atBig.p50} / ${atSmall.p50} ms): ${growth.toFixed(2)}x (goal <= ${LATENCY_GOAL}x: ${growth <= LATENCY_GOAL ? "ok" : "MISSED"})`,
      );
    }
    console.log(misses.length ? `below ${GOAL}x the floor: ${misses.join(", ")}` : `every endpoint at ${GOAL}x the floor or better`);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.process.once("exit", resolve).kill("SIGTERM"))));
    await standIn.close();
    await dropDatabase(ADMIN_URL, big).catch(() => {});
    await dropDatabase(ADMIN_URL, small).catch(() => {});
  }
}

withBenchDatabase(main).catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exitCode = 1;
});
