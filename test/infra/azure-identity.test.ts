/**
 * The Azure code path, run locally: the app in its own process with exactly Azure's settings
 * (POSTGRES_*, AZURE_CLIENT_ID, WEBPUBSUB_ENDPOINT, IDENTITY_ENDPOINT/IDENTITY_HEADER, the
 * local CA through NODE_EXTRA_CA_CERTS), signing in to PostgreSQL and Web PubSub with tokens
 * of its managed identity from the local identity endpoint.
 */
import { randomUUID } from "node:crypto";
import https from "node:https";
import jwt from "jsonwebtoken";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { createLocalCertificates, type LocalCertificates } from "../../local/azure-identity/certificates";
import { spawnApp, type RunningApp } from "../../local/azure-identity/spawn-app";
import { startAzureIdentityStack, type AzureIdentityStack } from "../../local/azure-identity/stack";
import { Issuer, MSI_API_VERSION, RESOURCES, startIdentityEndpoint, type IdentityEndpoint } from "../../local/identity";
import type { IdentityClaims } from "../../local/identity/issuer";
import { startWebPubSubStandIn, type WebPubSubStandIn } from "../../local/webpubsub";
import { ERRORS } from "../../shared/domain/errors";
import { registerOverHttp } from "../support/api";
import { identityAppSettings } from "../support/identity-app";
import { SocketProbe, type Frame } from "../support/sockets";

// The run's PostgreSQL server (test/support/database-server.ts): the sign-in hands each verified
// session to it under the identity's own role and database.
const adminUrl = process.env.TEST_DATABASE_URL as string;

const cleanups: (() => Promise<unknown>)[] = [];

/** The app's output reaches us through a pipe, a moment after its HTTP answer. */
async function waitForOutput(app: RunningApp, pattern: RegExp, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(app.output.join("\n"))) {
    if (Date.now() > deadline) throw new Error(`no output matching ${pattern} within ${timeoutMs} ms:\n${app.output.join("\n")}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

describe("the local managed identity endpoint", () => {
  let endpoint: IdentityEndpoint;
  beforeAll(async () => {
    endpoint = await startIdentityEndpoint();
    cleanups.push(() => endpoint.close());
  });

  const ask = (query: Record<string, string>, header = endpoint.header) =>
    fetch(`${endpoint.url}?${new URLSearchParams(query)}`, { headers: header ? { "X-IDENTITY-HEADER": header } : {} });
  const good = () => ({ resource: RESOURCES.postgres, "api-version": MSI_API_VERSION, client_id: endpoint.issuer.clientId });

  it("issues a token for PostgreSQL and Web PubSub to its client id, in the App Service shape", async () => {
    for (const resource of [RESOURCES.postgres, RESOURCES.webPubSub]) {
      const res = await ask({ ...good(), resource });
      expect(res.status).toBe(200);
      const body = (await res.json()) as Record<string, string>;
      expect(body).toMatchObject({ resource, token_type: "Bearer", client_id: endpoint.issuer.clientId });
      expect(Number(body.expires_on)).toBeGreaterThan(Date.now() / 1000 + 60);
      expect(endpoint.issuer.verifierFor(resource)(body.access_token)).toMatchObject({ ok: true, clientId: endpoint.issuer.clientId });
    }
  });

  it("refuses another resource, another identity, a wrong or missing header and another api-version", async () => {
    expect((await ask({ ...good(), resource: "https://management.azure.com" })).status).toBe(400);
    expect((await ask({ ...good(), client_id: randomUUID() })).status).toBe(400);
    const { client_id: _unused, ...systemAssigned } = good();
    expect((await ask(systemAssigned)).status).toBe(400);
    expect((await ask(good(), "wrong")).status).toBe(401);
    expect((await ask(good(), "")).status).toBe(401);
    expect((await ask({ ...good(), "api-version": "2017-09-01" })).status).toBe(400);
  });
});

describe("the Web PubSub stand-in in Entra mode", () => {
  let certificates: LocalCertificates;
  let standIn: WebPubSubStandIn;
  const issuer = new Issuer(randomUUID());
  const accessKey = "stand-in-own-signing-key-0123456789abcdef";

  beforeAll(async () => {
    certificates = await createLocalCertificates();
    cleanups.push(() => certificates.remove());
    const verify = issuer.verifierFor(RESOURCES.webPubSub);
    standIn = await startWebPubSubStandIn({ port: 0, accessKey, tls: certificates, acceptBearer: (token) => verify(token).ok });
    cleanups.push(() => standIn.close());
  });

  /** A REST call over TLS that trusts only the local CA. */
  function post(pathAndQuery: string, token: string | undefined, body = "{}"): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = https.request(`${standIn.endpoint}${pathAndQuery}`, {
        method: "POST",
        ca: certificates.ca,
        headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      });
      req.on("response", (res) => {
        let text = "";
        res.on("data", (chunk: Buffer) => (text += chunk.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on("error", reject);
      req.end(body);
    });
  }

  const send = "/api/hubs/notifications/:send?api-version=2024-12-01";

  it("serves HTTPS with the local certificate, and accepts the identity's bearer token", async () => {
    expect(standIn.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect((await post(send, issuer.issue(RESOURCES.webPubSub).token)).status).toBe(202);
  });

  it("refuses no token, another audience, an expired token, another signer and an access-key token", async () => {
    const past = Math.floor(Date.now() / 1000) - 120;
    const accessKeyToken = jwt.sign({}, accessKey, { algorithm: "HS256", audience: `${standIn.endpoint}${send}`, expiresIn: 600 });
    for (const token of [
      undefined,
      issuer.issue(RESOURCES.postgres).token,
      issuer.issue(RESOURCES.webPubSub, { claims: { iat: past - 600, nbf: past - 600, exp: past } }).token,
      new Issuer(issuer.clientId).issue(RESOURCES.webPubSub).token,
      accessKeyToken,
    ]) {
      expect((await post(send, token)).status).toBe(401);
    }
  });

  it(":generateToken signs a client token for the user, roles and expiry asked for, and refuses bad arguments", async () => {
    const token = issuer.issue(RESOURCES.webPubSub).token;
    const answer = await post(
      "/api/hubs/notifications/:generateToken?api-version=2024-12-01&userId=42&role=webpubsub.joinLeaveGroup&minutesToExpire=5",
      token,
      "",
    );
    expect(answer.status).toBe(200);
    const claims = jwt.verify((JSON.parse(answer.text) as { token: string }).token, accessKey) as jwt.JwtPayload;
    expect(claims).toMatchObject({ sub: "42", role: ["webpubsub.joinLeaveGroup"], aud: `${standIn.endpoint}/client/hubs/notifications` });
    expect((claims.exp as number) - (claims.iat as number)).toBe(300);
    expect(
      (await post("/api/hubs/notifications/:generateToken?api-version=2024-12-01&userId=42&minutesToExpire=0", token, "")).status,
    ).toBe(400);
    expect((await post("/api/hubs/notifications/:generateToken?api-version=2024-12-01&clientType=MQTT", token, "")).status).toBe(400);
    expect((await post("/api/hubs/notifications/:generateToken?api-version=2024-12-01&userId=42", undefined, "")).status).toBe(401);
  });
});

describe("the app signed in by its managed identity", () => {
  let stack: AzureIdentityStack;
  let app: RunningApp;

  beforeAll(async () => {
    stack = await startAzureIdentityStack({ adminUrl: adminUrl as string, appUrl: () => app?.url });
    cleanups.push(() => stack.close());
    app = await spawnApp(identityAppSettings(stack));
    cleanups.push(() => app.stop());
    // The app is a fresh process that compiles every function first; slow on a loaded machine.
  }, 120_000);

  /** Connects to the sign-in as pg does from the app, with the given token as the password. */
  async function signIn(password: string, user = stack.role): Promise<void> {
    const client = new Client({
      host: stack.postgres.host,
      port: stack.postgres.port,
      database: stack.database,
      user,
      password,
      ssl: { ca: stack.certificates.ca, rejectUnauthorized: true },
      connectionTimeoutMillis: 5_000,
    });
    await client.connect();
    try {
      const { rows } = await client.query<{ user: string }>("SELECT current_user AS user");
      expect(rows[0].user).toBe(user);
    } finally {
      await client.end();
    }
  }

  describe("PostgreSQL sign-in", () => {
    const issue = (claims: Partial<IdentityClaims> = {}, resource: string = RESOURCES.postgres) =>
      stack.identity.issuer.issue(resource, { claims }).token;

    it("accepts the identity's token as the role's password, over verified TLS", async () => {
      await signIn(issue());
    });

    it("refuses a token for another audience, an expired one, one for another identity, one signed elsewhere and a plain password", async () => {
      const past = Math.floor(Date.now() / 1000) - 120;
      const refused = [
        issue({}, RESOURCES.webPubSub),
        issue({ iat: past - 3600, nbf: past - 3600, exp: past }),
        issue({ appid: randomUUID() }),
        new Issuer(stack.identity.issuer.clientId).issue(RESOURCES.postgres).token,
        "postgres",
      ];
      for (const token of refused) await expect(signIn(token)).rejects.toMatchObject({ code: "28P01" });
      await expect(signIn(issue(), "postgres")).rejects.toMatchObject({ code: "28P01" });
    });

    it("refuses a session without TLS, and one that does not trust the certificate", async () => {
      const base = { host: stack.postgres.host, port: stack.postgres.port, database: stack.database, user: stack.role, password: issue() };
      const plain = new Client({ ...base, ssl: false });
      await expect(plain.connect()).rejects.toMatchObject({ code: "28000" });
      const untrusting = new Client({ ...base, ssl: { rejectUnauthorized: true } });
      await expect(untrusting.connect()).rejects.toThrow(/self[- ]signed|unable to (get|verify)/i);
    });
  });

  describe("the whole flow", () => {
    // Every first request compiles its function in the fresh app: seconds on a loaded machine.
    it(
      "registers, logs in, negotiates through :generateToken, opens the wss socket, sends, reads and receives the events",
      { timeout: 60_000 },
      async () => {
        const issuedBefore = stack.identity.issued.get(RESOURCES.webPubSub) ?? 0;
        const alice = await registerOverHttp(app.url, `mi_alice_${process.pid}`);
        const bob = await registerOverHttp(app.url, `mi_bob_${process.pid}`);
        const auth = (token: string) => ({ authorization: `Bearer ${token}` });

        const negotiated = await fetch(`${app.url}/ws/`, { headers: auth(bob.token) });
        expect(negotiated.status).toBe(200);
        const { url } = (await negotiated.json()) as { url: string };
        expect(url.startsWith(`${stack.webPubSub.endpoint.replace(/^https/, "wss")}/client/hubs/notifications?access_token=`)).toBe(true);
        // Only the service's key signs client tokens; the app has none, so the token came from :generateToken.
        expect(stack.identity.issued.get(RESOURCES.webPubSub) ?? 0).toBeGreaterThan(issuedBefore);

        const socket = await SocketProbe.open(url, undefined, { ca: stack.certificates.ca });
        cleanups.push(() => socket.close());
        expect(await socket.waitFor((f) => f.event === "unread_count_updated")).toEqual({
          event: "unread_count_updated",
          unread_count: 0,
          seq: 0,
        });
        const aliceSocket = await SocketProbe.open(
          ((await (await fetch(`${app.url}/ws/?token=${alice.token}`)).json()) as { url: string }).url,
          undefined,
          { ca: stack.certificates.ca },
        );
        cleanups.push(() => aliceSocket.close());
        await aliceSocket.waitFor((f) => f.event === "unread_count_updated");

        const sent = await fetch(`${app.url}/messages/`, {
          method: "POST",
          headers: { ...auth(alice.token), "content-type": "application/json" },
          body: JSON.stringify({ recipient_id: String(bob.id), title: "By identity", body: "Hello over Entra" }),
        });
        expect(sent.status).toBe(200);
        const message = (await sent.json()) as { id: number };
        const arrived = await socket.waitFor((f) => f.event === "new_message");
        expect(arrived).toMatchObject({
          event: "new_message",
          unread_count: 1,
          message: { id: message.id, sender_id: alice.id, title: "By identity" },
        });

        const inbox = (await (await fetch(`${app.url}/messages/inbox/`, { headers: auth(bob.token) })).json()) as { id: number }[];
        expect(inbox.map((m) => m.id)).toEqual([message.id]);
        const read = await fetch(`${app.url}/messages/${message.id}/read`, { method: "PUT", headers: auth(bob.token) });
        expect(read.status).toBe(200);
        expect(await aliceSocket.waitFor((f) => f.event === "message_read")).toMatchObject({
          event: "message_read",
          message_id: message.id,
        });
        expect(
          await socket.waitFor(
            (f) => f.event === "unread_count_updated" && (f as Frame).unread_count === 0 && socket.frames.indexOf(f) > 1,
          ),
        ).toBeDefined();
      },
    );
  });

  describe("failures", () => {
    // Each starts an app of its own; the credential's retries and the connection timeout take seconds.
    it("answers 503 with a detail when the identity endpoint is down", { timeout: 90_000 }, async () => {
      const down = await startIdentityEndpoint({ issuer: stack.identity.issuer });
      await down.close();
      const broken = await spawnApp(identityAppSettings(stack, { IDENTITY_ENDPOINT: down.url }));
      cleanups.push(() => broken.stop());
      const res = await fetch(`${broken.url}/users/`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "nobody_here", password: "correct horse battery" }),
      });
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ detail: ERRORS.databaseUnavailable });
      // Named as the managed identity, not a chain that tried several credentials.
      await waitForOutput(broken, /no Microsoft Entra token for PostgreSQL: ManagedIdentityCredential/);
    });

    it("answers 503 when PostgreSQL refuses the identity's token", { timeout: 90_000 }, async () => {
      // The same identity and protocol, but a signer PostgreSQL does not trust.
      const impostor = await startIdentityEndpoint({ issuer: new Issuer(stack.identity.issuer.clientId) });
      cleanups.push(() => impostor.close());
      const refused = await spawnApp(identityAppSettings(stack, { IDENTITY_ENDPOINT: impostor.url, IDENTITY_HEADER: impostor.header }));
      cleanups.push(() => refused.stop());
      const res = await fetch(`${refused.url}/health`);
      expect(res.status).toBe(503);
      const login = await fetch(`${refused.url}/token`, {
        method: "POST",
        body: new URLSearchParams({ username: "someone", password: "correct horse battery" }),
      });
      expect(login.status).toBe(503);
      expect(await login.json()).toEqual({ detail: ERRORS.databaseUnavailable });
      await waitForOutput(refused, /password authentication failed/);
    });

    it("still sends the message (200) when Web PubSub refuses the token, and logs the failure", { timeout: 90_000 }, async () => {
      // A Web PubSub resource where the identity holds no role: every bearer token is refused.
      const refusing: WebPubSubStandIn = await startWebPubSubStandIn({
        port: 0,
        accessKey: "k".repeat(44),
        tls: stack.certificates,
        acceptBearer: () => false,
      });
      cleanups.push(() => refusing.close());
      const isolated = await spawnApp(identityAppSettings(stack, { WEBPUBSUB_ENDPOINT: refusing.endpoint }));
      cleanups.push(() => isolated.stop());
      const carol = await registerOverHttp(isolated.url, `mi_carol_${process.pid}`);
      const dave = await registerOverHttp(isolated.url, `mi_dave_${process.pid}`);
      const sent = await fetch(`${isolated.url}/messages/`, {
        method: "POST",
        headers: { authorization: `Bearer ${carol.token}`, "content-type": "application/json" },
        body: JSON.stringify({ recipient_id: String(dave.id), title: "Unheard", body: "Still stored" }),
      });
      expect(sent.status).toBe(200);
      const inbox = (await (
        await fetch(`${isolated.url}/messages/inbox/`, { headers: { authorization: `Bearer ${dave.token}` } })
      ).json()) as { title: string }[];
      expect(inbox.map((m) => m.title)).toEqual(["Unheard"]);
      await waitForOutput(isolated, /realtime push of new_message to user \d+ failed/);
      const negotiated = await fetch(`${isolated.url}/ws/`, { headers: { authorization: `Bearer ${dave.token}` } });
      expect(negotiated.status).toBe(503);
    });
  });
});
