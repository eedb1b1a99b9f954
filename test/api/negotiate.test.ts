/** GET /ws/ and pushes at the handler level: what happens when Web PubSub is missing or down. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { messagesSend } from "../../functions/messages-send";
import { wsNegotiate } from "../../functions/ws-negotiate";
import { resetConfig } from "../../shared/config/config";
import { resetRealtimeClient } from "../../shared/realtime/realtime";
import { useTestDatabase, type TestDatabase } from "../support/database";
import { call } from "../support/http";
import { signToken } from "../support/tokens";
import { newUser } from "../support/users";

let db: TestDatabase;
beforeAll(async () => {
  db = await useTestDatabase();
});
afterAll(async () => {
  await db.close();
});

function useWebPubSub(connectionString: string | undefined): void {
  if (connectionString) process.env.WEBPUBSUB_CONNECTION_STRING = connectionString;
  else delete process.env.WEBPUBSUB_CONNECTION_STRING;
  delete process.env.WEBPUBSUB_ENDPOINT;
  process.env.WEBPUBSUB_PUSH_TIMEOUT_MS = "500";
  resetConfig();
  resetRealtimeClient();
}

// Nothing listens on port 1: every REST call is refused at once.
const UNREACHABLE = "Endpoint=http://127.0.0.1;Port=1;AccessKey=unreachable-service-access-key-0123456789;Version=1.0;";

describe("GET /ws/", () => {
  it("answers 503 with a detail when realtime is not configured", async () => {
    useWebPubSub(undefined);
    const user = await newUser("nows");
    const res = await call(wsNegotiate, { token: user.token });
    expect(res.status).toBe(503);
    expect(res.body).toEqual({ detail: "Realtime notifications are unavailable; try again shortly" });
  });

  it("signs the client URL locally with an access key, so it works while the service is unreachable", async () => {
    useWebPubSub(UNREACHABLE);
    const user = await newUser("offline");
    const res = await call(wsNegotiate, { query: { token: user.token } });
    expect(res.status).toBe(200);
    const { url } = res.body as { url: string };
    expect(url.startsWith("ws://127.0.0.1:1/client/hubs/notifications?access_token=")).toBe(true);
  });

  it("refuses an app token with under a minute left: the socket token may not outlive it", async () => {
    useWebPubSub(UNREACHABLE);
    const user = await newUser("expiring");
    const now = Math.floor(Date.now() / 1000);
    const shortLived = signToken({ sub: user.username, uid: user.id, iat: now, exp: now + 30 });
    const res = await call(wsNegotiate, { token: shortLived });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ detail: "Could not validate credentials" });
  });
});

describe("a failed push", () => {
  it("is logged and neither fails nor undoes the send", async () => {
    useWebPubSub(UNREACHABLE);
    const [a, b] = [await newUser("pa"), await newUser("pb")];
    const res = await call(messagesSend, { method: "POST", token: a.token, json: { recipient_id: b.id, title: "t", body: "b" } });
    expect(res.status).toBe(200);
    expect(res.logs.some((line) => line.startsWith("warning: realtime push of new_message to user") && line.includes(String(b.id)))).toBe(
      true,
    );
  });
});
