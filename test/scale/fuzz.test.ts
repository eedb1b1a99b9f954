/**
 * Property-based fuzzing of every function over real HTTP: the local host against the real
 * database (the run's PostgreSQL server), valid and hostile requests mixed.
 * Whatever arrives, the answer is never a 5xx, every error is JSON with a `detail`, and the
 * server keeps serving. The Web PubSub stand-in gets a smaller share.
 *
 * Knobs (read here only): FUZZ_RUNS (API requests, default 2400), FUZZ_SEED (default fixed,
 * so CI repeats itself; a failure prints the seed and path that reproduce it),
 * FUZZ_CONCURRENCY (requests in flight, default 8).
 */
import http from "node:http";
import { WebPubSubServiceClient } from "@azure/web-pubsub";
import fc from "fast-check";
import jwt from "jsonwebtoken";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { registeredFunctions } from "../../local/functions-core";
import { compileRoute } from "../../local/routes";
import { registerOverHttp, TEST_PASSWORD, type HttpUser } from "../support/api";
import {
  anyNumberish,
  anyText,
  expandRaw,
  latin1,
  rawRequestArbitrary,
  requestArbitrary,
  ruleBroken,
  sendRequest,
  urlPiece,
  type FunctionShape,
  type FuzzRequest,
  type Identities,
} from "../support/fuzz-requests";
import { rawRequest } from "../support/raw-http";
import { useLocalStack } from "../support/stack";

const REQUESTS = Number(process.env.FUZZ_RUNS ?? 2400);
const SEED = Number(process.env.FUZZ_SEED ?? 20261124);
const CONCURRENCY = Math.max(1, Number(process.env.FUZZ_CONCURRENCY ?? 8));
const RAW_REQUESTS = Math.max(200, Math.round(REQUESTS / 8));
const STAND_IN_REQUESTS = Math.max(300, Math.round(REQUESTS / 8));
// Generous: this is a bound against hangs, not a speed target.
const FUZZ_TIMEOUT_MS = 15 * 60_000;

const local = useLocalStack();
let port: number;
let users: HttpUser[];
let ids: Identities;
const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

beforeAll(async () => {
  port = Number(new URL(local.url).port);
  users = [await registerOverHttp(local.url, "fuzz_alice"), await registerOverHttp(local.url, "fuzz_bob")];
  const messageIds: number[] = [];
  for (const [from, to] of [
    [0, 1],
    [1, 0],
    [0, 1],
  ]) {
    const sent = await fetch(`${local.url}/messages/`, {
      method: "POST",
      headers: { authorization: `Bearer ${users[from].token}`, "content-type": "application/json" },
      body: JSON.stringify({ recipient_id: users[to].id, title: "seed", body: "seed" }),
    });
    messageIds.push(((await sent.json()) as { id: number }).id);
  }
  for (let slot = 0; slot < THROWAWAY_CALLERS; slot++) accountTokens.push(await newThrowawayToken());
  const secret = process.env.SECRET_KEY as string;
  const now = Math.floor(Date.now() / 1000);
  ids = {
    tokens: users.map((u) => u.token),
    accountTokens,
    userIds: users.map((u) => u.id),
    messageIds,
    badTokens: [
      jwt.sign({ sub: "fuzz_alice", uid: users[0].id, exp: now - 60 }, secret),
      jwt.sign({ sub: "fuzz_alice", uid: users[0].id, exp: now + 600 }, "some-other-secret-some-other-secret"),
      jwt.sign({ sub: "ghost", uid: 987_654, exp: now + 600 }, secret),
      jwt.sign({ sub: "fuzz_alice", exp: now + 600 }, secret, { algorithm: "HS512" }),
      jwt.sign({ sub: "fuzz_alice", uid: users[0].id }, secret),
      // Signed with the real key but carrying what PostgreSQL cannot take: refused, not a 500.
      jwt.sign({ sub: "nul\u0000user", exp: now + 600 }, secret),
      jwt.sign({ sub: "fuzz_alice", uid: 2 ** 40, exp: now + 600 }, secret),
      jwt.sign({ sub: "lone\ud800", uid: "x", exp: now + 600 }, secret),
    ],
    eventHandlerKey: process.env.WEBPUBSUB_EVENT_HANDLER_KEY ?? "no-key",
    allowedOrigin: "http://localhost:5173",
  };
});
afterAll(async () => {
  agent.destroy();
});

// The account's own routes (users/me...) include signing out everywhere, ending a session, changing
// the password and deleting the account, and another method on any of them may reach those. Their
// calls carry throwaway users' tokens, so the shared users above keep working for every other
// function; a throwaway token that stops working is replaced by a new user's after the batch.
const THROWAWAY_CALLERS = 4;
const accountTokens: string[] = [];
let throwaways = 0;
const newThrowawayToken = async () => (await registerOverHttp(local.url, `fuzz_acct_${throwaways++}`)).token;
const isAccountRoute = (route: string) => route === "users/me" || route.startsWith("users/me/");

async function replaceSpentThrowawayTokens(): Promise<void> {
  for (const [slot, token] of accountTokens.entries()) {
    const me = await fetch(`${local.url}/users/me`, { headers: { authorization: `Bearer ${token}` } });
    if (me.status === 401) accountTokens[slot] = await newThrowawayToken();
    else expect(me.status).toBe(200);
  }
}

const ints = fc.oneof(fc.constantFrom("0", "1", "5", "1000", "1001", "-1"), anyNumberish.map(String));

/** What we know about the functions' inputs; a function missing here is still fuzzed from its route. */
function shapes(): Record<string, FunctionShape> {
  const token = fc.constantFrom(...ids.tokens);
  const userId = fc.constantFrom(...ids.userIds);
  const messageId = fc.constantFrom(...ids.messageIds).map(String);
  const title = fc.oneof(fc.string({ minLength: 1, maxLength: 30 }), anyText);
  return {
    "users-create": { json: { username: fc.stringMatching(/^fz_[a-z0-9]{1,12}$/), password: fc.constant(TEST_PASSWORD) } },
    "token-create": {
      form: {
        username: fc.constantFrom("fuzz_alice", "fuzz_bob", "FUZZ_ALICE", "nobody"),
        password: fc.constantFrom(TEST_PASSWORD, "wrong-password"),
        grant_type: fc.constant("password"),
      },
    },
    "users-list": { auth: true, query: { q: fc.constantFrom("fuzz", "F", "_", "%"), skip: ints, limit: ints } },
    "messages-send": {
      auth: true,
      json: { recipient_id: fc.oneof(userId, userId.map(String)), title, body: title },
      headers: { "idempotency-key": fc.oneof(fc.uuid(), fc.constantFrom("k".repeat(300), "key with spaces", "")) },
    },
    "messages-inbox": {
      auth: true,
      query: { limit: ints, before_id: ints, unread: fc.constantFrom("true", "false", "1", "yes", "maybe") },
    },
    "messages-outbox": { auth: true, query: { limit: ints, before_id: ints } },
    "messages-unread-count": { auth: true },
    "events-list": { auth: true, query: { after: ints, limit: ints } },
    "messages-mark-read": { auth: true, params: { message_id: messageId } },
    "ws-negotiate": { auth: true, query: { token } },
    docs: {
      params: {
        asset: fc.constantFrom(
          "",
          "index.html",
          "swagger-ui.css",
          "swagger-initializer.js",
          "favicon-16x16.png",
          "package.json",
          "../package.json",
        ),
      },
    },
    "webpubsub-events": {
      query: { key: fc.constantFrom(ids.eventHandlerKey, "wrong-key") },
      json: { userId: userId.map(String) },
      headers: {
        "ce-type": fc.constantFrom(
          "azure.webpubsub.sys.connected",
          "azure.webpubsub.sys.disconnected",
          "azure.webpubsub.sys.connect",
          "azure.webpubsub.user.message",
        ),
        "ce-userid": fc.oneof(userId.map(String), fc.constantFrom("99999999999", "1e3", "-1", "x")),
        "ce-connectionid": fc.oneof(fc.uuid(), anyText.map(latin1)),
        "ce-hub": fc.constantFrom("notifications", "other"),
        "ce-eventname": fc.constantFrom("connected", "disconnected", "message"),
        "ce-specversion": fc.constant("1.0"),
        "ce-id": fc.uuid(),
        "ce-source": fc.constant("/hubs/notifications/client/x"),
        "ce-awpsversion": fc.constant("1.0"),
        "webhook-request-origin": fc.constantFrom("127.0.0.1", "example.com"),
      },
    },
  };
}

interface Tally {
  sent: number;
  byFunction: Map<string, number>;
  byStatus: Map<number, number>;
  broken: string[];
}

const newTally = (): Tally => ({ sent: 0, byFunction: new Map(), byStatus: new Map(), broken: [] });
const bump = <K>(map: Map<K, number>, key: K) => map.set(key, (map.get(key) ?? 0) + 1);

function describeRequest(r: FuzzRequest): string {
  return JSON.stringify({ method: r.method, target: r.target, headers: r.headers, body: r.body?.toString("utf8").slice(0, 300) });
}

describe("fuzzing the API over HTTP", () => {
  it(
    `answers ${REQUESTS} generated requests to every function without a 5xx, errors always JSON with a detail`,
    async () => {
      const functions = registeredFunctions().filter((f) => f.trigger.type.toLowerCase() === "httptrigger");
      const known = shapes();
      const routeOf = (f: (typeof functions)[number]) => f.trigger.route ?? f.name;
      const accountFunctions = new Set(functions.filter((f) => isAccountRoute(routeOf(f))).map((f) => f.name));
      const perFunction = functions.map((f) =>
        requestArbitrary(
          { name: f.name, route: routeOf(f), methods: (f.trigger.methods ?? ["GET", "POST"]).map((m) => m.toUpperCase()) },
          { ...known[f.name], throwawayCaller: accountFunctions.has(f.name) },
          ids,
        ),
      );
      const tally = newTally();
      const batches = Math.ceil(REQUESTS / CONCURRENCY);
      await fc.assert(
        fc.asyncProperty(fc.array(fc.oneof(...perFunction), { minLength: CONCURRENCY, maxLength: CONCURRENCY }), async (batch) => {
          const answers = await Promise.all(
            batch.map((request) => sendRequest(port, request, agent).then((response) => ({ request, response }))),
          );
          const broken: string[] = [];
          for (const { request, response } of answers) {
            tally.sent++;
            bump(tally.byFunction, request.fn);
            bump(tally.byStatus, response.status);
            const why = ruleBroken(request, response);
            if (why) broken.push(`${why} for ${describeRequest(request)}`);
          }
          tally.broken.push(...broken);
          expect(broken).toEqual([]);
          const mayHaveEndedSessions = answers.some(
            ({ request, response }) =>
              response.status < 300 && !["GET", "HEAD", "OPTIONS"].includes(request.method) && accountFunctions.has(request.fn),
          );
          if (mayHaveEndedSessions) await replaceSpentThrowawayTokens();
        }),
        { numRuns: batches, seed: SEED, endOnFailure: true },
      );

      console.log(
        `fuzz: ${tally.sent} requests (seed ${SEED}); statuses ${JSON.stringify(Object.fromEntries([...tally.byStatus].sort((a, b) => a[0] - b[0])))}`,
      );
      expect(tally.sent).toBeGreaterThanOrEqual(Math.min(REQUESTS, 2000));
      // Every function got its share, and the generators reached it (not only the 404 around it).
      for (const f of functions)
        expect(tally.byFunction.get(f.name) ?? 0, f.name).toBeGreaterThanOrEqual(Math.floor(REQUESTS / functions.length / 3));
      // The valid part of the mix really is valid: some of everything succeeded.
      expect(tally.byStatus.get(200) ?? 0).toBeGreaterThan(REQUESTS / 10);
      expect(tally.byStatus.get(422) ?? 0).toBeGreaterThan(REQUESTS / 20);
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    `answers ${RAW_REQUESTS} raw requests (broken request lines, bad Host, control bytes in headers) with a 4xx JSON detail or a normal answer`,
    async () => {
      const paths = registeredFunctions().map((f) => `/${compileRoute("", f.trigger.route ?? f.name).template.replace(/\{[^}]+\}/g, "1")}`);
      let sent = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(rawRequestArbitrary(paths), { minLength: CONCURRENCY, maxLength: CONCURRENCY }), async (batch) => {
          const answers = await Promise.all(batch.map(async (bytes) => ({ bytes, response: await rawRequest(port, expandRaw(bytes)) })));
          const broken = answers.flatMap(({ bytes, response }) => {
            sent++;
            if (response.status < 100) return [`no answer to ${JSON.stringify(bytes.slice(0, 300))}`];
            const why = ruleBroken(
              { method: bytes.split(" ")[0] },
              { status: response.status, contentType: response.headers["content-type"] ?? "", text: response.text },
            );
            return why ? [`${why} for ${JSON.stringify(bytes.slice(0, 300))}`] : [];
          });
          expect(broken).toEqual([]);
        }),
        { numRuns: Math.ceil(RAW_REQUESTS / CONCURRENCY), seed: SEED, endOnFailure: true },
      );
      expect(sent).toBeGreaterThanOrEqual(RAW_REQUESTS);
    },
    FUZZ_TIMEOUT_MS,
  );

  it("still serves normal requests afterwards", async () => {
    const health = await fetch(`${local.url}/health`);
    expect(await health.json()).toEqual({ status: "ok" });
    const count = await fetch(`${local.url}/messages/unread_count/`, { headers: { authorization: `Bearer ${users[1].token}` } });
    expect(count.status).toBe(200);
  });
});

describe("fuzzing the Web PubSub stand-in", () => {
  /** The operations the SDK calls, by method. */
  const OPERATIONS: [string, string][] = [
    ["POST", "/api/hubs/{hub}/:send"],
    ["POST", "/api/hubs/{hub}/users/{id}/:send"],
    ["POST", "/api/hubs/{hub}/groups/{id}/:send"],
    ["POST", "/api/hubs/{hub}/connections/{id}/:send"],
    ["HEAD", "/api/hubs/{hub}/users/{id}"],
    ["HEAD", "/api/hubs/{hub}/connections/{id}"],
    ["PUT", "/api/hubs/{hub}/groups/{id}/connections/{id}"],
    ["POST", "/api/hubs/{hub}/:closeConnections"],
    ["POST", "/api/hubs/{hub}/users/{id}/:closeConnections"],
    ["DELETE", "/api/hubs/{hub}/connections/{id}/groups"],
    ["GET", "/client/hubs/{hub}"],
    ["GET", "/"],
  ];

  it(
    `answers ${STAND_IN_REQUESTS} generated REST calls and raw requests without a 5xx, and keeps serving the SDK`,
    async () => {
      const standIn = local.stack.webPubSub!;
      const accessKey = /AccessKey=([^;]+)/.exec(standIn.connectionString)![1];
      const piece = fc.oneof(
        { weight: 5, arbitrary: fc.constantFrom("notifications", "h1", "user-1") },
        { weight: 2, arbitrary: urlPiece },
        { weight: 1, arbitrary: fc.constant("") },
      );
      const call = fc
        .record({
          operation: fc.constantFrom(...OPERATIONS),
          otherMethod: fc.oneof(
            { weight: 4, arbitrary: fc.constant(null) },
            { weight: 1, arbitrary: fc.constantFrom("POST", "HEAD", "PUT", "DELETE", "GET", "PATCH") },
          ),
          hub: piece,
          id: piece,
          query: fc.constantFrom(
            "?api-version=2024-01-01",
            "",
            "?api-version=2024-01-01&excluded=x&excluded=%zz",
            "?filter=x",
            "?reason=%00",
            "?%zz",
          ),
          signed: fc.constantFrom("exact", "exact", "exact", "exact", "exact", "none", "other-path", "wrong-key"),
          contentType: fc.constantFrom("application/json", "text/plain", "application/octet-stream", "image/png", ""),
          body: fc.oneof(
            anyText.map((t) => JSON.stringify({ t })),
            fc.constantFrom("{", "", "\u0000"),
          ),
        })
        .map(({ operation: [ownMethod, template], otherMethod, hub, id, query, signed, contentType, body }): FuzzRequest => {
          const method = otherMethod ?? ownMethod;
          const target = `${template.replace("{hub}", hub).replaceAll("{id}", id)}${query}`;
          const audience = signed === "other-path" ? `${standIn.endpoint}/api/hubs/x/:send` : `${standIn.endpoint}${target}`;
          const headers: Record<string, string> = contentType ? { "content-type": contentType } : {};
          if (signed !== "none")
            headers.authorization = `Bearer ${jwt.sign({ aud: audience }, signed === "wrong-key" ? "wrong-key-wrong-key-wrong-key" : accessKey, { expiresIn: 60 })}`;
          const withBody = method !== "GET" && method !== "HEAD";
          return { fn: "stand-in", method, target, headers, body: withBody ? Buffer.from(body) : undefined };
        });
      const statuses = new Map<number, number>();
      let sent = 0;
      const rawShare = Math.ceil(STAND_IN_REQUESTS / 3);
      await fc.assert(
        fc.asyncProperty(fc.array(call, { minLength: CONCURRENCY, maxLength: CONCURRENCY }), async (batch) => {
          const answers = await Promise.all(
            batch.map(async (request) => ({ request, response: await sendRequest(standIn.port, request, agent) })),
          );
          const broken = answers.flatMap(({ request, response }) => {
            sent++;
            bump(statuses, response.status);
            return response.status >= 500 ? [`status ${response.status} for ${describeRequest(request)}`] : [];
          });
          expect(broken).toEqual([]);
        }),
        { numRuns: Math.ceil((STAND_IN_REQUESTS - rawShare) / CONCURRENCY), seed: SEED, endOnFailure: true },
      );
      await fc.assert(
        fc.asyncProperty(rawRequestArbitrary(["/api/hubs/notifications/:send", "/client/hubs/notifications", "/"]), async (bytes) => {
          const response = await rawRequest(standIn.port, expandRaw(bytes));
          sent++;
          bump(statuses, response.status);
          expect(response.status, JSON.stringify(bytes.slice(0, 300))).toBeGreaterThanOrEqual(100);
          expect(response.status, JSON.stringify(bytes.slice(0, 300))).toBeLessThan(500);
        }),
        { numRuns: rawShare, seed: SEED, endOnFailure: true },
      );
      console.log(
        `stand-in fuzz: ${sent} requests; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`,
      );
      expect(sent).toBeGreaterThanOrEqual(STAND_IN_REQUESTS);
      const service = new WebPubSubServiceClient(standIn.connectionString, "notifications", { allowInsecureConnection: true });
      await expect(service.sendToUser(String(users[0].id), { still: "alive" })).resolves.toBeDefined();
    },
    FUZZ_TIMEOUT_MS,
  );
});
