/**
 * Web PubSub outages cost little: once pushes fail, sends stop waiting for the service (the
 * push circuit is open), and once it answers again events flow within seconds.
 */
import { beforeAll, describe, expect, it } from "vitest";

import { PUSH_COOL_DOWN_MS, PUSH_FAILURES_TO_OPEN } from "../../shared/realtime/realtime-circuit";
import { registerOverHttp, type HttpUser } from "../support/api";
import { SocketProbe, type Frame } from "../support/sockets";
import { useLocalStack } from "../support/stack";

const PUSH_TIMEOUT_MS = 1_500;
// Well under the push timeout, and well over a send on a busy machine.
const QUICK_MS = 600;

let base: string;
let alice: HttpUser;
let bob: HttpUser;
const logs: string[] = [];
const local = useLocalStack({ env: { WEBPUBSUB_PUSH_TIMEOUT_MS: String(PUSH_TIMEOUT_MS) }, log: (line) => logs.push(line) });

beforeAll(async () => {
  base = local.url;
  alice = await registerOverHttp(base, "outage_alice");
  bob = await registerOverHttp(base, "outage_bob");
});

async function connectBob(): Promise<SocketProbe> {
  const { url } = (await (await fetch(`${base}/ws/`, { headers: { authorization: `Bearer ${bob.token}` } })).json()) as { url: string };
  const probe = await SocketProbe.open(url);
  local.probes.push(probe);
  return probe;
}

let sequence = 0;
/** Sends one message from alice to bob; returns its title and how long the answer took. */
async function timedSend(): Promise<{ title: string; ms: number }> {
  const title = `outage ${++sequence}`;
  const started = Date.now();
  const res = await fetch(`${base}/messages/`, {
    method: "POST",
    headers: { authorization: `Bearer ${alice.token}`, "content-type": "application/json" },
    body: JSON.stringify({ recipient_id: bob.id, title, body: "b" }),
  });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
  return { title, ms: Date.now() - started };
}

const newMessage = (title: string) => (f: Frame) => f.event === "new_message" && (f.message as Frame).title === title;

/** Sends until bob's socket gets the message: the time from the first try until it did. */
async function eventsFlowAgain(probe: SocketProbe): Promise<number> {
  const started = Date.now();
  for (;;) {
    const { title } = await timedSend();
    try {
      await probe.waitFor(newMessage(title), 300);
      return Date.now() - started;
    } catch {
      if (Date.now() - started > PUSH_COOL_DOWN_MS + 5_000) throw new Error("events did not flow again");
    }
  }
}

describe("with Web PubSub hanging", () => {
  it("only the first few pushes wait the push timeout; events flow again once it answers", async () => {
    const probe = await connectBob();
    await probe.waitFor((f) => f.event === "unread_count_updated");
    local.stack.webPubSub!.setRestDelay(10_000);
    for (let i = 0; i < PUSH_FAILURES_TO_OPEN; i++) expect((await timedSend()).ms).toBeGreaterThanOrEqual(PUSH_TIMEOUT_MS - 100);
    const later = [];
    for (let i = 0; i < 10; i++) later.push((await timedSend()).ms);
    expect(Math.max(...later)).toBeLessThan(QUICK_MS);
    expect(logs.some((l) => l.includes("skipped: Web PubSub failed within the last"))).toBe(true);

    local.stack.webPubSub!.setRestDelay(0);
    expect(await eventsFlowAgain(probe)).toBeLessThan(PUSH_COOL_DOWN_MS + 3_000);
  });
});

describe("with Web PubSub refusing connections", () => {
  it("failed pushes answer well under the push timeout, and once a few failed, later sends do not try at all", async () => {
    await local.outage.stop();
    logs.length = 0;
    for (let i = 0; i < PUSH_FAILURES_TO_OPEN; i++) {
      // The SDK retries once, briefly: the default (three retries, 1 s, 2 s, 4 s) would take the whole timeout.
      expect((await timedSend()).ms).toBeLessThan(QUICK_MS);
    }
    expect(logs.filter((l) => l.includes("realtime push of new_message") && l.includes("failed:"))).toHaveLength(PUSH_FAILURES_TO_OPEN);
    const later = [];
    for (let i = 0; i < 20; i++) later.push((await timedSend()).ms);
    expect(Math.max(...later)).toBeLessThan(QUICK_MS);
    const skipped = logs.filter((l) => l.includes("realtime push of new_message") && l.includes("skipped:"));
    expect(skipped.length).toBeGreaterThanOrEqual(later.length - 2);
  });

  it("when it is back, events flow again within seconds", async () => {
    await local.outage.restart();
    const probe = await connectBob();
    await probe.waitFor((f) => f.event === "unread_count_updated");
    expect(await eventsFlowAgain(probe)).toBeLessThan(PUSH_COOL_DOWN_MS + 3_000);
  });
});
