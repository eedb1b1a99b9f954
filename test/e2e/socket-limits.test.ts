/**
 * Socket lifetime and limits end to end (local host, Web PubSub stand-in, real sockets): a user
 * negotiates at most WS_NEGOTIATE_PER_MINUTE times a minute and holds at most
 * WS_MAX_CONNECTIONS_PER_USER sockets; the events-sweep timer closes a socket once the token it
 * was negotiated with has expired, and leaves the others open.
 */
import { InvocationContext } from "@azure/functions";
import { beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";

import { eventsSweep } from "../../functions/events-sweep";
import { issueAccessToken } from "../../shared/auth/tokens";
import { getPool } from "../../shared/data/db";
import { connectionsOf, openConnectionCount } from "../../shared/data/sockets";
import { sweepRealtime } from "../../shared/realtime/sweep";
import { registerOverHttp, type HttpUser } from "../support/api";
import { settle, SocketProbe } from "../support/sockets";
import { useLocalStack } from "../support/stack";

const MAX_SOCKETS = 2;
const NEGOTIATIONS = 4;
const local = useLocalStack({ env: { WS_MAX_CONNECTIONS_PER_USER: String(MAX_SOCKETS), WS_NEGOTIATE_PER_MINUTE: String(NEGOTIATIONS) } });
let base: string;

beforeAll(async () => {
  base = local.url;
});

const negotiate = (token: string) => fetch(`${base}/ws/`, { headers: { authorization: `Bearer ${token}` } });

async function negotiated(token: string): Promise<{ url: string; expires_at: string }> {
  const res = await negotiate(token);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as { url: string; expires_at: string };
}

const closes = new Map<SocketProbe, Promise<{ code: number; reason: string }>>();

async function open(url: string): Promise<SocketProbe> {
  const probe = await SocketProbe.open(url);
  local.probes.push(probe);
  closes.set(probe, new Promise((resolve) => probe.socket.once("close", (code, reason) => resolve({ code, reason: reason.toString() }))));
  return probe;
}

/** How the service closed the socket; fails if it stays open. */
const closed = (probe: SocketProbe, timeoutMs = 5_000) =>
  Promise.race([closes.get(probe)!, settle(timeoutMs).then(() => Promise.reject(new Error("the socket stayed open")))]);

async function until(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await settle(50);
  }
}

describe("negotiation rate", () => {
  it(`answers 429 with Retry-After and a detail past ${NEGOTIATIONS} negotiations a minute`, async () => {
    const user = await registerOverHttp(base, "sl_rate");
    for (let i = 0; i < NEGOTIATIONS; i++) await negotiated(user.token);
    const refused = await negotiate(user.token);
    expect(refused.status).toBe(429);
    expect(await refused.json()).toEqual({ detail: "Too many socket negotiations; try again later" });
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Another user is not held back by this one.
    await negotiated((await registerOverHttp(base, "sl_rate_other")).token);
  });
});

describe("sockets per user", () => {
  let user: HttpUser;
  beforeAll(async () => {
    user = await registerOverHttp(base, "sl_cap");
  });

  it(`closes a socket past ${MAX_SOCKETS} at once, refuses to negotiate more, and counts a socket that closes`, async () => {
    const { url } = await negotiated(user.token);
    const kept = [await open(url), await open(url)];
    for (const probe of kept) await probe.waitFor((f) => f.event === "unread_count_updated");
    await until(async () => (await openConnectionCount(user.id)) === MAX_SOCKETS);

    const refused = await negotiate(user.token);
    expect(refused.status).toBe(429);
    expect(await refused.json()).toEqual({ detail: "Too many open sockets for this user; close one and try again" });
    expect(refused.headers.get("retry-after")).toBe("30");

    // The same URL opens a third socket: the service closes it and it gets no snapshot.
    const extra = await open(url);
    expect((await closed(extra)).reason).toBe("Too many open sockets for this user");
    expect(extra.frames).toEqual([]);
    for (const probe of kept) expect(probe.socket.readyState).toBe(WebSocket.OPEN);

    // A closed socket frees its place (the disconnected event).
    await kept[0].close();
    await until(async () => (await openConnectionCount(user.id)) === MAX_SOCKETS - 1);
    await negotiated(user.token);
  });
});

describe("a user at the socket cap", () => {
  it("spends the negotiation rate on each refusal, so past it nothing but the rate is asked", async () => {
    const user = await registerOverHttp(base, "sl_cap_rate");
    const { url } = await negotiated(user.token);
    const kept = [await open(url), await open(url)];
    for (const probe of kept) await probe.waitFor((f) => f.event === "unread_count_updated");
    await until(async () => (await openConnectionCount(user.id)) === MAX_SOCKETS);
    const details = [];
    for (let i = 1; i <= NEGOTIATIONS; i++) details.push(((await (await negotiate(user.token)).json()) as { detail: string }).detail);
    expect(details).toEqual([
      ...Array<string>(NEGOTIATIONS - 1).fill("Too many open sockets for this user; close one and try again"),
      "Too many socket negotiations; try again later",
    ]);
  });
});

describe("connections whose disconnected event was lost", () => {
  it("hold no place once the service no longer has them", async () => {
    const user = await registerOverHttp(base, "sl_ghosts");
    for (let i = 0; i < MAX_SOCKETS; i++) {
      await getPool().query("INSERT INTO socket_connections (connection_id, user_id) VALUES ($1, $2)", [`ghost-${user.id}-${i}`, user.id]);
    }
    const probe = await open((await negotiated(user.token)).url);
    await probe.waitFor((f) => f.event === "unread_count_updated");
    expect(await connectionsOf(user.id)).toHaveLength(1);
  });

  it("are forgotten by the sweep once older than the longest token life", async () => {
    const user = await registerOverHttp(base, "sl_stale");
    await getPool().query(
      "INSERT INTO socket_connections (connection_id, user_id, connected_at) VALUES ($1, $2, now() - interval '40 minutes')",
      [`stale-${user.id}`, user.id],
    );
    const swept = await sweepRealtime({ warn: () => {} });
    expect(swept.staleConnectionsForgotten).toBeGreaterThanOrEqual(1);
    expect(await connectionsOf(user.id)).toEqual([]);
  });
});

describe("socket lifetime", () => {
  it("the sweep closes a socket once its token expired, and only that one", async () => {
    const user = await registerOverHttp(base, "sl_expiry");
    // An app token with five minutes left, as if issued 25 minutes ago, and a fresh one.
    const shortToken = issueAccessToken(user, Date.now() - 25 * 60_000);
    const short = await negotiated(shortToken);
    const long = await negotiated(user.token);
    expect(Date.parse(short.expires_at)).toBeLessThan(Date.parse(long.expires_at));
    const [expiring, lasting] = [await open(short.url), await open(long.url)];
    for (const probe of [expiring, lasting]) await probe.waitFor((f) => f.event === "unread_count_updated");

    const log = { warn: (...args: unknown[]) => console.warn(...args) };
    // Just before the expiry nothing is closed.
    await sweepRealtime(log, new Date(Date.parse(short.expires_at) - 1_000));
    await settle(200);
    expect(expiring.socket.readyState).toBe(WebSocket.OPEN);

    const swept = await sweepRealtime(log, new Date(Date.parse(short.expires_at) + 1_000));
    expect(swept.socketGroupsClosed).toBeGreaterThanOrEqual(1);
    expect(await closed(expiring)).toEqual({ code: 1000, reason: "The access token of this socket expired; negotiate a new one" });
    await settle(200);
    expect(lasting.socket.readyState).toBe(WebSocket.OPEN);
    await until(async () => (await openConnectionCount(user.id)) === 1);
  });

  it("runs as a timer function every minute", async () => {
    expect(eventsSweep.schedule).toBe("0 * * * * *");
    await eventsSweep.handler(new InvocationContext({ functionName: "events-sweep" }));
  });
});
