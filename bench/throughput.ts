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
 *          BENCH_ROUNDS (3), BENCH_CONNECTIONS ("16,64"), BENCH_BCRYPT_COST (10),
 *          BENCH_ENDPOINTS (all; e.g. "login" or "inbox,send": rows whose name starts with one;
 *          "mail": the rows of several recipients, counts and filters)
 */
import { randomBytes } from "node:crypto";
import autocannon from "autocannon";

import { startWebPubSubStandIn } from "../local/webpubsub";
import { LIFTED_LIMITS } from "../test/support/lifted-limits";
import { withBenchDatabase } from "./database-server";
import { intKnob, login, startServer, type Scenario, type Server } from "./throughput/harness";
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

interface Sample {
  /** Successful (2xx) requests per second: what a client got done. */
  rps: number;
  p50: number;
  p99: number;
  /** 503 with Retry-After: load shed on purpose (the bounded password-hashing queue), counted apart. */
  shed: number;
  failures: number;
}

async function load(url: string, scenario: Scenario, connections: number, seconds: number): Promise<Sample> {
  const headers: Record<string, string> = {};
  if (scenario.token) headers.authorization = `Bearer ${scenario.token}`;
  if (scenario.body !== undefined) headers["content-type"] = scenario.form ? "application/x-www-form-urlencoded" : "application/json";
  const result = await autocannon({
    url: url + scenario.path,
    method: scenario.method,
    headers,
    body: scenario.body,
    connections,
    duration: seconds,
  });
  const shed = result.statusCodeStats?.["503"]?.count ?? 0;
  return {
    rps: result["2xx"] / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    shed,
    failures: result.non2xx - shed + result.errors + result.timeouts,
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const mid = (samples: Sample[]): Sample => ({
  rps: median(samples.map((s) => s.rps)),
  p50: median(samples.map((s) => s.p50)),
  p99: median(samples.map((s) => s.p99)),
  shed: samples.reduce((n, s) => n + s.shed, 0),
  failures: samples.reduce((n, s) => n + s.failures, 0),
});

/** Interleaved rounds of `a` and `b`, alternating which goes first. */
async function compare(a: string, b: string, scenario: Scenario, connections: number, scenarioB = scenario): Promise<[Sample, Sample]> {
  await load(a, scenario, connections, 1);
  await load(b, scenarioB, connections, 1);
  const as: Sample[] = [];
  const bs: Sample[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      as.push(await load(a, scenario, connections, DURATION));
      bs.push(await load(b, scenarioB, connections, DURATION));
    } else {
      bs.push(await load(b, scenarioB, connections, DURATION));
      as.push(await load(a, scenario, connections, DURATION));
    }
  }
  return [mid(as), mid(bs)];
}

const fmt = (n: number, width = 8, digits = 0) => n.toFixed(digits).padStart(width);

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
    await mailRows(ours, oursSmall, reader, sender, send, misses);
    console.log(misses.length ? `below ${GOAL}x the floor: ${misses.join(", ")}` : `every endpoint at ${GOAL}x the floor or better`);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.process.once("exit", resolve).kill("SIGTERM"))));
    await standIn.close();
    await dropDatabase(ADMIN_URL, big).catch(() => {});
    await dropDatabase(ADMIN_URL, small).catch(() => {});
  }
}

const SEND_FAN_OUT = 50;
const FAN_OUT_GOAL = 3;
const COUNTS_GOAL_MS = 2;
const FILTER_GOAL = 2;

/** Mean latency at one connection (autocannon's percentiles are whole milliseconds). */
const meanMs = (s: Sample) => 1000 / s.rps;

/**
 * The mail rows of the contract's Speed paragraph: a send to 50 recipients against a send to 1
 * (both ours, one run), GET /messages/counts, and each GET /messages/ filter at SEED against SMALL.
 */
async function mailRows(ours: Server, oursSmall: Server, reader: string, sender: string, sendOne: string, misses: string[]): Promise<void> {
  if (!selected("mail")) return;
  const toFifty = JSON.stringify({
    to: Array.from({ length: SEND_FAN_OUT }, (_, i) => i + 4),
    title: "Benchmark",
    body: "A message sent by the throughput benchmark.",
  });
  const one: Scenario = { name: "send to 1", method: "POST", path: "/messages/", token: sender, body: sendOne };
  const fifty: Scenario = { ...one, name: `send to ${SEND_FAN_OUT}`, body: toFifty };
  const [atFifty, atOne] = await compare(ours.url, ours.url, fifty, 16, one);
  const fanOut = atOne.rps / atFifty.rps;
  if (fanOut > FAN_OUT_GOAL) misses.push(`send to ${SEND_FAN_OUT}`);
  console.log(
    `\nsend to ${SEND_FAN_OUT} recipients: ${atFifty.rps.toFixed(0)} r/s, send to 1: ${atOne.rps.toFixed(0)} r/s at 16 connections: ${fanOut.toFixed(2)}x the time (goal <= ${FAN_OUT_GOAL}x: ${fanOut <= FAN_OUT_GOAL ? "ok" : "MISSED"})`,
  );
  const counts: Scenario = { name: "counts", method: "GET", path: "/messages/counts", token: reader };
  const [countsBig] = await compare(ours.url, ours.url, counts, 1);
  const countsMs = meanMs(countsBig);
  if (countsMs >= COUNTS_GOAL_MS) misses.push("counts");
  console.log(
    `GET /messages/counts, one connection, ${SEED} messages: mean ${countsMs.toFixed(2)} ms (p50 ${countsBig.p50} ms; goal < ${COUNTS_GOAL_MS} ms: ${countsMs < COUNTS_GOAL_MS ? "ok" : "MISSED"})`,
  );
  const smallReader = await login(oursSmall.url, "bench_user_1");
  console.log(`GET /messages/ filters, ?limit=50, one connection: mean ms at ${SEED} / at ${SMALL} (goal <= ${FILTER_GOAL}x)`);
  for (const filter of [
    "",
    "folder=archive",
    "starred=true",
    "unread=true",
    "from=2",
    "to=1",
    "since=2020-01-01",
    "until=2100-01-01",
    "q=lorem",
    "has_attachments=false",
  ]) {
    const scenario: Scenario = { name: `list ${filter}`, method: "GET", path: `/messages/?limit=50&${filter}`, token: reader };
    const [big, small] = await compare(ours.url, oursSmall.url, scenario, 1, { ...scenario, token: smallReader });
    const growth = meanMs(big) / meanMs(small);
    if (growth > FILTER_GOAL || big.failures > 0) misses.push(`list ${filter || "(no filter)"}`);
    console.log(
      `  ${(filter || "(no filter)").padEnd(22)} ${meanMs(big).toFixed(2).padStart(7)} / ${meanMs(small).toFixed(2).padStart(7)} ms: ${growth.toFixed(2)}x ${growth <= FILTER_GOAL && big.failures === 0 ? "ok" : "MISSED"}`,
    );
  }
}

withBenchDatabase(main).catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exitCode = 1;
});
