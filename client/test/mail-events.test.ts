/**
 * The folder, flag and receipt events through the client: its event type is the server's own
 * (client/src/types.ts imports it), and catch-up replays these frames like any other.
 */
import { afterEach, describe, expect, expectTypeOf, it } from "vitest";

import { EVENTS } from "../../shared/domain/events.js";
import { connect, type MailEvent, type RealtimeConnection } from "../src/index.js";
import { FakeApi, fakeTransport, newMessage, until } from "./fakes.js";

const open: RealtimeConnection[] = [];
afterEach(() => {
  for (const connection of open.splice(0)) connection.stop();
});

// Each literal must be a valid frame of the client's type: a field renamed or dropped on the
// server fails the type check here.
const mailEvents = [
  newMessage(1),
  { event: "message_updated", message_id: 1, folder: "archive", is_starred: true, is_read: true, copy: "received", seq: 2 },
  { event: "messages_updated", message_ids: [1, 2], folder: "trash", seq: 3 },
  { event: "message_read", message_id: 7, read_at: "2026-12-06T05:00:00.000Z", reader_id: 42, seq: 4 },
  { event: "messages_read", message_ids: [7, 8], read_at: "2026-12-06T05:00:00.000Z", reader_id: 42, seq: 5 },
  { event: "messages_deleted", message_ids: [1, 2], seq: 6 },
  { event: "message_deleted", message_id: 3, seq: 7 },
] satisfies MailEvent[];

describe("the client's mail events", () => {
  it("names exactly the events the server defines", () => {
    expectTypeOf<MailEvent["event"]>().toEqualTypeOf<(typeof EVENTS)[keyof typeof EVENTS]>();
    // Every event the server can send (bar the count snapshot) is replayed below.
    expect(new Set([...mailEvents.map((e) => e.event), EVENTS.unreadCountUpdated])).toEqual(new Set(Object.values(EVENTS)));
  });

  it("catch-up replays message_updated with its state, messages_updated, messages_deleted and message_read with reader_id", async () => {
    const api = new FakeApi();
    api.append(...mailEvents);
    const { factory } = fakeTransport();
    const seen: MailEvent[] = [];
    const connection = connect({
      apiUrl: "http://api.test/",
      getToken: () => "token",
      onEvent: (event) => seen.push(event),
      fetch: api.fetch,
      transport: factory,
      after: 0,
      backoff: { initialDelayMs: 10, maxDelayMs: 50 },
    });
    open.push(connection);
    await until(() => seen.length === mailEvents.length, "the catch-up");
    expect(seen).toEqual(mailEvents);
    expect(api.eventCalls()[0]).toBe("/events?after=0&limit=500");
    expect(connection.seq).toBe(7);
  });
});
