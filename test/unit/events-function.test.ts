/**
 * The events function as deployed in Azure: Web PubSub has local auth disabled, so the only
 * proof of the caller is the key its event-handler URL carries.
 */
import { createHmac } from "node:crypto";
import { HttpRequest, InvocationContext } from "@azure/functions";
import { beforeAll, describe, expect, it } from "vitest";

import { webpubsubEvents } from "../../functions/webpubsub-events";
import { resetConfig } from "../../shared/config/config";

const KEY = "event-handler-key-for-tests-0123456789";

beforeAll(() => {
  process.env.WEBPUBSUB_ENDPOINT = "https://example.webpubsub.azure.com";
  process.env.WEBPUBSUB_EVENT_HANDLER_KEY = KEY;
  delete process.env.WEBPUBSUB_CONNECTION_STRING;
  resetConfig();
});

function event(query: string, method = "POST", extra: Record<string, string> = {}) {
  const headers: Record<string, string> = {
    "ce-specversion": "1.0",
    "ce-type": "azure.webpubsub.sys.disconnected",
    "ce-source": "/hubs/notifications/client/conn1",
    "ce-id": "1",
    "ce-hub": "notifications",
    "ce-connectionid": "conn1",
    "ce-eventname": "disconnected",
    "ce-awpsversion": "1.0",
    "webhook-request-origin": "example.webpubsub.azure.com",
    "content-type": "application/json",
    ...extra,
  };
  const request = new HttpRequest({
    method,
    url: `https://app.example/webpubsub/events${query}`,
    headers,
    body: method === "POST" ? { string: JSON.stringify({ reason: "closed" }) } : undefined,
  });
  return webpubsubEvents(request, new InvocationContext({ functionName: "webpubsub-events" }));
}

describe("events function with an event-handler key", () => {
  it("accepts the key and answers the event", async () => {
    const res = await event(`?key=${KEY}`);
    expect(res.status).toBe(200);
  });

  it("answers the abuse-protection handshake for the configured service", async () => {
    const res = await event(`?key=${KEY}`, "OPTIONS");
    expect(res.status).toBe(200);
    expect((res.headers as Record<string, string>)["WebHook-Allowed-Origin"]).toBeTruthy();
  });

  it("refuses a missing or wrong key, and a signature it has no access key to check", async () => {
    const forged = `sha256=${createHmac("sha256", "guess").update("conn1").digest("hex")}`;
    for (const res of [
      await event(""),
      await event("?key=wrong"),
      await event("", "POST", { "ce-signature": forged }),
      await event("", "OPTIONS"),
    ]) {
      expect(res.status).toBe(401);
      expect(JSON.parse(res.body as string)).toEqual({ detail: "The caller of the event handler could not be authenticated" });
    }
  });

  it("answers 400 for an event of another hub or a malformed body", async () => {
    expect((await event(`?key=${KEY}`, "POST", { "ce-hub": "other" })).status).toBe(400);
    const malformed = new HttpRequest({
      method: "POST",
      url: `https://app.example/webpubsub/events?key=${KEY}`,
      headers: {
        "ce-awpsversion": "1.0",
        "ce-type": "azure.webpubsub.sys.connected",
        "ce-hub": "notifications",
        "ce-connectionid": "c",
        "webhook-request-origin": "x",
      },
      body: { string: "{not json" },
    });
    expect((await webpubsubEvents(malformed, new InvocationContext({}))).status).toBe(400);
  });
});
