/**
 * The stand-in speaks `json.reliable.webpubsub.azure.v1` as the service does: the official
 * `@azure/web-pubsub-client` with its default protocol connects, and a dropped socket comes
 * back to the same session with everything it missed, once and in order.
 */
import { WebPubSubServiceClient } from "@azure/web-pubsub";
import { WebPubSubClient, type OnServerDataMessageArgs } from "@azure/web-pubsub-client";
import { afterEach, describe, expect, it } from "vitest";

import { startWebPubSubStandIn, type WebPubSubStandIn, type WebPubSubStandInOptions } from "../../local/webpubsub";
import { DEFAULT_MAX_UNACKED_BYTES } from "../../local/webpubsub/reliable";
import { settle, SocketProbe, type Frame } from "../support/sockets";

const KEY = "reliable-test-access-key-0123456789abcdef";
const HUB = "reliablehub";
const RELIABLE = "json.reliable.webpubsub.azure.v1";

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function standIn(
  options: Partial<WebPubSubStandInOptions> = {},
): Promise<{ standIn: WebPubSubStandIn; service: WebPubSubServiceClient }> {
  const started = await startWebPubSubStandIn({ port: 0, accessKey: KEY, ...options });
  cleanups.push(() => started.close());
  return { standIn: started, service: new WebPubSubServiceClient(started.connectionString, HUB, { allowInsecureConnection: true }) };
}

/** The official client, recording what it received and the connections it was told about. */
function officialClient(service: WebPubSubServiceClient, userId: string) {
  const negotiated: string[] = [];
  const client = new WebPubSubClient({
    getClientAccessUrl: async () => {
      const { url } = await service.getClientAccessToken({ userId });
      negotiated.push(url);
      return url;
    },
  });
  const received: unknown[] = [];
  const connected: string[] = [];
  const disconnected: string[] = [];
  client.on("server-message", (e: OnServerDataMessageArgs) => received.push(e.message.data));
  client.on("connected", (e) => connected.push(e.connectionId));
  client.on("disconnected", (e) => disconnected.push(e.connectionId ?? ""));
  cleanups.push(() => client.stop());
  return { client, received, connected, disconnected, negotiated };
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await settle(10);
  }
}

async function reliableSocket(
  service: WebPubSubServiceClient,
  userId: string,
): Promise<{ probe: SocketProbe; connected: Frame; url: string }> {
  const { url } = await service.getClientAccessToken({ userId });
  const probe = await SocketProbe.open(url, [RELIABLE]);
  cleanups.push(() => probe.socket.terminate());
  const connected = await probe.waitFor((f) => f.type === "system" && f.event === "connected");
  return { probe, connected, url };
}

/** The close code a reconnection to `url`'s session gets. */
async function reconnectionClose(url: string, connectionId: unknown, token: unknown): Promise<{ code: number; frames: Frame[] }> {
  const target = new URL(url);
  target.searchParams.set("awps_connection_id", String(connectionId));
  target.searchParams.set("awps_reconnection_token", String(token));
  const probe = await SocketProbe.open(target.toString(), [RELIABLE]);
  const code = await new Promise<number>((resolve) => probe.socket.once("close", resolve));
  return { code, frames: probe.frames };
}

describe("the official @azure/web-pubsub-client, default protocol", () => {
  it("connects and receives server messages", async () => {
    const { service } = await standIn();
    const { client, received, connected } = officialClient(service, "alice");
    await client.start();
    await until(() => connected.length === 1, 5_000, "connected");
    await service.sendToUser("alice", { n: 1 });
    await service.sendToUser("alice", { n: 2 });
    await until(() => received.length === 2);
    expect(received).toEqual([{ n: 1 }, { n: 2 }]);
  });

  it("comes back to the same session after its socket drops and gets what it missed, once and in order", async () => {
    const { standIn: server, service } = await standIn();
    const { client, received, connected, disconnected, negotiated } = officialClient(service, "bob");
    await client.start();
    await until(() => connected.length === 1);
    for (let round = 0; round < 5; round++) {
      await service.sendToUser("bob", { n: round * 3 });
      // The 202 comes before the delivery, as on Azure: the frame is waited for, not assumed.
      await until(() => received.length === round * 3 + 1, 10_000, `round ${round}, the REST send`);
      expect(server.dropSockets(HUB, "bob")).toBe(1);
      // Sent while the socket is down: held by the session and sent again on reconnection.
      server.sendToUserDirect(HUB, "bob", { n: round * 3 + 1 });
      server.sendToUserDirect(HUB, "bob", { n: round * 3 + 2 });
      await until(() => received.length === round * 3 + 3, 10_000, `round ${round}`);
    }
    await settle(100);
    expect(received).toEqual(Array.from({ length: 15 }, (_, n) => ({ n })));
    // The same session throughout: no new connection, no negotiation, no disconnected event.
    expect(connected).toHaveLength(1);
    expect(negotiated).toHaveLength(1);
    expect(disconnected).toEqual([]);
    expect(server.connectionCount(HUB)).toBe(1);
  });

  it("answers a resent ackId with Duplicate, across a reconnection too", async () => {
    const { standIn: server, service } = await standIn();
    const { client, connected } = officialClient(service, "carol");
    await client.start();
    await until(() => connected.length === 1);
    expect(await client.sendEvent("note", { a: 1 }, "json", { ackId: 7 })).toEqual({ ackId: 7, isDuplicated: false });
    server.dropSockets(HUB, "carol");
    await settle(50);
    expect(await client.sendEvent("note", { a: 1 }, "json", { ackId: 7 })).toEqual({ ackId: 7, isDuplicated: true });
    expect(connected).toHaveLength(1);
  });

  it("starts a new connection, negotiating again, when the session is gone (stand-in restarted)", async () => {
    const first = await standIn();
    const { client, received, connected, disconnected, negotiated } = officialClient(first.service, "dave");
    await client.start();
    await until(() => connected.length === 1);
    const port = first.standIn.port;
    await first.standIn.close();
    const second = await standIn({ port });
    // The recovery reaches the restarted service, which knows no such session: 1008, then a new connection.
    await until(() => connected.length === 2, 15_000, "a second connection");
    expect(disconnected).toEqual([connected[0]]);
    expect(connected[1]).not.toBe(connected[0]);
    expect(negotiated).toHaveLength(2);
    await second.service.sendToUser("dave", { after: "restart" });
    await until(() => received.length === 1);
    expect(received).toEqual([{ after: "restart" }]);
  });

  it("is closed and starts over when its session holds more unacked messages than the bound", async () => {
    const { standIn: server, service } = await standIn({ maxUnackedMessages: 5 });
    const { client, connected, disconnected } = officialClient(service, "erin");
    await client.start();
    await until(() => connected.length === 1);
    // The client acks once a second, so ten at once pass a bound of five.
    for (let n = 0; n < 10; n++) server.sendToUserDirect(HUB, "erin", { n });
    await until(() => connected.length === 2, 10_000, "a new connection");
    expect(disconnected).toEqual([connected[0]]);
  });
});

describe("json.reliable.webpubsub.azure.v1 on the wire", () => {
  it("sends connected with a reconnection token and numbers data messages; an ack stops their redelivery", async () => {
    const { standIn: server, service } = await standIn();
    const { probe, connected, url } = await reliableSocket(service, "frank");
    expect(connected).toEqual({
      type: "system",
      event: "connected",
      userId: "frank",
      connectionId: expect.any(String),
      reconnectionToken: expect.any(String),
    });
    for (let n = 1; n <= 3; n++) await service.sendToUser("frank", { n });
    await probe.waitFor((f) => f.sequenceId === 3);
    expect(probe.frames.filter((f) => f.type === "message")).toEqual(
      [1, 2, 3].map((n) => ({ type: "message", from: "server", dataType: "json", data: { n }, sequenceId: n })),
    );
    probe.socket.send(JSON.stringify({ type: "sequenceAck", sequenceId: 2 }));
    await settle(50);
    server.dropSockets(HUB, "frank");
    server.sendToUserDirect(HUB, "frank", { n: 4 });

    const target = new URL(url);
    target.searchParams.set("awps_connection_id", String(connected.connectionId));
    target.searchParams.set("awps_reconnection_token", String(connected.reconnectionToken));
    const back = await SocketProbe.open(target.toString(), [RELIABLE]);
    cleanups.push(() => back.socket.terminate());
    await back.waitFor((f) => f.sequenceId === 4);
    expect(back.frames).toEqual([
      {
        type: "system",
        event: "connected",
        userId: "frank",
        connectionId: connected.connectionId,
        reconnectionToken: connected.reconnectionToken,
      },
      { type: "message", from: "server", dataType: "json", data: { n: 3 }, sequenceId: 3 },
      { type: "message", from: "server", dataType: "json", data: { n: 4 }, sequenceId: 4 },
    ]);
  });

  it("closes a reconnection with 1008 when the session is unknown, the token wrong, or the retention over", async () => {
    const { service } = await standIn({ sessionRetentionMs: 300 });
    const { probe, connected, url } = await reliableSocket(service, "grace");
    expect((await reconnectionClose(url, "no-such-connection", connected.reconnectionToken)).code).toBe(1008);
    expect((await reconnectionClose(url, connected.connectionId, "not-the-token")).code).toBe(1008);
    // A drop the client did not ask for (no close frame) parks the session; the retention ends it.
    probe.socket.terminate();
    await until(async () => !(await service.connectionExists(String(connected.connectionId))), 10_000, "the retention to end the session");
    expect((await reconnectionClose(url, connected.connectionId, connected.reconnectionToken)).code).toBe(1008);
  });

  it("keeps a dropped session within the retention and ends one its client closed", async () => {
    const { service } = await standIn({ sessionRetentionMs: 5_000 });
    const dropped = await reliableSocket(service, "heidi");
    dropped.probe.socket.terminate();
    await settle(100);
    expect(await service.connectionExists(String(dropped.connected.connectionId))).toBe(true);
    const closed = await reliableSocket(service, "heidi");
    await closed.probe.close();
    await until(async () => !(await service.connectionExists(String(closed.connected.connectionId))), 10_000, "the closed session to end");
  });

  it("closes with 1008 and drops the session when the unacked messages pass the bound", async () => {
    const { standIn: server, service } = await standIn({ maxUnackedMessages: 3 });
    const { probe, connected, url } = await reliableSocket(service, "ivan");
    const closed = new Promise<number>((resolve) => probe.socket.once("close", resolve));
    for (let n = 1; n <= 3; n++) expect(server.sendToUserDirect(HUB, "ivan", { n })).toBe(1);
    expect(server.sendToUserDirect(HUB, "ivan", { n: 4 })).toBe(0);
    expect(await closed).toBe(1008);
    expect(probe.frames.at(-1)).toMatchObject({ type: "system", event: "disconnected" });
    expect((await reconnectionClose(url, connected.connectionId, connected.reconnectionToken)).code).toBe(1008);
  });

  it("closes with 1008 when the unacked frames pass 16 MB, however few they are", async () => {
    expect(DEFAULT_MAX_UNACKED_BYTES).toBe(16 * 1024 * 1024);
    const { standIn: server, service } = await standIn();
    const { probe } = await reliableSocket(service, "mallory");
    const closed = new Promise<number>((resolve) => probe.socket.once("close", resolve));
    const megabyte = "x".repeat(1024 * 1024 - 100);
    let delivered = 0;
    while (delivered < 20 && server.sendToUserDirect(HUB, "mallory", { megabyte }) === 1) delivered++;
    expect(delivered).toBe(16);
    expect(await closed).toBe(1008);
  });

  it("acks up to the bound keep a session open however many messages pass", async () => {
    const { standIn: server, service } = await standIn({ maxUnackedMessages: 3 });
    const { probe } = await reliableSocket(service, "judy");
    for (let n = 1; n <= 9; n++) {
      expect(server.sendToUserDirect(HUB, "judy", { n })).toBe(1);
      if (n % 3 === 0) {
        await probe.waitFor((f) => f.sequenceId === n);
        probe.socket.send(JSON.stringify({ type: "sequenceAck", sequenceId: n }));
        await settle(20);
      }
    }
    expect(probe.socket.readyState).toBe(probe.socket.OPEN);
  });

  it("declines a malformed sequenceAck", async () => {
    const { service } = await standIn();
    const { probe } = await reliableSocket(service, "mallory");
    const closed = new Promise<number>((resolve) => probe.socket.once("close", resolve));
    probe.socket.send(JSON.stringify({ type: "sequenceAck", sequenceId: "three" }));
    expect(await closed).toBe(1008);
  });
});
