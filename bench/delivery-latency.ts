/**
 * Delivery latency: from the start of `POST /messages/` to the `new_message` frame at the
 * recipient's socket, on the local stack. Printed beside the floor measured in the same run
 * (the stand-in pushing a frame straight to the socket) and the ratio of the two.
 *
 *   npm run bench                       # 1000 messages, embedded database
 *   BENCH_MESSAGES=5000 BENCH_DATABASE_URL=postgresql://... npm run bench
 */
import { performance } from "node:perf_hooks";
import WebSocket from "ws";

import { startLocalStack } from "../local/stack";
import { DEFAULT_HUB } from "../shared/config/config";
import { registerOverHttp, sendOverHttp } from "../test/support/api";
import { liftLimits } from "../test/support/lifted-limits";
import { summary } from "./stats";

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 1000);
const WARMUP = 50;

async function main(): Promise<void> {
  if (!(Number.isInteger(MESSAGES) && MESSAGES >= 1000)) throw new Error("BENCH_MESSAGES must be an integer of at least 1000");
  process.env.BCRYPT_COST ??= "4";
  liftLimits();
  const stack = await startLocalStack({ hostPort: 0, databaseUrl: process.env.BENCH_DATABASE_URL, webPubSubPort: 0 });
  const base = stack.url as string;
  try {
    const sender = await registerOverHttp(base, `bench_sender_${Date.now()}`);
    const recipient = await registerOverHttp(base, `bench_recipient_${Date.now()}`);
    const { url } = (await (await fetch(`${base}/ws/`, { headers: { authorization: `Bearer ${recipient.token}` } })).json()) as {
      url: string;
    };
    const socket = new WebSocket(url);
    await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));

    let waiting: ((frame: { event: string; seq?: number; message?: { title: string } }) => void) | null = null;
    socket.on("message", (data) => waiting?.(JSON.parse(data.toString())));
    const nextFrame = (match: (f: { event: string; seq?: number; message?: { title: string } }) => boolean) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("frame did not arrive within 10 s")), 10_000);
        waiting = (frame) => {
          if (!match(frame)) return;
          clearTimeout(timer);
          waiting = null;
          resolve();
        };
      });

    const floor: number[] = [];
    for (let i = 0; i < MESSAGES + WARMUP; i++) {
      const arrived = nextFrame((f) => f.seq === i);
      const started = performance.now();
      stack.webPubSub!.sendToUserDirect(DEFAULT_HUB, String(recipient.id), { event: "floor", seq: i });
      await arrived;
      if (i >= WARMUP) floor.push(performance.now() - started);
    }

    const delivery: number[] = [];
    for (let i = 0; i < MESSAGES + WARMUP; i++) {
      const title = `bench ${i}`;
      const arrived = nextFrame((f) => f.event === "new_message" && f.message?.title === title);
      const started = performance.now();
      await sendOverHttp(base, sender, recipient.id, title);
      await arrived;
      if (i >= WARMUP) delivery.push(performance.now() - started);
    }
    socket.close();

    const f = summary(floor);
    const d = summary(delivery);
    const fmt = (n: number) => n.toFixed(3).padStart(9);
    console.log(
      `delivery latency over ${MESSAGES} messages (${process.env.BENCH_DATABASE_URL ? "PostgreSQL server" : "embedded PostgreSQL"}), ms`,
    );
    console.log(`                         p50       p99      mean`);
    console.log(`floor (direct push) ${fmt(f.p50)} ${fmt(f.p99)} ${fmt(f.mean)}`);
    console.log(`POST -> frame       ${fmt(d.p50)} ${fmt(d.p99)} ${fmt(d.mean)}`);
    console.log(`ratio               ${fmt(d.p50 / f.p50)} ${fmt(d.p99 / f.p99)} ${fmt(d.mean / f.mean)}`);
  } finally {
    await stack.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exitCode = 1;
});
