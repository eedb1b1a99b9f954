/** The stand-in speaks Web PubSub: the real SDK and plain WebSocket clients work against it unchanged. */
import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { WebPubSubServiceClient } from "@azure/web-pubsub";
import jwt from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startWebPubSubStandIn, type WebPubSubStandIn } from "../local/webpubsub";
import { SocketProbe, settle } from "./support/sockets";

const KEY = "stand-in-test-access-key-0123456789abcdef";
const HUB = "testhub";

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

let standIn: WebPubSubStandIn;
let service: WebPubSubServiceClient;
let upstream: http.Server;
const received: Received[] = [];
const probes: SocketProbe[] = [];

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  const upstreamPort = (upstream.address() as AddressInfo).port;
  standIn = await startWebPubSubStandIn({ port: 0, accessKey: KEY, eventHandlerUrl: (hub) => (hub === HUB ? `http://127.0.0.1:${upstreamPort}/events` : undefined) });
  service = new WebPubSubServiceClient(standIn.connectionString, HUB, { allowInsecureConnection: true });
});
afterAll(async () => {
  await Promise.all(probes.map((p) => p.close()));
  await standIn.close();
  await new Promise((resolve) => upstream.close(resolve));
});

async function open(userId: string, options: { roles?: string[]; protocols?: string[] } = {}): Promise<SocketProbe> {
  const { url } = await service.getClientAccessToken({ userId, roles: options.roles });
  const probe = await SocketProbe.open(url, options.protocols);
  probes.push(probe);
  return probe;
}

describe("client connections", () => {
  it("delivers sendToUser as the exact JSON text to every socket of that user only", async () => {
    const [a1, a2, b] = [await open("u1"), await open("u1"), await open("u2")];
    await service.sendToUser("u1", { hello: "world", n: 1 });
    for (const probe of [a1, a2]) expect(await probe.waitFor((f) => f.hello === "world")).toEqual({ hello: "world", n: 1 });
    await settle(100);
    expect(b.frames).toEqual([]);
    await service.sendToAll({ all: true });
    await b.waitFor((f) => f.all === true);
    await a1.waitFor((f) => f.all === true);
  });

  it("delivers text as text and answers userExists", async () => {
    const { url } = await service.getClientAccessToken({ userId: "texter" });
    const socket = new WebSocket(url);
    await new Promise((resolve) => socket.once("open", resolve));
    const frame = new Promise<string>((resolve) => socket.once("message", (data) => resolve(data.toString())));
    await service.sendToUser("texter", "plain words", { contentType: "text/plain" });
    expect(await frame).toBe("plain words");
    expect(await service.userExists("texter")).toBe(true);
    expect(await service.userExists("nobody")).toBe(false);
    const closed = new Promise((resolve) => socket.once("close", resolve));
    await service.closeUserConnections("texter");
    await closed;
    expect(await service.userExists("texter")).toBe(false);
  });

  it("wraps frames for json.webpubsub.azure.v1 sockets and sends to one connection", async () => {
    const probe = await open("json-user", { protocols: ["json.webpubsub.azure.v1"] });
    const connected = await probe.waitFor((f) => f.type === "system");
    expect(connected).toMatchObject({ type: "system", event: "connected", userId: "json-user", connectionId: expect.any(String) });
    await service.sendToConnection(connected.connectionId as string, { only: "me" });
    expect(await probe.waitFor((f) => f.type === "message")).toEqual({ type: "message", from: "server", dataType: "json", data: { only: "me" } });
  });

  it("refuses joinGroup and sendToGroup without roles, and honours them with roles", async () => {
    const plain = await open("no-roles", { protocols: ["json.webpubsub.azure.v1"] });
    plain.socket.send(JSON.stringify({ type: "joinGroup", group: "g1", ackId: 1 }));
    plain.socket.send(JSON.stringify({ type: "sendToGroup", group: "g1", ackId: 2, dataType: "json", data: { x: 1 } }));
    expect(await plain.waitFor((f) => f.ackId === 1)).toMatchObject({ type: "ack", ackId: 1, success: false, error: { name: "Forbidden" } });
    expect(await plain.waitFor((f) => f.ackId === 2)).toMatchObject({ success: false, error: { name: "Forbidden" } });

    const member = await open("member", { protocols: ["json.webpubsub.azure.v1"], roles: ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"] });
    member.socket.send(JSON.stringify({ type: "joinGroup", group: "g1", ackId: 3 }));
    expect(await member.waitFor((f) => f.ackId === 3)).toEqual({ type: "ack", ackId: 3, success: true });
    member.socket.send(JSON.stringify({ type: "sendToGroup", group: "g1", ackId: 4, dataType: "json", data: { y: 2 } }));
    expect(await member.waitFor((f) => f.type === "message" && f.from === "group")).toMatchObject({ group: "g1", data: { y: 2 } });
  });

  it("refuses expired, forged and wrong-hub tokens at the handshake", async () => {
    const { token } = await service.getClientAccessToken({ userId: "x" });
    const claims = jwt.decode(token) as jwt.JwtPayload;
    const base = `${standIn.endpoint.replace("http", "ws")}/client/hubs/${HUB}?access_token=`;
    const expired = jwt.sign({ ...claims, exp: Math.floor(Date.now() / 1000) - 1 }, KEY, { algorithm: "HS256" });
    const forged = jwt.sign(claims, "some-other-key", { algorithm: "HS256" });
    await expect(SocketProbe.open(`${base}${expired}`)).rejects.toThrow(/401/);
    await expect(SocketProbe.open(`${base}${forged}`)).rejects.toThrow(/401/);
    await expect(SocketProbe.open(`${base}`)).rejects.toThrow(/401/);
    await expect(SocketProbe.open(`${standIn.endpoint.replace("http", "ws")}/client/hubs/otherhub?access_token=${token}`)).rejects.toThrow(/401/);
  });
});

describe("REST", () => {
  it("refuses calls signed with another key", async () => {
    const impostor = new WebPubSubServiceClient(standIn.connectionString.replace(KEY, "wrong-key-wrong-key-wrong-key"), HUB, { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } });
    await expect(impostor.sendToAll({ x: 1 })).rejects.toMatchObject({ statusCode: 401 });
  });

  it("answers slowly when told to", async () => {
    standIn.setRestDelay(300);
    try {
      const started = Date.now();
      await service.sendToAll({ slow: true });
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    } finally {
      standIn.setRestDelay(0);
    }
  });
});

describe("upstream system events", () => {
  it("posts connected and disconnected as signed CloudEvents", async () => {
    received.length = 0;
    const probe = await open("evented");
    const connected = await waitForEvent("connected");
    const connectionId = connected.headers["ce-connectionid"] as string;
    expect(connected.headers).toMatchObject({
      "ce-specversion": "1.0",
      "ce-type": "azure.webpubsub.sys.connected",
      "ce-hub": HUB,
      "ce-userid": "evented",
      "ce-eventname": "connected",
      "ce-awpsversion": "1.0",
      "ce-signature": `sha256=${createHmac("sha256", KEY).update(connectionId).digest("hex")}`,
      "content-type": "application/json",
    });
    expect(connected.headers["webhook-request-origin"]).toBeTruthy();
    expect(JSON.parse(connected.body)).toEqual({});
    await probe.close();
    const disconnected = await waitForEvent("disconnected");
    expect(disconnected.headers["ce-connectionid"]).toBe(connectionId);
    expect(JSON.parse(disconnected.body)).toHaveProperty("reason");
  });
});

async function waitForEvent(name: string): Promise<Received> {
  for (let i = 0; i < 100; i++) {
    const found = received.find((r) => r.headers["ce-eventname"] === name);
    if (found) return found;
    await settle(20);
  }
  throw new Error(`no ${name} event`);
}
