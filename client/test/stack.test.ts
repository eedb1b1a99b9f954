/**
 * The client library against the local stack (functions, PostgreSQL, the Web PubSub stand-in
 * and the official Web PubSub client underneath): live mail, dropped sockets, a restarted
 * service, a session the service closed, and stop().
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { DEFAULT_HUB } from "../../shared/config/config.js";
import { sweepRealtime } from "../../shared/realtime/sweep.js";
import { registerOverHttp, sendOverHttp, TEST_PASSWORD, type HttpUser } from "../../test/support/api.js";
import { useLocalStack } from "../../test/support/stack.js";
import { connect, type ConnectOptions, type MailEvent, type RealtimeConnection } from "../src/index.js";
import { until } from "./fakes.js";

let base: string;
let sender: HttpUser;
const connections: RealtimeConnection[] = [];
const local = useLocalStack({ env: { WEBPUBSUB_PUSH_TIMEOUT_MS: "1000" } });

beforeAll(async () => {
  base = local.url;
  sender = await registerOverHttp(base, "client_sender");
});
afterAll(async () => {
  for (const connection of connections) connection.stop();
});

/** A connected library client of a new user, recording what it was given. */
async function client(name: string, options: Partial<ConnectOptions> = {}) {
  const user = await registerOverHttp(base, name);
  let token = user.token;
  const events: MailEvent[] = [];
  const negotiatedWith: string[] = [];
  const errors: Error[] = [];
  const connection = connect({
    apiUrl: base,
    getToken: () => token,
    onEvent: (event) => events.push(event),
    onError: (error) => errors.push(error),
    backoff: { initialDelayMs: 100, maxDelayMs: 1_000 },
    fetch: (input, init) => {
      if (String(input).includes("/ws/")) negotiatedWith.push(new Headers(init?.headers).get("authorization") ?? "");
      return fetch(input, init);
    },
    ...options,
  });
  connections.push(connection);
  // The connect-time snapshot starts a client that has no position of its own.
  await until(() => events.length === 1, "the connect-time snapshot", 10_000);
  expect(events[0]).toEqual({ event: "unread_count_updated", unread_count: 0, seq: 0 });
  return { user, connection, events, negotiatedWith, errors, setToken: (fresh: string) => (token = fresh) };
}

const titles = (events: MailEvent[]) => events.flatMap((e) => (e.event === "new_message" ? [e.message.title] : []));
const seqs = (events: MailEvent[]) => events.slice(1).map((e) => e.seq);

describe("the client library on the local stack", () => {
  it("delivers live mail with its seq", async () => {
    const alice = await client("client_live");
    await sendOverHttp(base, sender, alice.user.id, "hello");
    await until(() => alice.events.length === 2, "the new message");
    expect(alice.events[1]).toMatchObject({
      event: "new_message",
      seq: 1,
      unread_count: 1,
      message: { title: "hello", sender_username: "client_sender" },
    });
  });

  it("loses nothing while the stand-in keeps dropping its socket", async () => {
    const bob = await client("client_drops");
    const hub = DEFAULT_HUB;
    for (let i = 1; i <= 20; i++) {
      await sendOverHttp(base, sender, bob.user.id, `m${i}`);
      if (i % 4 === 0) local.stack.webPubSub?.dropSockets(hub, String(bob.user.id));
    }
    await until(() => bob.events.length === 21, "twenty messages", 15_000);
    expect(titles(bob.events)).toEqual(Array.from({ length: 20 }, (_, i) => `m${i + 1}`));
    expect(seqs(bob.events)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it("catches up what was sent while the service was down, after it comes back knowing no session", async () => {
    const carol = await client("client_outage");
    await sendOverHttp(base, sender, carol.user.id, "before");
    await until(() => carol.events.length === 2);
    await local.outage.stop();
    // The sends still answer 200: the events are in the log, only the pushes fail.
    for (const title of ["during 1", "during 2", "during 3"]) await sendOverHttp(base, sender, carol.user.id, title);
    await local.outage.restart();
    await until(() => carol.events.length === 5, "the events sent during the outage", 20_000);
    expect(titles(carol.events)).toEqual(["before", "during 1", "during 2", "during 3"]);
    expect(seqs(carol.events)).toEqual([1, 2, 3, 4]);
    expect(carol.negotiatedWith.length).toBeGreaterThanOrEqual(2);
    // Pushes may still be skipped while the app's push circuit cools down; the catch-up a few seconds after connecting brings those.
    await sendOverHttp(base, sender, carol.user.id, "after");
    await until(() => carol.events.length === 6, "the event sent right after the outage", 10_000);
  });

  it("negotiates again with a fresh token when its socket's token expires", async () => {
    const dave = await client("client_expiry");
    // The app logs in again when its token runs out; a second later the new token differs.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const login = await fetch(`${base}/token`, {
      method: "POST",
      body: new URLSearchParams({ username: "client_expiry", password: TEST_PASSWORD }),
    });
    const fresh = ((await login.json()) as { access_token: string }).access_token;
    expect(fresh).not.toBe(dave.user.token);
    dave.setToken(fresh);
    // The events-sweep timer's run once the socket's token has expired: it closes the socket.
    const warnings: string[] = [];
    const swept = await sweepRealtime({ warn: (line: string) => warnings.push(line) }, new Date(Date.now() + 24 * 3_600_000));
    expect(swept.socketGroupsClosed).toBeGreaterThan(0);
    expect(warnings).toEqual([]);
    await until(() => dave.negotiatedWith.length === 2, "a second negotiation", 10_000);
    expect(dave.negotiatedWith).toEqual([`Bearer ${dave.user.token}`, `Bearer ${fresh}`]);
    await sendOverHttp(base, sender, dave.user.id, "after expiry");
    await until(() => titles(dave.events).includes("after expiry"), "mail on the new socket");
  });

  it("stop() leaves no socket behind whenever it comes, even while the socket is opening", async () => {
    const user = await registerOverHttp(base, "client_stop_early");
    const opened = () => local.stack.webPubSub!.connectionCount(DEFAULT_HUB);
    const before = opened();
    for (const delayMs of [0, 2, 5, 10, 20, 40, 80]) {
      const connection = connect({ apiUrl: base, getToken: () => user.token, onEvent: () => {} });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      connection.stop();
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(opened()).toBe(before);
    // React's StrictMode runs an effect, its cleanup, and the effect again: one socket stays.
    const events: MailEvent[] = [];
    connect({ apiUrl: base, getToken: () => user.token, onEvent: (e) => events.push(e) }).stop();
    const kept = connect({ apiUrl: base, getToken: () => user.token, onEvent: (e) => events.push(e) });
    connections.push(kept);
    await until(() => kept.state === "connected" && events.length === 1, "the second mount connected");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(opened()).toBe(before + 1);
    expect(events).toHaveLength(1);
  });

  it("stop() closes the socket and delivers nothing more", async () => {
    const erin = await client("client_stop");
    const before = local.stack.webPubSub!.connectionCount(DEFAULT_HUB);
    erin.connection.stop();
    erin.connection.stop();
    await until(() => local.stack.webPubSub!.connectionCount(DEFAULT_HUB) === before - 1, "the socket closed");
    await sendOverHttp(base, sender, erin.user.id, "too late");
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(erin.events).toHaveLength(1);
    expect(erin.connection.state).toBe("stopped");
  });
});
