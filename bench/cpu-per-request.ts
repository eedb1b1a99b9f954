/**
 * CPU time per request, for capacity planning (docs/SCALING.md): how many milliseconds of CPU one
 * request of each hot endpoint costs the app process and the PostgreSQL server, which carry to a
 * Flex Consumption instance and to the database tier (CPU per request x request rate = cores).
 * Unlike requests per second it counts only this server's work, but it still rises when other
 * processes share the cores (caches, hyper-threads: up to 3x on the busy development machine), so
 * the lowest of a few runs is the estimate.
 *
 * Ours is the local Functions host serving every function (bench/throughput/our-server.ts) on a
 * database seeded by bench/throughput/seed.ts; autocannon drives one endpoint at a time, a fixed
 * number of requests at BENCH_CONNECTIONS (16, the infra's HTTP per-instance concurrency). App CPU
 * is the server process's utime + stime (every thread, the password-hashing threads too) from
 * /proc; database CPU is the postmaster's and all its backends' (reaped ones included), so the
 * PostgreSQL server must run on this machine, hold nothing else busy, and be readable through
 * /proc (its data_directory's postmaster.pid names the postmaster); otherwise that column says n/a.
 * Logins hash at BCRYPT_COST 12, the production default, unless BENCH_BCRYPT_COST says otherwise.
 *
 *   BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres npx tsx bench/cpu-per-request.ts
 *   knobs: BENCH_SEED_MESSAGES (200000), BENCH_DURATION_S (10), BENCH_CONNECTIONS (16), BENCH_BCRYPT_COST (12)
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import autocannon from "autocannon";
import { Client } from "pg";

import { startWebPubSubStandIn } from "../local/webpubsub";
import { LIFTED_LIMITS } from "../test/support/lifted-limits";
import { withBenchDatabase } from "./database-server";
import { intKnob, login, startServer, type Scenario } from "./throughput/harness";
import { BENCH_PASSWORD, createDatabase, dropDatabase, seed } from "./throughput/seed";

const env = process.env;
const SEED = intKnob("BENCH_SEED_MESSAGES", 200_000);
const DURATION = intKnob("BENCH_DURATION_S", 10);
const CONNECTIONS = intKnob("BENCH_CONNECTIONS", 16);
const BCRYPT_COST = intKnob("BENCH_BCRYPT_COST", 12);
const TICK_MS = 1000 / Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());

/** utime + stime (and, with `reaped`, the reaped children's) of one process, in ms; 0 once it is gone. */
function processCpuMs(pid: number, reaped = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command (which may hold spaces) start at state (field 3); utime is 14.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const [utime, stime, cutime, cstime] = fields.slice(11, 15).map(Number);
    return (utime + stime + (reaped ? cutime + cstime : 0)) * TICK_MS;
  } catch {
    return 0;
  }
}

/** The postmaster's CPU with its reaped children's, plus every live child's. */
function serverCpuMs(postmaster: number): number {
  let total = processCpuMs(postmaster, true);
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === postmaster) total += processCpuMs(Number(entry));
    } catch {
      // exited meanwhile: its time is in the postmaster's reaped total from now on
    }
  }
  return total;
}

/** The local PostgreSQL server's postmaster pid, or null when it cannot be read here. */
async function postmasterPid(adminUrl: string): Promise<number | null> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ data_directory: string }>("SHOW data_directory");
    const pid = Number(readFileSync(path.join(rows[0].data_directory, "postmaster.pid"), "utf8").split("\n")[0]);
    return processCpuMs(pid) > 0 ? pid : null;
  } catch {
    return null;
  } finally {
    await client.end();
  }
}

async function main(ADMIN_URL: string): Promise<void> {
  const postmaster = await postmasterPid(ADMIN_URL);
  const name = `bench_cpu_${SEED}`;
  const standIn = await startWebPubSubStandIn({ port: 0, accessKey: randomBytes(32).toString("hex") });
  let server: ChildProcess | undefined;
  try {
    const databaseUrl = await createDatabase(ADMIN_URL, name);
    await seed(databaseUrl, SEED, BCRYPT_COST);
    // Pushes go to the stand-in (in this process, so its CPU is not the app's, as in Azure); the
    // login throttle's limits are lifted so logins measure hashing, not 429s.
    const started = await startServer("the server", "our-server.ts", {
      ...env,
      DATABASE_URL: databaseUrl,
      WEBPUBSUB_CONNECTION_STRING: standIn.connectionString,
      SECRET_KEY: randomBytes(32).toString("hex"),
      BCRYPT_COST: String(BCRYPT_COST),
      NODE_ENV: "production",
      ...LIFTED_LIMITS,
    });
    server = started.process;
    const url = started.url;
    const reader = await login(url, "bench_user_1");
    const writer = await login(url, "bench_user_2");
    const sender = await login(url, "bench_user_3");
    const scenarios: Scenario[] = [
      { name: "inbox ?limit=50", method: "GET", path: "/messages/inbox/?limit=50", token: reader },
      { name: "inbox default page", method: "GET", path: "/messages/inbox/", token: reader },
      { name: "outbox ?limit=50", method: "GET", path: "/messages/outbox/?limit=50", token: writer },
      { name: "unread count", method: "GET", path: "/messages/unread_count/", token: reader },
      { name: "ws negotiate", method: "GET", path: "/ws/", token: reader },
      {
        name: "send + push",
        method: "POST",
        path: "/messages/",
        token: sender,
        body: JSON.stringify({ recipient_id: 4, title: "Benchmark", body: "A message sent by the CPU benchmark." }),
      },
      {
        name: `login (cost ${BCRYPT_COST})`,
        method: "POST",
        path: "/token",
        body: new URLSearchParams({ username: "bench_user_5", password: BENCH_PASSWORD }).toString(),
        form: true,
      },
    ];

    console.log(`\nCPU per request, ${SEED} messages, ${CONNECTIONS} connections, about ${DURATION} s per endpoint, one app process`);
    console.log(`${"endpoint".padEnd(20)}  ok r/s  other   app ms/req   PostgreSQL ms/req`);
    for (const scenario of scenarios) {
      const headers: Record<string, string> = {};
      if (scenario.token) headers.authorization = `Bearer ${scenario.token}`;
      if (scenario.body !== undefined) headers["content-type"] = scenario.form ? "application/x-www-form-urlencoded" : "application/json";
      // A generous timeout: a request autocannon gave up on still costs the server its CPU.
      const options = {
        url: url + scenario.path,
        method: scenario.method,
        headers,
        body: scenario.body,
        connections: CONNECTIONS,
        timeout: 120,
      };
      // Fixed request counts, not durations: autocannon then waits for every answer, so no request
      // still running on the server (a queued login hashes for a quarter second) spills into the
      // next measurement. The warm-up's rate sizes the measured run to about BENCH_DURATION_S.
      const warmUp = await autocannon({ ...options, amount: 4 * CONNECTIONS });
      const amount = Math.max(4 * CONNECTIONS, Math.round((warmUp["2xx"] / warmUp.duration) * DURATION));
      const app0 = processCpuMs(server.pid!);
      const db0 = postmaster === null ? 0 : serverCpuMs(postmaster);
      const result = await autocannon({ ...options, amount });
      const app = processCpuMs(server.pid!) - app0;
      const db = postmaster === null ? NaN : serverCpuMs(postmaster) - db0;
      // Every request cost CPU, a shed 503 and one that failed too; per request means per request sent.
      const answered = result["2xx"] + result.non2xx + result.errors;
      const perRequest = (ms: number) => (Number.isNaN(ms) || answered === 0 ? "n/a" : (ms / answered).toFixed(2));
      console.log(
        `${scenario.name.padEnd(20)} ${(result["2xx"] / result.duration).toFixed(0).padStart(7)} ${String(result.non2xx + result.errors).padStart(6)} ${perRequest(app).padStart(12)} ${perRequest(db).padStart(19)}`,
      );
    }
  } finally {
    if (server) await new Promise((resolve) => server!.once("exit", resolve).kill("SIGTERM"));
    await standIn.close();
    await dropDatabase(ADMIN_URL, name).catch(() => {});
  }
}

withBenchDatabase(main).catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exitCode = 1;
});
