/**
 * The mailbox events end to end: real sockets through the local host and the Web PubSub
 * stand-in. Each user has two devices; a bystander with a socket must hear nothing.
 */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";

import { registerOverHttp, type HttpUser } from "../support/api";
import { settle, SocketProbe, type Frame } from "../support/sockets";
import { useLocalStack } from "../support/stack";
import { apiOf, castOnSockets } from "../support/stack-users";

const local = useLocalStack();

type User = HttpUser;
type Msg = { id: number; thread_id: number; in_reply_to: number | null; title: string };

const api = apiOf(local);

async function send(from: User, to: User, title: string): Promise<Msg> {
  const res = await api(from, "POST", "/messages/", { recipient_id: to.id, title, body: "body" });
  expect(res.status).toBe(200);
  return (await res.json()) as Msg;
}

const MAILBOX_EVENTS = new Set(["message_updated", "messages_read", "message_deleted", "message_read", "unread_count_updated"]);

describe("mailbox events", () => {
  let alice: User, bob: User, carol: User;
  let alice1: SocketProbe, alice2: SocketProbe, bob1: SocketProbe, bob2: SocketProbe, carol1: SocketProbe, dave1: SocketProbe;
  const all = () => [alice1, alice2, bob1, bob2, carol1, dave1];

  beforeAll(async () => {
    ({
      users: [alice, bob, carol],
      sockets: [alice1, alice2, bob1, bob2, carol1, dave1],
    } = await castOnSockets(local, "mr"));
  });

  // Each test reads only the frames that arrive during it.
  beforeEach(async () => {
    await settle(150);
    for (const probe of all()) probe.frames.length = 0;
  });

  /** What every socket got, by event, apart from new mail. */
  async function heard(): Promise<Frame[][]> {
    await settle(300);
    return all().map((p) => p.frames.filter((f) => MAILBOX_EVENTS.has(f.event as string)));
  }

  it("read: the recipient's devices get message_updated and the count, the sender's get message_read, no one else anything", async () => {
    const m = await send(alice, bob, "read me");
    await settle(150);
    for (const probe of all()) probe.frames.length = 0;
    expect((await api(bob, "PUT", `/messages/${m.id}/read`)).status).toBe(200);
    for (const probe of [bob1, bob2]) {
      expect(await probe.waitFor((f) => f.event === "message_updated")).toEqual({
        event: "message_updated",
        message_id: m.id,
        is_read: true,
        folder: "inbox",
        is_starred: false,
        copy: "received",
        seq: expect.any(Number),
      });
      expect(await probe.waitFor((f) => f.event === "unread_count_updated")).toEqual({
        event: "unread_count_updated",
        unread_count: 0,
        seq: expect.any(Number),
      });
    }
    for (const probe of [alice1, alice2]) await probe.waitFor((f) => f.event === "message_read" && f.message_id === m.id);
    const [a1, a2, b1, b2, c1, d1] = await heard();
    expect([a1.length, a2.length, b1.length, b2.length, c1.length, d1.length]).toEqual([1, 1, 2, 2, 0, 0]);
    // Pushed one after the other in the order they were numbered: no socket sees a false gap.
    const [first, second] = b1.map((f) => f.seq as number);
    expect(second).toBe(first + 1);
  });

  it("unread: only the recipient's devices hear it, and only when it changes", async () => {
    const m = await send(alice, bob, "unread me");
    await api(bob, "PUT", `/messages/${m.id}/read`);
    await settle(150);
    for (const probe of all()) probe.frames.length = 0;
    expect((await api(bob, "PUT", `/messages/${m.id}/unread`)).status).toBe(200);
    for (const probe of [bob1, bob2]) {
      expect(await probe.waitFor((f) => f.event === "message_updated")).toEqual({
        event: "message_updated",
        message_id: m.id,
        is_read: false,
        folder: "inbox",
        is_starred: false,
        copy: "received",
        seq: expect.any(Number),
      });
      expect(await probe.waitFor((f) => f.event === "unread_count_updated")).toEqual({
        event: "unread_count_updated",
        unread_count: 1,
        seq: expect.any(Number),
      });
    }
    expect((await api(bob, "PUT", `/messages/${m.id}/unread`)).status).toBe(200);
    const [a1, a2, b1, b2, c1, d1] = await heard();
    expect([a1.length, a2.length, b1.length, b2.length, c1.length, d1.length]).toEqual([0, 0, 2, 2, 0, 0]);
    await api(bob, "PUT", `/messages/${m.id}/read`);
  });

  it("mark all read: one messages_read frame per sender listing its messages, and the count to the recipient", async () => {
    const fromAlice = [await send(alice, bob, "a1"), await send(alice, bob, "a2"), await send(alice, bob, "a3")];
    const fromCarol = [await send(carol, bob, "c1")];
    const later = await send(carol, bob, "c2 after the click");
    await settle(150);
    for (const probe of all()) probe.frames.length = 0;
    const res = await api(bob, "PUT", `/messages/inbox/read?up_to_id=${later.id - 1}`);
    expect(await res.json()).toEqual({ marked: 4 });
    for (const probe of [alice1, alice2]) {
      const frame = await probe.waitFor((f) => f.event === "messages_read");
      expect(frame).toEqual({
        event: "messages_read",
        message_ids: fromAlice.map((m) => m.id),
        read_at: expect.stringMatching(/Z$/),
        reader_id: bob.id,
        seq: expect.any(Number),
      });
    }
    for (const probe of [bob1, bob2])
      expect(await probe.waitFor((f) => f.event === "unread_count_updated")).toEqual({
        event: "unread_count_updated",
        unread_count: 1,
        seq: expect.any(Number),
      });
    expect(await carol1.waitFor((f) => f.event === "messages_read")).toMatchObject({ message_ids: fromCarol.map((m) => m.id) });
    const [a1, a2, b1, b2, c1, d1] = await heard();
    expect([a1.length, a2.length, b1.length, b2.length, c1.length, d1.length]).toEqual([1, 1, 1, 1, 1, 0]);
    expect(a1.some((f) => f.event === "message_read")).toBe(false);
    // Nothing left to mark up to that id: no frames at all.
    for (const probe of all()) probe.frames.length = 0;
    expect(await (await api(bob, "PUT", `/messages/inbox/read?up_to_id=${later.id - 1}`)).json()).toEqual({ marked: 0 });
    expect((await heard()).flat()).toEqual([]);
    await api(bob, "PUT", "/messages/inbox/read");
  });

  it("delete: only the deleting user's devices hear message_deleted, with the count when an unread message goes", async () => {
    const m = await send(alice, bob, "delete me");
    await settle(150);
    for (const probe of all()) probe.frames.length = 0;
    expect((await api(bob, "DELETE", `/messages/${m.id}`)).status).toBe(204);
    for (const probe of [bob1, bob2]) {
      expect(await probe.waitFor((f) => f.event === "message_deleted")).toEqual({
        event: "message_deleted",
        message_id: m.id,
        seq: expect.any(Number),
      });
      expect(await probe.waitFor((f) => f.event === "unread_count_updated")).toEqual({
        event: "unread_count_updated",
        unread_count: 0,
        seq: expect.any(Number),
      });
    }
    let [a1, a2, b1, b2, c1, d1] = await heard();
    expect([a1.length, a2.length, b1.length, b2.length, c1.length, d1.length]).toEqual([0, 0, 2, 2, 0, 0]);
    for (const probe of all()) probe.frames.length = 0;
    expect((await api(alice, "DELETE", `/messages/${m.id}`)).status).toBe(204);
    for (const probe of [alice1, alice2])
      expect(await probe.waitFor((f) => f.event === "message_deleted")).toEqual({
        event: "message_deleted",
        message_id: m.id,
        seq: expect.any(Number),
      });
    [a1, a2, b1, b2, c1, d1] = await heard();
    expect([a1.length, a2.length, b1.length, b2.length, c1.length, d1.length]).toEqual([1, 1, 0, 0, 0, 0]);
  });
});

describe("over HTTP through the local host", () => {
  it("routes literal paths and message ids to the right functions", async () => {
    const [a, b] = await Promise.all([registerOverHttp(local.url, "mr_route_a"), registerOverHttp(local.url, "mr_route_b")]);
    const m = await send(a, b, "routed");
    expect(((await (await api(b, "GET", "/messages/inbox")).json()) as Msg[]).map((x) => x.id)).toEqual([m.id]);
    expect(await (await api(b, "GET", "/messages/unread_count/")).json()).toEqual({ unread_count: 1 });
    expect(((await (await api(b, "GET", `/messages/${m.id}/`)).json()) as Msg).title).toBe("routed");
    expect(((await (await api(b, "GET", `/messages/${m.id}/thread`)).json()) as Msg[]).map((x) => x.id)).toEqual([m.id]);
    expect(await (await api(b, "PUT", "/messages/inbox/read/")).json()).toEqual({ marked: 1 });
    expect((await api(b, "PUT", `/messages/${m.id}/unread`)).status).toBe(200);
    expect((await api(b, "GET", "/messages/abc")).status).toBe(422);
    expect((await api(b, "DELETE", `/messages/${m.id}`)).status).toBe(204);
  });

  it("lets a browser on an allowed origin read the Link header", async () => {
    const [a, b] = await Promise.all([registerOverHttp(local.url, "mr_link_a"), registerOverHttp(local.url, "mr_link_b")]);
    await send(a, b, "1");
    await send(a, b, "2");
    const res = await fetch(`${local.url}/messages/inbox/?limit=1&q=`, {
      headers: { authorization: `Bearer ${b.token}`, origin: "http://localhost:5173" },
    });
    expect(res.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
    expect(res.headers.get("access-control-expose-headers")).toBe("Link");
    const link = res.headers.get("link")!;
    expect(link).toMatch(new RegExp(`^<${local.url}/messages/inbox/\\?limit=1&q=&before_id=\\d+>; rel="next"$`));
    const next = await fetch(/^<([^>]+)>/.exec(link)![1], { headers: { authorization: `Bearer ${b.token}` } });
    expect(((await next.json()) as Msg[]).map((m) => m.title)).toEqual(["1"]);
  });
});
