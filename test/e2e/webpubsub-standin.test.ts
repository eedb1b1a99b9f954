/** The stand-in speaks Web PubSub: the real SDK and plain WebSocket clients work against it unchanged. */
import { createHmac } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { WebPubSubServiceClient } from "@azure/web-pubsub";
import jwt from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";

import { startWebPubSubStandIn, type WebPubSubStandIn } from "../../local/webpubsub";

const KEY = "stand-in-test-access-key-0123456789abcdef";
const HUB = "testhub";
const PUBSUB = "json.webpubsub.azure.v1";
/**
 * The longest a test waits for something that will happen (a frame, an event, a close): generous,
 * as a loaded machine delays timers and sockets; a passing test waits only as long as the thing takes.
 */
const PATIENCE_MS = 10_000;

interface Frame {
  binary: boolean;
  data: Buffer;
}

/** A client socket that records every frame exactly as it arrived. */
class Client {
  readonly frames: Frame[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private wake: (() => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data, binary) => {
      this.frames.push({ binary, data: Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer) });
      for (const wake of this.wake.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => socket.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static open(url: string, protocols?: string[]): Promise<Client> {
    return new Promise((resolve, reject) => {
      const client = new Client(new WebSocket(url, protocols));
      client.socket.once("open", () => {
        clients.push(client);
        resolve(client);
      });
      client.socket.once("unexpected-response", (_req, res) => reject(new Error(`handshake refused: ${res.statusCode}`)));
      client.socket.once("error", reject);
    });
  }

  texts(): string[] {
    return this.frames.filter((f) => !f.binary).map((f) => f.data.toString());
  }

  /** The first JSON text frame `match` accepts, waiting for it. */
  async next(match: (frame: Record<string, unknown>) => boolean = () => true): Promise<Record<string, unknown>> {
    const deadline = Date.now() + PATIENCE_MS;
    for (;;) {
      const found = this.texts()
        .map((t) => JSON.parse(t) as Record<string, unknown>)
        .find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching frame; got ${JSON.stringify(this.texts())}`);
      await new Promise<void>((resolve) => {
        this.wake.push(resolve);
        setTimeout(resolve, 50);
      });
    }
  }

  async nextFrame(): Promise<Frame> {
    const deadline = Date.now() + PATIENCE_MS;
    while (this.frames.length === 0) {
      if (Date.now() > deadline) throw new Error("no frame");
      await settle(10);
    }
    return this.frames[0];
  }

  close(): Promise<unknown> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    this.socket.close();
    return this.closed;
  }
}

interface UpstreamRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `condition` holds, for something that will happen; a fixed sleep is only for what must not. */
async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + PATIENCE_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await settle(10);
  }
}

const clients: Client[] = [];
const upstreamRequests: UpstreamRequest[] = [];
let upstream: http.Server;
let standIn: WebPubSubStandIn;
let service: WebPubSubServiceClient;

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      upstreamRequests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      // The abuse-protection handshake: allow the origin that asks.
      const origin = req.headers["webhook-request-origin"];
      res.writeHead(200, req.method === "OPTIONS" && typeof origin === "string" ? { "WebHook-Allowed-Origin": origin } : {}).end();
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  const upstreamPort = (upstream.address() as AddressInfo).port;
  standIn = await startWebPubSubStandIn({
    port: 0,
    accessKey: KEY,
    eventHandlerUrl: (hub) => (hub === HUB ? `http://127.0.0.1:${upstreamPort}/events` : undefined),
  });
  service = new WebPubSubServiceClient(standIn.connectionString, HUB, { allowInsecureConnection: true });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await standIn?.close();
  await new Promise((resolve) => upstream.close(resolve));
});

async function connect(userId: string, options: { roles?: string[]; protocols?: string[] } = {}): Promise<Client> {
  const { url } = await service.getClientAccessToken({ userId, roles: options.roles });
  return Client.open(url, options.protocols);
}

/** The HTTP status a refused handshake answered with. */
function handshakeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.once("unexpected-response", (_req, res) => {
      res.resume();
      socket.terminate();
      resolve(res.statusCode ?? 0);
    });
    socket.once("open", () => {
      socket.close();
      reject(new Error("the handshake was accepted"));
    });
    socket.once("error", () => {});
  });
}

/** A REST call signed as the SDK signs it: the audience is the full request URL. */
function signedFetch(path: string, init: RequestInit): Promise<Response> {
  const url = `${standIn.endpoint}${path}`;
  const token = jwt.sign({}, KEY, { audience: url, expiresIn: "1h", algorithm: "HS256" });
  return fetch(url, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${token}` } });
}

const clientUrl = (hub: string, token: string) => `${standIn.endpoint.replace("http", "ws")}/client/hubs/${hub}?access_token=${token}`;
const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

describe("plain WebSocket clients", () => {
  it("get sendToUser as one text frame holding the JSON exactly, and only that user's sockets do", async () => {
    const [a1, a2, b] = [await connect("1"), await connect("1"), await connect("2")];
    await service.sendToUser("1", { a: 1, nested: { ok: true } });
    for (const socket of [a1, a2]) {
      const frame = await socket.nextFrame();
      expect(frame.binary).toBe(false);
      expect(frame.data.toString()).toBe('{"a":1,"nested":{"ok":true}}');
    }
    await settle(100);
    expect(b.frames).toEqual([]);
    expect(a1.frames).toHaveLength(1);

    await service.sendToAll({ all: true });
    await b.next((f) => f.all === true);
    await a1.next((f) => f.all === true);
  });

  it("get text/plain as a text frame and octet-stream as a binary frame", async () => {
    const socket = await connect("typed");
    await service.sendToUser("typed", "plain words", { contentType: "text/plain" });
    expect(await socket.nextFrame()).toEqual({ binary: false, data: Buffer.from("plain words") });
    socket.frames.length = 0;
    await service.sendToUser("typed", Buffer.from([0, 1, 2, 255]));
    expect(await socket.nextFrame()).toEqual({ binary: true, data: Buffer.from([0, 1, 2, 255]) });
  });

  it("answer userExists and are closed by closeUserConnections", async () => {
    const socket = await connect("closable");
    expect(await service.userExists("closable")).toBe(true);
    expect(await service.userExists("nobody")).toBe(false);
    await service.closeUserConnections("closable", { reason: "bye" });
    expect(await socket.closed).toEqual({ code: 1000, reason: "bye" });
    expect(await service.userExists("closable")).toBe(false);
  });

  it("are counted, and reached directly by sendToUserDirect", async () => {
    const before = standIn.connectionCount(HUB);
    const socket = await connect("direct");
    expect(standIn.connectionCount(HUB)).toBe(before + 1);
    expect(standIn.connectionCount("otherhub")).toBe(0);
    expect(standIn.sendToUserDirect(HUB, "direct", { floor: 1 })).toBe(1);
    expect(standIn.sendToUserDirect(HUB, "nobody", { floor: 1 })).toBe(0);
    expect((await socket.nextFrame()).data.toString()).toBe('{"floor":1}');
    await socket.close();
    await until(() => standIn.connectionCount(HUB) === before, "the closed socket to be uncounted");
  });
});

describe("REST sends", () => {
  it("answer 202 before delivering; each connection gets its sends in order", async () => {
    const slow = await startWebPubSubStandIn({ port: 0, accessKey: KEY, deliveryJitterMs: 300 });
    try {
      const slowService = new WebPubSubServiceClient(slow.connectionString, HUB, { allowInsecureConnection: true });
      const sockets = await Promise.all(
        [1, 2].map(async () => Client.open((await slowService.getClientAccessToken({ userId: "later" })).url)),
      );
      for (let n = 0; n < 10; n++) await slowService.sendToUser("later", { n });
      // Accepted, not yet delivered: a client must wait for the frame.
      expect(sockets.map((s) => s.frames.length).reduce((a, b) => a + b)).toBeLessThan(20);
      for (const socket of sockets) {
        await socket.next((f) => f.n === 9);
        expect(socket.texts().map((t) => (JSON.parse(t) as { n: number }).n)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      }
    } finally {
      await slow.close();
    }
  });
});

describe("json.webpubsub.azure.v1 clients", () => {
  it("get a connected frame and messages in an envelope; sendToConnection reaches that connection only", async () => {
    const socket = await connect("json-user", { protocols: [PUBSUB] });
    const sibling = await connect("json-user");
    const connected = await socket.next((f) => f.type === "system");
    expect(connected).toEqual({ type: "system", event: "connected", userId: "json-user", connectionId: expect.any(String) });
    expect(await service.connectionExists(connected.connectionId as string)).toBe(true);
    expect(await service.connectionExists("no-such-connection")).toBe(false);

    await service.sendToConnection(connected.connectionId as string, { only: "me" });
    expect(await socket.next((f) => f.type === "message")).toEqual({
      type: "message",
      from: "server",
      dataType: "json",
      data: { only: "me" },
    });
    // The SDK accepts only 202 for a send, so one to a connection that is gone is accepted too.
    await service.sendToConnection("no-such-connection", { x: 1 });
    await settle(50);
    expect(sibling.frames).toEqual([]);
    await service.sendToAll("text", { contentType: "text/plain" });
    expect(await socket.next((f) => f.dataType === "text")).toEqual({ type: "message", from: "server", dataType: "text", data: "text" });
    await service.sendToAll(Buffer.from("bin"));
    expect(await socket.next((f) => f.dataType === "binary")).toMatchObject({ data: Buffer.from("bin").toString("base64") });
  });

  it("are refused joinGroup and sendToGroup without roles", async () => {
    const socket = await connect("no-roles", { protocols: [PUBSUB] });
    socket.socket.send(JSON.stringify({ type: "joinGroup", group: "g1", ackId: 1 }));
    socket.socket.send(JSON.stringify({ type: "sendToGroup", group: "g1", ackId: 2, dataType: "json", data: { x: 1 } }));
    expect(await socket.next((f) => f.ackId === 1)).toEqual({
      type: "ack",
      ackId: 1,
      success: false,
      error: { name: "Forbidden", message: expect.any(String) },
    });
    expect(await socket.next((f) => f.ackId === 2)).toMatchObject({ type: "ack", success: false, error: { name: "Forbidden" } });
    expect(await service.groupExists("g1")).toBe(false);
  });

  it("join, publish to and leave groups with the roles, per group when the role names one", async () => {
    const member = await connect("member", { protocols: [PUBSUB], roles: ["webpubsub.joinLeaveGroup", "webpubsub.sendToGroup"] });
    const narrow = await connect("narrow", { protocols: [PUBSUB], roles: ["webpubsub.joinLeaveGroup.g2"] });
    member.socket.send(JSON.stringify({ type: "joinGroup", group: "g1", ackId: 3 }));
    expect(await member.next((f) => f.ackId === 3)).toEqual({ type: "ack", ackId: 3, success: true });
    expect(await service.groupExists("g1")).toBe(true);

    member.socket.send(JSON.stringify({ type: "sendToGroup", group: "g1", ackId: 4, dataType: "json", data: { y: 2 } }));
    expect(await member.next((f) => f.type === "message")).toEqual({
      type: "message",
      from: "group",
      group: "g1",
      fromUserId: "member",
      dataType: "json",
      data: { y: 2 },
    });
    expect(await member.next((f) => f.ackId === 4)).toMatchObject({ success: true });

    member.socket.send(JSON.stringify({ type: "joinGroup", group: "g1", ackId: 3 }));
    expect(await member.next((f) => f.ackId === 3 && f.success === false)).toMatchObject({ error: { name: "Duplicate" } });
    expect(member.texts().filter((t) => t.includes('"ackId":3'))).toHaveLength(2);

    narrow.socket.send(JSON.stringify({ type: "joinGroup", group: "g2", ackId: 1 }));
    narrow.socket.send(JSON.stringify({ type: "joinGroup", group: "g3", ackId: 2 }));
    expect(await narrow.next((f) => f.ackId === 1)).toMatchObject({ success: true });
    expect(await narrow.next((f) => f.ackId === 2)).toMatchObject({ success: false, error: { name: "Forbidden" } });
    await service.group("g2").sendToAll({ to: "g2" });
    expect(await narrow.next((f) => f.type === "message")).toMatchObject({ from: "server", data: { to: "g2" } });

    member.socket.send(JSON.stringify({ type: "leaveGroup", group: "g1", ackId: 5 }));
    expect(await member.next((f) => f.ackId === 5)).toMatchObject({ success: true });
    expect(await service.groupExists("g1")).toBe(false);
  });

  it("are declined, not crashed on, when a frame is not the protocol", async () => {
    const socket = await connect("garbled", { protocols: [PUBSUB] });
    socket.socket.send("this is not json {");
    expect(await socket.next((f) => f.event === "disconnected")).toMatchObject({
      type: "system",
      event: "disconnected",
      message: expect.any(String),
    });
    expect((await socket.closed).code).toBe(1008);
    const again = await connect("garbled", { protocols: [PUBSUB] });
    again.socket.send(JSON.stringify({ type: "noSuchRequest", ackId: 1 }));
    await again.closed;
    expect(await service.userExists("garbled")).toBe(false);
  });
});

describe("the handshake", () => {
  it("accepts a token whose audience names another host of the same endpoint", async () => {
    const viaLocalhost = new WebPubSubServiceClient(standIn.connectionString.replace("127.0.0.1", "localhost"), HUB, {
      allowInsecureConnection: true,
    });
    const { token } = await viaLocalhost.getClientAccessToken({ userId: "localhost-user" });
    expect((jwt.decode(token) as jwt.JwtPayload).aud).toContain("localhost");
    const socket = await Client.open(clientUrl(HUB, token));
    expect(socket.socket.readyState).toBe(WebSocket.OPEN);
  });

  it("refuses missing, expired, forged, unsigned, never-expiring and other-hub tokens with 401", async () => {
    const { token } = await service.getClientAccessToken({ userId: "x" });
    const claims = jwt.decode(token) as jwt.JwtPayload;
    const expired = jwt.sign({ ...claims, exp: Math.floor(Date.now() / 1000) - 1 }, KEY, { algorithm: "HS256" });
    const forged = jwt.sign(claims, "some-other-key", { algorithm: "HS256" });
    const unsigned = `${base64url({ alg: "none", typ: "JWT" })}.${base64url(claims)}.`;
    const { exp: _exp, ...forever } = claims;
    const neverExpiring = jwt.sign(forever, KEY, { algorithm: "HS256" });
    const otherHub = (await new WebPubSubServiceClient(standIn.connectionString, "otherhub").getClientAccessToken({ userId: "x" })).token;

    for (const bad of ["", expired, forged, unsigned, neverExpiring]) expect(await handshakeStatus(clientUrl(HUB, bad))).toBe(401);
    expect(await handshakeStatus(clientUrl(HUB, otherHub))).toBe(401);
    expect(await handshakeStatus(clientUrl("otherhub", token))).toBe(401);
    // The genuine token still works, so the refusals above are about the token.
    await Client.open(clientUrl(HUB, token));
  });
});

describe("REST", () => {
  const noRetry = { allowInsecureConnection: true, retryOptions: { maxRetries: 0 } };

  it("refuses calls signed with another key, unsigned, or with a token for another URL", async () => {
    const impostor = new WebPubSubServiceClient(standIn.connectionString.replace(KEY, "wrong-key-wrong-key-wrong-key"), HUB, noRetry);
    await expect(impostor.sendToAll({ x: 1 })).rejects.toMatchObject({ statusCode: 401 });
    await expect(impostor.userExists("1")).rejects.toMatchObject({ statusCode: 401 });

    const url = `${standIn.endpoint}/api/hubs/${HUB}/:send?api-version=2024-12-01`;
    const post = (authorization?: string) =>
      fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", ...(authorization ? { authorization } : {}) },
        body: "{}",
      });
    expect((await post()).status).toBe(401);
    const forOtherUrl = jwt.sign({}, KEY, {
      audience: `${standIn.endpoint}/api/hubs/otherhub/:send?api-version=2024-12-01`,
      expiresIn: "1h",
      algorithm: "HS256",
    });
    expect((await post(`Bearer ${forOtherUrl}`)).status).toBe(401);
    const good = jwt.sign({}, KEY, { audience: url.replace("127.0.0.1", "localhost"), expiresIn: "1h", algorithm: "HS256" });
    expect((await post(`Bearer ${good}`)).status).toBe(202);
  });

  it("passes a JSON body on as its exact text", async () => {
    const socket = await connect("verbatim");
    const res = await signedFetch(`/api/hubs/${HUB}/users/verbatim/:send?api-version=2024-12-01`, {
      method: "POST",
      headers: { "content-type": "application/json; charset=utf-8" },
      body: '{ "spaced" : [1, 2] }',
    });
    expect(res.status).toBe(202);
    expect((await socket.nextFrame()).data.toString()).toBe('{ "spaced" : [1, 2] }');
  });

  it("answers 404 to unknown routes, 413 to bodies over 1 MB and 415 to other content types", async () => {
    expect((await signedFetch(`/api/hubs/${HUB}/nothing/:here?api-version=2024-12-01`, { method: "POST", body: "{}" })).status).toBe(404);
    expect((await signedFetch(`/api/hubs/${HUB}/:send?api-version=2024-12-01`, { method: "GET" })).status).toBe(404);
    expect(
      (await signedFetch(`/api/hubs/${HUB}/:send`, { method: "POST", headers: { "content-type": "application/xml" }, body: "<x/>" }))
        .status,
    ).toBe(415);

    const strict = new WebPubSubServiceClient(standIn.connectionString, HUB, noRetry);
    await expect(strict.sendToAll(Buffer.alloc(1024 * 1024 + 1))).rejects.toMatchObject({ statusCode: 413 });
    await strict.sendToAll(Buffer.alloc(1024 * 1024)); // exactly 1 MB is still accepted
  });

  it("answers slowly when told to", async () => {
    // A delay far above what a loopback call takes on a loaded machine, so the two sides never meet.
    const delayMs = 1_500;
    standIn.setRestDelay(delayMs);
    try {
      const started = Date.now();
      await service.sendToAll({ slow: true });
      expect(Date.now() - started).toBeGreaterThanOrEqual(delayMs - 10);
    } finally {
      standIn.setRestDelay(0);
    }
    const started = Date.now();
    await service.sendToAll({ slow: false });
    expect(Date.now() - started).toBeLessThan(delayMs - 10);
  });
});

describe("upstream system events", () => {
  it("posts connected and then disconnected as signed binary-mode CloudEvents", async () => {
    upstreamRequests.length = 0;
    const socket = await connect("evented");
    const connected = await waitForEvent("connected");
    const connectionId = connected.headers["ce-connectionid"] as string;
    expect(connected.method).toBe("POST");
    expect(connected.url).toBe("/events");
    expect(connected.headers).toMatchObject({
      "content-type": "application/json",
      "ce-specversion": "1.0",
      "ce-type": "azure.webpubsub.sys.connected",
      "ce-source": `/hubs/${HUB}/client/${connectionId}`,
      "ce-hub": HUB,
      "ce-userid": "evented",
      "ce-eventname": "connected",
      "ce-awpsversion": "1.0",
      "ce-signature": `sha256=${createHmac("sha256", KEY).update(connectionId).digest("hex")}`,
      "webhook-request-origin": new URL(standIn.endpoint).host,
    });
    expect(connected.headers["ce-id"]).toBeTruthy();
    expect(new Date(connected.headers["ce-time"] as string).getTime()).toBeGreaterThan(Date.now() - 10_000);
    expect(connected.body).toBe("{}");

    await socket.close();
    const disconnected = await waitForEvent("disconnected");
    expect(disconnected.headers).toMatchObject({
      "ce-type": "azure.webpubsub.sys.disconnected",
      "ce-connectionid": connectionId,
      "ce-userid": "evented",
    });
    expect(disconnected.headers["ce-signature"]).toBe(connected.headers["ce-signature"]);
    expect(JSON.parse(disconnected.body)).toEqual({ reason: expect.any(String) });
    expect(upstreamRequests.indexOf(connected)).toBeLessThan(upstreamRequests.indexOf(disconnected));
  });

  it("validates the handler with the abuse-protection OPTIONS before its first event", async () => {
    await standIn.validateEventHandler(HUB);
    const fresh = await startWebPubSubStandIn({
      port: 0,
      accessKey: KEY,
      eventHandlerUrl: () => `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/fresh`,
    });
    try {
      upstreamRequests.length = 0;
      const other = new WebPubSubServiceClient(fresh.connectionString, HUB, { allowInsecureConnection: true });
      const socket = await Client.open((await other.getClientAccessToken({ userId: "fresh" })).url);
      await waitForEvent("connected");
      expect(upstreamRequests[0]).toMatchObject({
        method: "OPTIONS",
        url: "/fresh",
        headers: { "webhook-request-origin": new URL(fresh.endpoint).host },
      });
      expect(upstreamRequests.filter((r) => r.method === "OPTIONS")).toHaveLength(1);
      await socket.close();
    } finally {
      await fresh.close();
    }
  });

  it.each([
    ["allows no origin", {}],
    ["allows another origin", { "WebHook-Allowed-Origin": "elsewhere.example" }],
  ])("sends no events to a handler that %s, and says why", async (_name, headers) => {
    const methods: string[] = [];
    const refusing = http.createServer((req, res) => {
      methods.push(req.method ?? "");
      req.resume();
      res.writeHead(200, headers).end();
    });
    await new Promise<void>((resolve) => refusing.listen(0, "127.0.0.1", resolve));
    const lines: string[] = [];
    const fresh = await startWebPubSubStandIn({
      port: 0,
      accessKey: KEY,
      eventHandlerUrl: () => `http://127.0.0.1:${(refusing.address() as AddressInfo).port}/events?key=secret-key`,
      log: (line) => lines.push(line),
    });
    try {
      await expect(fresh.validateEventHandler(HUB)).rejects.toThrow(/abuse-protection handshake: its WebHook-Allowed-Origin/);
      const other = new WebPubSubServiceClient(fresh.connectionString, HUB, { allowInsecureConnection: true });
      const socket = await Client.open((await other.getClientAccessToken({ userId: "refused" })).url);
      await socket.close();
      await until(() => lines.some((line) => line.includes("disconnected event")), "the disconnected event to be declined");
      // Time for an event that should not come.
      await settle(200);
      // Asked again before each event, and never sent one.
      expect(methods).toEqual(["OPTIONS", "OPTIONS", "OPTIONS"]);
      expect(lines.join("\n")).toMatch(/connected event for \w+ not sent: .*failed the abuse-protection handshake/);
      expect(lines.join("\n")).not.toContain("secret-key");
    } finally {
      await fresh.close();
      await new Promise((resolve) => refusing.close(resolve));
    }
  });

  it("posts nothing for a hub without an event handler", async () => {
    upstreamRequests.length = 0;
    const other = new WebPubSubServiceClient(standIn.connectionString, "quiethub", { allowInsecureConnection: true });
    const socket = await Client.open((await other.getClientAccessToken({ userId: "q" })).url);
    await socket.close();
    await settle(100);
    expect(upstreamRequests).toEqual([]);
  });
});

describe("close", () => {
  it("closes sockets, parked REST calls and the server without hanging, and can be called twice", async () => {
    const logged: string[] = [];
    const own = await startWebPubSubStandIn({
      port: 0,
      accessKey: KEY,
      restDelayMs: 10_000,
      eventHandlerUrl: () => "http://127.0.0.1:9/unreachable",
      log: (l) => logged.push(l),
    });
    const client = new WebPubSubServiceClient(own.connectionString, HUB, {
      allowInsecureConnection: true,
      retryOptions: { maxRetries: 0 },
    });
    const socket = await Client.open((await client.getClientAccessToken({ userId: "u" })).url);
    const parked = client.sendToAll({ never: "answered" }).catch((error: Error) => error);
    await settle(50);
    const started = Date.now();
    await own.close();
    expect(Date.now() - started).toBeLessThan(1_000);
    await socket.closed;
    expect(await parked).toBeInstanceOf(Error);
    await own.close();
    await expect(fetch(`${own.endpoint}/api/hubs/${HUB}/:send`, { method: "POST" })).rejects.toThrow();
  });
});

async function waitForEvent(name: string): Promise<UpstreamRequest> {
  const named = () => upstreamRequests.find((r) => r.headers["ce-eventname"] === name);
  await until(() => named() !== undefined, `the ${name} event`);
  return named() as UpstreamRequest;
}
