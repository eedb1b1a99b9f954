/**
 * How soon a client library connection that comes back is caught up: the time from its new
 * socket being connected to its having delivered the last event sent while it was away, p50
 * and p99 over rounds of (Web PubSub down, BENCH_MISSED sends, Web PubSub back). The floor,
 * measured in the same run on the same events: one bare GET /events for them.
 *
 *   npm run bench:reconnect                        # 30 rounds of 20 missed events, embedded database
 *   BENCH_ROUNDS=100 BENCH_MISSED=200 BENCH_DATABASE_URL=postgresql://... npm run bench:reconnect
 */
import { performance } from "node:perf_hooks";

import { startLocalStack } from "../local/stack";
import { registerOverHttp, sendOverHttp } from "../test/support/api";
import { liftLimits } from "../test/support/lifted-limits";
import { standInOutage } from "../test/support/webpubsub-outage";
import { summary, type Summary } from "./stats";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
const MISSED = Number(process.env.BENCH_MISSED ?? 20);

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

const ms = (value: number) => `${value.toFixed(1)} ms`;
const row = (name: string, s: Summary, floor?: Summary) =>
  `${name.padEnd(34)} p50 ${ms(s.p50).padStart(10)}  p99 ${ms(s.p99).padStart(10)}${floor ? `   ${(s.p50 / floor.p50).toFixed(2)}x / ${(s.p99 / floor.p99).toFixed(2)}x the floor` : ""}`;

async function main(): Promise<void> {
  if (!(Number.isInteger(ROUNDS) && ROUNDS >= 10)) throw new Error("BENCH_ROUNDS must be an integer of at least 10");
  if (!(Number.isInteger(MISSED) && MISSED >= 1 && MISSED <= 500))
    throw new Error("BENCH_MISSED must be an integer from 1 to 500 (one catch-up page)");
  process.env.BCRYPT_COST ??= "4";
  // Every round negotiates again: the limits are not what this measures.
  liftLimits();
  const { connect } = await import("../client/src/index.js");
  const stack = await startLocalStack({ hostPort: 0, databaseUrl: process.env.BENCH_DATABASE_URL, webPubSubPort: 0 });
  const base = stack.url as string;
  const outage = standInOutage(stack);
  const sender = await registerOverHttp(base, `catchup_sender_${Date.now()}`);
  const recipient = await registerOverHttp(base, `catchup_recipient_${Date.now()}`);

  let connectedAt = 0;
  let lastSeq = 0;
  let lastAt = 0;
  const connection = connect({
    apiUrl: base,
    getToken: () => recipient.token,
    onEvent: (event) => {
      lastSeq = event.seq;
      lastAt = performance.now();
    },
    onStateChange: (state) => {
      if (state === "connected") connectedAt = performance.now();
    },
    backoff: { initialDelayMs: 50, maxDelayMs: 500 },
  });
  const catchUp: number[] = [];
  const floor: number[] = [];
  try {
    await until(() => connection.state === "connected" && connection.seq !== undefined, "the first connection");
    let latest = connection.seq ?? 0;
    for (let round = 0; round < ROUNDS; round++) {
      await outage.stop();
      const after = latest;
      for (let i = 0; i < MISSED; i++) await sendOverHttp(base, sender, recipient.id, `missed ${round}.${i}`);
      latest += MISSED;

      const started = performance.now();
      const res = await fetch(`${base}/events?after=${after}&limit=500`, { headers: { authorization: `Bearer ${recipient.token}` } });
      const page = (await res.json()) as { events: unknown[] };
      floor.push(performance.now() - started);
      if (page.events.length !== MISSED) throw new Error(`the floor's GET /events returned ${page.events.length} events, not ${MISSED}`);

      const before = connectedAt;
      stack.webPubSub = await outage.restart();
      await until(() => connectedAt !== before && lastSeq === latest, `round ${round} caught up`);
      catchUp.push(lastAt - connectedAt);
    }
  } finally {
    connection.stop();
    await stack.close();
    await outage.stop();
  }
  const floorSummary = summary(floor);
  console.log(`reconnect to caught up: ${ROUNDS} rounds, ${MISSED} events missed each (Web PubSub down while they were sent)`);
  console.log(row("floor: one bare GET /events", floorSummary));
  console.log(row("library: connected -> last delivered", summary(catchUp), floorSummary));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});
