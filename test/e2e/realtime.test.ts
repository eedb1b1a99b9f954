/** Realtime end to end: real WebSocket clients, the local host and the Web PubSub stand-in. */
import { createHmac } from "node:crypto";
import jwt from "jsonwebtoken";
import { beforeAll, describe, expect, it } from "vitest";

import { registerOverHttp, type HttpUser } from "../support/api";
import { settle, SocketProbe, type Frame } from "../support/sockets";
import { useLocalStack } from "../support/stack";

const PUSH_TIMEOUT_MS = 600;
const local = useLocalStack({ env: { WEBPUBSUB_PUSH_TIMEOUT_MS: String(PUSH_TIMEOUT_MS) } });
let base: string;

beforeAll(async () => {
  base = local.url;
});

type User = HttpUser;
const register = (username: string) => registerOverHttp(base, username);

async function negotiate(user: User, how: "header" | "query" = "header"): Promise<{ url: string; expires_at: string }> {
  const res =
    how === "header"
      ? await fetch(`${base}/ws/`, { headers: { authorization: `Bearer ${user.token}` } })
      : await fetch(`${base}/ws/?token=${encodeURIComponent(user.token)}`);
  expect(res.status).toBe(200);
  return (await res.json()) as { url: string; expires_at: string };
}

async function connect(user: User): Promise<SocketProbe> {
  const probe = await SocketProbe.open((await negotiate(user)).url);
  local.probes.push(probe);
  // Every socket is told the current count right after it connects.
  await probe.waitFor((f) => f.event === "unread_count_updated");
  return probe;
}

const send = (from: User, to: User, title: string) =>
  fetch(`${base}/messages/`, {
    method: "POST",
    headers: { authorization: `Bearer ${from.token}`, "content-type": "application/json" },
    body: JSON.stringify({ recipient_id: to.id, title, body: "body" }),
  });

const countEvents = (probe: SocketProbe, event: string) => probe.frames.filter((f) => f.event === event).length;

describe("negotiation", () => {
  it("issues a client URL for exactly this user, with no roles, expiring no later than the app token", async () => {
    const user = await register("rt_negotiate");
    for (const how of ["header", "query"] as const) {
      const { url, expires_at } = await negotiate(user, how);
      expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/client\/hubs\/notifications\?access_token=/);
      const claims = jwt.decode(new URL(url).searchParams.get("access_token") as string) as jwt.JwtPayload;
      expect(claims.sub).toBe(String(user.id));
      expect(claims.role).toBeUndefined();
      // Groups in the token are memberships the server assigns at connect, not a right to join or
      // send to a group (that would be a role). Exactly two: the group the sweep closes once the
      // token expires (functions/events-sweep.ts) and the caller's own session, so ending that
      // session closes exactly its sockets.
      const app = jwt.decode(user.token) as jwt.JwtPayload;
      expect(app.sid).toMatch(/^[0-9a-f-]{36}$/);
      expect([...(claims["webpubsub.group"] as string[])].sort()).toEqual(
        [`session-${app.sid as string}`, `token-expiry-${Date.parse(expires_at) / 1000}`].sort(),
      );
      const appExp = app.exp as number;
      expect(claims.exp).toBeLessThanOrEqual(appExp);
      expect(Date.parse(expires_at) / 1000).toBeLessThanOrEqual(appExp);
      expect(Math.abs(Date.parse(expires_at) / 1000 - (claims.exp as number))).toBeLessThanOrEqual(1);
    }
  });

  it("refuses a missing or bad app token", async () => {
    expect((await fetch(`${base}/ws/`)).status).toBe(401);
    expect((await fetch(`${base}/ws/?token=nonsense`)).status).toBe(401);
  });
});

describe("events", () => {
  let alice: User, bob: User;
  let alice1: SocketProbe, alice2: SocketProbe, bob1: SocketProbe, bob2: SocketProbe;

  beforeAll(async () => {
    alice = await register("rt_alice");
    bob = await register("rt_bob");
    [alice1, alice2, bob1, bob2] = await Promise.all([connect(alice), connect(alice), connect(bob), connect(bob)]);
  });

  it("a new socket gets the current unread count right after it connects", async () => {
    // A snapshot, not a logged event: its seq is where the user's sequence stands (0 before any event).
    expect(await bob1.waitFor((f) => f.event === "unread_count_updated")).toEqual({
      event: "unread_count_updated",
      unread_count: 0,
      seq: 0,
    });
    await send(alice, bob, "before connect");
    const late = await SocketProbe.open((await negotiate(bob)).url);
    local.probes.push(late);
    expect(await late.waitFor((f) => f.event === "unread_count_updated")).toEqual({
      event: "unread_count_updated",
      unread_count: 1,
      seq: 1,
    });
  });

  it("a send reaches every socket of the recipient with the unread count, and none of the sender's", async () => {
    const res = await send(alice, bob, "Realtime hello");
    expect(res.status).toBe(200);
    const message = (await res.json()) as { id: number; timestamp: string };
    const expected = {
      event: "new_message",
      message: {
        id: message.id,
        sender_id: alice.id,
        sender_username: alice.username,
        title: "Realtime hello",
        timestamp: message.timestamp,
        unread_count: 2,
      },
      unread_count: 2,
      seq: 2,
    };
    for (const probe of [bob1, bob2]) {
      expect(await probe.waitFor((f) => f.event === "new_message" && (f.message as Frame).id === message.id)).toEqual(expected);
    }
    await settle(200);
    expect(countEvents(alice1, "new_message") + countEvents(alice2, "new_message")).toBe(0);
  });

  it("a read tells the recipient's sockets the new count and the sender's sockets which message", async () => {
    const message = (await (await send(alice, bob, "to be read")).json()) as { id: number };
    const read = await fetch(`${base}/messages/${message.id}/read`, { method: "PUT", headers: { authorization: `Bearer ${bob.token}` } });
    expect(read.status).toBe(200);
    for (const probe of [bob1, bob2]) {
      await probe.waitFor((f) => f.event === "unread_count_updated" && f.unread_count === 2);
    }
    for (const probe of [alice1, alice2]) {
      const frame = await probe.waitFor((f) => f.event === "message_read" && f.message_id === message.id);
      expect(Object.keys(frame).sort()).toEqual(["event", "message_id", "read_at", "reader_id", "seq"]);
      expect(frame.read_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    // A second read changes nothing and notifies no one.
    const before = countEvents(alice1, "message_read");
    await fetch(`${base}/messages/${message.id}/read`, { method: "PUT", headers: { authorization: `Bearer ${bob.token}` } });
    await settle(200);
    expect(countEvents(alice1, "message_read")).toBe(before);
    expect(alice1.frames.some((f) => f.event === "new_message")).toBe(false);
  });
});

describe("catch-up", () => {
  it("GET /events returns each logged frame exactly as a socket received it (same text)", async () => {
    const [carol, dave] = [await register("rt_catch_carol"), await register("rt_catch_dave")];
    const texts: string[] = [];
    const probe = await connect(dave);
    probe.socket.on("message", (data) => texts.push(data.toString()));
    const m = (await (await send(carol, dave, "catch me")).json()) as { id: number };
    await fetch(`${base}/messages/${m.id}/read`, { method: "PUT", headers: { authorization: `Bearer ${dave.token}` } });
    await fetch(`${base}/messages/${m.id}`, { method: "DELETE", headers: { authorization: `Bearer ${dave.token}` } });
    await probe.waitFor((f) => f.event === "message_deleted");
    const res = await fetch(`${base}/events?after=0`, { headers: { authorization: `Bearer ${dave.token}` } });
    const page = (await res.json()) as { events: Frame[]; latest_seq: number };
    expect(page.events.map((f) => f.seq)).toEqual([1, 2, 3, 4]);
    expect(page.events.map((f) => JSON.stringify(f))).toEqual(texts);
  });
});

describe("the stand-in's gate", () => {
  it("refuses expired and forged client tokens at the handshake", async () => {
    const user = await register("rt_forged");
    const { url } = await negotiate(user);
    const token = new URL(url).searchParams.get("access_token") as string;
    const claims = jwt.decode(token) as jwt.JwtPayload;
    const key = /AccessKey=([^;]+)/.exec(local.stack.webPubSub!.connectionString)![1];
    const expired = jwt.sign({ ...claims, exp: Math.floor(Date.now() / 1000) - 5 }, key, { algorithm: "HS256" });
    const forged = jwt.sign({ ...claims, sub: "1" }, "not-the-access-key", { algorithm: "HS256" });
    for (const bad of [expired, forged]) {
      const target = new URL(url);
      target.searchParams.set("access_token", bad);
      await expect(SocketProbe.open(target.toString())).rejects.toThrow(/401/);
    }
  });
});

describe("the events function", () => {
  const events = () => `${base}/webpubsub/events`;
  const cloudEvent = (headers: Record<string, string>) =>
    fetch(events(), {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "ce-specversion": "1.0",
        "ce-type": "azure.webpubsub.sys.connected",
        "ce-source": "/hubs/notifications/client/c1",
        "ce-id": "1",
        "ce-time": new Date().toISOString(),
        "ce-hub": "notifications",
        "ce-userId": "1",
        "ce-connectionId": "c1",
        "ce-eventName": "connected",
        "ce-awpsversion": "1.0",
        "webhook-request-origin": "127.0.0.1",
        ...headers,
      },
      body: "{}",
    });

  it("refuses a caller without a valid signature or key", async () => {
    for (const headers of [{}, { "ce-signature": "sha256=00" }] as Record<string, string>[]) {
      const res = await cloudEvent(headers);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ detail: expect.any(String) });
    }
    const wrongKey = await fetch(`${events()}?key=wrong`, { method: "POST", body: "{}" });
    expect(wrongKey.status).toBe(401);
  });

  it("accepts a correctly signed event and answers the abuse-protection handshake", async () => {
    const key = /AccessKey=([^;]+)/.exec(local.stack.webPubSub!.connectionString)![1];
    const signature = `sha256=${createHmac("sha256", key).update("c1").digest("hex")}`;
    const signed = await cloudEvent({ "ce-signature": `sha256=ff,${signature}` });
    expect(signed.status, await signed.text()).toBe(200);
    const handshake = await fetch(events(), { method: "OPTIONS", headers: { "webhook-request-origin": "127.0.0.1" } });
    expect(handshake.status).toBe(200);
    expect(handshake.headers.get("webhook-allowed-origin")).toBeTruthy();
  });
});

describe("when Web PubSub fails", () => {
  it("a slow service delays the answer by at most the push timeout", async () => {
    const [a, b] = [await register("rt_slow_a"), await register("rt_slow_b")];
    local.stack.webPubSub!.setRestDelay(5_000);
    try {
      const started = Date.now();
      const res = await send(a, b, "slow");
      expect(res.status).toBe(200);
      expect(Date.now() - started).toBeLessThan(PUSH_TIMEOUT_MS + 1_500);
    } finally {
      local.stack.webPubSub!.setRestDelay(0);
    }
  });

  it("with the service stopped, sending still answers 200 and stores the message", async () => {
    const [a, b] = [await register("rt_down_a"), await register("rt_down_b")];
    await local.stack.webPubSub!.close();
    const res = await send(a, b, "while down");
    expect(res.status).toBe(200);
    const inbox = (await (await fetch(`${base}/messages/inbox/`, { headers: { authorization: `Bearer ${b.token}` } })).json()) as {
      title: string;
    }[];
    expect(inbox.map((m) => m.title)).toEqual(["while down"]);
    const read = await fetch(`${base}/messages/${((await res.json()) as { id: number }).id}/read`, {
      method: "PUT",
      headers: { authorization: `Bearer ${b.token}` },
    });
    expect(read.status).toBe(200);
  });

  it("events committed while the service is down are in the log: catch-up returns all 200, in order", async () => {
    const [a, b] = [await register("rt_down_log_a"), await register("rt_down_log_b")];
    await local.stack.webPubSub!.close();
    const ids: number[] = [];
    for (let i = 0; i < 200; i++) {
      const res = await send(a, b, `down ${i}`);
      expect(res.status).toBe(200);
      ids.push(((await res.json()) as { id: number }).id);
    }
    const frames: Frame[] = [];
    let next: string | undefined = `${base}/events/?after=0&limit=64`;
    while (next) {
      const res = await fetch(next, { headers: { authorization: `Bearer ${b.token}` } });
      expect(res.status).toBe(200);
      const page = (await res.json()) as { events: Frame[]; latest_seq: number };
      expect(page.latest_seq).toBe(200);
      frames.push(...page.events);
      const link = res.headers.get("link");
      next = link ? new URL(/^<([^>]+)>/.exec(link)![1], base).toString() : undefined;
    }
    expect(frames.map((f) => f.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(frames.map((f) => (f.message as Frame).id)).toEqual(ids);
  });
});
