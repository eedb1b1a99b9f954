/**
 * What a Web PubSub outage costs a send: `POST /messages/` answer time with the service up
 * (the floor, measured in the same run) and with it refusing connections after the first
 * failed push; then how soon events flow again once a service is back at the same address.
 *
 *   npm run bench:push-outage                      # 1000 sequential sends per phase, embedded database
 *   BENCH_SENDS=3000 BENCH_CONCURRENCY=8 BENCH_DATABASE_URL=postgresql://... npm run bench:push-outage
 */
import { performance } from "node:perf_hooks";
import WebSocket from "ws";

import { startLocalStack } from "../local/stack";
import { registerOverHttp, sendOverHttp } from "../test/support/api";
import { liftLimits } from "../test/support/lifted-limits";
import { standInOutage } from "../test/support/webpubsub-outage";
import { summary } from "./stats";

const SENDS = Number(process.env.BENCH_SENDS ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const WARMUP = 50;

async function main(): Promise<void> {
  if (!(Number.isInteger(SENDS) && SENDS >= 500)) throw new Error("BENCH_SENDS must be an integer of at least 500");
  if (!(Number.isInteger(CONCURRENCY) && CONCURRENCY >= 1)) throw new Error("BENCH_CONCURRENCY must be a positive integer");
  process.env.BCRYPT_COST ??= "4";
  liftLimits();
  // The default push timeout, so the cost of waiting for a dead service is the real one.
  process.env.WEBPUBSUB_PUSH_TIMEOUT_MS ??= "2000";
  const stack = await startLocalStack({ hostPort: 0, databaseUrl: process.env.BENCH_DATABASE_URL, webPubSubPort: 0 });
  const base = stack.url as string;
  const outage = standInOutage(stack);
  try {
    const sender = await registerOverHttp(base, `outage_sender_${Date.now()}`);
    const recipient = await registerOverHttp(base, `outage_recipient_${Date.now()}`);
    let sequence = 0;
    const send = async (): Promise<{ ms: number; title: string }> => {
      const title = `outage bench ${++sequence}`;
      const started = performance.now();
      await sendOverHttp(base, sender, recipient.id, title);
      return { ms: performance.now() - started, title };
    };
    const phase = async (count: number): Promise<number[]> => {
      const samples: number[] = [];
      let left = count;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (left-- > 0) samples.push((await send()).ms);
        }),
      );
      return samples;
    };
    const connect = async () => {
      const { url } = (await (await fetch(`${base}/ws/`, { headers: { authorization: `Bearer ${recipient.token}` } })).json()) as {
        url: string;
      };
      const socket = new WebSocket(url);
      await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
      return socket;
    };

    const socket = await connect();
    await phase(WARMUP);
    const normal = summary(await phase(SENDS));

    await outage.stop();
    socket.terminate();
    const firstFailure = (await send()).ms;
    const down = summary(await phase(SENDS));

    // Back: a new service at the same address; the client reconnects, as a real one would.
    await outage.restart();
    const back = performance.now();
    const again = await connect();
    // The socket is new, so any new_message it gets was pushed after the service came back.
    let flowing = false;
    again.on("message", (data) => {
      if ((JSON.parse(data.toString()) as { event: string }).event === "new_message") flowing = true;
    });
    while (!flowing && performance.now() - back < 30_000) {
      await send();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const recovery = performance.now() - back;
    again.close();
    if (!flowing) throw new Error("events did not flow again within 30 s of the service's return");

    const fmt = (n: number) => n.toFixed(1).padStart(8);
    console.log(
      `send answer time, ${SENDS} sends per phase, ${CONCURRENCY} concurrent (${process.env.BENCH_DATABASE_URL ? "PostgreSQL server" : "embedded PostgreSQL"}), push timeout ${process.env.WEBPUBSUB_PUSH_TIMEOUT_MS} ms, ms`,
    );
    console.log(`                             p50      p99      max     mean`);
    console.log(`Web PubSub up (floor)   ${fmt(normal.p50)} ${fmt(normal.p99)} ${fmt(normal.max)} ${fmt(normal.mean)}`);
    console.log(`Web PubSub refusing     ${fmt(down.p50)} ${fmt(down.p99)} ${fmt(down.max)} ${fmt(down.mean)}`);
    console.log(
      `outage - floor          ${fmt(down.p50 - normal.p50)} ${fmt(down.p99 - normal.p99)} ${fmt(down.max - normal.max)} ${fmt(down.mean - normal.mean)}`,
    );
    console.log(
      `ratio                   ${fmt(down.p50 / normal.p50)} ${fmt(down.p99 / normal.p99)} ${fmt(down.max / normal.max)} ${fmt(down.mean / normal.mean)}`,
    );
    console.log(
      `first send after the outage began: ${firstFailure.toFixed(1)} ms; events flowing again ${recovery.toFixed(0)} ms after the service was back`,
    );
  } finally {
    await stack.close();
    await outage.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exitCode = 1;
});
