/**
 * Folders, flags and several recipients end to end: real sockets through the local host and
 * the Web PubSub stand-in. Each user with two devices must see the same state on both; the
 * stand-in delivers after answering, so every check waits for its frame and none assumes an
 * order across connections.
 */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";

import type { HttpUser } from "../support/api";
import { settle, SocketProbe, type Frame } from "../support/sockets";
import { useLocalStack } from "../support/stack";
import { apiOf, castOnSockets } from "../support/stack-users";

const local = useLocalStack();

type User = HttpUser;
type Msg = { id: number };

const api = apiOf(local);

async function send(from: User, addressing: Record<string, number[]>, title: string): Promise<Msg> {
  const res = await api(from, "POST", "/messages/", { ...addressing, title, body: "body" });
  expect(res.status).toBe(200);
  return (await res.json()) as Msg;
}

describe("folders, flags and recipients over real sockets", () => {
  let alice: User, bob: User, carol: User, dave: User;
  let alice1: SocketProbe, alice2: SocketProbe, bob1: SocketProbe, bob2: SocketProbe, carol1: SocketProbe, dave1: SocketProbe;
  const all = () => [alice1, alice2, bob1, bob2, carol1, dave1];

  beforeAll(async () => {
    ({
      users: [alice, bob, carol, dave],
      sockets: [alice1, alice2, bob1, bob2, carol1, dave1],
    } = await castOnSockets(local, "mf"));
  });

  beforeEach(async () => {
    await settle(150);
    for (const probe of all()) probe.frames.length = 0;
  });

  const updatedFor = (id: number) => (f: Frame) => f.event === "message_updated" && f.message_id === id;

  it("a PATCH of folder, star and read reaches both of the owner's sockets as message_updated with the copy's state", async () => {
    const m = await send(alice, { to: [bob.id] }, "patch me");
    for (const probe of [bob1, bob2]) await probe.waitFor((f) => f.event === "new_message");
    for (const probe of all()) probe.frames.length = 0;

    expect((await api(bob, "PATCH", `/messages/${m.id}`, { folder: "archive" })).status).toBe(200);
    for (const probe of [bob1, bob2])
      expect(await probe.waitFor(updatedFor(m.id))).toEqual({
        event: "message_updated",
        message_id: m.id,
        folder: "archive",
        is_starred: false,
        is_read: false,
        copy: "received",
        seq: expect.any(Number),
      });

    for (const probe of all()) probe.frames.length = 0;
    expect((await api(bob, "PATCH", `/messages/${m.id}`, { is_starred: true, is_read: true })).status).toBe(200);
    for (const probe of [bob1, bob2])
      expect(await probe.waitFor(updatedFor(m.id))).toEqual({
        event: "message_updated",
        message_id: m.id,
        folder: "archive",
        is_starred: true,
        is_read: true,
        copy: "received",
        seq: expect.any(Number),
      });
    // The sender hears the read as a receipt; nobody else hears the change at all.
    for (const probe of [alice1, alice2]) await probe.waitFor((f) => f.event === "message_read" && f.message_id === m.id);
    await settle(300);
    for (const probe of [alice1, alice2, carol1, dave1]) expect(probe.frames.filter((f) => f.event === "message_updated")).toEqual([]);
  });

  it("a bulk change reaches both sockets as one frame listing its ids", async () => {
    const ms = [
      await send(alice, { to: [bob.id] }, "b1"),
      await send(alice, { to: [bob.id] }, "b2"),
      await send(carol, { to: [bob.id] }, "b3"),
    ];
    const ids = ms.map((m) => m.id);
    for (const probe of [bob1, bob2])
      for (const id of ids) await probe.waitFor((f) => f.event === "new_message" && (f.message as Msg).id === id);
    for (const probe of all()) probe.frames.length = 0;

    const res = await api(bob, "POST", "/messages/bulk", { ids, set: { folder: "archive", is_starred: true } });
    expect(await res.json()).toEqual({ updated: ids, not_found: [] });
    for (const probe of [bob1, bob2]) {
      const frame = await probe.waitFor((f) => f.event === "messages_updated");
      expect(frame).toMatchObject({ event: "messages_updated", folder: "archive", is_starred: true, seq: expect.any(Number) });
      expect([...(frame.message_ids as number[])].sort((a, b) => a - b)).toEqual(ids);
    }

    for (const probe of all()) probe.frames.length = 0;
    expect(await (await api(bob, "POST", "/messages/bulk", { ids, delete: true })).json()).toEqual({ updated: ids, not_found: [] });
    for (const probe of [bob1, bob2]) {
      const frame = await probe.waitFor((f) => f.event === "messages_deleted");
      expect([...(frame.message_ids as number[])].sort((a, b) => a - b)).toEqual(ids);
    }
    await settle(300);
    for (const probe of [bob1, bob2]) {
      expect(probe.frames.filter((f) => f.event === "messages_updated" || f.event === "messages_deleted")).toHaveLength(1);
      expect(probe.frames.filter((f) => f.event === "message_updated" || f.event === "message_deleted")).toEqual([]);
    }
    for (const probe of [alice1, alice2, carol1, dave1])
      expect(probe.frames.filter((f) => f.event === "messages_updated" || f.event === "messages_deleted")).toEqual([]);
  });

  it("a send to to+cc+bcc gives each recipient its own new_message, and the sender a message_read per first read", async () => {
    const m = await send(alice, { to: [bob.id], cc: [carol.id], bcc: [dave.id] }, "to everyone");
    for (const probe of [bob1, bob2, carol1, dave1]) {
      const frame = await probe.waitFor((f) => f.event === "new_message");
      expect(frame).toMatchObject({ event: "new_message", message: { id: m.id, sender_id: alice.id, title: "to everyone" } });
    }
    await settle(300);
    for (const probe of [bob1, bob2, carol1, dave1]) expect(probe.frames.filter((f) => f.event === "new_message")).toHaveLength(1);
    for (const probe of [alice1, alice2]) expect(probe.frames.filter((f) => f.event === "new_message")).toEqual([]);

    for (const probe of all()) probe.frames.length = 0;
    for (const reader of [bob, carol, dave]) expect((await api(reader, "PUT", `/messages/${m.id}/read`)).status).toBe(200);
    // Unread and read again is not a first read: no second receipt.
    expect((await api(bob, "PATCH", `/messages/${m.id}`, { is_read: false })).status).toBe(200);
    expect((await api(bob, "PATCH", `/messages/${m.id}`, { is_read: true })).status).toBe(200);
    for (const probe of [alice1, alice2])
      for (const reader of [bob, carol, dave])
        expect(await probe.waitFor((f) => f.event === "message_read" && f.reader_id === reader.id)).toEqual({
          event: "message_read",
          message_id: m.id,
          reader_id: reader.id,
          read_at: expect.stringMatching(/Z$/),
          seq: expect.any(Number),
        });
    await settle(300);
    for (const probe of [alice1, alice2]) expect(probe.frames.filter((f) => f.event === "message_read")).toHaveLength(3);
    for (const probe of [bob1, bob2, carol1, dave1]) expect(probe.frames.filter((f) => f.event === "message_read")).toEqual([]);
  });
});
