/**
 * Throttling over real HTTP on the local stack: the host reports the socket's address the way
 * Azure's front end does, so a client cannot pick the address it is counted under, and a client
 * on another address (127.0.0.2 here) is counted apart.
 */
import http from "node:http";
import { describe, expect, it } from "vitest";

import { parseConfig } from "../../shared/config/config";
import { ERRORS } from "../../shared/domain/errors";
import { useLocalStack } from "../support/stack";

// The limits as deployed (the code's defaults), not the relaxed ones of local.settings.example.json or test/support/env.ts.
const PRODUCTION = parseConfig({ SECRET_KEY: process.env.SECRET_KEY, DATABASE_URL: process.env.DATABASE_URL }).throttle;
const FAILURES = PRODUCTION.login.failuresPerUserAddress;
const REGISTRATIONS = PRODUCTION.registration.perAddress;
const PASSWORD = "correct horse battery";

const local = useLocalStack({
  env: {
    LOGIN_FAILURES_PER_USER_ADDRESS: String(FAILURES),
    LOGIN_FAILURES_PER_ADDRESS: String(PRODUCTION.login.failuresPerAddress),
    REGISTRATIONS_PER_ADDRESS: String(REGISTRATIONS),
  },
  webPubSub: false,
});

interface Answer {
  status: number;
  retryAfter?: string;
  body: unknown;
}

/** A request from a chosen local source address, optionally with a forged X-Forwarded-For. */
function send(path: string, options: { from?: string; forged?: string; json?: unknown; form?: Record<string, string> }): Promise<Answer> {
  const url = new URL(path, local.url);
  const body = options.json !== undefined ? JSON.stringify(options.json) : new URLSearchParams(options.form).toString();
  const headers: Record<string, string> = {
    "content-type": options.json !== undefined ? "application/json" : "application/x-www-form-urlencoded",
    "content-length": String(Buffer.byteLength(body)),
  };
  if (options.forged) headers["x-forwarded-for"] = options.forged;
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "POST", headers, localAddress: options.from ?? "127.0.0.1" }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          retryAfter: res.headers["retry-after"] as string | undefined,
          body: JSON.parse(Buffer.concat(chunks).toString() || "null"),
        }),
      );
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("throttling over HTTP", () => {
  it("counts the socket's address: a forged X-Forwarded-For does not escape the login limit, another address is apart", async () => {
    expect((await send("/users/", { json: { username: "http_owner", password: PASSWORD } })).status).toBe(200);
    for (let i = 0; i < FAILURES; i++) {
      const res = await send("/token", { forged: `198.51.100.${i}`, form: { username: "http_owner", password: "wrong" } });
      expect(res.status).toBe(401);
    }
    const blocked = await send("/token", { forged: "198.51.100.99", form: { username: "http_owner", password: PASSWORD } });
    expect(blocked.status).toBe(429);
    expect(blocked.body).toEqual({ detail: ERRORS.tooManyLogins });
    expect(blocked.retryAfter).toMatch(/^[1-9]\d*$/);

    const owner = await send("/token", { from: "127.0.0.2", form: { username: "http_owner", password: PASSWORD } });
    expect(owner.status).toBe(200);
  });

  it("limits registrations per socket address, whatever X-Forwarded-For says", async () => {
    let accepted = 1; // http_owner above
    while (accepted < REGISTRATIONS) {
      expect(
        (await send("/users/", { forged: `203.0.113.${accepted}`, json: { username: `http_user_${accepted}`, password: PASSWORD } }))
          .status,
      ).toBe(200);
      accepted++;
    }
    const refused = await send("/users/", { forged: "203.0.113.200", json: { username: "http_one_more", password: PASSWORD } });
    expect(refused.status).toBe(429);
    expect(refused.body).toEqual({ detail: ERRORS.tooManyRegistrations });
    expect(refused.retryAfter).toMatch(/^[1-9]\d*$/);
    expect((await send("/users/", { from: "127.0.0.3", json: { username: "http_one_more", password: PASSWORD } })).status).toBe(200);
  });
});
