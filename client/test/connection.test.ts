/** The connection logic against a fake socket and an in-memory API: order, once, catch-up, reload, stop. */
import { afterEach, describe, expect, it, vi } from "vitest";

import { connect, type ConnectOptions, type RealtimeConnection } from "../src/index.js";
import { FakeApi, fakeTransport, newMessage, unreadCount, until, type FakeSocket } from "./fakes.js";

const open: RealtimeConnection[] = [];
afterEach(() => {
  for (const connection of open.splice(0)) connection.stop();
  vi.useRealTimers();
});

function start(api: FakeApi, options: Partial<ConnectOptions> & { autoConnect?: boolean } = {}) {
  const { factory, sockets } = fakeTransport({ autoConnect: options.autoConnect });
  const seen: number[] = [];
  const events: unknown[] = [];
  const reloads: number[] = [];
  const errors: Error[] = [];
  const states: string[] = [];
  let tokens = 0;
  const connection = connect({
    apiUrl: "http://api.test/",
    getToken: () => `token-${++tokens}`,
    onEvent: (event) => {
      seen.push(event.seq);
      events.push(event);
    },
    onReload: (latest) => reloads.push(latest),
    onError: (error) => errors.push(error),
    onStateChange: (state) => states.push(state),
    fetch: api.fetch,
    transport: factory,
    backoff: { initialDelayMs: 10, maxDelayMs: 50 },
    ...options,
  });
  open.push(connection);
  const socket = (i = sockets.length - 1): FakeSocket => sockets[i];
  const push = (...frames: unknown[]) => frames.forEach((frame) => socket().events.frame(frame));
  return { connection, sockets, socket, push, seen, events, reloads, errors, states };
}

describe("delivery", () => {
  it("hands each live event to the app once, in seq order", async () => {
    const api = new FakeApi();
    const c = start(api, { after: 0 });
    await until(() => c.connection.state === "connected");
    api.append(newMessage(1), newMessage(2), newMessage(3));
    c.push(newMessage(1), newMessage(2), newMessage(2), newMessage(1), newMessage(3));
    await until(() => c.seen.length >= 3);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(c.seen).toEqual([1, 2, 3]);
    expect(c.connection.seq).toBe(3);
  });

  it("fills a gap from GET /events before delivering anything newer", async () => {
    const api = new FakeApi();
    const c = start(api, { after: 0 });
    await until(() => c.connection.state === "connected");
    api.append(...[1, 2, 3, 4, 5].map(newMessage));
    c.push(newMessage(1), newMessage(4));
    await until(() => c.seen.length === 5);
    c.push(newMessage(5));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(c.seen).toEqual([1, 2, 3, 4, 5]);
    expect(api.eventCalls()).toContain("/events?after=1&limit=500");
  });

  it("delivers nothing past a gap until the catch-up has filled it", async () => {
    const api = new FakeApi();
    api.append(...[1, 2, 3].map(newMessage));
    let release!: () => void;
    api.gate = new Promise((resolve) => (release = resolve));
    const c = start(api, { after: 0 });
    await until(() => api.eventCalls().length === 1);
    api.append(newMessage(4));
    c.push(newMessage(4));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(c.seen).toEqual([]);
    api.gate = undefined;
    release();
    await until(() => c.seen.length === 4);
    expect(c.seen).toEqual([1, 2, 3, 4]);
  });

  it("pages until the log's latest seq", async () => {
    const api = new FakeApi();
    api.append(...[1, 2, 3, 4, 5].map(newMessage));
    const c = start(api, { after: 0, pageSize: 2 });
    await until(() => c.seen.length === 5);
    expect(api.eventCalls()).toEqual(["/events?after=0&limit=2", "/events?after=2&limit=2", "/events?after=4&limit=2"]);
  });

  it("keeps the order when the app's handler throws", async () => {
    const api = new FakeApi();
    api.append(...[1, 2, 3].map(newMessage));
    const seen: number[] = [];
    const c = start(api, {
      after: 0,
      onEvent: (event) => {
        seen.push(event.seq);
        if (event.seq === 2) throw new Error("app bug");
      },
    });
    await until(() => seen.length === 3);
    expect(seen).toEqual([1, 2, 3]);
    expect(c.errors.map((e) => e.message)).toContain("app bug");
  });
});

describe("the connect-time snapshot", () => {
  it("starts an app with no position at the snapshot and delivers it", async () => {
    const api = new FakeApi();
    api.append(newMessage(1), newMessage(2));
    const c = start(api);
    await until(() => c.connection.state === "connected");
    c.push(unreadCount(2, 7));
    api.append(newMessage(3));
    c.push(newMessage(3));
    await until(() => c.seen.length === 2);
    expect(c.events).toEqual([unreadCount(2, 7), newMessage(3)]);
    expect(api.eventCalls()).toEqual([]);
  });

  it("is never taken for the logged event with its seq: that one is fetched", async () => {
    const api = new FakeApi();
    api.append(newMessage(1));
    const c = start(api, { after: 1 });
    await until(() => c.connection.state === "connected" && api.eventCalls().length === 1);
    // Event 2 was a new message; a new socket's snapshot says the latest seq is 2.
    api.append(newMessage(2));
    c.push(unreadCount(2, 2));
    await until(() => c.seen.length === 1);
    expect(c.events).toEqual([newMessage(2)]);
    // A snapshot at the app's own seq says nothing new.
    c.push(unreadCount(2, 2));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(api.eventCalls()).toHaveLength(2);
  });
});

describe("reconnection", () => {
  it("opens a new socket when one ends and catches up from where it was", async () => {
    const api = new FakeApi();
    const c = start(api, { after: 0 });
    await until(() => c.connection.state === "connected");
    api.append(newMessage(1));
    c.push(newMessage(1));
    await until(() => c.seen.length === 1);
    const first = c.socket();
    api.append(newMessage(2), newMessage(3));
    first.events.stopped();
    expect(c.connection.state).toBe("reconnecting");
    await until(() => c.sockets.length === 2 && c.seen.length === 3, "a new socket and the missed events");
    expect(c.seen).toEqual([1, 2, 3]);
    expect(api.eventCalls().at(-1)).toBe("/events?after=1&limit=500");
    expect(api.negotiations()).toBe(2);
    // Every call carries a token asked for just before it.
    expect(new Set(api.calls.map((call) => call.authorization)).size).toBe(api.calls.length);
    expect(c.states).toEqual(["connected", "reconnecting", "connected"]);
  });

  it("backs off with jitter while negotiation fails, and honours Retry-After", async () => {
    const api = new FakeApi();
    api.refuseNegotiation = { times: 1, retryAfter: 1 };
    const c = start(api, { after: 0 });
    await until(() => c.connection.state === "connected", "connected", 5_000);
    const [refused, accepted] = api.calls.filter((call) => call.path === "/ws/");
    expect(accepted.at - refused.at).toBeGreaterThanOrEqual(990);
    expect(c.errors[0].message).toMatch(/GET \/ws\/ answered 429: Too many sockets/);
  });

  it("spreads reconnections: delays grow and differ between clients", async () => {
    const { Backoff } = await import("../src/backoff.js");
    const delays = (b: InstanceType<typeof Backoff>) => Array.from({ length: 6 }, () => b.next());
    const a = delays(new Backoff({ initialDelayMs: 100, maxDelayMs: 10_000 }));
    const b = delays(new Backoff({ initialDelayMs: 100, maxDelayMs: 10_000 }));
    expect(a[5]).toBeGreaterThan(a[0] * 4);
    expect(a.every((d, i) => d >= 50 * 2 ** i && d <= 100 * 2 ** i)).toBe(true);
    expect(a).not.toEqual(b);
    expect(new Backoff({ initialDelayMs: 100 }).next(5_000)).toBe(5_000);
  });

  it("retries a failing catch-up with backoff and loses nothing", async () => {
    const api = new FakeApi();
    api.append(...[1, 2].map(newMessage));
    api.failEvents = 2;
    const c = start(api, { after: 0 });
    await until(() => c.seen.length === 2);
    expect(api.eventCalls()).toHaveLength(3);
    expect(c.errors).toHaveLength(2);
  });
});

describe("a socket that died without telling", () => {
  it("is caught up after a silence, and replaced when the log had events it never brought", async () => {
    const api = new FakeApi();
    const c = start(api, { after: 0, idleCatchUpMs: 100 });
    await until(() => c.connection.state === "connected");
    api.append(newMessage(1), newMessage(2));
    await until(() => c.seen.length === 2, "the idle catch-up", 2_000);
    await until(() => c.sockets.length === 2, "a new socket");
    expect(c.sockets[0].stopped).toBe(true);
    expect(c.seen).toEqual([1, 2]);
  });

  it("is followed by one more catch-up a while after each new connection", async () => {
    const api = new FakeApi();
    const c = start(api, { after: 0, settleCatchUpMs: 100 });
    await until(() => api.eventCalls().length === 1);
    // Committed after the first catch-up, its push skipped by a server that just came back.
    api.append(newMessage(1));
    await until(() => c.seen.length === 1, "the settling catch-up", 2_000);
    expect(api.eventCalls()).toHaveLength(2);
    expect(c.sockets).toHaveLength(1);
  });

  it("is kept when the silence only meant nothing happened", async () => {
    const api = new FakeApi();
    const c = start(api, { after: 0, idleCatchUpMs: 50 });
    await until(() => api.eventCalls().length >= 3, "idle catch-ups", 2_000);
    expect(c.sockets).toHaveLength(1);
  });
});

describe("reload", () => {
  it("tells the app to reload on 410 and goes on from the latest seq", async () => {
    const api = new FakeApi();
    api.append(...[1, 2, 3, 4, 5].map(newMessage));
    api.sweptThrough = 3;
    const c = start(api, { after: 1 });
    await until(() => c.reloads.length === 1);
    expect(c.reloads).toEqual([5]);
    expect(c.seen).toEqual([]);
    api.append(newMessage(6));
    c.push(newMessage(6));
    await until(() => c.seen.length === 1);
    expect(c.seen).toEqual([6]);
  });

  it("tells the app to reload when the log is behind it (a restored database)", async () => {
    const api = new FakeApi();
    api.append(...[1, 2, 3].map(newMessage));
    const c = start(api, { after: 10 });
    await until(() => c.reloads.length === 1);
    expect(c.reloads).toEqual([3]);
    expect(c.connection.seq).toBe(3);
  });
});

describe("stop()", () => {
  it("closes the socket, leaves no timer, delivers nothing more, and may be called again", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const api = new FakeApi();
    const c = start(api, { after: 0 });
    await vi.advanceTimersByTimeAsync(1);
    expect(c.connection.state).toBe("connected");
    c.socket().events.stopped();
    expect(c.connection.state).toBe("reconnecting");
    expect(vi.getTimerCount()).toBeGreaterThan(0);
    c.connection.stop();
    c.connection.stop();
    expect(vi.getTimerCount()).toBe(0);
    expect(c.sockets.every((s) => s.stopped)).toBe(true);
    expect(c.connection.state).toBe("stopped");
    expect(c.states.filter((s) => s === "stopped")).toHaveLength(1);
    api.append(newMessage(1));
    c.sockets[0].events.frame(newMessage(1));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(c.seen).toEqual([]);
    expect(c.sockets).toHaveLength(1);
  });

  it("stops cleanly in the middle of a catch-up and of a negotiation", async () => {
    const api = new FakeApi();
    let release!: () => void;
    api.gate = new Promise((resolve) => (release = resolve));
    api.append(newMessage(1));
    const c = start(api, { after: 0 });
    await until(() => api.eventCalls().length === 1);
    c.connection.stop();
    release();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(c.seen).toEqual([]);
    expect(c.errors).toEqual([]);

    // As a React effect's cleanup runs before the negotiation answered.
    const d = start(new FakeApi());
    d.connection.stop();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(d.sockets.every((s) => !s.started || s.stopped)).toBe(true);
    expect(d.connection.state).toBe("stopped");
  });
});
