/**
 * Login contention: does password hashing starve other requests? On the local stack, one user
 * polls GET /messages/unread_count/ one request at a time; its p99 is measured idle (the floor),
 * then while 10 other clients log in over and over, and the ratio of the two is printed, for
 * hashing on worker threads (the default) and on the request thread (TEST_PASSWORD_HASH_THREADS=0,
 * bcryptjs's async API: what the service did before). Also prints the time of one bcrypt hash
 * at costs 10 to 12, which BCRYPT_COST's default is chosen from. The login clients behave as a
 * client should: a 503 (hashing past its budget) waits its Retry-After and tries again; those
 * refusals are counted and printed.
 *
 * Mode "fairness": another user's LOGIN p50 and p99 from 127.0.0.3, idle and while 127.0.0.2 floods
 * correct logins on BENCH_FLOODS connections (8 and 16), ignoring Retry-After as an attacker would;
 * goal: within 2x idle and no 503 for the other user. The local host reports each loopback source
 * address as a client of its own. The login budgets are lifted here: with production budgets the
 * flood is refused with 429 before any hashing after 30 logins, so this measures the hasher's
 * fairness alone, the case of an address with many accounts or a budget not yet spent.
 *
 *   npm run bench:login                                   # embedded database, bcrypt cost 12
 *   BENCH_DATABASE_URL=postgresql://... npm run bench:login
 *   BENCH_SECONDS=20 BENCH_LOGINS=10 BCRYPT_COST=12 BENCH_MODES=workers,inline,fairness BENCH_FLOODS=8,16 npm run bench:login
 */
import { performance } from "node:perf_hooks";
import bcrypt from "bcryptjs";

import { startLocalStack } from "../local/stack";
import { resolveThreads } from "../shared/auth/password-hasher";
import { closePasswordHasher } from "../shared/auth/passwords";
import { SETTINGS } from "../shared/config/settings";
import { closeLoginAgents, loginFrom } from "../test/support/address-login";
import { registerOverHttp, TEST_PASSWORD } from "../test/support/api";
import { liftLimits } from "../test/support/lifted-limits";
import { summary, type Summary } from "./stats";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const LOGINS = Number(process.env.BENCH_LOGINS ?? 10);
const MODES = (process.env.BENCH_MODES ?? "workers,inline,fairness").split(",").map((m) => m.trim());
const FLOODS = (process.env.BENCH_FLOODS ?? "8,16").split(",").map(Number);
const FLOODER = "127.0.0.2";
const OTHER = "127.0.0.3";
const WARMUP = 50;

const median = (xs: number[]) => summary(xs).p50;

/** One bcrypt hash per cost, timed on this thread (the machine's speed, not the service's). */
function costTable(): string {
  bcrypt.hashSync("warm-up", 8);
  return [10, 11, 12]
    .map((cost) => {
      const times = Array.from({ length: 3 }, () => {
        const started = performance.now();
        bcrypt.hashSync(TEST_PASSWORD, cost);
        return performance.now() - started;
      });
      return `cost ${cost}: ${median(times).toFixed(0)} ms`;
    })
    .join(", ");
}

interface Result {
  mode: string;
  idle: ReturnType<typeof summary>;
  busy: ReturnType<typeof summary>;
  logins: ReturnType<typeof summary>;
  loginsPerSecond: number;
  shed: number;
}

/** One login as a well-behaved client: true once logged in, false when refused with 503 (after waiting its Retry-After). */
async function loginOrWait(base: string, username: string): Promise<boolean> {
  const res = await fetch(`${base}/token`, { method: "POST", body: new URLSearchParams({ username, password: TEST_PASSWORD }) });
  await res.arrayBuffer();
  if (res.status === 200) return true;
  const retryAfter = Number(res.headers.get("retry-after"));
  if (res.status !== 503 || !(retryAfter > 0)) throw new Error(`login ${username}: ${res.status}`);
  await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
  return false;
}

/** Polls the unread count one request at a time until `done()`; returns each request's milliseconds. */
async function poll(base: string, token: string, done: () => boolean): Promise<number[]> {
  const samples: number[] = [];
  while (!done()) {
    const started = performance.now();
    const res = await fetch(`${base}/messages/unread_count/`, { headers: { authorization: `Bearer ${token}` } });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`unread_count: ${res.status}`);
    samples.push(performance.now() - started);
  }
  return samples;
}

/** The host alone on a free port, on BENCH_DATABASE_URL or an embedded database of its own. */
const startBenchStack = () =>
  startLocalStack({ hostPort: 0, databaseUrl: process.env.BENCH_DATABASE_URL, embedded: { port: 0 }, webPubSub: false });

async function measure(mode: string): Promise<Result> {
  process.env.TEST_PASSWORD_HASH_THREADS = mode === "inline" ? "0" : (process.env.BENCH_HASH_THREADS ?? "auto");
  await closePasswordHasher();
  const stack = await startBenchStack();
  const base = stack.url as string;
  try {
    const run = `${Date.now().toString(36)}_${mode}`;
    const reader = (await registerOverHttp(base, `bench_reader_${run}`)).token;
    const clients = [];
    for (let i = 0; i < LOGINS; i++) clients.push(`bench_login_${run}_${i}`);
    for (const name of clients) await registerOverHttp(base, name);

    const warm = await poll(
      base,
      reader,
      (
        (n) => () =>
          n-- <= 0
      )(WARMUP),
    );
    void warm;
    const idleUntil = performance.now() + SECONDS * 1000;
    const idle = await poll(base, reader, () => performance.now() > idleUntil);

    let stop = false;
    const loginTimes: number[] = [];
    let shed = 0;
    const loops = clients.map(async (name) => {
      while (!stop) {
        const started = performance.now();
        if (await loginOrWait(base, name)) loginTimes.push(performance.now() - started);
        else shed++;
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 500)); // every login client in flight first
    const busyStarted = performance.now();
    const busy = await poll(base, reader, () => performance.now() - busyStarted > SECONDS * 1000);
    const busySeconds = (performance.now() - busyStarted) / 1000;
    const loginsDuring = loginTimes.length;
    stop = true;
    await Promise.all(loops);
    return {
      mode,
      idle: summary(idle),
      busy: summary(busy),
      logins: summary(loginTimes),
      loginsPerSecond: loginsDuring / busySeconds,
      shed,
    };
  } finally {
    await stack.close();
    await closePasswordHasher();
  }
}

interface OtherLogins {
  label: string;
  times: Summary;
  refused: number;
  flood?: { ok: number; refused: number };
}

/** The other user's logins from OTHER for BENCH_SECONDS, as a well-behaved client (a 503 waits its Retry-After). */
async function otherLogins(base: string, username: string, label: string): Promise<OtherLogins> {
  const times: number[] = [];
  let refused = 0;
  const until = performance.now() + SECONDS * 1000;
  while (performance.now() < until) {
    const started = performance.now();
    const res = await loginFrom(base, OTHER, username, TEST_PASSWORD);
    if (res.status === 200) times.push(performance.now() - started);
    else if (res.status === 503) {
      refused++;
      await new Promise((resolve) => setTimeout(resolve, (res.retryAfter ?? 1) * 1000));
    } else throw new Error(`login from ${OTHER}: ${res.status}`);
  }
  return { label, times: summary(times), refused };
}

async function measureFairness(): Promise<OtherLogins[]> {
  process.env.TEST_PASSWORD_HASH_THREADS = process.env.BENCH_HASH_THREADS ?? "auto";
  liftLimits(process.env, [SETTINGS.loginAttemptsPerAccount, SETTINGS.loginAttemptsPerAddress]);
  await closePasswordHasher();
  const stack = await startBenchStack();
  const base = stack.url as string;
  try {
    const run = Date.now().toString(36);
    const [flooder, other] = [`bench_flooder_${run}`, `bench_other_${run}`];
    await registerOverHttp(base, flooder);
    await registerOverHttp(base, other);
    for (let i = 0; i < 3; i++) await loginFrom(base, OTHER, other, TEST_PASSWORD); // the hash time is measured
    const results = [await otherLogins(base, other, "idle")];
    for (const connections of FLOODS) {
      let flooding = true;
      const flood = { ok: 0, refused: 0 };
      const loops = Array.from({ length: connections }, async () => {
        while (flooding) {
          const res = await loginFrom(base, FLOODER, flooder, TEST_PASSWORD);
          if (res.status === 200) flood.ok++;
          else flood.refused++;
        }
      });
      await new Promise((resolve) => setTimeout(resolve, 1000)); // the flood's backlog built up
      const measured = await otherLogins(base, other, `${FLOODER} floods on ${connections}`);
      flooding = false;
      await Promise.all(loops);
      results.push({ ...measured, flood });
    }
    return results;
  } finally {
    closeLoginAgents();
    await stack.close();
    await closePasswordHasher();
  }
}

function printFairness(results: OtherLogins[]): void {
  const ms = (x: number) => `${x.toFixed(0)} ms`;
  const idle = results[0];
  console.log(
    `another user's logins from ${OTHER} at bcrypt cost ${process.env.BCRYPT_COST}, ${SECONDS} s each, while ${FLOODER} floods correct logins (login budgets lifted: the hasher alone)`,
  );
  for (const r of results) {
    const ratio =
      r === idle ? "" : ` | vs idle p50 ${(r.times.p50 / idle.times.p50).toFixed(2)}x p99 ${(r.times.p99 / idle.times.p99).toFixed(2)}x`;
    const goal =
      r === idle
        ? ""
        : ` | goal <= 2x, no 503: ${r.times.p50 <= 2 * idle.times.p50 && r.times.p99 <= 2 * idle.times.p99 && r.refused === 0 ? "ok" : "MISSED"}`;
    const flood = r.flood ? ` | flood: ${r.flood.ok} logged in, ${r.flood.refused} refused` : "";
    console.log(
      `${r.label.padEnd(26)} p50 ${ms(r.times.p50)} p99 ${ms(r.times.p99)} (n=${r.times.n}), 503 ${r.refused}${ratio}${goal}${flood}`,
    );
  }
}

async function main(): Promise<void> {
  if (!(SECONDS > 0 && Number.isInteger(LOGINS) && LOGINS > 0)) throw new Error("BENCH_SECONDS and BENCH_LOGINS must be positive");
  process.env.BCRYPT_COST ??= "12";
  // The bench logs in correctly from one address; production limits would still let it through,
  // but registrations (11 per mode) would not: that one limit is lifted, as the test suites lift it.
  liftLimits(process.env, [SETTINGS.registrationsPerAddress]);
  const threads = resolveThreads(
    process.env.BENCH_HASH_THREADS && process.env.BENCH_HASH_THREADS !== "auto" ? Number(process.env.BENCH_HASH_THREADS) : "auto",
  );
  console.log(`bcrypt on this machine (one thread): ${costTable()}`);
  console.log(
    `GET /messages/unread_count/ of another user, idle vs during ${LOGINS} concurrent logins at bcrypt cost ${process.env.BCRYPT_COST}, ${SECONDS} s each, database: ${process.env.BENCH_DATABASE_URL ? "BENCH_DATABASE_URL" : "embedded PostgreSQL"}`,
  );
  const results: Result[] = [];
  let fairness: OtherLogins[] | undefined;
  for (const mode of MODES) {
    if (mode === "fairness") fairness = await measureFairness();
    else if (mode === "workers" || mode === "inline") results.push(await measure(mode));
    else throw new Error(`unknown mode ${mode}: use workers, inline or fairness`);
  }
  const ms = (x: number) => `${x.toFixed(1)} ms`;
  for (const r of results) {
    const label = r.mode === "workers" ? `worker threads (${threads})` : "request thread (old)";
    console.log(
      `${label.padEnd(22)} idle p50 ${ms(r.idle.p50)} p99 ${ms(r.idle.p99)} (n=${r.idle.n}) | during logins p50 ${ms(r.busy.p50)} p99 ${ms(r.busy.p99)} (n=${r.busy.n}) | ` +
        `p99 ratio ${(r.busy.p99 / r.idle.p99).toFixed(2)}x | logins ${r.loginsPerSecond.toFixed(1)}/s, login p50 ${ms(r.logins.p50)} p99 ${ms(r.logins.p99)}, 503 shed ${r.shed}`,
    );
  }
  if (fairness) printFairness(fairness);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
